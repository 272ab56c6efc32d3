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

The rule is applied as rows stream in (:class:`SegmentBuilder`, rows in time
order, cut into batches anywhere): each id carries only its latest time's
rows, the samples still inside the smoothing window or the first
``min_duration_s`` of its run, and sums over the frames not yet labelled, so
:func:`results_segments` reads a table of any length (on disk) in bounded
memory.  The smoothing uses the same cumulative sums as
:func:`~vidaffect.results.smoothing.moving_average_by_time`, so the segments
are those of the whole-table computation.
"""
from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

import numpy as np
import pandas as pd

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


def default_id_column(frames: pd.DataFrame | Iterable[str]) -> str:
    """``person_id`` when the identity stage added it, else ``face_id`` (``frames``: a table or its columns)."""
    columns = frames.columns if isinstance(frames, pd.DataFrame) else frames
    return "person_id" if "person_id" in columns else "face_id"


class TimeScan:
    """First and last time, frame step and number of analysed frames of a results table fed batch by batch
    (rows in frame order, as every table is written): what :func:`frame_step` and ``frames["frame"].nunique()``
    give for the whole table, in constant memory (a count per distinct gap between analysed times)."""

    def __init__(self) -> None:
        self.t_min, self.t_max = math.inf, -math.inf
        self.gaps: Counter = Counter()
        self.frame_gaps: Counter = Counter()  # between consecutive analysed frame numbers
        self.frames = 0  # distinct analysed frames
        self.rows = 0
        self._last_t: float | None = None
        self._last_frame = None

    def update(self, batch: pd.DataFrame) -> None:
        self.rows += len(batch)
        if "time_s" in batch.columns:
            t = batch["time_s"].to_numpy(dtype=np.float64)
            t = t[~np.isnan(t)]
            if len(t):
                self.t_min, self.t_max = min(self.t_min, float(t.min())), max(self.t_max, float(t.max()))
                u = np.unique(t)
                if self._last_t is not None:  # continue from the previous batch's last time
                    u = np.concatenate([[self._last_t], u[u > self._last_t]])
                self.gaps.update(np.diff(u).tolist())
                self._last_t = float(u[-1])
        if "frame" in batch.columns and len(batch):
            f = batch["frame"].to_numpy()
            new = np.r_[True, f[1:] != f[:-1]] if self._last_frame is None else \
                np.r_[f[0] != self._last_frame, f[1:] != f[:-1]]
            starts = f[new]
            self.frames += int(len(starts))
            if len(starts):
                prev = starts if self._last_frame is None else np.r_[self._last_frame, starts]
                self.frame_gaps.update(np.diff(prev).tolist())
            self._last_frame = f[-1]

    @property
    def step(self) -> float:
        """The median time between analysed frames (0 for fewer than two)."""
        from vidaffect.results.accumulators import median_of_counts

        return median_of_counts(self.gaps)

    @property
    def frame_hold(self) -> int:
        """The median step between analysed frame numbers (1 for fewer than two), as an int."""
        from vidaffect.results.accumulators import median_of_counts

        return int(median_of_counts(self.frame_gaps)) if self.frame_gaps else 1

    @property
    def bounds(self) -> tuple[float | None, float | None]:
        """``(first time, last time)``; ``(None, None)`` without rows."""
        return (self.t_min, self.t_max) if math.isfinite(self.t_min) else (None, None)


def scan_times(batches: Iterable[pd.DataFrame]) -> TimeScan:
    scan = TimeScan()
    for b in batches:
        scan.update(b)
    return scan


def mean_per_time(t: np.ndarray, columns: list[np.ndarray]) -> tuple[np.ndarray, list[np.ndarray]]:
    """One sample per distinct time of ``t`` (sorted): the NaN-aware mean of each column over the rows at that
    time (as ``groupby("time_s").mean()``), as float64."""
    cols = [np.asarray(c, dtype=np.float64) for c in columns]
    if len(t) < 2:
        return t, cols
    new = np.flatnonzero(t[1:] != t[:-1]) + 1
    if len(new) == len(t) - 1:  # one row per time (the usual case): the values themselves
        return t, cols
    starts = np.r_[0, new]
    out = []
    for c in cols:
        ok = ~np.isnan(c)
        s = np.add.reduceat(np.where(ok, c, 0.0), starts)
        n = np.add.reduceat(ok.astype(np.float64), starts)
        with np.errstate(invalid="ignore", divide="ignore"):
            out.append(np.where(n > 0, s / n, np.nan))
    return t[starts], out


class TimeCarry:
    """Rows of one id cut into batches anywhere: :meth:`push` returns the rows of the times that are
    complete and keeps those of the latest time (more of its rows may come in the next batch)."""

    def __init__(self) -> None:
        self.t: np.ndarray | None = None
        self.cols: list[np.ndarray] = []

    def push(self, t: np.ndarray, cols: list[np.ndarray]) -> tuple[np.ndarray, list[np.ndarray]]:
        if self.t is not None:
            t = np.concatenate([self.t, t])
            cols = [np.concatenate([a, b]) for a, b in zip(self.cols, cols)]
        if not len(t):
            self.t = None
            return t, cols
        cut = int(np.searchsorted(t, t[-1], side="left"))  # t is sorted: the rows of its last time
        self.t, self.cols = t[cut:], [c[cut:] for c in cols]
        return t[:cut], [c[:cut] for c in cols]

    def flush(self) -> tuple[np.ndarray, list[np.ndarray]] | None:
        if self.t is None or not len(self.t):
            return None
        out = (self.t, self.cols)
        self.t, self.cols = None, []
        return out


def split_positions(keys: np.ndarray) -> dict:
    """``{key: positions}`` of the rows of each key value (positions in row order)."""
    if not len(keys):
        return {}
    order = np.argsort(keys, kind="stable")
    sk = keys[order]
    cuts = np.flatnonzero(sk[1:] != sk[:-1]) + 1
    return {sk[a]: order[a:b] for a, b in zip(np.r_[0, cuts], np.r_[cuts, len(keys)])}


class _Piece:
    """Sums over consecutive samples of a run: what a segment's columns need, whatever its class."""

    __slots__ = ("n", "t0", "t1", "psum", "amax", "vsum", "vn", "asum", "an")

    def __init__(self, k: int) -> None:
        self.n = 0
        self.t0 = self.t1 = math.nan
        self.psum = np.zeros(k)
        self.amax = np.zeros(k, dtype=np.int64)
        self.vsum = self.asum = 0.0
        self.vn = self.an = 0

    def add(self, c: "_Chunk", lo: int, hi: int) -> None:
        if hi <= lo:
            return
        if self.n == 0:
            self.t0 = c.t[lo]
        self.t1 = c.t[hi - 1]
        self.n += hi - lo
        self.psum += c.p[lo:hi].sum(axis=0)
        self.amax += np.bincount(c.top[lo:hi], minlength=len(self.amax))
        v, a = c.v[lo:hi], c.a[lo:hi]
        okv, oka = np.isfinite(v), np.isfinite(a)
        self.vsum += float(v[okv].sum())
        self.vn += int(okv.sum())
        self.asum += float(a[oka].sum())
        self.an += int(oka.sum())

    def merge(self, other: "_Piece") -> None:
        if other.n == 0:
            return
        if self.n == 0:
            self.t0 = other.t0
        self.t1 = other.t1
        self.n += other.n
        self.psum += other.psum
        self.amax += other.amax
        self.vsum += other.vsum
        self.vn += other.vn
        self.asum += other.asum
        self.an += other.an


