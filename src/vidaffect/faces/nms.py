"""Weighted non-maximum suppression (MediaPipe's WEIGHTED algorithm, used by BlazeFace).

Written here rather than taken from torchvision: torchvision's NMS keeps the top
box as it is, while BlazeFace's reference output averages every box that
overlaps the top one, weighted by score (boxes and keypoints alike).
"""
from __future__ import annotations

import numpy as np

from vidaffect.faces.detections import box_iou


def weighted_nms(boxes: np.ndarray, scores: np.ndarray, keypoints: np.ndarray,
                 iou_threshold: float = 0.3) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Merge overlapping detections.

    boxes (N, 4) xyxy, scores (N,), keypoints (N, K, 2).  Repeatedly takes the
    best remaining detection, averages it with every remaining detection whose
    IoU with it exceeds ``iou_threshold`` (weights = scores) and keeps the top
    score.  Returns the merged (boxes, scores, keypoints), best first.
    """
    order = np.argsort(-scores, kind="stable")
    boxes, scores, keypoints = boxes[order], scores[order], keypoints[order]
    out_b, out_s, out_k = [], [], []
    remaining = np.arange(len(scores))
    while len(remaining):
        top = remaining[0]
        iou = box_iou(boxes[top:top + 1], boxes[remaining])[0]
        group = remaining[iou > iou_threshold]
        if len(group) == 0:  # a degenerate (zero-area) top box overlaps nothing, not even itself
            group = remaining[:1]
        w = scores[group][:, None]
        total = float(w.sum())
        out_b.append((boxes[group] * w).sum(0) / total)
        out_k.append((keypoints[group] * w[:, :, None]).sum(0) / total)
        out_s.append(scores[top])
        remaining = remaining[~np.isin(remaining, group)]
    if not out_b:
        return boxes[:0], scores[:0], keypoints[:0]
    return np.stack(out_b), np.asarray(out_s, dtype=np.float32), np.stack(out_k)
