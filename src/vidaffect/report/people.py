"""Display names of the persons behind face tracks (columns ``person_id``/``person_name`` of identity)."""
from __future__ import annotations

import math

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
