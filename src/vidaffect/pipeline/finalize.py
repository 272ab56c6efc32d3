"""The end of an analysis: from the rows written during the pass to the final results table, batch by batch.

During the pass a row holds what was known then: the track's live id, the model's outputs.  Only at the end
are known the tracks re-identified late (their rows continue an earlier id), the tentative tracks that were
never confirmed (their rows go), and the persons.  :func:`finalize_batches` applies all of it, then derives
valence/arousal from the class probabilities (models without a VA head), smooths per face (a centred
moving average on real timestamps, carried across batches), and adds ``emotion``, ``va_source`` and
``person_id``.  Every step is per row, per frame or, for smoothing, per ``smoothing_s / 2`` seconds of
context, so the table is finished in batches of bounded size whatever the video's length, with the same
values as finishing it whole (up to float rounding of the smoothing sums).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np
import pandas as pd

from vidaffect.labels import VA_SOURCE_DERIVED
from vidaffect.results.results import BASE_COLUMNS
from vidaffect.results.smoothing import smooth_frames
from vidaffect.results.store import frame_batches
from vidaffect.results.va import derived_va

@dataclass
class FinishPlan:
    """What the end of the pass decided, and how to finish the rows."""

    classes: tuple[str, ...]
    va_source: str | None  # the model's own (None: derived from the probabilities when there are classes)
    smoothing_s: float = 0.0
    merged: dict[int, int] = field(default_factory=dict)  # late re-identification: live id -> final id
    discarded: set[int] = field(default_factory=set)  # tentative tracks: their rows are dropped
    persons: dict[int, int] | None = None  # final face id -> person id (None: no identity stage)

    @property
    def final_va_source(self) -> str | None:
        return VA_SOURCE_DERIVED if self.va_source is None and self.classes else self.va_source


def drop_tracks(df: pd.DataFrame, face_ids: set[int]) -> pd.DataFrame:
    """``df`` without the rows of ``face_ids`` (tentative tracks): ``faces_in_frame`` recounted, and a
    frame left without faces gets its one no-face row, so no analysed frame goes missing.  ``df`` holds
    whole frames."""
    if not face_ids:
        return df
    gone = df["face_id"].isin(list(face_ids))
    if not gone.any():
        return df
    emptied = sorted(set(df.loc[gone, "frame"]) - set(df.loc[~gone, "frame"]))
    blank = df[gone].drop_duplicates("frame")
    blank = blank[blank["frame"].isin(emptied)].copy()
    for col in blank.columns:
        if col not in ("frame", "time_s"):
            blank[col] = -1 if col == "face_id" else False if col in ("detected", "mesh_fit") else np.nan
    out = pd.concat([df[~gone], blank]).sort_values("frame", kind="stable")
    out["faces_in_frame"] = (out["face_id"] >= 0).groupby(out["frame"]).transform("sum").astype("int64")
    return out.reset_index(drop=True)


def _tracks_and_va(df: pd.DataFrame, plan: FinishPlan) -> pd.DataFrame:
    """Steps before smoothing: final ids, tentative tracks dropped, derived valence/arousal."""
    if plan.merged:  # tracks re-identified after they started continue the earlier track's id
        df["face_id"] = df["face_id"].replace(plan.merged)
    df = drop_tracks(df, plan.discarded)
    if plan.va_source is None and plan.classes:
        has = df["face_id"].to_numpy() >= 0
        probs = df.loc[has, list(plan.classes)].to_numpy(dtype=np.float32)
        ok = ~np.isnan(probs).any(axis=1)
        va = np.full((len(probs), 2), np.nan, np.float32)
        va[ok] = derived_va(probs[ok], plan.classes)
        df.loc[has, "valence"], df.loc[has, "arousal"] = va[:, 0], va[:, 1]
    return df


def emotion_column(df: pd.DataFrame, classes: tuple[str, ...]) -> pd.Series:
    """The most probable class per row (``None`` where a row has no probabilities)."""
    if not classes or df.empty:
        return pd.Series([None] * len(df), index=df.index, dtype=object)
    p = df[list(classes)].to_numpy(dtype=float)
    has = ~np.isnan(p).all(axis=1)
    out = np.full(len(df), None, dtype=object)
    out[has] = np.asarray(classes, dtype=object)[np.nanargmax(np.where(has[:, None], p, 0.0), axis=1)[has]]
    return pd.Series(out, index=df.index, dtype=object)


def _labels_and_order(df: pd.DataFrame, plan: FinishPlan) -> pd.DataFrame:
    """Steps after smoothing: ``emotion``, ``va_source``, the column order, ``person_id``."""
    classes = plan.classes
    df["emotion"] = emotion_column(df, classes)
    # where valence/arousal come from, on every face row, so that a CSV alone says it
    df["va_source"] = pd.Series(np.where(df["face_id"].to_numpy() >= 0, plan.final_va_source, None),
                                index=df.index, dtype=object)
    cols = [*BASE_COLUMNS, *classes, "emotion", "valence", "arousal", "va_source"]
    df = df[cols + [c for c in df.columns if c not in cols]]
    df["face_id"] = df["face_id"].astype("int64")
    df["frame"] = df["frame"].astype("int64")
    if plan.persons is not None:
        df["person_id"] = df["face_id"].map(plan.persons).fillna(-1).astype("int64")
    return df.reset_index(drop=True)


class CarriedSmoother:
    """Centred moving average per face over ``window_s`` seconds, fed batch by batch (rows in time order).

    A row is given out once every row within ``window_s / 2`` after it has been seen; the rows within
    ``window_s / 2`` before the next one to give out are kept as context.  So each row's mean is taken over
    the same rows as when smoothing the whole table at once."""

    def __init__(self, columns: list[str], window_s: float) -> None:
        self.columns, self.half, self.window = columns, window_s / 2, window_s
        self.buf: pd.DataFrame | None = None
        self.context = 0  # leading rows of buf already given out (kept as context)

    def push(self, batch: pd.DataFrame) -> pd.DataFrame:
        buf = batch if self.buf is None else pd.concat([self.buf, batch], ignore_index=True)
        t = buf["time_s"].to_numpy(dtype=float)
        t_last = float(np.nanmax(t)) if len(t) else -np.inf
        waiting = ~(t[self.context:] + self.half < t_last)  # right-hand context not complete yet
        end = self.context + (int(np.argmax(waiting)) if waiting.any() else len(waiting))
        out = smooth_frames(buf, self.columns, self.window).iloc[self.context:end] if end > self.context \
            else buf.iloc[0:0]
        self._keep(buf, end)
        return out

    def _keep(self, buf: pd.DataFrame, end: int) -> None:
        t = buf["time_s"].to_numpy(dtype=float)
        if end < len(buf):
            lo = float(np.nanmin(t[end:])) - self.half
            keep = np.flatnonzero(t[:end] >= lo)
            first = int(keep[0]) if len(keep) else end
        else:
            first = end
        self.buf = buf.iloc[first:].reset_index(drop=True)
        self.context = end - first

    def finish(self) -> pd.DataFrame:
        if self.buf is None or len(self.buf) <= self.context:
            return pd.DataFrame()
        out = smooth_frames(self.buf, self.columns, self.window).iloc[self.context:]
        self.buf, self.context = None, 0
        return out


def finalize_batches(batches: Iterable[pd.DataFrame], plan: FinishPlan) -> Iterator[pd.DataFrame]:
    """The final results table from the pass's rows (frame order), in batches (see the module docstring)."""
    smoother = None
    if plan.smoothing_s > 0:
        smoother = CarriedSmoother(list(plan.classes) + ["valence", "arousal"], plan.smoothing_s)
    for batch in frame_batches(batches):
        rows = _tracks_and_va(batch, plan)
        if smoother is not None:
            rows = smoother.push(rows)
        if len(rows):
            yield _labels_and_order(rows, plan)
    if smoother is not None:
        rows = smoother.finish()
        if len(rows):
            yield _labels_and_order(rows, plan)


