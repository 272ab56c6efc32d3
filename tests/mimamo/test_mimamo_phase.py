"""Phase-difference input: layout, ranges, and agreement with a direct per-target implementation."""
import math

import numpy as np
import pytest
import torch
from scipy.signal import convolve2d

from vidaffect.motion.phase import (
    PhaseDiffConfig, PhaseDifferenceExtractor, group_indices, mirror_extend, to_gray, unwrap,
)
from vidaffect.motion.steerable import SteerablePyramid


def _moving_stripes(n_frames, moves, size=48, period=6.0):
    """Vertical stripes under a static smooth window, shifted right by moves[t] pixels at frame t."""
    y, x = np.mgrid[0:size, 0:size].astype(np.float64)
    frames = []
    pos = 0.0
    for t in range(n_frames):
        pos += moves[t]
        window = np.exp(-((x - 24) ** 2 + (y - 24) ** 2) / (2 * 8.0 ** 2))
        img = 0.5 + 0.4 * window * np.cos(2 * np.pi * (x - pos) / period)
        frames.append(img)
    return torch.tensor(np.stack(frames), dtype=torch.float32)


def test_group_indices_clamp_to_clip():
    idx = group_indices(np.array([0, 5, 9]), num_frames=10, num_phase=12)
    assert idx.shape == (3, 13)
    assert idx[0].tolist() == [0] * 7 + [1, 2, 3, 4, 5, 6]
    assert idx[2].tolist() == [3, 4, 5, 6, 7, 8] + [9] * 7


def test_mirror_extend_layout():
    x = torch.arange(6.0).reshape(1, 2, 3)
    m = mirror_extend(x)
    assert m.shape == (1, 4, 6)
    assert torch.equal(m[0, :2, :3], x[0]) and torch.equal(m[0, :2, 3:], x[0].flip(-1))
    assert torch.equal(m[0, 2:, :3], x[0].flip(-2)) and torch.equal(m[0, 2:, 3:], x[0].flip(-1).flip(-2))


def test_unwrap_matches_numpy_and_legacy_variant_differs():
    torch.manual_seed(0)
    x = torch.randn(3, 13, 7, dtype=torch.float64) * 4
    assert np.allclose(unwrap(x, dim=1).numpy(), np.unwrap(x.numpy(), axis=1))
    jump = torch.tensor([0.0, -4.0], dtype=torch.float64)  # a negative jump below -pi
    assert unwrap(jump, 0)[1] == pytest.approx(-4.0 + 2 * math.pi)
    assert unwrap(jump, 0, legacy=True)[1] == pytest.approx(-4.0)  # the original's fmod never fixed it


def test_reference_sample_layout_and_ranges():
    n = 20
    gray = _moving_stripes(n, [0.0] + [0.7] * (n - 1))
    ex = PhaseDifferenceExtractor()
    l1, l2 = ex(gray)
    assert l1.shape == (n, 24, 48, 48) and l2.shape == (n, 24, 24, 24)
    assert ex.output_shapes() == [(24, 48, 48), (24, 24, 24)]
    for t in (l1, l2):
        assert torch.isfinite(t).all()
        assert t.abs().max() <= 5 * math.pi + 1e-6
        assert t.mean(dim=(-2, -1)).abs().max() < 1e-3  # spatial mean removed
    assert l1.abs().max() > 0.1  # the moving patch is seen
    rp = PhaseDifferenceExtractor(PhaseDiffConfig(return_phase=True))(gray)
    assert rp[0].shape == (n, 26, 48, 48) and rp[1].shape == (n, 26, 24, 24)


def test_channels_are_orientation_major_and_time_ordered():
    moves = [0.0] * 13
    moves[4] = 1.0  # the patch moves between frames 3 and 4 only
    l1, _ = PhaseDifferenceExtractor()(_moving_stripes(13, moves), centers=np.array([6]))
    energy = l1[0].abs().mean(dim=(-2, -1))  # (24,)
    horizontal_motion = energy[:12]  # orientation 0: stripes varying along x
    assert int(torch.argmax(horizontal_motion)) == 3  # difference k is frames (t-6+k) -> (t-6+k+1)
    assert horizontal_motion[3] > 20 * torch.cat([horizontal_motion[:3], horizontal_motion[4:]]).max()
    other = energy[12:]  # orientation 1: channels 12..23, same time order
    assert other[3] > 20 * torch.cat([other[:3], other[4:]]).max()


def _direct_reference(gray, t, num_phase=12):
    """Per-target implementation straight from the description (numpy unwrap, scipy 2-D convolution)."""
    n = gray.shape[0]
    idx = [min(max(t + k - num_phase // 2, 0), n - 1) for k in range(num_phase + 1)]
    group = mirror_extend(gray[idx].double())
    pyr = SteerablePyramid(4, 2, 2).build(group)
    g = np.exp(-(np.arange(11)[:, None] - 5) ** 2 / 8.0 - (np.arange(11)[None, :] - 5) ** 2 / 8.0)
    levels = []
    for lv in (1, 2):
        chans = []
        for band in pyr.bands[lv - 1]:
            s = band.shape[-1] // 2
            c = band[:, :s, :s].numpy()
            phase = np.unwrap(np.arctan2(c.imag, c.real), axis=0)
            mag = np.abs(c) + 1e-10
            den = np.stack([convolve2d(m * p, g, mode="same") / convolve2d(m, g, mode="same")
                            for p, m in zip(phase, mag)])
            d = np.diff(den, axis=0)
            d = d - d.mean(axis=(-2, -1), keepdims=True)
            chans.append(np.clip(d, -5 * np.pi, 5 * np.pi))
        levels.append(np.concatenate(chans, axis=0))
    return levels


def test_vectorised_extractor_matches_direct_implementation():
    rng = np.random.default_rng(1)
    gray = _moving_stripes(16, rng.uniform(-1.5, 1.5, 16)) + torch.tensor(rng.normal(0, 0.02, (16, 48, 48)),
                                                                        dtype=torch.float32)
    l1, l2 = PhaseDifferenceExtractor()(gray, centers=np.array([2, 9]))
    for row, t in enumerate((2, 9)):
        ref1, ref2 = _direct_reference(gray, t)
        # float32 vs float64 pipelines: wrapped-phase edge cases may differ at isolated pixels
        assert np.mean(np.abs(l1[row].numpy() - ref1) < 1e-3) > 0.995
        assert np.mean(np.abs(l2[row].numpy() - ref2) < 1e-3) > 0.995


def test_to_gray_scales_and_resizes():
    crops = np.zeros((2, 112, 112, 3), np.uint8)
    crops[1] = 255
    g = to_gray(crops, 48)
    assert g.shape == (2, 48, 48) and g.dtype == torch.float32
    assert float(g[0].max()) == 0.0 and float(g[1].min()) == pytest.approx(1.0)
