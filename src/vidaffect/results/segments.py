"""Emotion segments: the dominant emotion of each person (or face) as time spans, without flicker.

The per-frame ``emotion`` column is the raw argmax of the class probabilities
and changes several times a second on real videos (about 2-4 changes per
second on ``multi_face.avi``, docs/exports.md).  :func:`emotion_segments`
turns it into spans with a documented temporal filter:

1. **Presence runs.**  The rows of one id (``person_id`` when the identity
   stage ran, else ``face_id``; rows without a face are ignored) are split
   where the face is absent for more than ``max_gap_s`` seconds (time between
   two frames of the id minus one frame step): a segment never spans such a
   gap.
2. **Smoothing.**  Within a run the class probabilities are averaged over a
   centred window of ``smoothing_s`` seconds (on real timestamps).
3. **Hysteresis.**  The run starts with the class of highest mean smoothed
   probability over its first ``min_duration_s``.  A challenger class replaces
   the current one only when its smoothed probability exceeds the current
   class's by at least ``switch_margin`` on every frame for at least
   ``min_duration_s`` seconds; the new segment then starts where the
   challenger began to lead (the boundary is not delayed by the wait).
   If the run's first class loses its lead before lasting ``min_duration_s``,
   the winner takes over the start of the run.  Hence every segment but the
   last of a run lasts at least ``min_duration_s``.

Per segment: the id, ``start_s`` (first frame's time), ``end_s`` (last
frame's time plus one frame step, so consecutive segments of a run touch),
``duration_s``, ``emotion``, ``mean_probability`` (mean raw probability of
that emotion over the segment's frames), ``mean_valence``, ``mean_arousal``,
``frames`` and ``agreement`` (share of the segment's frames whose raw argmax
is the segment's emotion).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from vidaffect.results.smoothing import moving_average_by_time
from vidaffect.utils.atomic import atomic_path

# Defaults measured on the shared videos (docs/exports.md, "Choosing the defaults").
DEFAULT_MIN_DURATION_S = 0.5
DEFAULT_SWITCH_MARGIN = 0.1
DEFAULT_SMOOTHING_S = 0.5
DEFAULT_MAX_GAP_S = 0.5

SEGMENT_COLUMNS = ["start_s", "end_s", "duration_s", "emotion", "mean_probability", "mean_valence",
                   "mean_arousal", "frames", "agreement"]


def frame_step(frames: pd.DataFrame) -> float:
    """Seconds between analysed frames (median over the whole table; 0 for a single frame)."""
    times = np.sort(pd.unique(frames["time_s"].dropna()))
    return float(np.median(np.diff(times))) if len(times) > 1 else 0.0


def default_id_column(frames: pd.DataFrame) -> str:
    """``person_id`` when the identity stage added it, else ``face_id``."""
    return "person_id" if "person_id" in frames.columns else "face_id"


def _hysteresis(times: np.ndarray, probs: np.ndarray, min_duration_s: float, switch_margin: float,
                step: float) -> np.ndarray:
    """Class index per frame of one run after the hysteresis rule (see the module docstring)."""
    n = len(times)
    head = times <= times[0] + max(min_duration_s - step, 0.0) + 1e-9
    current = int(np.argmax(probs[head].mean(axis=0)))
    labels = np.empty(n, dtype=np.int64)
    challenger, since = -1, 0  # the class now leading by the margin and the frame where it began to lead
    start = 0  # first frame not yet labelled
    for i in range(n):
        best = int(np.argmax(probs[i]))
        leads = best != current and probs[i, best] - probs[i, current] >= switch_margin
        if not leads:
            challenger = -1
            continue
        if best != challenger:
            challenger, since = best, i
        if times[i] - times[since] + step >= min_duration_s - 1e-9:
            if start > 0 or times[since] - times[0] >= min_duration_s - 1e-9:
                labels[start:since] = current
                start = since
            # else: the run's first class lost its lead before lasting min_duration_s: the run starts with the winner
            current, challenger = challenger, -1
    labels[start:] = current
    return labels


def _mean(values: np.ndarray) -> float:
    finite = values[np.isfinite(values)]
    return float(finite.mean()) if len(finite) else float("nan")


def emotion_segments(frames: pd.DataFrame, classes: list[str], min_duration_s: float = DEFAULT_MIN_DURATION_S,
                     switch_margin: float = DEFAULT_SWITCH_MARGIN, by: str | None = None,
                     smoothing_s: float = DEFAULT_SMOOTHING_S, max_gap_s: float = DEFAULT_MAX_GAP_S) -> pd.DataFrame:
    """Emotion segments per person (or face): one row per segment, sorted by id then start.

    ``by``: the id column (default ``person_id`` if present, else ``face_id``);
    rows whose id is negative or missing, or without probabilities, are ignored.
    See the module docstring for the rule and the columns.
    """
    if min_duration_s < 0 or switch_margin < 0 or smoothing_s < 0 or max_gap_s < 0:
        raise ValueError("min_duration_s, switch_margin, smoothing_s and max_gap_s must be >= 0")
    by = by or default_id_column(frames)
    extra = ["person_name"] if "person_name" in frames.columns and by != "person_name" else []
    columns = [by] + extra + SEGMENT_COLUMNS
    if frames.empty or by not in frames.columns:
        return pd.DataFrame(columns=columns)
    classes = list(classes)
    step = frame_step(frames)
    rows = frames[(frames["face_id"] >= 0) & frames[by].notna()]
    if rows[by].dtype.kind in "iuf":
        rows = rows[rows[by] >= 0]  # person_id -1: a face not linked to a person
    rows = rows.dropna(subset=classes)
    value_cols = classes + [c for c in ("valence", "arousal") if c in rows.columns]
    out = []
    for ident, g in rows.groupby(by, sort=True):
        # one row per time: a person seen twice in one frame (two tracks) is averaged
        per_t = g.groupby("time_s", sort=True)[value_cols].mean()
        times = per_t.index.to_numpy(dtype=np.float64)
        probs = per_t[classes].to_numpy(dtype=np.float64)
        valence = per_t["valence"].to_numpy() if "valence" in per_t else np.full(len(times), np.nan)
        arousal = per_t["arousal"].to_numpy() if "arousal" in per_t else np.full(len(times), np.nan)
        name = g["person_name"].dropna().iloc[0] if extra and g["person_name"].notna().any() else None
        # absent for more than max_gap_s between two frames (the frame step itself is not absence)
        breaks = np.flatnonzero(np.diff(times) - step > max_gap_s + 1e-6) + 1
        for lo, hi in zip(np.r_[0, breaks], np.r_[breaks, len(times)]):
            t, p = times[lo:hi], probs[lo:hi]
            smooth = moving_average_by_time(t, p, smoothing_s) if smoothing_s > 0 else p
            labels = _hysteresis(t, smooth, min_duration_s, switch_margin, step)
            cuts = np.flatnonzero(np.diff(labels)) + 1
            for a, b in zip(np.r_[0, cuts], np.r_[cuts, len(t)]):
                k = int(labels[a])
                row = {by: ident}
                if extra:
                    row["person_name"] = name
                start, end = float(t[a]), float(t[b - 1] + step)
                row.update(start_s=round(start, 3), end_s=round(end, 3), duration_s=round(end - start, 3),
                           emotion=classes[k], mean_probability=float(np.mean(p[a:b, k])),
                           mean_valence=_mean(valence[lo + a:lo + b]), mean_arousal=_mean(arousal[lo + a:lo + b]),
                           frames=int(b - a), agreement=float(np.mean(np.argmax(p[a:b], axis=1) == k)))
                out.append(row)
    seg = pd.DataFrame(out, columns=columns)
    if not seg.empty:
        seg = seg.sort_values([by, "start_s"], kind="stable").reset_index(drop=True)
    seg.attrs["segment_params"] = {"by": by, "min_duration_s": min_duration_s, "switch_margin": switch_margin,
                                   "smoothing_s": smoothing_s, "max_gap_s": max_gap_s, "frame_step_s": step}
    return seg


def dominant_changes(segments: pd.DataFrame, by: str | None = None, max_gap_s: float | None = None) -> pd.Series:
    """Number of emotion changes per id: consecutive segments that differ in emotion and are at most
    ``max_gap_s`` apart (default: the value the segments were made with)."""
    by = by or next(c for c in ("person_id", "face_id") if c in segments.columns)
    if max_gap_s is None:
        max_gap_s = (segments.attrs.get("segment_params") or {}).get("max_gap_s", DEFAULT_MAX_GAP_S)
    counts = {}
    for ident, g in segments.groupby(by, sort=True):
        g = g.sort_values("start_s")
        touch = (g["start_s"].to_numpy()[1:] - g["end_s"].to_numpy()[:-1]) <= max_gap_s + 1e-3
        differ = g["emotion"].to_numpy()[1:] != g["emotion"].to_numpy()[:-1]
        counts[ident] = int(np.sum(touch & differ))
    return pd.Series(counts, dtype="int64", name="changes")


def write_segments_csv(segments: pd.DataFrame, path: str | Path) -> Path:
    """Write the segments table as CSV atomically (scores rounded to 4 decimals); return the path."""
    out = segments.copy()
    for col in ("mean_probability", "mean_valence", "mean_arousal", "agreement"):
        if col in out.columns:
            out[col] = out[col].astype("float64").round(4)
    with atomic_path(path) as tmp:
        out.to_csv(tmp, index=False)
    return Path(path)