class _Chunk:
    """Consecutive samples of a run: times, smoothed and raw probabilities, raw argmax, valence, arousal."""

    __slots__ = ("t", "s", "p", "top", "v", "a")

    def __init__(self, t, s, p, v, a) -> None:
        self.t, self.s, self.p, self.v, self.a = t, s, p, v, a
        self.top = np.argmax(p, axis=1) if len(p) else np.zeros(0, dtype=np.int64)

    @staticmethod
    def concat(chunks: list["_Chunk"]) -> "_Chunk":
        return _Chunk(*(np.concatenate([getattr(c, f) for c in chunks]) for f in ("t", "s", "p", "v", "a")))


class _Run:
    """One presence run of one id, fed its per-time samples in time order: the smoothing (a centred window of
    cumulative sums, the very arithmetic of :func:`~vidaffect.results.smoothing.moving_average_by_time`) and
    the hysteresis rule applied as samples arrive, holding only the samples still inside a window."""

    def __init__(self, k: int, p: "_Params", emit) -> None:
        self.k, self.p, self.emit = k, p, emit
        # smoothing: the samples from the oldest one a pending window reaches back to
        self.T = np.zeros(0)
        self.P = np.zeros((0, k))
        self.V = np.zeros(0)
        self.A = np.zeros(0)
        self.C = np.zeros((1, k))  # cumulative sums before each buffered sample (and after the last)
        self.CC = np.zeros((1, k))
        self.done = 0  # buffered samples before this one are smoothed
        # head: the samples of the run's first min_duration_s, until they are all known
        self.t_first: float | None = None
        self.head: list[_Chunk] = []
        self.current = -1
        # hysteresis
        self.challenger = -1
        self.since_t = math.nan
        self.pa = _Piece(k)  # [start, since): labelled with `current` when a switch or the run's end comes
        self.pb = _Piece(k)  # [since, now]: the challenger's frames
        self.emitted = False

    def feed(self, t: np.ndarray, p: np.ndarray, v: np.ndarray, a: np.ndarray) -> None:
        if self.p.smoothing_s <= 0:
            self._smoothed(_Chunk(t, p, p, v, a), final=False)
            return
        valid = ~np.isnan(p)
        self.C = np.concatenate([self.C, np.cumsum(np.vstack([self.C[-1:], np.where(valid, p, 0.0)]), axis=0)[1:]])
        self.CC = np.concatenate([self.CC, np.cumsum(np.vstack([self.CC[-1:], valid]), axis=0)[1:]])
        self.T = np.concatenate([self.T, t])
        self.P = np.concatenate([self.P, p])
        self.V = np.concatenate([self.V, v])
        self.A = np.concatenate([self.A, a])
        self._smooth(final=False)

    def _smooth(self, final: bool) -> None:
        T, n, j0, w = self.T, len(self.T), self.done, self.p.smoothing_s
        if j0 >= n:
            return
        hi = np.searchsorted(T, T[j0:] + w / 2, side="right")
        m = len(hi) if final else int(np.searchsorted(hi, n, side="left"))  # windows that end before the last
        if m:
            j1 = j0 + m
            lo = np.searchsorted(T, T[j0:j1] - w / 2, side="left")
            hi = hi[:m]
            count = self.CC[hi] - self.CC[lo]
            s = np.where(count > 0, (self.C[hi] - self.C[lo]) / np.maximum(count, 1), np.nan)
            self._smoothed(_Chunk(T[j0:j1], s, self.P[j0:j1], self.V[j0:j1], self.A[j0:j1]), final)
            self.done = j1
        keep = n if self.done >= n else int(np.searchsorted(T, T[self.done] - w / 2, side="left"))
        if keep:
            self.T, self.P, self.V, self.A = self.T[keep:], self.P[keep:], self.V[keep:], self.A[keep:]
            self.C, self.CC = self.C[keep:], self.CC[keep:]
            self.done -= keep

    def _smoothed(self, c: _Chunk, final: bool) -> None:
        if self.current < 0:
            if not len(c.t) and not final:
                return
            if self.t_first is None and len(c.t):
                self.t_first = float(c.t[0])
            if len(c.t):
                self.head.append(c)
            if self.t_first is None:
                return
            limit = self.t_first + max(self.p.min_duration_s - self.p.step, 0.0) + 1e-9
            if not final and not self.head[-1].t[-1] > limit:
                return  # the head is not complete yet
            c = _Chunk.concat(self.head)
            self.head = []
            self.current = int(np.argmax(c.s[c.t <= limit].mean(axis=0)))
        self._hysteresis(c)

    def _hysteresis(self, c: _Chunk) -> None:
        p = self.p
        s, t = c.s, c.t
        best = np.argmax(s, axis=1) if len(s) else []
        cur, chal = self.current, self.challenger
        o = 0  # the chunk's samples before this one are in pa or pb
        for i in range(len(t)):
            b = int(best[i])
            if b == cur or not s[i, b] - s[i, cur] >= p.switch_margin:  # no class leads by the margin
                if chal != -1:
                    self.pb.add(c, o, i)
                    self.pa.merge(self.pb)
                    self.pb = _Piece(self.k)
                    o, chal = i, -1
                continue
            if b != chal:  # a new challenger, from here
                if chal != -1:
                    self.pb.add(c, o, i)
                    self.pa.merge(self.pb)
                    self.pb = _Piece(self.k)
                else:
                    self.pa.add(c, o, i)
                o, chal, self.since_t = i, b, float(t[i])
            if t[i] - self.since_t + p.step >= p.min_duration_s - 1e-9:  # it led long enough: switch
                self.pb.add(c, o, i + 1)
                o = i + 1
                if self.emitted or self.since_t - self.t_first >= p.min_duration_s - 1e-9:
                    if self.pa.n:
                        self.emit(self.pa, cur)
                        self.emitted = True
                    self.pa = self.pb
                else:  # the run's first class lost its lead before lasting min_duration_s: the winner starts it
                    self.pa.merge(self.pb)
                self.pb = _Piece(self.k)
                cur, chal = chal, -1
        (self.pb if chal != -1 else self.pa).add(c, o, len(t))
        self.current, self.challenger = cur, chal

    def finish(self) -> None:
        if self.p.smoothing_s > 0:
            self._smooth(final=True)
        if self.current < 0:
            self._smoothed(_Chunk(np.zeros(0), np.zeros((0, self.k)), np.zeros((0, self.k)), np.zeros(0),
                                  np.zeros(0)), final=True)
        if self.current < 0:
            return  # no sample
        self.pa.merge(self.pb)
        if self.pa.n:
            self.emit(self.pa, self.current)


