"""BlazeFace, short and full range: pre-processing, the network, decoding and weighted NMS.

A faithful port of MediaPipe's face-detection graph (letterbox to the
network's square input, SSD anchors, sigmoid scores clipped at 100, weighted
NMS at IoU 0.3, projection back to the image), with one difference: the score
threshold is the caller's (MediaPipe 0.10.21 ignores its own
``min_detection_confidence`` and always uses 0.5 / 0.6).

:meth:`BlazeFace.detect_rois` runs any number of regions (whole frames, tiles)
through the network in one batch, which is how the multi-scale detector finds
small faces.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vidaffect.faces.anchors import ssd_anchors
from vidaffect.faces.detections import Detections
from vidaffect.faces.nms import weighted_nms
from vidaffect.faces.roi import Roi, letterbox_roi, warp_roi
from vidaffect.faces.runtime import load_network

NMS_IOU = 0.3


@dataclass(frozen=True)
class BlazeFaceSpec:
    """One detector's constants (from MediaPipe's face_detection_*.pbtxt)."""

    network: str
    input_size: int
    strides: tuple[int, ...]
    interpolated_scale_aspect_ratio: float
    default_threshold: float  # MediaPipe's fixed threshold for this model


SPECS = {
    "short": BlazeFaceSpec("face_detection_short_range", 128, (8, 16, 16, 16), 1.0, 0.5),
    "full": BlazeFaceSpec("face_detection_full_range_sparse", 192, (4,), 0.0, 0.6),
}


def decode(raw_boxes: np.ndarray, raw_scores: np.ndarray, anchors: np.ndarray, scale: float,
           threshold: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One tensor's raw outputs -> (boxes xyxy, scores, keypoints (K, 6, 2)) in [0, 1] tensor coordinates, above ``threshold``."""
    logits = np.clip(raw_scores.reshape(-1).astype(np.float64), -100.0, 100.0)
    scores = 1.0 / (1.0 + np.exp(-logits))
    keep = np.flatnonzero(scores >= threshold)
    r = raw_boxes.reshape(len(anchors), -1)[keep].astype(np.float64)
    a = anchors[keep].astype(np.float64)
    cx = r[:, 0] / scale + a[:, 0]
    cy = r[:, 1] / scale + a[:, 1]
    w, h = r[:, 2] / scale, r[:, 3] / scale
    boxes = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1)
    kp = r[:, 4:16].reshape(-1, 6, 2) / scale + a[:, None, :]
    return boxes, scores[keep].astype(np.float32), kp


class BlazeFace:
    """A BlazeFace detector on some runtime.

    model: ``"short"`` (faces filling much of the region) or ``"full"`` (down
    to about a tenth of it).  threshold: minimum score, default MediaPipe's.
    """

    def __init__(self, model: str = "short", threshold: float | None = None, runtime: str = "auto",
                 device: str = "cpu", precision: str = "fp32") -> None:
        self.spec = SPECS[model]
        self.model = model
        self.threshold = self.spec.default_threshold if threshold is None else threshold
        self.net = load_network(self.spec.network, runtime, device, precision)
        self.anchors = ssd_anchors(self.spec.input_size, list(self.spec.strides),
                                   self.spec.interpolated_scale_aspect_ratio)

    @property
    def runtime(self) -> str:
        return self.net.runtime

    def close(self) -> None:
        self.net.close()

    def detect(self, image: np.ndarray) -> Detections:
        """Faces in a whole RGB uint8 frame (letterboxed, as MediaPipe does)."""
        h, w = image.shape[:2]
        return self.detect_rois(image, [letterbox_roi(0, 0, w, h)])[0]

    def detect_rois(self, image: np.ndarray, rois: list[Roi]) -> list[Detections]:
        """Faces in each unrotated region ``rois`` of ``image`` (one network batch), in image pixels."""
        size = self.spec.input_size
        batch = np.empty((len(rois), size, size, 3), dtype=np.float32)
        for i, roi in enumerate(rois):
            warp_roi(image, roi, (size, size), (-1.0, 1.0), out=batch[i])
        raw_boxes, raw_scores = self.net(batch) if len(rois) else ([], [])
        out = []
        for i, roi in enumerate(rois):
            boxes, scores, kps = decode(raw_boxes[i], raw_scores[i], self.anchors, float(size), self.threshold)
            if len(scores):
                boxes, scores, kps = weighted_nms(boxes, scores, kps, NMS_IOU)
            out.append(_project(boxes, scores, kps, roi))
        return out


def _project(boxes: np.ndarray, scores: np.ndarray, kps: np.ndarray, roi: Roi) -> Detections:
    """Tensor-normalised detections -> image pixels (an unrotated ROI: a scale and a shift)."""
    if not len(scores):
        return Detections.empty()
    x0, y0 = roi.cx - roi.width / 2, roi.cy - roi.height / 2
    sx = np.array([roi.width, roi.height, roi.width, roi.height])
    xyxy = boxes * sx + np.array([x0, y0, x0, y0])
    pts = kps * np.array([roi.width, roi.height]) + np.array([x0, y0])
    return Detections(xyxy, scores, pts)
