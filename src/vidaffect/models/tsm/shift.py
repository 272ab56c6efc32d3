"""Temporal shift (Lin et al. 2019, TSM), one direction as the VTT reference uses it."""
from __future__ import annotations

import torch


def temporal_shift(x: torch.Tensor, steps: int, fold_div: int = 4) -> torch.Tensor:
    """Replace the first ``C // fold_div`` channels of frame t with those of frame t-1.

    ``x`` is ``(N * steps, C, H, W)`` with the frames of each clip contiguous.
    Frame 0 of every clip keeps its own channels (there is no frame before it),
    so the output never depends on a later frame.  Returns a new tensor.
    """
    nt, c, h, w = x.shape
    if nt % steps:
        raise ValueError(f"batch of {nt} frames is not a multiple of the clip length {steps}")
    fold = c // fold_div
    v = x.view(nt // steps, steps, c, h, w)
    out = v.clone()
    if steps > 1 and fold > 0:
        out[:, 1:, :fold] = v[:, :-1, :fold]
    return out.view(nt, c, h, w)
