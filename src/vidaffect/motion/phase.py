"""Phase-difference input of MIMAMO-Net: micro-motion from a complex steerable pyramid.

For every target frame ``t`` of a snippet the reference takes the ``num_phase + 1``
(13) gray 48x48 frames at offsets ``-num_phase//2 .. +num_phase//2`` (clamped to
the clip), mirror-extends them to 96x96, builds a 4-level, 2-orientation complex
steerable pyramid, keeps band levels 1 and 2 (top-left quarter: 48x48 and
24x24), and turns the local phase into temporal differences:

1. phase ``atan2(imag, real)``, magnitude ``|c| + 1e-10``;
2. unwrap along the 13 frames (discontinuity pi);
3. amplitude-weighted Gaussian blur (11x11, sigma 2): ``blur(mag*phase) / blur(mag)``;
4. first difference along time (12 maps per orientation; channel = orientation*12 + k);
5. subtract each map's spatial mean, clamp to +-5*pi.

Everything is vectorised over the snippet: the pyramid is built once per
distinct frame and the 13-frame groups are gathered with one index tensor.

``legacy_unwrap=True`` reproduces the original code's unwrap, which used
``torch.fmod`` and therefore never corrected negative jumps below -pi.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from vidaffect.motion.steerable import SteerablePyramid

EPS = 1e-10


@dataclass(frozen=True)
class PhaseDiffConfig:
    """Parameters of the phase-difference input (defaults: the reference's)."""

    num_phase: int = 12  # differences per orientation; groups have num_phase + 1 frames
    phase_size: int = 48  # gray frames are resized to this before mirror extension
    py_level: int = 4  # pyramid height, high-pass and low-pass residuals included
    py_nbands: int = 2  # orientations
    levels: tuple[int, ...] = (1, 2)  # band levels used (1: full size, 2: half size)
    blur_size: int = 11
    blur_sigma: float = 2.0
    clamp: float = 5 * math.pi
    legacy_unwrap: bool = False
    return_phase: bool = False  # return the centred denoised phase instead of differences


def to_gray(crops: np.ndarray, size: int = 48) -> torch.Tensor:
    """uint8 crops ``(N, H, W, 3)`` RGB or ``(N, H, W)`` -> float ``(N, size, size)`` in [0, 1].

    Gray conversion and Lanczos resizing with Pillow, as the reference (``convert('L')``).
    """
    from PIL import Image

    out = np.empty((len(crops), size, size), dtype=np.float32)
    for i, c in enumerate(crops):
        img = Image.fromarray(np.ascontiguousarray(c))
        if img.mode != "L":
            img = img.convert("L")
        if img.size != (size, size):
            img = img.resize((size, size), Image.LANCZOS)
        out[i] = np.asarray(img, dtype=np.float32)
    return torch.from_numpy(out).div_(255.0)


def mirror_extend(images: torch.Tensor) -> torch.Tensor:
    """``(..., H, W)`` -> ``(..., 2H, 2W)``: [[image, left-right flip], [up-down flip, both flips]]."""
    lr = torch.flip(images, dims=[-1])
    top = torch.cat([images, lr], dim=-1)
    bottom = torch.cat([torch.flip(images, dims=[-2]), torch.flip(lr, dims=[-2])], dim=-1)
    return torch.cat([top, bottom], dim=-2)


def group_indices(centers: torch.Tensor | np.ndarray, num_frames: int, num_phase: int = 12) -> torch.Tensor:
    """Frame indices ``(T, num_phase + 1)`` of each target's group, clamped to ``[0, num_frames - 1]``."""
    centers = torch.as_tensor(np.asarray(centers), dtype=torch.long)
    offsets = torch.arange(num_phase + 1, dtype=torch.long) - num_phase // 2
    return (centers[:, None] + offsets[None, :]).clamp_(0, num_frames - 1)


def unwrap(phase: torch.Tensor, dim: int, discont: float = math.pi, legacy: bool = False) -> torch.Tensor:
    """``numpy.unwrap`` along ``dim`` (``legacy``: the original's fmod variant)."""
    dd = torch.diff(phase, dim=dim)
    wrap = torch.fmod if legacy else torch.remainder
    ddmod = wrap(dd + math.pi, 2 * math.pi) - math.pi
    ddmod = torch.where((ddmod == -math.pi) & (dd > 0), torch.full_like(ddmod, math.pi), ddmod)
    correct = torch.where(dd.abs() < discont, torch.zeros_like(dd), ddmod - dd)
    first = phase.narrow(dim, 0, 1)
    rest = phase.narrow(dim, 1, phase.shape[dim] - 1) + correct.cumsum(dim=dim)
    return torch.cat([first, rest], dim=dim)


def _blur_matrix(n: int, size: int, sigma: float, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    """Banded matrix ``K`` with ``K @ X @ K.T`` = zero-padded separable Gaussian blur of ``X``."""
    i = torch.arange(n, device=device)
    d = (i[:, None] - i[None, :]).to(dtype)
    k = torch.exp(-(d ** 2) / (2 * sigma ** 2))
    return torch.where(d.abs() <= size // 2, k, torch.zeros_like(k))


def amplitude_weighted_blur(phase: torch.Tensor, mag: torch.Tensor, size: int = 11, sigma: float = 2.0,
                            mag_blurred: torch.Tensor | None = None) -> torch.Tensor:
    """``blur(mag * phase) / blur(mag)`` over the last two axes (Gaussian ``size`` taps, zero padding)."""
    h, w = phase.shape[-2:]
    kh = _blur_matrix(h, size, sigma, phase.device, phase.dtype)
    kw = kh if w == h else _blur_matrix(w, size, sigma, phase.device, phase.dtype)
    num = kh @ (mag * phase) @ kw.T
    den = mag_blurred if mag_blurred is not None else kh @ mag @ kw.T
    return num / den


class PhaseDifferenceExtractor:
    """Compute the reference's phase-difference tensors for the frames of one clip."""

    def __init__(self, config: PhaseDiffConfig | None = None) -> None:
        self.config = config or PhaseDiffConfig()
        c = self.config
        self.pyramid = SteerablePyramid(c.py_level, c.py_nbands, 2.0)
        if max(c.levels) > c.py_level - 2:
            raise ValueError(f"levels {c.levels} need py_level >= {max(c.levels) + 2}")

    def output_shapes(self) -> list[tuple[int, int, int]]:
        """Per-frame ``(channels, size, size)`` of each level's tensor."""
        c = self.config
        ch = c.py_nbands * (c.num_phase + (1 if c.return_phase else 0))
        return [(ch, c.phase_size // 2 ** (lv - 1), c.phase_size // 2 ** (lv - 1)) for lv in c.levels]

    @torch.no_grad()
    def __call__(self, gray: torch.Tensor, centers: np.ndarray | torch.Tensor | None = None) -> list[torch.Tensor]:
        """``gray``: ``(N, S, S)`` frames of a clip in [0, 1] (``S = phase_size``).

        ``centers``: indices (into ``gray``) of the target frames, default all.
        Returns one tensor per level: ``(T, nbands * num_phase, S / 2^(level-1), ...)``.
        """
        c = self.config
        if gray.ndim != 3:
            raise ValueError(f"gray frames must be (N, H, W), got {tuple(gray.shape)}")
        n = gray.shape[0]
        if centers is None:
            centers = np.arange(n)
        idx = group_indices(centers, n, c.num_phase).to(gray.device)  # (T, G)
        pyr = self.pyramid.build(mirror_extend(gray.float()), levels=list(c.levels))
        outs = []
        for lv in c.levels:
            bands = torch.stack(pyr.bands[lv - 1], dim=1)  # (N, nb, 2s, 2s) complex
            half_h, half_w = bands.shape[-2] // 2, bands.shape[-1] // 2
            bands = bands[..., :half_h, :half_w]
            phase = torch.atan2(bands.imag, bands.real)
            mag = bands.abs() + EPS
            kh = _blur_matrix(half_h, c.blur_size, c.blur_sigma, gray.device, phase.dtype)
            kw = kh if half_w == half_h else _blur_matrix(half_w, c.blur_size, c.blur_sigma, gray.device, phase.dtype)
            mag_blur = kh @ mag @ kw.T  # depends on the frame only: once per frame
            # groups: (T, G, nb, s, s) -> (T, nb, G, s, s)
            g_phase = phase[idx].transpose(1, 2)
            g_mag = mag[idx].transpose(1, 2)
            g_den = mag_blur[idx].transpose(1, 2)
            g_phase = unwrap(g_phase, dim=2, legacy=c.legacy_unwrap)
            den = amplitude_weighted_blur(g_phase, g_mag, c.blur_size, c.blur_sigma, mag_blurred=g_den)
            if c.return_phase:
                res = den - den.mean(dim=(-2, -1), keepdim=True)
            else:
                diff = torch.diff(den, dim=2)
                res = (diff - diff.mean(dim=(-2, -1), keepdim=True)).clamp_(-c.clamp, c.clamp)
            outs.append(res.reshape(res.shape[0], -1, half_h, half_w).contiguous())
        return outs


def augment_gray(gray: torch.Tensor, rng: np.random.Generator, crop_ratio: float = 0.85) -> torch.Tensor:
    """Training augmentation drawn once and shared by all frames: random horizontal flip, random square
    crop of ``crop_ratio`` of the side, resized back (bilinear) to the original size."""
    n, h, w = gray.shape
    if rng.random() < 0.5:
        gray = torch.flip(gray, dims=[-1])
    ch, cw = int(h * crop_ratio), int(w * crop_ratio)
    y0, x0 = int(rng.integers(0, h - ch + 1)), int(rng.integers(0, w - cw + 1))
    crop = gray[:, y0:y0 + ch, x0:x0 + cw].unsqueeze(1)
    return torch.nn.functional.interpolate(crop, size=(h, w), mode="bilinear", align_corners=False).squeeze(1)