@dataclass
class _Params:
    min_duration_s: float
    switch_margin: float
    smoothing_s: float
    max_gap_s: float
    step: float


class _Ident:
    __slots__ = ("carry", "last_t", "run", "name", "segments")

    def __init__(self) -> None:
        self.carry = TimeCarry()
        self.last_t: float | None = None
        self.run: _Run | None = None
        self.name = None
        self.segments: list[dict] = []


class SegmentBuilder:
    """:func:`emotion_segments` fed batch by batch: rows in time order (as every results table is written), cut
    anywhere; each id carries its state (the latest time's rows, the samples inside the smoothing window, the
    hysteresis state and the sums of the frames not yet labelled), so memory does not grow with the table.

    ``step``: the table's frame step (:class:`TimeScan`); ``has_name``: the table has ``person_name`` (the
    segments then have it too)."""

    def __init__(self, classes: list[str], by: str, step: float, min_duration_s: float = DEFAULT_MIN_DURATION_S,
                 switch_margin: float = DEFAULT_SWITCH_MARGIN, smoothing_s: float = DEFAULT_SMOOTHING_S,
                 max_gap_s: float = DEFAULT_MAX_GAP_S, has_name: bool = False) -> None:
        if min_duration_s < 0 or switch_margin < 0 or smoothing_s < 0 or max_gap_s < 0:
            raise ValueError("min_duration_s, switch_margin, smoothing_s and max_gap_s must be >= 0")
        self.classes = list(classes)
        self.by = by
        self.extra = ["person_name"] if has_name and by != "person_name" else []
        self.params = _Params(min_duration_s, switch_margin, smoothing_s, max_gap_s, float(step))
        self.ids: dict = {}

    @property
    def columns(self) -> list[str]:
        """The columns the builder reads."""
        return list(dict.fromkeys(["time_s", "face_id", self.by, *self.extra, *self.classes, "valence", "arousal"]))

    def update(self, batch: pd.DataFrame) -> None:
        if batch.empty or self.by not in batch.columns:
            return
        keep = id_rows(batch, self.by)
        probs = batch[self.classes].to_numpy(dtype=np.float64)
        keep &= ~np.isnan(probs).any(axis=1)
        if not keep.any():
            return
        rows = np.flatnonzero(keep)
        t = batch["time_s"].to_numpy(dtype=np.float64)[rows]
        probs = probs[rows]
        nan = np.full(len(rows), np.nan)
        v = batch["valence"].to_numpy(dtype=np.float64)[rows] if "valence" in batch.columns else nan
        a = batch["arousal"].to_numpy(dtype=np.float64)[rows] if "arousal" in batch.columns else nan
        names = batch["person_name"].to_numpy(dtype=object)[rows] if self.extra and "person_name" in batch.columns \
            else None
        for ident, pos in split_positions(batch[self.by].to_numpy()[rows]).items():
            st = self.ids.get(ident)
            if st is None:
                st = self.ids[ident] = _Ident()
            if names is not None and st.name is None:
                known = np.flatnonzero(pd.notna(names[pos]))
                if len(known):
                    st.name = names[pos][known[0]]
            tt, cols = st.carry.push(t[pos], [probs[pos], v[pos], a[pos]])
            self._times(ident, st, tt, cols)

    def _times(self, ident, st: _Ident, t: np.ndarray, cols: list[np.ndarray]) -> None:
        """Complete rows of ``ident`` (all its rows of these times): one sample per time, cut into runs."""
        if not len(t):
            return
        k = len(self.classes)
        t, (p, v, a) = mean_per_time(t, [cols[0].reshape(len(t), k), cols[1], cols[2]])
        p = p.reshape(len(t), k)
        p_ = self.params
        prev = np.r_[st.last_t if st.last_t is not None else t[0], t[:-1]]
        # absent for more than max_gap_s between two frames (the frame step itself is not absence)
        breaks = list(np.flatnonzero(t - prev - p_.step > p_.max_gap_s + 1e-6))
        if st.last_t is None and (not breaks or breaks[0] != 0):
            breaks = [0] + breaks
        st.last_t = float(t[-1])
        bounds = breaks + [len(t)]
        lo = 0
        for b in bounds:
            if b > lo:
                if st.run is None:
                    st.run = self._new_run(st)
                st.run.feed(t[lo:b], p[lo:b], v[lo:b], a[lo:b])
            if b < len(t):  # a new run starts at b
                if st.run is not None:
                    st.run.finish()
                st.run = self._new_run(st)
            lo = b

    def _new_run(self, st: _Ident) -> _Run:
        def emit(piece: _Piece, k: int) -> None:
            start, end = float(piece.t0), float(piece.t1 + self.params.step)
            st.segments.append(dict(
                start_s=round(start, 3), end_s=round(end, 3), duration_s=round(end - start, 3),
                emotion=self.classes[k], mean_probability=float(piece.psum[k] / piece.n),
                mean_valence=piece.vsum / piece.vn if piece.vn else float("nan"),
                mean_arousal=piece.asum / piece.an if piece.an else float("nan"),
                frames=int(piece.n), agreement=float(piece.amax[k] / piece.n)))

        return _Run(len(self.classes), self.params, emit)

    def result(self) -> pd.DataFrame:
        """The segments (sorted by id, then start) of everything fed; ends every id's last run."""
        for ident, st in self.ids.items():
            rest = st.carry.flush()
            if rest is not None:
                self._times(ident, st, *rest)
            if st.run is not None:
                st.run.finish()
                st.run = None
        out = []
        for ident in sorted(self.ids):
            st = self.ids[ident]
            for seg in st.segments:
                row = {self.by: ident}
                if self.extra:
                    row["person_name"] = st.name
                row.update(seg)
                out.append(row)
        seg = pd.DataFrame(out, columns=[self.by] + self.extra + SEGMENT_COLUMNS)
        if not seg.empty:
            seg = seg.sort_values([self.by, "start_s"], kind="stable").reset_index(drop=True)
        p = self.params
        seg.attrs["segment_params"] = {"by": self.by, "min_duration_s": p.min_duration_s,
                                       "switch_margin": p.switch_margin, "smoothing_s": p.smoothing_s,
                                       "max_gap_s": p.max_gap_s, "frame_step_s": p.step}
        return seg


