"""Annotated copy of a video: boxes, face/person ids, dominant emotion and a VA gauge per face.

Every source frame is re-encoded (same count, same timestamps); frames
between analysed ones (``--fps`` sampling) show the latest analysed frame's
faces for up to one sampling step; frames outside the analysed range are
copied without drawing.  Audio is copied from the source.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from vidaffect.errors import OutputError
from vidaffect.report.draw import draw_face
from vidaffect.report.frames_at import rotate
from vidaffect.report.people import person_labels
from vidaffect.report.transcode import even, transcode
from vidaffect.video import open_video


def _face_lookup(frames: pd.DataFrame, classes: list[str]) -> tuple[np.ndarray, dict[int, list[tuple]], int]:
    """(sorted analysed frame indices, {frame: [face tuples]}, hold in frames)."""
    analysed = np.unique(frames["frame"].to_numpy(dtype=np.int64))
    hold = int(np.median(np.diff(analysed))) if len(analysed) > 1 else 1
    faces = frames[frames["face_id"] >= 0]
    present = [c for c in classes if c in faces.columns]
    persons = person_labels(frames)
    by_frame: dict[int, list[tuple]] = {}
    for r in faces.to_dict("records"):
        emotion = r.get("emotion")
        prob = float(r[emotion]) if isinstance(emotion, str) and emotion in present else None
        by_frame.setdefault(int(r["frame"]), []).append((
            (r["x1"], r["y1"], r["x2"], r["y2"]), int(r["face_id"]), emotion, prob,
            float(r["valence"]), float(r["arousal"]), persons.get(int(r["face_id"]))))
    return analysed, by_frame, max(hold, 1)


def annotate_video(source: str | Path, results, out_path: str | Path, codec: str | None = None, crf: int = 20,
                   progress: bool = False) -> Path:
    """Write ``out_path`` (MP4): ``source`` re-encoded with ``results``' faces drawn on it, audio copied.

    ``results`` is the :class:`~vidaffect.results.results.Results` of ``source``.  ``codec`` defaults to
    ``libx264`` (``mpeg4`` when PyAV lacks it).  Returns ``out_path``.
    """
    source, out_path = Path(source), Path(out_path)
    if out_path.resolve() == source.resolve():
        raise OutputError(f"{out_path}: the annotated video cannot overwrite its source")
    info = open_video(source).info
    rotation = int(info.rotation or 0)
    size = (even(info.width), even(info.height))
    analysed, by_frame, hold = _face_lookup(results.frames, results.classes)
    have_boxes = all(c in results.frames.columns for c in ("x1", "y1", "x2", "y2"))

    def draw(index: int, frame):
        image = rotate(frame.to_ndarray(format="rgb24"), rotation)
        if image.shape[1] != size[0] or image.shape[0] != size[1]:
            image = np.ascontiguousarray(image[: size[1], : size[0]])
        if have_boxes and len(analysed):
            k = int(np.searchsorted(analysed, index, side="right")) - 1
            if k >= 0 and index - analysed[k] < hold:
                for face in by_frame.get(int(analysed[k]), []):
                    draw_face(image, *face)
        return image

    return transcode(source, out_path, draw, size, codec=codec, crf=crf, progress=progress, desc="annotating")
