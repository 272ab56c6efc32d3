"""The face tracks of one video with their embeddings, for enrolment and discovery across videos.

One pass of the face stage and the tracker (:mod:`vidaffect.tracking`) at a
reduced frame rate, with :class:`~vidaffect.identity.descriptor.FaceDescriptor`
embeddings: each track's mean embedding is the running mean the tracker keeps,
and its thumbnail is the crop of its largest face.  No emotion model runs and
the video is decoded once.
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from vidaffect.identity.descriptor import FaceDescriptor

THUMB_SIZE = 96


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
    thumbnail: np.ndarray  # (96, 96, 3) uint8, the largest crop
    side: float = 0.0  # face box side (pixels) of the thumbnail
    times: set = field(default_factory=set, repr=False)  # analysed frame indices where the track is present


@dataclass
class EmbedCost:
    """What tracking and embedding the videos cost."""

    seconds: float = 0.0
    frames: int = 0
    embedded: int = 0
    tracks: int = 0

    def as_dict(self) -> dict:
        d = {k: (round(v, 3) if isinstance(v, float) else v) for k, v in self.__dict__.items()}
        d["ms_per_frame"] = round(1000 * self.seconds / self.frames, 2) if self.frames else None
        return d


def thumbnail(image: np.ndarray, box: np.ndarray) -> np.ndarray:
    """A square THUMB_SIZE crop around ``box`` (1.2x its larger side), zero padded at the image border."""
    import cv2

    x1, y1, x2, y2 = (float(v) for v in box)
    cx, cy, half = (x1 + x2) / 2, (y1 + y2) / 2, max(x2 - x1, y2 - y1) * 0.6
    scale = THUMB_SIZE / max(2 * half, 1.0)
    m = np.array([[scale, 0, THUMB_SIZE / 2 - scale * cx], [0, scale, THUMB_SIZE / 2 - scale * cy]], np.float32)
    return cv2.warpAffine(np.ascontiguousarray(image), m, (THUMB_SIZE, THUMB_SIZE), flags=cv2.INTER_AREA)


def video_tracks(video: str | os.PathLike, embedder: FaceDescriptor, fps: float | None = 5.0,
                 start: float | None = None, end: float | None = None, min_frames: int = 1,
                 detector: str = "multiscale", cost: EmbedCost | None = None, progress: bool = False
                 ) -> list[TrackEmbedding]:
    """The confirmed tracks of ``video`` that have an embedding and at least ``min_frames`` analysed frames."""
    from tqdm import tqdm

    from vidaffect.faces import FaceDetector
    from vidaffect.pipeline.analyzer import iter_tracked_faces
    from vidaffect.tracking import FaceTracker

    t0 = time.perf_counter()
    det = FaceDetector(detector, landmarks=True)
    # at a reduced frame rate every frame is a detection frame; embed each track twice a second
    tracker = FaceTracker.configured(embedder, embed_every_s=0.5)
    seen: dict[int, set[int]] = {}
    best: dict[int, tuple[float, np.ndarray]] = {}
    n = 0
    try:
        it = iter_tracked_faces(video, fps=fps, start=start, end=end, detector=det, tracker=tracker, embedder=embedder)
        for frame, dets in tqdm(it, desc=Path(video).name, unit="frame", disable=not progress, leave=False):
            n += 1
            for k, fid in enumerate(dets.face_ids):
                fid = int(fid)
                seen.setdefault(fid, set()).add(frame.index)
                side = float(np.sqrt(max(dets.area[k], 0.0)))
                if side > best.get(fid, (-1.0, None))[0]:
                    best[fid] = (side, thumbnail(frame.image, dets.xyxy[k]))
    finally:
        det.close()
    tracks = tracker.finish()
    for new, old in tracker.merged.items():  # late re-identification: the rows of ``new`` belong to ``old``
        seen.setdefault(old, set()).update(seen.pop(new, set()))
        if new in best and best[new][0] > best.get(old, (-1.0, None))[0]:
            best[old] = best[new]
    out = []
    for t in tracks:
        frames = seen.get(t.face_id, set())
        if t.embedding is None or len(frames) < min_frames or t.face_id not in best:
            continue
        out.append(TrackEmbedding(str(video), t.face_id, t.first_s, t.last_s, len(frames),
                                  t.embedding.astype(np.float32), t.embeddings, best[t.face_id][1],
                                  best[t.face_id][0], frames))
    if cost is not None:
        cost.seconds += time.perf_counter() - t0
        cost.frames += n
        cost.embedded += tracker.embeddings_computed
        cost.tracks += len(out)
    return out