def in_time_order(frames: pd.DataFrame) -> pd.DataFrame:
    """``frames`` sorted by time (stable), or as they are when already in order (no copy)."""
    t = frames["time_s"].to_numpy(dtype=np.float64)
    if len(t) < 2 or not (np.diff(t) < 0).any():
        return frames
    return frames.sort_values("time_s", kind="stable")


def emotion_segments(frames: pd.DataFrame, classes: list[str], min_duration_s: float = DEFAULT_MIN_DURATION_S,
                     switch_margin: float = DEFAULT_SWITCH_MARGIN, by: str | None = None,
                     smoothing_s: float = DEFAULT_SMOOTHING_S, max_gap_s: float = DEFAULT_MAX_GAP_S) -> pd.DataFrame:
    """Emotion segments per person (or face): one row per segment, sorted by id then start.

    ``by``: the id column (default ``person_id`` if present, else ``face_id``);
    rows whose id is negative or missing, or without probabilities, are ignored.
    See the module docstring for the rule and the columns; :func:`results_segments` computes the same from a
    :class:`~vidaffect.results.Results` in bounded memory (its table may live on disk).
    """
    if min_duration_s < 0 or switch_margin < 0 or smoothing_s < 0 or max_gap_s < 0:
        raise ValueError("min_duration_s, switch_margin, smoothing_s and max_gap_s must be >= 0")
    by = by or default_id_column(frames)
    extra = ["person_name"] if "person_name" in frames.columns and by != "person_name" else []
    if frames.empty or by not in frames.columns:
        return pd.DataFrame(columns=[by] + extra + SEGMENT_COLUMNS)
    builder = SegmentBuilder(classes, by, frame_step(frames), min_duration_s, switch_margin, smoothing_s,
                             max_gap_s, has_name=bool(extra))
    builder.update(in_time_order(frames))
    return builder.result()


