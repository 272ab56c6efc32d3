"""Face tracking: stable ``face_id`` per face across frames.

The rule (also in docs/pipeline.md):

1. Every live track remembers its last box and the time it was last seen.
2. Each frame, detections and live tracks are paired by a Hungarian match on a
   similarity score: the IoU of the detection with the track's last box when it
   is at least ``iou_threshold``; otherwise, for a face that moved fast or
   came back after a short gap, ``0.5 * iou_threshold * (1 - d / max_center_dist)``
   where ``d`` is the distance between box centres divided by the track box's
   diagonal, if ``d < max_center_dist`` and the box sizes differ by less than 2x.
   Pairs with similarity <= 0 are not matched.
3. Unmatched detections start new tracks with the next id (0, 1, 2...).
4. A track not seen for more than ``max_gap_s`` seconds ends: a face that comes
   back later gets a new id.  A scene cut ends every track.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment

from vidaffect.faces.detections import Detections, box_iou


@dataclass
class _Track:
    face_id: int
    box: np.ndarray
    last_seen: float
    hits: int = 1


class FaceTracker:
    """Assign stable ids to detections frame after frame (see module docstring for the rule)."""

    def __init__(self, iou_threshold: float = 0.3, max_center_dist: float = 0.5, max_gap_s: float = 1.0) -> None:
        self.iou_threshold = iou_threshold
        self.max_center_dist = max_center_dist
        self.max_gap_s = max_gap_s
        self.reset()

    def reset(self) -> None:
        """Forget all tracks and restart ids at 0 (new video)."""
        self._tracks: list[_Track] = []
        self._next_id = 0

    def cut(self) -> None:
        """A scene cut: end every live track (ids keep increasing)."""
        self._tracks = []

    @property
    def live_ids(self) -> list[int]:
        return [t.face_id for t in self._tracks]

    def _similarity(self, boxes: np.ndarray) -> np.ndarray:
        tboxes = np.stack([t.box for t in self._tracks])
        iou = box_iou(boxes, tboxes)
        dc = ((boxes[:, None, :2] + boxes[:, None, 2:]) - (tboxes[None, :, :2] + tboxes[None, :, 2:])) / 2
        diag = np.linalg.norm(tboxes[:, 2:] - tboxes[:, :2], axis=1)
        dist = np.linalg.norm(dc, axis=2) / np.maximum(diag[None, :], 1e-6)
        area_d = np.prod(np.clip(boxes[:, 2:] - boxes[:, :2], 1e-6, None), axis=1)
        area_t = np.prod(np.clip(tboxes[:, 2:] - tboxes[:, :2], 1e-6, None), axis=1)
        ratio = area_d[:, None] / area_t[None, :]
        near = (dist < self.max_center_dist) & (ratio > 0.25) & (ratio < 4.0)  # 2x in side length
        fallback = np.where(near, 0.5 * self.iou_threshold * (1 - dist / self.max_center_dist), 0.0)
        return np.where(iou >= self.iou_threshold, iou, fallback)

    def update(self, dets: Detections, time_s: float) -> Detections:
        """Set ``dets.face_ids`` in place (and return ``dets``)."""
        self._tracks = [t for t in self._tracks if time_s - t.last_seen <= self.max_gap_s]
        ids = np.full(len(dets), -1, dtype=np.int64)
        if len(dets) and self._tracks:
            sim = self._similarity(dets.xyxy)
            rows, cols = linear_sum_assignment(-sim)
            for r, c in zip(rows, cols):
                if sim[r, c] > 0:
                    track = self._tracks[c]
                    ids[r] = track.face_id
                    track.box, track.last_seen, track.hits = dets.xyxy[r].copy(), time_s, track.hits + 1
        for r in np.flatnonzero(ids < 0):
            ids[r] = self._next_id
            self._tracks.append(_Track(self._next_id, dets.xyxy[r].copy(), time_s))
            self._next_id += 1
        dets.face_ids = ids
        return dets
