"""How well a detected box fits a track's box: the similarity the tracker's Hungarian match maximises."""
from __future__ import annotations

import numpy as np

from vidaffect.faces.detections import box_iou


def box_similarity(boxes: np.ndarray, track_boxes: np.ndarray, iou_threshold: float = 0.3,
                   max_center_dist: float = 0.5) -> np.ndarray:
    """(N, M) similarity of ``boxes`` to ``track_boxes`` (xyxy); 0 means "cannot be the same face".

    The IoU where it is at least ``iou_threshold``; otherwise, for a face that moved fast or
    came back after a short gap, ``0.5 * iou_threshold * (1 - d / max_center_dist)`` where ``d``
    is the distance between the box centres divided by the track box's diagonal, if
    ``d < max_center_dist`` and the box sides differ by less than 2x.
    """
    boxes = np.asarray(boxes, dtype=np.float32).reshape(-1, 4)
    tboxes = np.asarray(track_boxes, dtype=np.float32).reshape(-1, 4)
    iou = box_iou(boxes, tboxes)
    dc = ((boxes[:, None, :2] + boxes[:, None, 2:]) - (tboxes[None, :, :2] + tboxes[None, :, 2:])) / 2
    diag = np.linalg.norm(tboxes[:, 2:] - tboxes[:, :2], axis=1)
    dist = np.linalg.norm(dc, axis=2) / np.maximum(diag[None, :], 1e-6)
    area_d = np.prod(np.clip(boxes[:, 2:] - boxes[:, :2], 1e-6, None), axis=1)
    area_t = np.prod(np.clip(tboxes[:, 2:] - tboxes[:, :2], 1e-6, None), axis=1)
    ratio = area_d[:, None] / area_t[None, :]
    near = (dist < max_center_dist) & (ratio > 0.25) & (ratio < 4.0)  # 2x in side length
    fallback = np.where(near, 0.5 * iou_threshold * (1 - dist / max_center_dist), 0.0)
    return np.where(iou >= iou_threshold, iou, fallback)
