"""Finding faces of every size: the full-range detector on the whole frame plus overlapping tiles.

BlazeFace sees the frame letterboxed to 192 px, so a face must cover a few
percent of the frame's long side to be found: about 35-40 px in SD video but
100 px or more in 1080p.  :class:`MultiScaleFinder` adds a pass over square
tiles small enough that a ``min_face``-pixel face covers enough of a tile,
and merges all passes with weighted NMS.

Rules that keep tiles from adding faces that are not there (written here:
no library tiles a single-shot detector with these merge rules):

* a tile answers only for faces up to ``TILE_FACE_FRACTION`` of its side
  (bigger ones are the whole-frame pass's job); neighbouring tiles overlap by
  that much, so every such face lies wholly inside at least one tile;
* a tile detection that touches the tile's inner edge (a face cut by the
  tile, seen half) is dropped; the neighbouring tile sees it whole.

In video, scanning every tile on every detection frame would cost more than
the rest of the pipeline: the face detector scans all tiles on a shot's first
detection frame only and afterwards the next tiles of the round, in turn
(:class:`~vidaffect.faces.detector.FaceDetector` says when).
"""
from __future__ import annotations

import math

import numpy as np

from vidaffect.faces.blazeface import NMS_IOU, BlazeFace
from vidaffect.faces.detections import Detections
from vidaffect.faces.nms import weighted_nms
from vidaffect.faces.roi import Roi, letterbox_roi

# The whole-frame full-range pass finds faces down to about this fraction of the frame's long side (21 real
# faces pasted at known sizes on a 1280x720 background: found 6/21 at 3.5 %, 14/21 at 5 %, 20/21 at 6 %,
# 21/21 at 7 %; benchmarks/face_recall.py measures the result per face size).
WHOLE_FRAME_MIN_FRACTION = 0.07
TILE_FACE_FRACTION = 0.3  # a tile answers for faces up to this fraction of its side
EDGE_MARGIN = 0.01  # of the tile side: a box this close to an inner tile edge was cut by it
ROUND_TURNS = 4  # a round over all tiles takes at most this many turns (larger frames scan more tiles a turn)


def plan_tiles(width: int, height: int, min_face: float) -> list[Roi]:
    """Square tiles covering the frame so that a ``min_face``-pixel face is >= WHOLE_FRAME_MIN_FRACTION of a tile.

    Empty when the whole-frame pass already reaches ``min_face``.
    """
    long_side = max(width, height)
    if min_face >= WHOLE_FRAME_MIN_FRACTION * long_side:
        return []
    tile = min(min_face / WHOLE_FRAME_MIN_FRACTION, min(width, height))
    step = tile * (1 - TILE_FACE_FRACTION)
    nx = max(1, math.ceil((width - tile) / step) + 1)
    ny = max(1, math.ceil((height - tile) / step) + 1)
    xs = np.linspace(0, width - tile, nx) if nx > 1 else [max(0.0, (width - tile) / 2)]
    ys = np.linspace(0, height - tile, ny) if ny > 1 else [max(0.0, (height - tile) / 2)]
    return [Roi(float(x) + tile / 2, float(y) + tile / 2, tile, tile) for y in ys for x in xs]


def _inside_tile(dets: Detections, roi: Roi, width: int, height: int) -> np.ndarray:
    """(N,) bool: boxes small enough for the tile and not cut by one of its inner edges."""
    x0, y0 = roi.cx - roi.width / 2, roi.cy - roi.height / 2
    x1, y1 = x0 + roi.width, y0 + roi.height
    m = EDGE_MARGIN * roi.width
    b = dets.xyxy
    ok = (b[:, 2] - b[:, 0]) <= TILE_FACE_FRACTION * roi.width
    ok &= (b[:, 0] > x0 + m) | (x0 <= 0.5)  # an edge on the image border cuts nothing
    ok &= (b[:, 1] > y0 + m) | (y0 <= 0.5)
    ok &= (b[:, 2] < x1 - m) | (x1 >= width - 0.5)
    ok &= (b[:, 3] < y1 - m) | (y1 >= height - 0.5)
    return ok


def merge(parts: list[Detections]) -> Detections:
    """One detection per face from several passes (weighted NMS in image pixels)."""
    parts = [p for p in parts if len(p)]
    if not parts:
        return Detections.empty()
    if len(parts) == 1:
        return parts[0]
    boxes = np.concatenate([p.xyxy for p in parts])
    scores = np.concatenate([p.scores for p in parts])
    kps = np.concatenate([p.keypoints for p in parts])
    b, s, k = weighted_nms(boxes, scores, kps, NMS_IOU)
    return Detections(b, s, k)


class MultiScaleFinder:
    """Whole-frame full-range detection plus tiles for faces down to ``min_face`` pixels.

    :meth:`detect` scans the whole frame and, as asked, every tile or the next
    tiles of the round; :meth:`detect_next_tile` scans only the next tiles
    (one in SD; ``ceil(tiles / ROUND_TURNS)`` on larger frames).
    """

    def __init__(self, detector: BlazeFace, min_face: float = 32.0) -> None:
        self.detector = detector
        self.min_face = min_face
        self._plans: dict[tuple[int, int], list[Roi]] = {}
        self.reset()

    def reset(self) -> None:
        """Start the round of tiles again (a new video or shot)."""
        self._next = 0  # the next tile of the round

    def tiles(self, width: int, height: int) -> list[Roi]:
        key = (width, height)
        if key not in self._plans:
            self._plans[key] = plan_tiles(width, height, self.min_face)
        return self._plans[key]

    def _next_tiles(self, tiles: list[Roi]) -> list[Roi]:
        """The next tiles of the round: enough that every round takes at most ``ROUND_TURNS`` turns."""
        if not tiles:
            return []
        count = math.ceil(len(tiles) / ROUND_TURNS)
        picked = [tiles[(self._next + k) % len(tiles)] for k in range(count)]
        self._next += count
        return picked

    def detect(self, image: np.ndarray, tiles: str = "all") -> Detections:
        """Faces in ``image``: the whole frame plus ``tiles``: ``"all"``, ``"next"`` (one, in turn) or ``"none"``."""
        if tiles not in ("all", "next", "none"):
            raise ValueError(f"tiles must be all, next or none, not {tiles!r}")
        h, w = image.shape[:2]
        plan = self.tiles(w, h)
        rois = plan if tiles == "all" else self._next_tiles(plan) if tiles == "next" else []
        found = self.detector.detect_rois(image, [letterbox_roi(0, 0, w, h)] + rois)
        return merge([found[0]] + self._keep_inside(found[1:], rois, w, h))

    def detect_next_tile(self, image: np.ndarray) -> Detections:
        """Faces in the next tiles of the round only (empty when the frame needs no tiles)."""
        h, w = image.shape[:2]
        rois = self._next_tiles(self.tiles(w, h))
        if not rois:
            return Detections.empty()
        return merge(self._keep_inside(self.detector.detect_rois(image, rois), rois, w, h))

    @staticmethod
    def _keep_inside(found: list[Detections], rois: list[Roi], w: int, h: int) -> list[Detections]:
        return [d[np.flatnonzero(_inside_tile(d, roi, w, h))] for roi, d in zip(rois, found) if len(d)]

    def close(self) -> None:
        self.detector.close()
