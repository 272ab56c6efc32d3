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
    return series_json(tb, vb, cols[2:], gap_s, bin_w)


def series_json(tb: np.ndarray, vb: np.ndarray, classes: list[str], gap_s: float, bin_w: float) -> dict:
    """The display series of :func:`face_series` from its samples: ``vb`` holds valence, arousal, then
    ``classes``."""
    return {
        "t": _clean(tb, 3),
        "valence": _clean(vb[:, 0], 3),
        "arousal": _clean(vb[:, 1], 3),
        "probs": {c: _clean(vb[:, 2 + i], 3) for i, c in enumerate(classes)},
        "starts": segment_starts(tb, max(gap_s, 2.5 * bin_w)),
    }


class SeriesBinner:
    """:func:`bin_series` of samples that arrive in time order, in the bins of a time range known beforehand
    (``t_min``..``t_max``: the first and last sample's times): the samples themselves are kept only while
    there are at most ``max_points`` of them, the bins' sums always, so memory is bounded by ``max_points``
    whatever the number of samples.  The sums are added in the same order as :func:`bin_series` adds them,
    so the result is the same to the bit."""

    def __init__(self, t_min: float, t_max: float, width: int, max_points: int = 800) -> None:
        self.t_min, self.t_max, self.max_points = float(t_min), float(t_max), int(max_points)
        self.n = 0
        self.exact: list[tuple[np.ndarray, np.ndarray]] | None = []
        self.edges = np.linspace(self.t_min, self.t_max, self.max_points + 1)
        self.count = np.zeros(self.max_points, dtype=np.int64)
        self.t_sum = np.zeros(self.max_points)
        self.v_sum = np.zeros((self.max_points, width))
        self.v_n = np.zeros((self.max_points, width))

    def add(self, t: np.ndarray, values: np.ndarray) -> None:
        t = np.asarray(t, dtype=float)
        values = np.asarray(values, dtype=float).reshape(len(t), -1)
        if not len(t):
            return
        self.n += len(t)
        if self.exact is not None:
            self.exact = None if self.n > self.max_points else self.exact + [(t, values)]
        idx = np.clip(np.searchsorted(self.edges, t, side="right") - 1, 0, self.max_points - 1)
        np.add.at(self.count, idx, 1)
        np.add.at(self.t_sum, idx, t)
        finite = np.isfinite(values)
        for k in range(values.shape[1]):
            np.add.at(self.v_sum[:, k], idx, np.where(finite[:, k], values[:, k], 0.0))
            np.add.at(self.v_n[:, k], idx, finite[:, k].astype(float))

    def result(self) -> tuple[np.ndarray, np.ndarray, float]:
        """``(times, values, bin width)``: the samples themselves (width 0) when at most ``max_points``."""
        if self.exact is not None:
            if not self.exact:
                return np.zeros(0), np.zeros((0, self.v_sum.shape[1])), 0.0
            return (np.concatenate([t for t, _ in self.exact]), np.concatenate([v for _, v in self.exact]), 0.0)
        keep = self.count > 0
        t_mean = self.t_sum[keep] / self.count[keep]
        with np.errstate(invalid="ignore", divide="ignore"):
            out = (self.v_sum / self.v_n)[keep]
        return t_mean, out, (self.t_max - self.t_min) / self.max_points


class SpanTracker:
    """:func:`presence_spans` of times that arrive in order: only the open span is kept."""

    def __init__(self, gap_s: float) -> None:
        self.gap_s = gap_s
        self.spans: list[list[float]] = []
        self.start = self.end = None

    def add(self, t: np.ndarray) -> None:
        t = np.asarray(t, dtype=float)
        if not len(t):
            return
        if self.end is not None:
            t = np.concatenate([[self.end], t])
        cuts = np.flatnonzero(np.diff(t) > self.gap_s) + 1
        if self.start is None:
            self.start = t[0]
        for c in cuts:
            self.spans.append([self.start, t[c - 1]])
            self.start = t[c]
        self.end = t[-1]

    def result(self) -> list[list[float]]:
        spans = self.spans + ([[self.start, self.end]] if self.start is not None else [])
        return [[round(float(a), 3), round(float(b), 3)] for a, b in spans]


def presence_spans(t: np.ndarray, gap_s: float) -> list[list[float]]:
    """``[[start, end], ...]`` time spans where a face is on screen (samples closer than ``gap_s``)."""
    t = np.sort(np.asarray(t, dtype=float))
    if not len(t):
        return []
    starts = segment_starts(t, gap_s)
    ends = starts[1:] + [len(t)]
    return [[round(float(t[a]), 3), round(float(t[b - 1]), 3)] for a, b in zip(starts, ends)]
