"""Complex steerable pyramid (Portilla & Simoncelli) in the frequency domain, with ``torch.fft``.

The image spectrum is split into a high-pass residual, ``height - 2`` band
levels of ``nbands`` oriented complex (analytic) sub-bands, and a low-pass
residual.  The first band level keeps the input resolution; every further
level is the previous low-pass spectrum cropped by ``scale_factor``.  Masks
are raised-cosine radial windows and ``cos^(nbands-1)`` angular windows on one
half plane, so that ``lo0^2 + hi0^2 = 1``, ``lo^2 + hi^2 = 1`` and the
angular windows sum to one: :meth:`SteerablePyramid.reconstruct` inverts
:meth:`SteerablePyramid.build` exactly (up to float rounding).

All frames of a batch ``(..., H, W)`` are transformed at once; masks are
computed once per image size and cached, on the device of the input.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch


@dataclass
class Pyramid:
    """Coefficients of a batch: ``highpass`` (..., H, W) real, ``bands[level][orientation]`` complex,
    ``lowpass`` real (smallest size)."""

    highpass: torch.Tensor
    bands: list[list[torch.Tensor]]
    lowpass: torch.Tensor


def _log_rad_angle(h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    """Log2 radius and angle of the centred frequency grid (Nyquist = 1); DC gets its neighbour's radius."""
    y = np.linspace(-(h // 2) / (h / 2), (h // 2) / (h / 2) - (1 - h % 2) * 2 / h, num=h)
    x = np.linspace(-(w // 2) / (w / 2), (w // 2) / (w / 2) - (1 - w % 2) * 2 / w, num=w)
    xv, yv = np.meshgrid(x, y)
    angle = np.arctan2(yv, xv)
    rad = np.sqrt(xv ** 2 + yv ** 2)
    rad[h // 2, w // 2] = rad[h // 2, w // 2 - 1]
    return np.log2(rad), angle


def _raised_cosine(log_rad: np.ndarray, x0: float) -> np.ndarray:
    """sqrt of a raised cosine going 0 -> 1 as log2 radius goes from ``x0 - 1`` to ``x0``."""
    t = np.clip(log_rad - (x0 - 1.0), 0.0, 1.0)  # 0..1 across the transition
    return np.sqrt(np.cos((1.0 - t) * np.pi / 2) ** 2)


def _crop_box(n: int, scale: float) -> tuple[int, int]:
    """Centred index range of the spectrum kept at the next level (the original port's formula for scale 2)."""
    m = int(math.ceil((n - 0.5) / scale))
    start = int(math.ceil((n + 0.5) / 2) - math.ceil((m + 0.5) / 2))
    return start, start + m


class SteerablePyramid:
    """Complex steerable pyramid with ``height`` levels (high-pass and low-pass included)."""

    def __init__(self, height: int = 4, nbands: int = 2, scale_factor: float = 2.0) -> None:
        if height < 3:
            raise ValueError("height must be >= 3 (high-pass, at least one band level, low-pass)")
        if nbands < 1 or scale_factor <= 1:
            raise ValueError("nbands must be >= 1 and scale_factor > 1")
        self.height, self.nbands, self.scale_factor = height, nbands, float(scale_factor)
        order = nbands - 1
        self._angle_const = (2 ** (2 * order)) * math.factorial(order) ** 2 / (nbands * math.factorial(2 * order))
        self._cache: dict[tuple, dict] = {}

    # ------------------------------------------------------------------ masks
    def _masks(self, h: int, w: int, device: torch.device, dtype: torch.dtype) -> dict:
        key = (h, w, str(device), dtype)
        if key in self._cache:
            return self._cache[key]
        log_rad, angle = _log_rad_angle(h, w)
        order = self.nbands - 1
        hi0 = _raised_cosine(log_rad, 0.0)
        lo0 = np.sqrt(1.0 - hi0 ** 2)
        levels = []
        x0 = 0.0
        lr, ang = log_rad, angle
        for _ in range(self.height - 2):
            x0 -= math.log2(self.scale_factor)
            hi = _raised_cosine(lr, x0)  # passes the top octave of this level
            analysis, synthesis = [], []
            for b in range(self.nbands):
                alpha = np.mod(ang - np.pi * b / self.nbands + np.pi, 2 * np.pi) - np.pi
                base = np.sqrt(self._angle_const) * np.cos(alpha) ** order
                analysis.append(2.0 * base * (np.abs(alpha) < np.pi / 2) * hi)
                synthesis.append(base * hi)
            (r0, r1), (c0, c1) = _crop_box(lr.shape[0], self.scale_factor), _crop_box(lr.shape[1], self.scale_factor)
            lr, ang = lr[r0:r1, c0:c1], ang[r0:r1, c0:c1]
            lo = np.sqrt(np.clip(1.0 - _raised_cosine(lr, x0) ** 2, 0.0, 1.0))
            levels.append({"analysis": analysis, "synthesis": synthesis, "box": (r0, r1, c0, c1), "lo": lo})

        def t(a: np.ndarray) -> torch.Tensor:
            return torch.as_tensor(a, dtype=dtype, device=device)

        out = {
            "hi0": t(hi0), "lo0": t(lo0),
            "levels": [{"analysis": [t(a) for a in L["analysis"]], "synthesis": [t(s) for s in L["synthesis"]],
                        "box": L["box"], "lo": t(L["lo"])} for L in levels],
        }
        self._cache[key] = out
        return out

    # -------------------------------------------------------------- transform
    def build(self, images: torch.Tensor, levels: list[int] | None = None) -> Pyramid:
        """Decompose real images ``(..., H, W)``.  ``levels`` (1-based band levels) limits which bands are
        computed (others are empty lists); the high-pass and low-pass residuals are always returned."""
        if images.ndim < 2:
            raise ValueError("images must have shape (..., H, W)")
        real_dtype = images.dtype if images.dtype in (torch.float32, torch.float64) else torch.float32
        images = images.to(real_dtype)
        h, w = images.shape[-2:]
        m = self._masks(h, w, images.device, real_dtype)
        dft = torch.fft.fftshift(torch.fft.fft2(images), dim=(-2, -1))
        highpass = torch.fft.ifft2(torch.fft.ifftshift(dft * m["hi0"], dim=(-2, -1))).real
        lodft = dft * m["lo0"]
        factor = (-1j) ** (self.nbands - 1)
        bands: list[list[torch.Tensor]] = []
        for i, L in enumerate(m["levels"], start=1):
            if levels is None or i in levels:
                bands.append([torch.fft.ifft2(torch.fft.ifftshift(lodft * (a * factor), dim=(-2, -1)))
                              for a in L["analysis"]])
            else:
                bands.append([])
            r0, r1, c0, c1 = L["box"]
            lodft = lodft[..., r0:r1, c0:c1] * L["lo"]
        lowpass = torch.fft.ifft2(torch.fft.ifftshift(lodft, dim=(-2, -1))).real
        return Pyramid(highpass, bands, lowpass)

    def reconstruct(self, pyr: Pyramid) -> torch.Tensor:
        """Invert :meth:`build` (all band levels must be present)."""
        h, w = pyr.highpass.shape[-2:]
        real_dtype = pyr.highpass.dtype
        m = self._masks(h, w, pyr.highpass.device, real_dtype)
        factor = (1j) ** (self.nbands - 1)
        # walk down to the low-pass, then back up
        lodft = torch.fft.fftshift(torch.fft.fft2(pyr.lowpass), dim=(-2, -1))
        for L, bands in zip(reversed(m["levels"]), reversed(pyr.bands)):
            if len(bands) != self.nbands:
                raise ValueError("reconstruct needs every band level")
            r0, r1, c0, c1 = L["box"]
            shape = list(lodft.shape[:-2]) + [bands[0].shape[-2], bands[0].shape[-1]]
            full = torch.zeros(shape, dtype=lodft.dtype, device=lodft.device)
            full[..., r0:r1, c0:c1] = lodft * L["lo"]
            for band, s in zip(bands, L["synthesis"]):
                full = full + torch.fft.fftshift(torch.fft.fft2(band), dim=(-2, -1)) * (s * factor)
            lodft = full
        dft = lodft * m["lo0"] + torch.fft.fftshift(torch.fft.fft2(pyr.highpass), dim=(-2, -1)) * m["hi0"]
        return torch.fft.ifft2(torch.fft.ifftshift(dft, dim=(-2, -1))).real
