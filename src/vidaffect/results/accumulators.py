"""Per-face and per-person summaries built batch by batch, so that a results table of any length is summarised
in constant memory (the table itself may live on disk: :meth:`vidaffect.results.Results.iter_batches`).

:class:`SummaryAccumulator` gives exactly what ``Results.summary()`` documents: first/last time, time on
screen (the real durations of the analysed frames that show the face, the rule of :class:`FrameClock`),
frames, mean valence/arousal, the dominant emotion and each emotion's share.  Rows must come in frame order
(as every results table is written).
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence

import numpy as np
import pandas as pd

SUMMARY_INPUT_COLUMNS = ("time_s", "face_id", "person_id", "person_name", "emotion", "valence", "arousal")


@dataclass
class _Key:
    first_s: float
    last_s: float
    rows: int = 0
    sum_v: float = 0.0
    n_v: int = 0
    sum_a: float = 0.0
    n_a: int = 0
    emotions: dict[str, int] = field(default_factory=dict)  # in order of first appearance (value_counts' ties)
    face_ids: set[int] = field(default_factory=set)
    person_id: Any = None
    person_name: Any = None
    shown_s: float = 0.0  # durations of the frames that show it, where known
    damaged_gaps: list[float] = field(default_factory=list)  # gaps over damaged data: min(gap, median step) later


def median_of_counts(counts: Counter) -> float:
    """The median of a multiset given as ``{value: count}`` (NumPy's: the mean of the two middle values)."""
    n = sum(counts.values())
    if n == 0:
        return 0.0
    values = sorted(counts)
    cum = np.cumsum([counts[v] for v in values])
    lo = values[int(np.searchsorted(cum, (n - 1) // 2 + 1))]
    hi = values[int(np.searchsorted(cum, n // 2 + 1))]
    return float((lo + hi) / 2) if lo != hi else float(lo)


class FrameClock:
    """The one rule for how long an analysed frame lasts, fed its times in order.

    A frame lasts until the next analysed frame (real timestamps, so variable frame rates and ``--fps``
    sampling count right).  The last frame, and a frame followed by damaged data (a span of
    ``metadata["damaged_spans"]`` starting at or after it and before the next frame), get the median step
    instead, or their gap when that is shorter.  The median is only known at the end: :meth:`advance`
    reports each gap and whether it crosses damaged data, :meth:`duration` settles it with :meth:`step`.
    """

    def __init__(self, damaged_spans: Iterable[dict] | None = None) -> None:
        self.damaged = sorted(float(s.get("start_s", np.inf)) for s in (damaged_spans or []))
        self.gaps: Counter = Counter()
        self.t: float | None = None

    def advance(self, t: float) -> tuple[float, bool] | None:
        """Move to analysed time ``t``: the previous time's ``(gap, over_damaged_data)``, None at the first."""
        previous, self.t = self.t, t
        if previous is None:
            return None
        gap = t - previous
        self.gaps[gap] += 1
        i = int(np.searchsorted(self.damaged, previous, side="left"))
        return gap, bool(i < len(self.damaged) and self.damaged[i] < t)

    def step(self) -> float:
        """The median gap so far (0 with fewer than two times)."""
        return median_of_counts(self.gaps)

    @staticmethod
    def duration(gap: float, over_damage: bool, step: float) -> float:
        return min(gap, step) if over_damage else gap


class SummaryAccumulator:
    """Feed batches of a results table (frame order) with :meth:`update`; :meth:`result` gives the summary
    table by ``face_id`` (``by="face"``) or ``person_id`` (``by="person"``)."""

    def __init__(self, classes: list[str], by: str = "face", damaged_spans: Iterable[dict] | None = None) -> None:
        if by not in ("face", "person"):
            raise ValueError(f"summary by 'face' or 'person', not {by!r}")
        self.classes = list(classes)
        self.by = by
        self.key = "face_id" if by == "face" else "person_id"
        self.clock = FrameClock(damaged_spans)
        self.keys: dict[int, _Key] = {}
        self.at_cur: set[int] = set()  # keys shown at the latest time
        self.missing_key = False
        self.has_person = self.has_name = False

    def _advance(self, t: float) -> None:
        """A new analysed time: the frames at the previous one last until ``t``."""
        previous = self.clock.advance(t)
        if previous is not None:
            gap, over_damage = previous
            for k in self.at_cur:
                if over_damage:
                    self.keys[k].damaged_gaps.append(gap)  # settled with the median step at the end
                else:
                    self.keys[k].shown_s += gap
        self.at_cur = set()

    def update(self, batch: pd.DataFrame) -> None:
        if batch.empty:
            return
        if self.key not in batch.columns:
            self.missing_key = True
            return
        times = batch["time_s"].to_numpy(dtype=float)
        keys = batch[self.key].to_numpy()
        face = batch["face_id"].to_numpy() >= 0
        emotion = batch["emotion"].to_numpy(dtype=object) if "emotion" in batch.columns else [None] * len(batch)
        val = batch["valence"].to_numpy(dtype=float)
        aro = batch["arousal"].to_numpy(dtype=float)
        fids = batch["face_id"].to_numpy()
        pids = batch["person_id"].to_numpy() if "person_id" in batch.columns else None
        names = batch["person_name"].to_numpy(dtype=object) if "person_name" in batch.columns else None
        self.has_person |= pids is not None
        self.has_name |= names is not None
        for i in range(len(batch)):
            t = times[i]
            if np.isnan(t):
                continue
            if self.clock.t is None or t != self.clock.t:
                self._advance(t)
            if not face[i]:
                continue
            k = int(keys[i])
            st = self.keys.get(k)
            if st is None:
                st = self.keys[k] = _Key(first_s=t, last_s=t)
                if pids is not None:
                    st.person_id = pids[i]
                if names is not None:
                    st.person_name = names[i]
            st.first_s, st.last_s = min(st.first_s, t), max(st.last_s, t)
            st.rows += 1
            if not np.isnan(val[i]):
                st.sum_v += val[i]
                st.n_v += 1
            if not np.isnan(aro[i]):
                st.sum_a += aro[i]
                st.n_a += 1
            e = emotion[i]
            if e is not None and not (isinstance(e, float) and np.isnan(e)):
                st.emotions[e] = st.emotions.get(e, 0) + 1
            st.face_ids.add(int(fids[i]))
            self.at_cur.add(k)

    def result(self) -> pd.DataFrame:
        if self.missing_key:
            raise ValueError("summary by person needs person_id (analysed without --no-identity)")
        step = self.clock.step()
        rows = []
        for k in sorted(self.keys):
            st = self.keys[k]
            shown = (st.shown_s + (step if k in self.at_cur else 0.0)
                     + sum(FrameClock.duration(g, True, step) for g in st.damaged_gaps))
            total = sum(st.emotions.values())
            # value_counts: by count, ties in order of first appearance
            dominant = max(st.emotions, key=lambda e: st.emotions[e]) if st.emotions else None
            row = {
                self.key: int(k), "first_s": float(st.first_s), "last_s": float(st.last_s),
                "on_screen_s": round(float(shown), 3), "frames": int(st.rows),
                "mean_valence": st.sum_v / st.n_v if st.n_v else float("nan"),
                "mean_arousal": st.sum_a / st.n_a if st.n_a else float("nan"),
                "dominant_emotion": str(dominant) if dominant is not None else None,
            }
            if self.by == "person":
                row["face_ids"] = " ".join(str(f) for f in sorted(st.face_ids))
            if self.by == "face" and self.has_person:  # added by the identity stage
                row["person_id"] = st.person_id
            if self.has_name:
                row["person_name"] = st.person_name
            for c in self.classes:
                row[f"share_{c}"] = st.emotions.get(c, 0) / total if total else 0.0
            rows.append(row)
        cols = [self.key, "first_s", "last_s", "on_screen_s", "frames", "mean_valence", "mean_arousal",
                "dominant_emotion"] + [f"share_{c}" for c in self.classes]
        return pd.DataFrame(rows, columns=cols if not rows else None)


def summarise(batches: Iterable[pd.DataFrame], classes: list[str], by: str = "face",
              damaged_spans: Iterable[dict] | None = None) -> pd.DataFrame:
    """:class:`SummaryAccumulator` over ``batches``."""
    return summarise_each(batches, classes, (by,), damaged_spans)[0]


def summarise_each(batches: Iterable[pd.DataFrame], classes: list[str], bys: Sequence[str],
                   damaged_spans: Iterable[dict] | None = None) -> list[pd.DataFrame]:
    """The summary by each of ``bys`` (``"face"``, ``"person"``) from one pass over ``batches``."""
    spans = list(damaged_spans or [])
    accs = [SummaryAccumulator(classes, by, spans) for by in bys]
    for b in batches:
        for acc in accs:
            acc.update(b)
    return [acc.result() for acc in accs]
