"""Persons behind face tracks (columns ``person_id``/``person_name`` of the identity stage): display names and
the grouping of tracks by person that the report shows.

Both come from :class:`TrackScan`, one bounded pass over the table (a few numbers per track), so a table on
disk is never loaded whole; :func:`person_labels` and :func:`group_tracks` apply it to a DataFrame."""
from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

UNKNOWN_NAMES = {"", "unknown", "none", "nan"}
BOX = ["x1", "y1", "x2", "y2"]


def _valid(value) -> bool:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return False
    return str(value).strip().lower() not in UNKNOWN_NAMES | {"-1"}


def person_text(person_id=None, person_name=None) -> str | None:
    """``"alice"`` (a known name), ``"person 3"`` (a numeric id), the id as text, or None when unknown."""
    if _valid(person_name):
        return str(person_name)
    if not _valid(person_id):
        return None
    try:
        return f"person {int(float(person_id))}"
    except (TypeError, ValueError):
        return str(person_id)


@dataclass
class Group:
    """One person (the face tracks the identity stage linked) or one face track without a person."""

    key: str                   # "person-3", "person-alice", or "face-5" for a track without a person
    label: str                 # "person 3", "alice", or "face 5"
    person: bool               # whether the group is a person (else a lone face track)
    tracks: list[int]          # face ids, first seen first
    frames: int                # rows of all its tracks

    @property
    def tracks_text(self) -> str:
        """``"face 3"`` or ``"faces 3, 7"``."""
        return ("face " if len(self.tracks) == 1 else "faces ") + ", ".join(str(t) for t in self.tracks)


@dataclass
class TrackStats:
    """What the report needs to know of one face track before drawing it."""

    rows: int = 0
    first: float = math.inf
    last: float = -math.inf
    persons: Counter = field(default_factory=Counter)  # person_id values (non-missing) and their rows
    names: Counter = field(default_factory=Counter)    # person_name values
    boxes: int = 0   # rows with a whole box (the thumbnails are picked among them)
    va: int = 0      # rows with finite valence and arousal (the circumplex samples them)

    def top(self, col: str):
        """The track's most frequent ``person_id`` or ``person_name`` (the smallest among ties, as
        ``Series.mode``); None without any."""
        counts = self.persons if col == "person_id" else self.names
        if not counts:
            return None
        best = max(counts.values())
        return min(v for v, n in counts.items() if n == best)


class TrackScan:
    """One pass over a results table in batches (frame order): the time range, frame step and number of
    analysed frames (:class:`~vidaffect.results.segments.TimeScan`) and each face track's
    :class:`TrackStats`.  Memory: a batch plus a few numbers per track, whatever the table's length."""

    COLUMNS = ["frame", "time_s", "face_id", "person_id", "person_name", *BOX, "valence", "arousal"]

    def __init__(self) -> None:
        from vidaffect.results.segments import TimeScan

        self.times = TimeScan()
        self.tracks: dict[int, TrackStats] = {}
        self.has_person = False  # the table has person_id or person_name

    @classmethod
    def of(cls, results, columns: list[str] | None = None) -> "TrackScan":
        """The scan of a :class:`~vidaffect.results.Results` (``columns``: fewer to read, when the caller needs
        less than all the stats)."""
        scan = cls()
        for b in results.iter_batches(columns or cls.COLUMNS):
            scan.update(b)
        return scan

    @classmethod
    def of_frames(cls, frames: pd.DataFrame) -> "TrackScan":
        scan = cls()
        scan.update(frames)
        return scan

    def update(self, batch: pd.DataFrame) -> None:
        self.times.update(batch)
        self.has_person |= "person_id" in batch.columns or "person_name" in batch.columns
        faces = batch[batch["face_id"] >= 0]
        if faces.empty:
            return
        fid = faces["face_id"].to_numpy()
        g = faces.groupby(fid, sort=True)
        rows = g.size()
        tmin, tmax = (g["time_s"].min(), g["time_s"].max()) if "time_s" in faces.columns else (None, None)
        boxes = None
        if all(c in faces.columns for c in BOX):
            boxes = pd.Series(faces[BOX].notna().all(axis=1).to_numpy()).groupby(fid).sum()
        va = None
        if "valence" in faces.columns and "arousal" in faces.columns:
            ok = (np.isfinite(faces["valence"].to_numpy(dtype=np.float64))
                  & np.isfinite(faces["arousal"].to_numpy(dtype=np.float64)))
            va = pd.Series(ok).groupby(fid).sum()
        for f in rows.index:
            st = self.tracks.get(int(f))
            if st is None:
                st = self.tracks[int(f)] = TrackStats()
            st.rows += int(rows[f])
            if tmin is not None:
                st.first, st.last = min(st.first, float(tmin[f])), max(st.last, float(tmax[f]))
            if boxes is not None:
                st.boxes += int(boxes[f])
            if va is not None:
                st.va += int(va[f])
        for col, attr in (("person_id", "persons"), ("person_name", "names")):
            if col in faces.columns:
                counts = pd.Series(faces[col].to_numpy()).groupby(fid).value_counts()
                for (f, v), n in counts.items():
                    getattr(self.tracks[int(f)], attr)[v.item() if isinstance(v, np.generic) else v] += int(n)

    @property
    def face_ids(self) -> list[int]:
        return sorted(self.tracks)

    @property
    def face_rows(self) -> int:
        return sum(st.rows for st in self.tracks.values())

    def person_labels(self) -> dict[int, str]:
        """``{face_id: display name}`` (see :func:`person_labels`)."""
        if not self.has_person:
            return {}
        out = {}
        for fid in sorted(self.tracks):
            st = self.tracks[fid]
            text = person_text(st.top("person_id"), st.top("person_name"))
            if text:
                out[fid] = text
        return out

    def groups(self) -> list[Group]:
        """The face tracks grouped by person (see :func:`group_tracks`)."""
        groups: dict[str, dict] = {}
        for fid in sorted(self.tracks):
            st = self.tracks[fid]
            pid, name = (st.top("person_id"), st.top("person_name")) if self.has_person else (None, None)
            text = person_text(pid, name)
            if text is not None:
                ident = pid if _valid(pid) else name
                try:
                    ident = int(float(ident))
                except (TypeError, ValueError):
                    pass
                key = f"person-{ident}"
            else:
                key, text = f"face-{fid}", f"face {fid}"
            entry = groups.setdefault(key, {"label": text, "person": key.startswith("person-"), "tracks": [],
                                            "frames": 0, "first": float("inf")})
            entry["tracks"].append((st.first, fid))
            entry["frames"] += st.rows
            entry["first"] = min(entry["first"], st.first)
        ordered = sorted(groups.items(), key=lambda kv: (-kv[1]["frames"], kv[1]["first"], kv[0]))
        return [Group(key, e["label"], e["person"], [f for _, f in sorted(e["tracks"])], e["frames"])
                for key, e in ordered]


def person_labels(frames: pd.DataFrame) -> dict[int, str]:
    """``{face_id: display name}`` for the face tracks whose person is known (most frequent value per track)."""
    if "person_id" not in frames.columns and "person_name" not in frames.columns:
        return {}
    return TrackScan.of_frames(frames).person_labels()


def group_tracks(frames: pd.DataFrame) -> list[Group]:
    """Face tracks grouped by person (``person_id``/``person_name``, the most frequent value per track);
    a track whose person is unknown (no identity columns, -1, missing) is a group of its own.  Longest on
    screen (most rows) first, ties by first appearance."""
    return TrackScan.of_frames(frames).groups()
