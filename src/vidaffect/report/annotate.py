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
from vidaffect.report.transcode import even, transcode
from vidaffect.video import open_video


def _face_tuples(faces: pd.DataFrame, classes: list[str], persons: dict[int, str]) -> dict[int, list[tuple]]:
    """``{frame: [face tuple for draw_face, ...]}`` of rows with a face."""
    present = [c for c in classes if c in faces.columns]
    by_frame: dict[int, list[tuple]] = {}
    for r in faces.to_dict("records"):
        emotion = r.get("emotion")
        prob = float(r[emotion]) if isinstance(emotion, str) and emotion in present else None
        by_frame.setdefault(int(r["frame"]), []).append((
            (r["x1"], r["y1"], r["x2"], r["y2"]), int(r["face_id"]), emotion, prob,
            float(r["valence"]), float(r["arousal"]), persons.get(int(r["face_id"]))))
    return by_frame


class FaceCursor:
    """The faces to draw on each source frame, read from the results table in step with the video: frames are
    asked for in increasing order (as the video is decoded) and the table is read in bounded batches along,
    holding only the batch at hand, so an on-disk table of any length is never loaded whole.

    A source frame shows the latest analysed frame's faces for up to ``hold`` frames (the median step between
    analysed frames: ``--fps`` sampling), none after that."""

    COLUMNS = ["frame", "face_id", "x1", "y1", "x2", "y2", "emotion", "valence", "arousal"]

    def __init__(self, results, batch_rows: int | None = None) -> None:
        from vidaffect.report.people import TrackScan

        self.results = results
        self.batch_rows = batch_rows
        scan = TrackScan.of(results, ["frame", "time_s", "face_id", "person_id", "person_name"])
        self.hold = max(scan.times.frame_hold, 1)
        self.persons = scan.person_labels()
        self._restart()

    def _restart(self) -> None:
        from vidaffect.results.store import frame_batches

        cols = self.COLUMNS + list(self.results.classes)
        self._batches = frame_batches(self.results.iter_batches(cols, self.batch_rows))
        self._pending: list[tuple[int, list[tuple]]] = []  # (frame, faces) of a batch, not yet reached
        self._frame: int | None = None  # the latest analysed frame reached
        self._faces: list[tuple] = []
        self._asked = -1

    def _fill(self) -> bool:
        for b in self._batches:
            if b.empty:
                continue
            frames = b["frame"].to_numpy()
            faces = _face_tuples(b[b["face_id"] >= 0], self.results.classes, self.persons)
            keys = pd.unique(frames)
            self._pending = [(int(f), faces.get(int(f), [])) for f in keys][::-1]  # popped from the end
            return True
        return False

    def faces_at(self, index: int) -> list[tuple]:
        """The face tuples (:func:`~vidaffect.report.draw.draw_face`'s arguments) to draw on source frame
        ``index``."""
        if index < self._asked:  # asked backwards: read again from the start
            self._restart()
        self._asked = index
        while True:
            if not self._pending and not self._fill():
                break
            if self._pending[-1][0] > index:
                break
            self._frame, self._faces = self._pending.pop()
        if self._frame is None or index - self._frame >= self.hold:
            return []
        return self._faces


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

    have_boxes = {"x1", "y1", "x2", "y2"} <= set(results.columns)
    cursor = FaceCursor(results) if have_boxes else None

    def draw(index: int, frame):
        image = rotate(frame.to_ndarray(format="rgb24"), rotation)
        if image.shape[1] != size[0] or image.shape[0] != size[1]:
            image = np.ascontiguousarray(image[: size[1], : size[0]])
        if cursor is not None:
            for face in cursor.faces_at(index):
                draw_face(image, *face)
        return image

    return transcode(source, out_path, draw, size, codec=codec, crf=crf, progress=progress, desc="annotating")
