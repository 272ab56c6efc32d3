"""Thumbnail strip of each face track: square crops around the reported boxes, as base64 JPEG data URIs."""
from __future__ import annotations

import base64
import io
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from vidaffect.report.frames_at import frames_at


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


def pick_rows(rows: pd.DataFrame, count: int) -> pd.DataFrame:
    """``count`` rows spread evenly over a face track (all of them when fewer), preferring confident boxes."""
    rows = rows.dropna(subset=["x1", "y1", "x2", "y2"]).sort_values("time_s")
    if count <= 0:
        return rows.iloc[:0]
    if len(rows) <= count:
        return rows
    return rows.iloc[np.linspace(0, len(rows) - 1, count).round().astype(int)]


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
    out: dict[int, list[dict]] = {int(f): [] for f in faces["face_id"].unique()}
    for t, image in frames_at(video, list(wanted), rotation=rotation):
        for fid, box in wanted[t]:
            out[fid].append({"t": round(t, 3), "src": jpeg_data_uri(square_crop(image, box, size))})
    return out
