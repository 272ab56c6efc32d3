"""Exports of emotion segments to other tools: ELAN (``.eaf``) and subtitles (WebVTT, SRT).

All exports start from :func:`vidaffect.results.segments.emotion_segments`;
:func:`export_results` writes ``<stem>.segments.csv`` and the requested
files into a folder (see docs/exports.md).
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

EXPORTS = ("elan", "webvtt", "srt")
# file name of each export: <stem> + suffix ("<stem>.events.json" is the VTT-schema events file, not WebVTT)
SUFFIXES = {"segments": ".segments.csv", "elan": ".eaf", "webvtt": ".subtitles.vtt", "srt": ".subtitles.srt"}


def parse_exports(text: str) -> list[str]:
    """``"elan, webvtt"`` -> ``["elan", "webvtt"]`` (duplicates dropped); ValueError naming unknown ones."""
    names = list(dict.fromkeys(n.strip().lower() for n in text.split(",") if n.strip()))
    bad = [n for n in names if n not in EXPORTS]
    if bad or not names:
        raise ValueError(f"unknown export(s) {', '.join(bad) if bad else repr(text)}; choose from {', '.join(EXPORTS)}")
    return names


def id_column(segments: pd.DataFrame) -> str:
    """The id column of a segments table: ``person_id`` or ``face_id`` (the first column)."""
    for col in ("person_id", "face_id"):
        if col in segments.columns:
            return col
    return str(segments.columns[0])


def id_label(by: str, ident, name=None) -> str:
    """``person 0``, ``face 3``, or the person's name when one is known (``Alice``)."""
    if name is not None and not (isinstance(name, float) and name != name) and str(name).strip():
        return " ".join(str(name).split())
    kind = by[:-3] if by.endswith("_id") else by
    try:
        ident = int(ident)
    except (TypeError, ValueError):
        pass
    return f"{kind} {ident}"


def segment_labels(segments: pd.DataFrame) -> pd.Series:
    """The display label of each segment's person or face (see :func:`id_label`)."""
    by = id_column(segments)
    names = segments["person_name"] if "person_name" in segments.columns else [None] * len(segments)
    return pd.Series([id_label(by, i, n) for i, n in zip(segments[by], names)], index=segments.index, dtype=object)


def export_results(results, out_dir: str | Path, exports: list[str] | tuple[str, ...] = EXPORTS,
                   video: str | Path | None = None, stem: str | None = None, segments: pd.DataFrame | None = None,
                   va_step_s: float = 0.5, **segment_options) -> dict[str, Path]:
    """Write ``<stem>.segments.csv`` and each export in ``exports`` into ``out_dir`` (atomically).

    ``results``: a :class:`~vidaffect.results.Results`; ``video``: the media
    file the ELAN document links to (default: the analysed video's path in the
    metadata); ``segments``: precomputed segments, else computed with
    ``segment_options`` (``min_duration_s``, ``switch_margin``, ``smoothing_s``,
    ``max_gap_s``, ``by``); ``va_step_s``: bin of the ELAN valence/arousal
    tiers (0 for none).  Returns ``{"segments": path, "elan": path, ...}``.
    """
    from vidaffect.results.exports.elan import results_va_bins, write_eaf
    from vidaffect.results.exports.subtitles import write_srt, write_webvtt
    from vidaffect.results.segments import results_segments, write_segments_csv

    unknown = [e for e in exports if e not in EXPORTS]
    if unknown:
        raise ValueError(f"unknown export(s) {', '.join(unknown)}; choose from {', '.join(EXPORTS)}")
    out = Path(out_dir)
    video = video or (results.metadata.get("video") or {}).get("path")
    stem = stem or Path(video or "video").stem
    # the table is read in bounded batches (it may live on disk): segments and VA bins are built as it streams
    if segments is None:
        segments = results_segments(results, **segment_options)
    paths = {"segments": write_segments_csv(segments, out / f"{stem}{SUFFIXES['segments']}")}
    if "elan" in exports:
        bins = None
        if va_step_s > 0:
            step = (segments.attrs.get("segment_params") or {}).get("frame_step_s")
            bins = results_va_bins(results, id_column(segments), va_step_s, step=step)
        paths["elan"] = write_eaf(segments, out / f"{stem}{SUFFIXES['elan']}", video=video, va_step_s=va_step_s,
                                  classes=results.classes, bins=bins)
    if "webvtt" in exports:
        paths["webvtt"] = write_webvtt(segments, out / f"{stem}{SUFFIXES['webvtt']}")
    if "srt" in exports:
        paths["srt"] = write_srt(segments, out / f"{stem}{SUFFIXES['srt']}")
    return paths


__all__ = ["EXPORTS", "SUFFIXES", "export_results", "id_label", "parse_exports", "segment_labels"]
