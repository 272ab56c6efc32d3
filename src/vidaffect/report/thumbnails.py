"""Thumbnail strip of each face track: square crops around the reported boxes, as base64 JPEG data URIs."""
from __future__ import annotations

import base64
import io
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from vidaffect.report.frames_at import frames_at
from vidaffect.results.segments import split_positions


def square_crop(image: np.ndarray, box: tuple[float, float, float, float], size: int, margin: float = 0.25) -> np.ndarray:
    """A ``size`` x ``size`` crop centred on ``box`` (x1, y1, x2, y2), widened by ``margin``; padded black
    where it leaves the image."""
    x1, y1, x2, y2 = box
    side = max(x2 - x1, y2 - y1) * (1 + margin)
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    l, t = int(round(cx - side / 2)), int(round(cy - side / 2))
    s = max(int(round(side)), 1)
    h, w = image.shape[:2]
    out = np.zeros((s, s, 3), dtype=np.uint8)
    sx0, sy0, sx1, sy1 = max(l, 0), max(t, 0), min(l + s, w), min(t + s, h)
    if sx1 > sx0 and sy1 > sy0:
        out[sy0 - t:sy1 - t, sx0 - l:sx1 - l] = image[sy0:sy1, sx0:sx1]
    return np.asarray(Image.fromarray(out).resize((size, size), Image.BILINEAR))


def jpeg_data_uri(image: np.ndarray, quality: int = 80) -> str:
    """``data:image/jpeg;base64,...`` of an RGB image."""
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format="JPEG", quality=quality)
    return "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def pick_positions(n: int, count: int) -> np.ndarray:
    """Which of a track's ``n`` rows with a box (in time order) to take for ``count`` crops: ``count`` spread
    evenly (all of them when fewer)."""
    if count <= 0:
        return np.zeros(0, dtype=np.int64)
    if n <= count:
        return np.arange(n)
    return np.linspace(0, n - 1, count).round().astype(int)


def pick_rows(rows: pd.DataFrame, count: int) -> pd.DataFrame:
    """``count`` rows spread evenly over a face track (all of them when fewer), among those with a whole box
    (:func:`pick_positions` of them in time order)."""
    rows = rows.dropna(subset=["x1", "y1", "x2", "y2"]).sort_values("time_s")
    return rows.iloc[pick_positions(len(rows), count)]


class ThumbnailPicker:
    """The rows :func:`pick_rows` takes, picked from batches of the table in time order: ``boxes`` is the
    number of rows with a whole box per track (a first pass, see
    :class:`~vidaffect.report.people.TrackScan`), ``per_face`` the crops wanted per track.  Holds only the
    picked rows.  :attr:`wanted`: ``{time: [(face_id, box), ...]}``, what :func:`decode_thumbnails` crops."""

    def __init__(self, boxes: dict[int, int], per_face: dict[int, int]) -> None:
        self.pick = {fid: pick_positions(boxes.get(fid, 0), count) for fid, count in per_face.items()}
        self.seen = {fid: 0 for fid in per_face}
        self.wanted: dict[float, list[tuple[int, tuple]]] = {}

    def update(self, batch: pd.DataFrame) -> None:
        if batch.empty or not self.pick or not all(c in batch.columns for c in ("x1", "y1", "x2", "y2")):
            return
        fid = batch["face_id"].to_numpy()
        ok = batch[["x1", "y1", "x2", "y2"]].notna().all(axis=1).to_numpy() & np.isin(fid, list(self.pick))
        if not ok.any():
            return
        rows = np.flatnonzero(ok)
        t = batch["time_s"].to_numpy()
        box = [batch[c].to_numpy() for c in ("x1", "y1", "x2", "y2")]
        for f, at in split_positions(fid[rows]).items():  # face ids in increasing order, rows in row order
            f = int(f)
            pos = rows[at]
            first = self.seen[f]
            self.seen[f] += len(pos)
            take = self.pick[f][(self.pick[f] >= first) & (self.pick[f] < first + len(pos))] - first
            for r in pos[take]:
                self.wanted.setdefault(round(float(t[r]), 6), []).append(
                    (f, (float(box[0][r]), float(box[1][r]), float(box[2][r]), float(box[3][r]))))


def decode_thumbnails(video: str | Path, wanted: dict[float, list[tuple[int, tuple]]], face_ids, size: int = 72,
                      rotation: int = 0) -> dict[int, list[dict]]:
    """``{face_id: [{"t": time_s, "src": data URI}, ...]}``: the crops of ``wanted`` (see
    :class:`ThumbnailPicker`), decoded from ``video`` in one pass (seeking between distant times)."""
    out: dict[int, list[dict]] = {int(f): [] for f in face_ids}
    for t, image in frames_at(video, list(wanted), rotation=rotation):
        for fid, box in wanted[t]:
            out[fid].append({"t": round(t, 3), "src": jpeg_data_uri(square_crop(image, box, size))})
    return out


def face_thumbnails(video: str | Path, frames: pd.DataFrame, per_face: int | dict[int, int] = 10, size: int = 72,
                    rotation: int = 0) -> dict[int, list[dict]]:
    """``{face_id: [{"t": time_s, "src": data URI}, ...]}`` with up to ``per_face`` crops per track (a number,
    or ``{face_id: number}``), decoded from ``video`` in one pass (seeking between distant times)."""
    faces = frames[frames["face_id"] >= 0]
    wanted: dict[float, list[tuple[int, tuple]]] = {}
    for fid, rows in faces.groupby("face_id"):
        count = per_face.get(int(fid), 0) if isinstance(per_face, dict) else per_face
        for r in pick_rows(rows, count).itertuples(index=False):
            wanted.setdefault(round(float(r.time_s), 6), []).append((int(fid), (r.x1, r.y1, r.x2, r.y2)))
    return decode_thumbnails(video, wanted, faces["face_id"].unique(), size, rotation)
