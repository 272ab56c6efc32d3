"""Moving-average smoothing on real timestamps, per face track."""
from __future__ import annotations

import numpy as np
import pandas as pd


def moving_average_by_time(times: np.ndarray, values: np.ndarray, window_s: float) -> np.ndarray:
    """Centred moving average: each sample becomes the mean of samples within ``window_s / 2`` seconds.

    ``values`` is (N,) or (N, K); NaN samples are ignored; output has the input's shape.
    Uses cumulative sums, O(N log N) for the window bounds.
    """
    values = np.asarray(values, dtype=np.float64)
    if window_s <= 0 or len(values) == 0:
        return values.copy()
    squeeze = values.ndim == 1
    v = values.reshape(len(values), -1)
    t = np.asarray(times, dtype=np.float64)
    order = np.argsort(t, kind="stable")
    t, v = t[order], v[order]
    valid = ~np.isnan(v)
    csum = np.vstack([np.zeros((1, v.shape[1])), np.cumsum(np.where(valid, v, 0.0), axis=0)])
    ccount = np.vstack([np.zeros((1, v.shape[1])), np.cumsum(valid, axis=0)])
    lo = np.searchsorted(t, t - window_s / 2, side="left")
    hi = np.searchsorted(t, t + window_s / 2, side="right")
    count = ccount[hi] - ccount[lo]
    out = np.where(count > 0, (csum[hi] - csum[lo]) / np.maximum(count, 1), np.nan)
    result = np.empty_like(out)
    result[order] = out
    return result[:, 0] if squeeze else result


def smooth_frames(frames: pd.DataFrame, columns: list[str], window_s: float) -> pd.DataFrame:
    """Smooth ``columns`` of a results table per ``face_id`` (rows with face_id < 0 untouched)."""
    if window_s <= 0 or frames.empty:
        return frames
    out = frames.copy()
    out[columns] = out[columns].astype("float64")  # smoothed means are float64; pandas refuses lossy setitem
    for fid, idx in out[out["face_id"] >= 0].groupby("face_id").groups.items():
        sub = out.loc[idx]
        out.loc[idx, columns] = moving_average_by_time(sub["time_s"].to_numpy(), sub[columns].to_numpy(), window_s)
    return out
