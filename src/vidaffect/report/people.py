"""Persons behind face tracks (columns ``person_id``/``person_name`` of the identity stage): display names and
the grouping of tracks by person that the report shows."""
from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd

UNKNOWN_NAMES = {"", "unknown", "none", "nan"}


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


def person_labels(frames: pd.DataFrame) -> dict[int, str]:
    """``{face_id: display name}`` for the face tracks whose person is known (most frequent value per track)."""
    if "person_id" not in frames.columns and "person_name" not in frames.columns:
        return {}
    faces = frames[frames["face_id"] >= 0]
    out = {}
    for fid, g in faces.groupby("face_id"):
        def top(col):
            if col not in g.columns or not g[col].notna().any():
                return None
            return g[col].dropna().mode().iloc[0]
        text = person_text(top("person_id"), top("person_name"))
        if text:
            out[int(fid)] = text
    return out


def _top(g: pd.DataFrame, col: str):
    if col not in g.columns or not g[col].notna().any():
        return None
    return g[col].dropna().mode().iloc[0]


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


def group_tracks(frames: pd.DataFrame) -> list[Group]:
    """Face tracks grouped by person (``person_id``/``person_name``, the most frequent value per track);
    a track whose person is unknown (no identity columns, -1, missing) is a group of its own.  Longest on
    screen (most rows) first, ties by first appearance."""
    faces = frames[frames["face_id"] >= 0]
    has_person = "person_id" in frames.columns or "person_name" in frames.columns
    groups: dict[str, dict] = {}
    for fid, g in faces.groupby("face_id", sort=True):
        fid = int(fid)
        pid, name = (_top(g, "person_id"), _top(g, "person_name")) if has_person else (None, None)
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
        entry["tracks"].append((float(g["time_s"].min()), fid))
        entry["frames"] += int(len(g))
        entry["first"] = min(entry["first"], float(g["time_s"].min()))
    ordered = sorted(groups.items(), key=lambda kv: (-kv[1]["frames"], kv[1]["first"], kv[0]))
    return [Group(key, e["label"], e["person"], [f for _, f in sorted(e["tracks"])], e["frames"])
            for key, e in ordered]


def group_column(frames: pd.DataFrame, groups: list[Group]) -> pd.Series:
    """The group key of every row (None for rows without a face)."""
    by_track = {fid: g.key for g in groups for fid in g.tracks}
    return frames["face_id"].map(lambda f: by_track.get(int(f)) if f >= 0 else None)
