"""Batched, seeded image augmentation for face crops (all tensor ops, no per-image loop).

Applied to a float batch ``(N, C, H, W)`` in [0, 1]: random affine (rotation,
scale, translation) with a random horizontal flip folded into the same warp,
brightness/contrast jitter, and random erasing.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass
class AugmentConfig:
    rotation_deg: float = 10.0
    scale: tuple[float, float] = (0.9, 1.1)
    translate: float = 0.08  # fraction of the image size
    flip: bool = True
    brightness: float = 0.25
    contrast: float = 0.25
    erase_prob: float = 0.5
    erase_area: tuple[float, float] = (0.02, 0.15)


def augment_batch(x: torch.Tensor, cfg: AugmentConfig, gen: torch.Generator) -> torch.Tensor:
    """Return an augmented copy of ``x`` (float, (N, C, H, W), values in [0, 1])."""
    n, _, h, w = x.shape
    dev = x.device

    def rand(*shape: int) -> torch.Tensor:
        return torch.rand(*shape, generator=gen).to(dev)

    angle = (rand(n) * 2 - 1) * math.radians(cfg.rotation_deg)
    scale = cfg.scale[0] + rand(n) * (cfg.scale[1] - cfg.scale[0])
    tx = (rand(n) * 2 - 1) * cfg.translate * 2  # normalised coords span 2
    ty = (rand(n) * 2 - 1) * cfg.translate * 2
    flip = torch.where(rand(n) < 0.5, -1.0, 1.0) if cfg.flip else torch.ones(n, device=dev)
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.stack(
        [torch.stack([cos * flip, -sin, tx], 1), torch.stack([sin * flip, cos, ty], 1)], 1
    )
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    out = F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)

    b = 1 + (rand(n, 1, 1, 1) * 2 - 1) * cfg.brightness
    c = 1 + (rand(n, 1, 1, 1) * 2 - 1) * cfg.contrast
    mean = out.mean(dim=(1, 2, 3), keepdim=True)
    out = ((out - mean) * c + mean) * b

    if cfg.erase_prob > 0:
        area = cfg.erase_area[0] + rand(n) * (cfg.erase_area[1] - cfg.erase_area[0])
        aspect = torch.exp((rand(n) * 2 - 1) * math.log(2.0))
        eh = (torch.sqrt(area * aspect) * h).clamp(1, h)
        ew = (torch.sqrt(area / aspect) * w).clamp(1, w)
        y0 = rand(n) * (h - eh)
        x0 = rand(n) * (w - ew)
        ys = torch.arange(h, device=dev).view(1, h, 1)
        xs = torch.arange(w, device=dev).view(1, 1, w)
        box = (
            (ys >= y0.view(n, 1, 1)) & (ys < (y0 + eh).view(n, 1, 1))
            & (xs >= x0.view(n, 1, 1)) & (xs < (x0 + ew).view(n, 1, 1))
        )
        active = (rand(n) < cfg.erase_prob).view(n, 1, 1)
        mask = (box & active).unsqueeze(1)
        noise = rand(*out.shape)
        out = torch.where(mask, noise, out)
    return out.clamp(0, 1)
