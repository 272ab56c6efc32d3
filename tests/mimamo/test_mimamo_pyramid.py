"""Analytic properties of the complex steerable pyramid."""
import math

import pytest
import torch

from vidaffect.motion.steerable import SteerablePyramid


@pytest.mark.parametrize("scale", [2.0, 2 ** 0.5])
@pytest.mark.parametrize("shape", [(96, 96), (49, 60)])
def test_perfect_reconstruction(scale, shape):
    torch.manual_seed(0)
    pyr = SteerablePyramid(height=5, nbands=4, scale_factor=scale)
    x = torch.rand(3, *shape, dtype=torch.float64)
    coeffs = pyr.build(x)
    assert len(coeffs.bands) == 3 and all(len(level) == 4 for level in coeffs.bands)
    assert torch.max(torch.abs(pyr.reconstruct(coeffs) - x)) < 1e-5


def test_reference_configuration_shapes():
    pyr = SteerablePyramid(height=4, nbands=2, scale_factor=2)
    c = pyr.build(torch.rand(2, 96, 96))
    assert [tuple(b.shape) for b in c.bands[0]] == [(2, 96, 96)] * 2
    assert [tuple(b.shape) for b in c.bands[1]] == [(2, 48, 48)] * 2
    assert tuple(c.lowpass.shape) == (2, 24, 24)
    assert c.bands[0][0].is_complex()
    # float32 input also reconstructs to 1e-5
    x = torch.rand(2, 96, 96)
    assert torch.max(torch.abs(pyr.reconstruct(pyr.build(x)) - x)) < 1e-5


def _grating(n, freq, angle, shift=0.0):
    y, x = torch.meshgrid(torch.arange(n, dtype=torch.float64), torch.arange(n, dtype=torch.float64), indexing="ij")
    u = x * math.cos(angle) + y * math.sin(angle)
    return torch.cos(2 * math.pi * freq * (u - shift))


def test_orientation_selectivity():
    pyr = SteerablePyramid(height=4, nbands=2)
    freq = 12 / 96  # band level 2 (radius 0.25 of Nyquist) sits in the level-1/level-2 range
    energy = {}
    for name, angle in (("vertical_stripes", 0.0), ("horizontal_stripes", math.pi / 2)):
        c = pyr.build(_grating(96, freq, angle)[None])
        energy[name] = [float(sum((b.abs() ** 2).sum() for b in (lv[k] for lv in c.bands))) for k in range(2)]
    # orientation 0 (angle 0) answers stripes varying along x, orientation 1 those varying along y
    assert energy["vertical_stripes"][0] > 1e3 * energy["vertical_stripes"][1]
    assert energy["horizontal_stripes"][1] > 1e3 * energy["horizontal_stripes"][0]


def test_phase_shift_of_translated_grating():
    pyr = SteerablePyramid(height=4, nbands=2)
    n, freq, shift = 96, 20 / 96, 1.5  # integer cycles: periodic, no boundary effect; level-1 band
    a = pyr.build(_grating(n, freq, 0.0)[None]).bands[0][0][0]
    b = pyr.build(_grating(n, freq, 0.0, shift)[None]).bands[0][0][0]
    dphi = torch.angle(b * a.conj())
    expected = -2 * math.pi * freq * shift
    assert torch.allclose(dphi, torch.full_like(dphi, expected), atol=1e-6)
    # the band is analytic: constant magnitude on a pure grating
    assert float(a.abs().std() / a.abs().mean()) < 1e-6
