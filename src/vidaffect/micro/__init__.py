"""Micro-expressions: DSSN/SSSN recognition (Khor et al. 2019), data set tools and spotting.

Modules: ``layouts`` (CASME II / SAMM / SMIC CSV and folders), ``preprocess`` (TV-L1
flow, strain, gray maps, npz cache), ``datasets`` (image modes F, G, S), ``networks``
(SSSN, DSSN), ``train`` (LOSO), ``evaluate`` (metrics, checkpoints), ``spot`` (spotting
core on face crops), ``spot_video`` (spotting on videos).  See docs/micro-expressions.md.
"""
