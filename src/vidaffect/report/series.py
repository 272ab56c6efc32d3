"""Per-face time series for display: averaged into at most ``max_points`` time bins, with gaps kept.

A 10-minute video at 30 fps has 18,000 samples per face; drawing them all in
the browser makes the page sluggish and the file large, and the screen has
fewer pixels than that anyway.  Bins average the values (NaN-aware); a break
is recorded wherever the face was absent for longer than ``gap_s`` so lines and
areas are not drawn across the absence.
"""
from __future__ import annotations

import numpy as np
import pandas as pd


def bin_series(t: np.ndarray, values: np.ndarray, max_points: int) -> tuple[np.ndarray, np.ndarray]:
    """Average ``values`` (N, K) into at most ``max_points`` equal-width time bins; empty bins are dropped.

    Returns the mean time and the NaN-aware mean values of each kept bin.
    """
    t = np.asarray(t, dtype=float)
    values = np.asarray(values, dtype=float).reshape(len(t), -1)
    if len(t) <= max_points:
        return t, values
    edges = np.linspace(t.min(), t.max(), max_points + 1)
    idx = np.clip(np.searchsorted(edges, t, side="right") - 1, 0, max_points - 1)
    count = np.bincount(idx, minlength=max_points)
    keep = count > 0
    t_mean = np.bincount(idx, weights=t, minlength=max_points)[keep] / count[keep]
    finite = np.isfinite(values)
    out = np.empty((int(keep.sum()), values.shape[1]))
    for k in range(values.shape[1]):
        s = np.bincount(idx, weights=np.where(finite[:, k], values[:, k], 0.0), minlength=max_points)
        n = np.bincount(idx, weights=finite[:, k].astype(float), minlength=max_points)
        with np.errstate(invalid="ignore", divide="ignore"):
            out[:, k] = (s / n)[keep]
    return t_mean, out


def segment_starts(t: np.ndarray, gap_s: float) -> list[int]:
    """Indices where a new drawn segment starts (0 and every index after a gap longer than ``gap_s``)."""
    if not len(t):
        return []
    return [0] + [int(i) for i in np.flatnonzero(np.diff(t) > gap_s) + 1]


def _clean(a: np.ndarray, digits: int) -> list:
    return [None if not np.isfinite(v) else round(float(v), digits) for v in a]


def face_series(rows: pd.DataFrame, classes: list[str], max_points: int = 800, gap_s: float = 0.5) -> dict:
    """JSON-ready display series of one face: ``t``, ``valence``, ``arousal``, ``probs`` {class: values},
    ``starts`` (segment start indices).  ``rows`` are the face's rows of ``Results.frames``."""
    rows = rows.sort_values("time_s")
    cols = ["valence", "arousal"] + [c for c in classes if c in rows.columns]
    t = rows["time_s"].to_numpy(dtype=float)
    vals = rows[cols].to_numpy(dtype=float) if len(rows) else np.zeros((0, len(cols)))
    tb, vb = bin_series(t, vals, max_points)
    bin_w = (t.max() - t.min()) / max_points if len(t) > max_points else 0.0
    return {
        "t": _clean(tb, 3),
        "valence": _clean(vb[:, 0], 3),
        "arousal": _clean(vb[:, 1], 3),
        "probs": {c: _clean(vb[:, 2 + i], 3) for i, c in enumerate(cols[2:])},
        "starts": segment_starts(tb, max(gap_s, 2.5 * bin_w)),
    }


def presence_spans(t: np.ndarray, gap_s: float) -> list[list[float]]:
    """``[[start, end], ...]`` time spans where a face is on screen (samples closer than ``gap_s``)."""
    t = np.sort(np.asarray(t, dtype=float))
    if not len(t):
        return []
    starts = segment_starts(t, gap_s)
    ends = starts[1:] + [len(t)]
    return [[round(float(t[a]), 3), round(float(t[b - 1]), 3)] for a, b in zip(starts, ends)]