def id_rows(batch: pd.DataFrame, by: str) -> np.ndarray:
    """Which rows of ``batch`` have a face and an id in column ``by`` (``person_id`` -1: a face not linked to
    a person, left out)."""
    ids = batch[by]
    keep = (batch["face_id"].to_numpy() >= 0) & ids.notna().to_numpy()
    if ids.dtype.kind in "iuf":
        keep &= ids.to_numpy() >= 0
    return keep


def results_segments(results, min_duration_s: float = DEFAULT_MIN_DURATION_S,
                     switch_margin: float = DEFAULT_SWITCH_MARGIN, by: str | None = None,
                     smoothing_s: float = DEFAULT_SMOOTHING_S, max_gap_s: float = DEFAULT_MAX_GAP_S,
                     classes: list[str] | None = None, step: float | None = None) -> pd.DataFrame:
    """:func:`emotion_segments` of a :class:`~vidaffect.results.Results` read in bounded batches (two passes:
    the frame step, then the segments; one when ``step`` is given): an on-disk table is never loaded whole."""
    if min_duration_s < 0 or switch_margin < 0 or smoothing_s < 0 or max_gap_s < 0:
        raise ValueError("min_duration_s, switch_margin, smoothing_s and max_gap_s must be >= 0")
    header = results.columns
    by = by or default_id_column(header)
    extra = ["person_name"] if "person_name" in header and by != "person_name" else []
    classes = list(results.classes if classes is None else classes)
    if by not in header:
        return pd.DataFrame(columns=[by] + extra + SEGMENT_COLUMNS)
    if step is None:
        scan = scan_times(results.iter_batches(["time_s"]))
        if not scan.rows:
            return pd.DataFrame(columns=[by] + extra + SEGMENT_COLUMNS)
        step = scan.step
    builder = SegmentBuilder(classes, by, step, min_duration_s, switch_margin, smoothing_s, max_gap_s,
                             has_name=bool(extra))
    for b in results.iter_batches(builder.columns):
        builder.update(b)
    return builder.result()


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
