"""The 468-point face mesh: its region from a detection or from the last landmarks, the network, projection.

A port of MediaPipe's face_landmark_front graph around ``face_landmark.tflite``:

* region from a detection: the box's centre, rotated so the eye keypoints are
  level, a square of the box's long side times 1.5;
* region from landmarks (tracking): the landmarks' bounding box, rotated so
  points 33 and 263 (the eye corners) are level, the same square times 1.5;
* the crop is warped to 192x192 in [0, 1] (edge pixels repeated outside the image); the 1404 outputs are (x, y, z) in
  crop pixels, projected back through the region's rotation;
* the face flag (sigmoid of the second output) says whether a face is there:
  below ``min_presence`` the landmarks are dropped (NaN).
"""
from __future__ import annotations

import numpy as np

from vidaffect.faces.roi import Roi, rotation_from_points, square_roi, warp_roi
from vidaffect.faces.runtime import load_network

NETWORK = "face_landmark"
INPUT_SIZE = 192
ROI_SCALE = 1.5
N_POINTS = 468
EYE_CORNERS = (33, 263)  # the landmarks MediaPipe levels when tracking (image-left eye outer corner, then right)


def roi_from_detection(box: np.ndarray, keypoints: np.ndarray) -> Roi:
    """The mesh region of a BlazeFace detection (box xyxy and its 6 keypoints, image pixels)."""
    x1, y1, x2, y2 = (float(v) for v in box)
    rot = rotation_from_points(keypoints[0], keypoints[1])
    return square_roi((x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1, rot, ROI_SCALE)


def roi_from_landmarks(landmarks: np.ndarray) -> Roi:
    """The mesh region that tracks a face from its previous landmarks ``(468, 2)``."""
    lo, hi = landmarks.min(0), landmarks.max(0)
    rot = rotation_from_points(landmarks[EYE_CORNERS[0]], landmarks[EYE_CORNERS[1]])
    c = (lo + hi) / 2
    return square_roi(float(c[0]), float(c[1]), float(hi[0] - lo[0]), float(hi[1] - lo[1]), rot, ROI_SCALE)


class FaceMesh:
    """The face landmark network on some runtime.  min_presence: face-flag threshold (MediaPipe's default 0.5)."""

    def __init__(self, min_presence: float = 0.5, runtime: str = "auto", device: str = "cpu",
                 precision: str = "fp32") -> None:
        self.min_presence = min_presence
        self.net = load_network(NETWORK, runtime, device, precision)

    @property
    def runtime(self) -> str:
        return self.net.runtime

    def close(self) -> None:
        self.net.close()

    def run(self, image: np.ndarray, rois: list[Roi]) -> tuple[np.ndarray, np.ndarray]:
        """Landmarks ``(N, 468, 3)`` (x, y in image pixels; z in the crop's pixel units) and presence ``(N,)``.

        Faces whose presence is below ``min_presence`` get NaN landmarks.
        """
        n = len(rois)
        if n == 0:
            return np.zeros((0, N_POINTS, 3), np.float32), np.zeros(0, np.float32)
        batch = np.empty((n, INPUT_SIZE, INPUT_SIZE, 3), dtype=np.float32)
        for i, roi in enumerate(rois):
            warp_roi(image, roi, (INPUT_SIZE, INPUT_SIZE), (0.0, 1.0), out=batch[i], replicate=True)
        raw_points, raw_flag = self.net(batch)
        presence = 1.0 / (1.0 + np.exp(-np.clip(raw_flag.reshape(n).astype(np.float64), -80, 80)))
        pts = raw_points.reshape(n, N_POINTS, 3).astype(np.float64)
        out = np.full((n, N_POINTS, 3), np.nan, dtype=np.float32)
        for i, roi in enumerate(rois):
            if presence[i] >= self.min_presence:
                out[i, :, :2] = roi.to_image(pts[i, :, :2] / INPUT_SIZE)
                out[i, :, 2] = pts[i, :, 2] / INPUT_SIZE * roi.width
        return out, presence.astype(np.float32)
