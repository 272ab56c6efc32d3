"""Face embeddings for the pipeline: aligned chips from the face mesh, dlib's ResNet descriptor run by torch.

:class:`FaceDescriptor` is what the tracker and person linking use
(``embed_faces(image, detections)``).  A face gets an embedding when it has
mesh landmarks (dlib's 5 alignment points come from the mesh,
:func:`vidaffect.identity.face_chip.five_points_from_mesh`) and is at least
:data:`MIN_FACE_PX` wide; other faces get a row of NaN.  The vectors are
dlib's own (``dlib_face_recognition_resnet_model_v1``), so galleries made with
dlib and with vidaffect are interchangeable.
"""
from __future__ import annotations

import numpy as np

from vidaffect.faces.detections import Detections
from vidaffect.identity.cluster import DEFAULT_THRESHOLD
from vidaffect.identity.face_chip import CHIP_PADDING, CHIP_SIZE, chip_details, extract_chip, five_points_from_mesh
from vidaffect.identity.resnet_descriptor import DIM, ResnetDescriptor

MODEL_NAME = "dlib_face_recognition_resnet_model_v1"  # the vectors are dlib's (galleries interoperate)
# Faces narrower than this are not embedded: below it the descriptor of the same person drifts as far as
# another person's (benchmarks/face_embedding.py, verification by face size).
MIN_FACE_PX = 32.0
# Person linking: largest cosine distance between the mean embeddings of two tracks of one person.
# Measured on real faces (benchmarks/face_embedding.py): see docs/identity-and-meld.md.
LINK_THRESHOLD = DEFAULT_THRESHOLD
# Re-identification inside a shot (one detection against a track's mean) and the appearance gate that
# undoes a motion match: see vidaffect.tracking.tracker.
REID_DISTANCE = 0.07
SPLIT_DISTANCE = 0.12


class FaceDescriptor:
    """128-d unit face embeddings of detected faces (see the module docstring)."""

    name = MODEL_NAME
    dim = DIM
    link_threshold = LINK_THRESHOLD
    reid_distance = REID_DISTANCE
    split_distance = SPLIT_DISTANCE

    def __init__(self, device: str = "cpu", precision: str = "auto", min_face_px: float = MIN_FACE_PX) -> None:
        self.net = ResnetDescriptor(device=device, precision=precision)
        self.min_face_px = float(min_face_px)

    def chips(self, image: np.ndarray, landmarks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Aligned chips of the faces with usable ``landmarks`` (N, 468, 2): ``(chips, indices)``."""
        pts = five_points_from_mesh(np.asarray(landmarks, dtype=np.float64).reshape(-1, 468, 2))
        chips, idx = [], []
        h, w = image.shape[:2]
        for i, p in enumerate(pts):
            if not np.isfinite(p).all():
                continue
            centre, _, side = chip_details(p, CHIP_SIZE, CHIP_PADDING)
            # cut a window around the chip's rectangle first: the pyramid and the warp then touch only it
            r = side * 0.75 + 8
            x0, y0 = int(max(0, np.floor(centre[0] - r))), int(max(0, np.floor(centre[1] - r)))
            x1, y1 = int(min(w, np.ceil(centre[0] + r))), int(min(h, np.ceil(centre[1] + r)))
            if x1 - x0 < 8 or y1 - y0 < 8:
                continue
            chips.append(extract_chip(image[y0:y1, x0:x1], p - [x0, y0], CHIP_SIZE, CHIP_PADDING))
            idx.append(i)
        if not chips:
            return np.zeros((0, CHIP_SIZE, CHIP_SIZE, 3), np.uint8), np.zeros(0, np.int64)
        return np.stack(chips), np.asarray(idx, dtype=np.int64)

    def embed_faces(self, image: np.ndarray, dets: Detections) -> np.ndarray:
        """(N, 128) unit embeddings of ``dets`` in the RGB ``image``; NaN rows for faces without a mesh or
        narrower than ``min_face_px``."""
        out = np.full((len(dets), DIM), np.nan, dtype=np.float32)
        if not len(dets) or dets.landmarks is None:
            return out
        wide = (dets.xyxy[:, 2] - dets.xyxy[:, 0]) >= self.min_face_px
        usable = np.flatnonzero(wide & dets.has_mesh())
        if not len(usable):
            return out
        chips, idx = self.chips(image, dets.landmarks[usable])
        if len(idx):
            out[usable[idx]] = self.net.embed_chips(chips)
        return out