def finish_empty(raw: pd.DataFrame, plan: FinishPlan) -> pd.DataFrame:
    """The final table of a pass without any row (no frame analysed): its columns and types."""
    return _labels_and_order(_tracks_and_va(raw, plan), plan)


def finish_landmarks(spool, plan: FinishPlan) -> Path:
    """``landmarks.parquet`` beside the final frames: the face rows' mesh points with final ids (tentative
    tracks left out) and ``person_id``, written batch by batch."""
    from vidaffect.results.store import TableWriter, read_batches

    empty = pd.DataFrame({"frame": np.zeros(0, np.int64), "time_s": np.zeros(0), "face_id": np.zeros(0, np.int64),
                          **({"person_id": np.zeros(0, np.int64)} if plan.persons is not None else {}),
                          "landmarks": pd.Series([], dtype=object)})
    with TableWriter(spool.folder / "landmarks.parquet") as writer:
        for b in read_batches(spool.landmark_parts()):
            if plan.merged:
                b["face_id"] = b["face_id"].replace(plan.merged)
            b = b[(b["face_id"] >= 0) & ~b["face_id"].isin(list(plan.discarded))]
            if plan.persons is not None:
                b.insert(3, "person_id", b["face_id"].map(plan.persons).fillna(-1).astype("int64"))
            if len(b):
                writer.write(b.reset_index(drop=True))
        return writer.close(empty_like=empty)
