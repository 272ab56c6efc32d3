"""VTT emotion output schema (see shared reference ``tsm-vtt-meld.md``).

Two forms:

* ``"event"`` (the documented form): one event per change of dominant emotion
  per face: ``{"type": "emotion", "class": "happy", "seconds": 15.0,
  "object": {"id": "3"}}``; with ``object_form="coordinates"`` the object is
  ``{"coordinates": [x, y, width, height]}`` of the face at that moment.
* ``"frames"`` (the JSON-lines files the project actually wrote): one line per
  frame and face: ``{"type": "emotion", "class": ..., "frames": <frame>,
  "coordinates": [xmin, ymin, xmax, ymax], "id": <face id>}``.

With people on (a ``person_id`` column), every event object and frame line also
carries ``"person"``: the person the face track belongs to (vidaffect's addition
to the schema; readers that do not know it can ignore it).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Iterable, Iterator

import pandas as pd

from vidaffect.utils.atomic import atomic_path


def vtt_events(frames: pd.DataFrame, object_form: str = "id") -> list[dict]:
    """Events in the documented VTT form, sorted by time (ties by face id)."""
    return list(iter_vtt_events([frames], object_form))


def vtt_frame_lines(frames: pd.DataFrame) -> list[dict]:
    """Per-frame, per-face records in the JSON-lines form, in frame order."""
    rows = frames[(frames["face_id"] >= 0) & frames["emotion"].notna()].sort_values(["frame", "face_id"])
    people = "person_id" in rows.columns
    return [
        {"type": "emotion", "class": str(r.emotion), "frames": int(r.frame),
         "coordinates": [round(float(r.x1), 1), round(float(r.y1), 1), round(float(r.x2), 1), round(float(r.y2), 1)],
         "id": int(r.face_id), **({"person": int(r.person_id)} if people else {})}
        for r in rows.itertuples(index=False)
    ]


def iter_vtt_events(batches: Iterable[pd.DataFrame], object_form: str = "id") -> Iterator[dict]:
    """VTT events from a table read in batches (frame order; one batch may hold the whole table), in time order:
    one per change of a face's emotion.  One pass, memory bounded by one batch and the last emotion of each face."""
    last: dict[int, str] = {}
    for b in batches:
        rows = b[(b["face_id"] >= 0) & b["emotion"].notna()].sort_values(["time_s", "face_id"], kind="stable")
        people = "person_id" in rows.columns
        for r in rows.itertuples(index=False):
            fid = int(r.face_id)
            if last.get(fid) == r.emotion:
                continue
            last[fid] = r.emotion
            if object_form == "coordinates":
                obj = {"coordinates": [float(r.x1), float(r.y1), float(r.x2 - r.x1), float(r.y2 - r.y1)]}
            else:
                obj = {"id": str(fid)}
            if people and int(r.person_id) >= 0:
                obj["person"] = str(int(r.person_id))
            yield {"type": "emotion", "class": str(r.emotion), "seconds": round(float(r.time_s), 3), "object": obj}


def iter_vtt_frame_lines(batches: Iterable[pd.DataFrame]) -> Iterator[dict]:
    """The records of :func:`vtt_frame_lines` from a table read in batches (frame order)."""
    for b in batches:
        yield from vtt_frame_lines(b)


def write_vtt_batches(batches: Iterable[pd.DataFrame], path: str | Path, form: str = "event",
                      object_form: str = "id") -> Path:
    """Write the events (``form="event"``, a JSON list) or JSON lines (``form="frames"``) atomically, as the
    batches (frame order) come."""
    if form not in ("event", "frames"):
        raise ValueError(f"unknown VTT form {form!r}: use 'event' or 'frames'")
    with atomic_path(path) as tmp:
        with open(tmp, "w") as fh:
            if form == "frames":
                for r in iter_vtt_frame_lines(batches):
                    fh.write(json.dumps(r) + "\n")
            else:  # json.dumps(events, indent=1), one event at a time
                first = True
                for e in iter_vtt_events(batches, object_form):
                    item = json.dumps(e, indent=1).replace("\n", "\n ")
                    fh.write(("[\n " if first else ",\n ") + item)
                    first = False
                fh.write("[]" if first else "\n]")
    return Path(path)
