"""The reference's augmentation for the temporal model, batched and seeded.

Per sample (one draw per clip, so every frame of a clip gets the same
transform): shift and scale within +-10 %, horizontal flip (p=0.5), and each at
p=0.1 Gaussian noise (sigma 0.03), brightness change (x 0.7..1.3) and a 5x5
Gaussian blur (sigma 1).  The reference does not give the strength of noise,
brightness and blur; these values are ours.  The square crop with 0.5 margin
is the crop itself (:mod:`vidaffect.models.tsm.crop`), not a random step.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass
class TSMAugment:
    shift: float = 0.10  # fraction of the image size
    scale: float = 0.10  # zoom range 1 +- scale
    flip: bool = True
    noise_prob: float = 0.1
    noise_sigma: float = 0.03
    brightness_prob: float = 0.1
    brightness: float = 0.3
    blur_prob: float = 0.1
    blur_sigma: float = 1.0


def _gaussian_kernel(sigma: float, size: int = 5) -> torch.Tensor:
    r = torch.arange(size, dtype=torch.float32) - (size - 1) / 2
    k = torch.exp(-(r**2) / (2 * sigma**2))
    return k / k.sum()


def augment_clips(x: torch.Tensor, cfg: TSMAugment, gen: torch.Generator) -> torch.Tensor:
    """Augment ``(N, 3, H, W)`` frames or ``(N, T, 3, H, W)`` clips in [0, 1]; returns a new tensor."""
    clips = x.ndim == 5
    if not clips:
        x = x.unsqueeze(1)
    n, t, c, h, w = x.shape

    def rand(*shape: int) -> torch.Tensor:
        return torch.rand(*shape, generator=gen).to(x.device)

    zoom = 1 + (rand(n) * 2 - 1) * cfg.scale
    tx, ty = (rand(n) * 2 - 1) * cfg.shift * 2, (rand(n) * 2 - 1) * cfg.shift * 2
    flip = torch.where(rand(n) < 0.5, -1.0, 1.0) if cfg.flip else torch.ones(n, device=x.device)
    zeros = torch.zeros(n, device=x.device)
    theta = torch.stack([torch.stack([flip / zoom, zeros, tx], 1), torch.stack([zeros, 1 / zoom, ty], 1)], 1)
    theta = theta.repeat_interleave(t, dim=0)
    flat = x.reshape(n * t, c, h, w)
    grid = F.affine_grid(theta, [n * t, c, h, w], align_corners=False)
    out = F.grid_sample(flat, grid, mode="bilinear", padding_mode="zeros", align_corners=False).view(n, t, c, h, w)

    bright = rand(n) < cfg.brightness_prob
    factor = 1 + (rand(n) * 2 - 1) * cfg.brightness
    out = out * torch.where(bright, factor, torch.ones_like(factor)).view(n, 1, 1, 1, 1)

    blur = rand(n) < cfg.blur_prob
    if bool(blur.any()):
        k = _gaussian_kernel(cfg.blur_sigma).to(x.device)
        sel = out[blur].reshape(-1, 1, h, w)
        sel = F.conv2d(F.pad(sel, (2, 2, 0, 0), mode="replicate"), k.view(1, 1, 1, 5))
        sel = F.conv2d(F.pad(sel, (0, 0, 2, 2), mode="replicate"), k.view(1, 1, 5, 1))
        out[blur] = sel.view(-1, t, c, h, w)

    noisy = (rand(n) < cfg.noise_prob).view(n, 1, 1, 1, 1)
    noise = torch.randn(out.shape, generator=gen).to(x.device) * cfg.noise_sigma
    out = torch.where(noisy, out + noise, out).clamp(0, 1)
    return out if clips else out[:, 0]
