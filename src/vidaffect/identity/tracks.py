"""Embed each face track of a video from a few best-quality crops.

Per track, ``candidates`` rows spread over the track (the largest, most
confident face of each time slice) are decoded again; their dlib 5-point shape
gives frontalness, the crop gives sharpness, the box gives size; the ``per_track``
best are embedded and averaged (then renormalised).  Decoding is one pass that
stops at the last candidate frame; embedding costs ``per_track`` descriptors
per track instead of one per frame.
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from vidaffect.identity.embedder import FaceEmbedder
from vidaffect.identity.quality import frontalness, quality_scores, sharpness
from vidaffect.video import open_video

THUMB_SIZE = 96
# below this sharpness (variance of the Laplacian at 64x64) a face is too blurred for a trustworthy descriptor:
# on the shared videos a blurred audience face (22) sat 0.03 from another person, sharp faces score 230-3500
MIN_SHARPNESS = 100.0


@dataclass
class TrackEmbedding:
    """One face track of one video and its identity descriptor."""

    video: str
    face_id: int
    first_s: float
    last_s: float
    frames: int
    embedding: np.ndarray  # (128,) unit length
    n_embedded: int
    thumbnail: np.ndarray  # (96, 96, 3) uint8, the best crop
    verified: bool = True  # at least one candidate crop is a HOG-confirmed face with sharpness >= MIN_SHARPNESS
    side: float = 0.0  # face box side (pixels) of the best embedded crop
    frontal: float = 0.0  # frontalness of the best embedded crop (0 profile .. 1 frontal)
    times: set = field(default_factory=set, repr=False)  # frame indices where the track is present


@dataclass
class EmbedCost:
    """What embedding the tracks cost (seconds, counts)."""

    decode_s: float = 0.0
    quality_s: float = 0.0
    embed_s: float = 0.0
    candidates: int = 0
    embedded: int = 0
    tracks: int = 0

    def as_dict(self) -> dict:
        d = dict(self.__dict__)
        d["ms_per_embedding"] = round(1000 * self.embed_s / self.embedded, 2) if self.embedded else None
        return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in d.items()}


def candidate_rows(faces: pd.DataFrame, candidates: int = 8, min_side: float = 24.0) -> pd.DataFrame:
    """Per ``face_id``, up to ``candidates`` rows spread over the track: the largest x score face of each time slice."""
    faces = faces[faces["face_id"] >= 0]
    side = np.sqrt(np.clip((faces["x2"] - faces["x1"]) * (faces["y2"] - faces["y1"]), 0, None))
    faces = faces.assign(_side=side.to_numpy(), _q=(side * faces["score"].fillna(1.0)).to_numpy())
    picked = []
    for _, g in faces.groupby("face_id", sort=True):
        g = g.sort_values("frame")
        big = g[g["_side"] >= min_side]
        g = big if len(big) else g
        for part in np.array_split(np.arange(len(g)), min(candidates, len(g))):
            if len(part):
                picked.append(g.iloc[part].sort_values("_q").iloc[-1])
    cols = ["frame", "time_s", "face_id", "x1", "y1", "x2", "y2", "_side"]
    return pd.DataFrame(picked, columns=faces.columns)[cols].reset_index(drop=True) if picked else pd.DataFrame(columns=cols)


def _crop(image: np.ndarray, box: np.ndarray, margin: float = 0.4) -> tuple[np.ndarray, np.ndarray]:
    """Crop around ``box`` with a margin; returns the crop and the box in crop coordinates."""
    h, w = image.shape[:2]
    x1, y1, x2, y2 = box
    mx, my = (x2 - x1) * margin, (y2 - y1) * margin
    cx1, cy1 = int(max(0, np.floor(x1 - mx))), int(max(0, np.floor(y1 - my)))
    cx2, cy2 = int(min(w, np.ceil(x2 + mx))), int(min(h, np.ceil(y2 + my)))
    return image[cy1:cy2, cx1:cx2].copy(), np.array([x1 - cx1, y1 - cy1, x2 - cx1, y2 - cy1], dtype=np.float32)


def _thumbnail(crop: np.ndarray, box: np.ndarray) -> np.ndarray:
    from PIL import Image

    x1, y1, x2, y2 = box
    cx, cy, half = (x1 + x2) / 2, (y1 + y2) / 2, max(x2 - x1, y2 - y1) * 0.6
    im = Image.fromarray(crop).crop((int(cx - half), int(cy - half), int(cx + half), int(cy + half)))
    return np.asarray(im.resize((THUMB_SIZE, THUMB_SIZE)), dtype=np.uint8)


def collect_crops(video: str | os.PathLike, rows: pd.DataFrame, cost: EmbedCost | None = None
                  ) -> list[tuple[int, np.ndarray, np.ndarray]]:
    """Decode ``video`` once and cut the crops of ``rows``: list of (row index, crop, box in crop)."""
    if rows.empty:
        return []
    t0 = time.perf_counter()
    wanted: dict[int, list[int]] = {}
    for i, f in enumerate(rows["frame"].astype(int)):
        wanted.setdefault(int(f), []).append(i)
    last = max(wanted)
    start = max(0.0, float(rows["time_s"].min()) - 0.5)
    out = []
    boxes = rows[["x1", "y1", "x2", "y2"]].to_numpy(np.float32)
    for frame in open_video(video, start=start if start > 0 else None):
        for i in wanted.get(frame.index, ()):
            crop, box = _crop(frame.image, boxes[i])
            out.append((i, crop, box))
        if frame.index >= last:
            break
    if cost is not None:
        cost.decode_s += time.perf_counter() - t0
    return out


def embed_tracks(video: str | os.PathLike, faces: pd.DataFrame, embedder: FaceEmbedder, candidates: int = 8,
                 per_track: int = 3, cost: EmbedCost | None = None, verify: bool = True) -> list[TrackEmbedding]:
    """One :class:`TrackEmbedding` per ``face_id`` of ``faces`` (rows of a results/track table of ``video``).

    With ``verify``, each candidate crop is checked with dlib's HOG face detector and for blur
    (sharpness >= :data:`MIN_SHARPNESS`); confirmed crops are embedded first and a track with none is
    marked ``verified=False`` (its descriptor is not trusted: it is never merged or named).
    """
    cost = cost if cost is not None else EmbedCost()
    faces = faces[faces["face_id"] >= 0]
    rows = candidate_rows(faces, candidates)
    crops = collect_crops(video, rows, cost)
    t0 = time.perf_counter()
    by_track: dict[int, list] = {}
    for i, crop, box in crops:
        if crop.shape[0] < 8 or crop.shape[1] < 8:
            continue
        shape = embedder.shape(crop, box)
        x1, y1, x2, y2 = box.astype(int)
        face = crop[max(y1, 0):max(y2, y1 + 1), max(x1, 0):max(x2, x1 + 1)]
        by_track.setdefault(int(rows["face_id"].iloc[i]), []).append(
            (crop, box, shape, sharpness(face), frontalness(shape.points), float(rows["_side"].iloc[i]),
             (embedder.verify(crop, box) and sharpness(face) >= MIN_SHARPNESS) if verify else True))
    cost.quality_s += time.perf_counter() - t0
    cost.candidates += len(crops)
    result = []
    for fid, items in sorted(by_track.items()):
        verified = np.array([it[6] for it in items], dtype=float)
        q = quality_scores(np.array([it[3] for it in items]), np.array([it[4] for it in items]),
                           np.array([it[5] for it in items])) + 3.0 * verified  # confirmed faces first
        best = np.argsort(-q)[:per_track]
        t1 = time.perf_counter()
        embs = np.stack([embedder.embed(items[j][0], items[j][2]) for j in best])
        cost.embed_s += time.perf_counter() - t1
        cost.embedded += len(best)
        mean = embs.mean(0)
        g = faces[faces["face_id"] == fid]
        result.append(TrackEmbedding(
            video=str(video), face_id=fid, first_s=float(g["time_s"].min()), last_s=float(g["time_s"].max()),
            frames=int(len(g)), embedding=(mean / max(float(np.linalg.norm(mean)), 1e-12)).astype(np.float32),
            n_embedded=len(best), thumbnail=_thumbnail(items[best[0]][0], items[best[0]][1]),
            times=set(int(f) for f in g["frame"]),
            verified=bool(verified.any()), side=float(max(items[j][5] for j in best)),
            frontal=float(max(items[j][4] for j in best)),
        ))
    cost.tracks += len(result)
    return result


def track_table(video: str | os.PathLike, fps: float | None = None, detector: str = "short",
                min_confidence: float | None = None, max_gap_s: float = 1.0, progress: bool = False,
                start: float | None = None, end: float | None = None) -> pd.DataFrame:
    """Detect and track the faces of ``video`` (no emotion model): rows frame, time_s, face_id, box, score."""
    from tqdm import tqdm

    from vidaffect.pipeline import iter_tracked_faces

    rows = []
    it = iter_tracked_faces(video, fps=fps, start=start, end=end, detector=detector, min_confidence=min_confidence, landmarks=False,
                            max_gap_s=max_gap_s)
    for frame, dets in tqdm(it, desc=Path(video).name, unit="frame", disable=not progress, leave=False):
        for k in range(len(dets)):
            x1, y1, x2, y2 = (float(v) for v in dets.xyxy[k])
            rows.append((frame.index, frame.time_s, int(dets.face_ids[k]), x1, y1, x2, y2, float(dets.scores[k])))
    return pd.DataFrame(rows, columns=["frame", "time_s", "face_id", "x1", "y1", "x2", "y2", "score"])
