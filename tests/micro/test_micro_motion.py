"""Optical strain by hand and TV-L1 flow on known motions."""
from __future__ import annotations

import numpy as np
import pytest
from micro_synth import moved, texture

from vidaffect.errors import VidaffectError
from vidaffect.motion.flow import compute_flow, flow_magnitude, tvl1_flow
from vidaffect.motion.strain import optical_strain, strain_components


def grid(h=32, w=40):
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    return x, y


def test_strain_of_translation_is_zero():
    flow = np.zeros((32, 40, 2), np.float32)
    flow[..., 0], flow[..., 1] = 1.7, -0.6
    assert np.abs(optical_strain(flow)).max() < 1e-6


def test_strain_of_shear_matches_hand_computation():
    # u = a*y, v = 0: u_y = a, e_xy = a/2, magnitude sqrt(2 * (a/2)^2) = a / sqrt(2)
    a = 0.3
    x, y = grid()
    flow = np.stack([a * y, np.zeros_like(y)], -1)
    e_xx, e_xy, e_yy = strain_components(flow)
    np.testing.assert_allclose(e_xy, a / 2, atol=1e-6)
    np.testing.assert_allclose(e_xx, 0, atol=1e-6)
    np.testing.assert_allclose(optical_strain(flow), a / np.sqrt(2), rtol=1e-5)


def test_strain_of_expansion_and_mixed_field():
    # u = a*x, v = b*y: magnitude sqrt(a^2 + b^2); u = c*x + d*y, v = e*x: sqrt(c^2 + 2((d+e)/2)^2)
    x, y = grid()
    np.testing.assert_allclose(optical_strain(np.stack([0.2 * x, 0.1 * y], -1)), np.hypot(0.2, 0.1), rtol=1e-5)
    c, d, e = 0.05, 0.4, -0.1
    expect = np.sqrt(c**2 + 2 * ((d + e) / 2) ** 2)
    np.testing.assert_allclose(optical_strain(np.stack([c * x + d * y, e * x], -1)), expect, rtol=1e-5)


def test_tvl1_recovers_translation_with_near_zero_strain():
    rng = np.random.default_rng(0)
    a = texture(64, rng)
    b = moved(a, 1.0, -0.5, (0, 64, 0, 64))
    flow = tvl1_flow(a.astype(np.uint8), b.astype(np.uint8))
    inner = flow[12:-12, 12:-12]
    np.testing.assert_allclose(inner.reshape(-1, 2).mean(0), [1.0, -0.5], atol=0.1)
    assert np.median(optical_strain(flow)[12:-12, 12:-12]) < 0.05
    assert abs(np.median(flow_magnitude(flow)[12:-12, 12:-12]) - np.hypot(1.0, 0.5)) < 0.15


def test_flow_rejects_bad_input():
    with pytest.raises(VidaffectError, match="unknown flow method"):
        compute_flow(np.zeros((8, 8), np.uint8), np.zeros((8, 8), np.uint8), "lucas")
    with pytest.raises(VidaffectError, match="differ in size"):
        tvl1_flow(np.zeros((8, 8), np.uint8), np.zeros((9, 8), np.uint8))
