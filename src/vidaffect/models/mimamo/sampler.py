"""Snippet windowing of MIMAMO-Net.

A clip of ``n`` face frames is cut into windows of ``length`` frames every
``stride`` frames; the last window is aligned to end at the last frame, and a
clip shorter than ``length`` is one window of its own length.  Where windows
overlap, the later window's predictions win (:func:`merge_window_predictions`).
"""
from __future__ import annotations

import numpy as np


def snippet_windows(n: int, length: int = 64, stride: int = 64) -> list[tuple[int, int]]:
    """``[(start, end), ...]`` half-open windows covering ``range(n)``."""
    if length < 1 or stride < 1:
        raise ValueError("length and stride must be >= 1")
    if n <= 0:
        return []
    if n <= length:
        return [(0, n)]
    wins = []
    start = 0
    while start + length <= n:
        wins.append((start, start + length))
        start += stride
    if wins[-1][1] < n:
        wins.append((n - length, n))
    return wins


def merge_window_predictions(n: int, windows: list[tuple[int, int]], preds: list[np.ndarray]) -> np.ndarray:
    """Per-frame predictions ``(n, D)`` from per-window ones, later windows overwriting earlier ones."""
    dim = preds[0].shape[-1] if preds else 2
    out = np.full((n, dim), np.nan, dtype=np.float32)
    for (s, e), p in zip(windows, preds):
        out[s:e] = p
    return out
