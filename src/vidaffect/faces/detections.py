"""The ``Detections`` dataclass: every face found in one frame, as parallel arrays."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

# BlazeFace keypoints, in this order (image-left = the subject's right).
KEYPOINT_NAMES = ("right_eye", "left_eye", "nose_tip", "mouth_center", "right_ear", "left_ear")


@dataclass
class Detections:
    """Faces of one frame (supervision-style parallel arrays, all in image pixels).

    xyxy: (N, 4) float32 boxes; scores: (N,) detector confidence; keypoints:
    (N, 6, 2) BlazeFace keypoints (see :data:`KEYPOINT_NAMES`); landmarks:
    (N, 468, 2) face-mesh points or None (rows of NaN where the mesh did not
    fit that face); face_ids: (N,) track ids, -1 before tracking; detected: (N,) bool, True where this
    frame's detector found the face; verified: (N,) bool, True where the face models found it in this
    frame (the detector, or on a detection frame the face mesh following a face the detector missed, its
    face flag on); both False where optical flow carried it from earlier frames.
    """

    xyxy: np.ndarray
    scores: np.ndarray
    keypoints: np.ndarray
    landmarks: np.ndarray | None = None
    face_ids: np.ndarray = field(default=None)  # type: ignore[assignment]
    detected: np.ndarray = field(default=None)  # type: ignore[assignment]
    verified: np.ndarray = field(default=None)  # type: ignore[assignment]

    def __post_init__(self) -> None:
        n = len(self.xyxy)
        self.xyxy = np.asarray(self.xyxy, dtype=np.float32).reshape(n, 4)
        self.scores = np.asarray(self.scores, dtype=np.float32).reshape(n)
        self.keypoints = np.asarray(self.keypoints, dtype=np.float32).reshape(n, 6, 2)
        if self.landmarks is not None:
            lm = np.asarray(self.landmarks, dtype=np.float32)
            self.landmarks = lm.reshape(n, lm.shape[-2] if lm.ndim == 3 else 468, 2)
        if self.face_ids is None:
            self.face_ids = np.full(n, -1, dtype=np.int64)
        self.face_ids = np.asarray(self.face_ids, dtype=np.int64).reshape(n)
        if self.detected is None:
            self.detected = np.ones(n, dtype=bool)
        self.detected = np.asarray(self.detected, dtype=bool).reshape(n)
        if self.verified is None:
            self.verified = self.detected.copy()
        self.verified = np.asarray(self.verified, dtype=bool).reshape(n)

    @classmethod
    def empty(cls) -> "Detections":
        return cls(np.zeros((0, 4)), np.zeros(0), np.zeros((0, 6, 2)))

    def __len__(self) -> int:
        return int(len(self.xyxy))

    def __getitem__(self, index) -> "Detections":
        index = np.atleast_1d(np.arange(len(self))[index])
        return Detections(
            self.xyxy[index], self.scores[index], self.keypoints[index],
            None if self.landmarks is None else self.landmarks[index], self.face_ids[index], self.detected[index],
            self.verified[index],
        )

    @property
    def area(self) -> np.ndarray:
        wh = np.clip(self.xyxy[:, 2:] - self.xyxy[:, :2], 0, None)
        return wh[:, 0] * wh[:, 1]

    def has_mesh(self) -> np.ndarray:
        """(N,) bool: whether face-mesh landmarks are available for each face."""
        if self.landmarks is None:
            return np.zeros(len(self), dtype=bool)
        return ~np.isnan(self.landmarks[:, 0, 0])


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pairwise IoU of boxes ``a`` (N, 4) and ``b`` (M, 4) in xyxy format -> (N, M)."""
    a = np.asarray(a, dtype=np.float32).reshape(-1, 4)
    b = np.asarray(b, dtype=np.float32).reshape(-1, 4)
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.clip(rb - lt, 0, None).prod(-1)
    area_a = np.clip(a[:, 2:] - a[:, :2], 0, None).prod(-1)
    area_b = np.clip(b[:, 2:] - b[:, :2], 0, None).prod(-1)
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-9), 0.0).astype(np.float32)
