"""Helpers of the face-stage tests (paths, fixture decoding, face pairing); fixtures live in conftest.py."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "faces"
NETWORK_NAMES = ("face_detection_short_range", "face_detection_full_range_sparse", "face_landmark")
RUNTIMES = ("litert", "torch")
# BlazeFace model -> mediapipe FaceDetection's model_selection
SELECTION = {"short": 0, "full": 1}


def litert_available() -> bool:
    from vidaffect.faces.runtime import litert

    return litert.available()


def skip_unless_runtime(runtime: str) -> None:
    if runtime == "litert" and not litert_available():
        pytest.skip("the litert runtime needs the ai-edge-litert package (not installed here)")


def input_tensor(patches: np.ndarray, value_range) -> np.ndarray:
    """The float32 network input from a recorded uint8 patch, computed exactly as ``warp_roi`` does."""
    from vidaffect.faces.roi import scale_to_range

    return scale_to_range(patches, value_range)


def mediapipe_detections(entry: dict, selection: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A frame's recorded mediapipe FaceDetection result: boxes (N, 4) xyxy, keypoints (N, 6, 2), scores (N,)."""
    ref = entry["face_detection"][str(selection)]
    n = len(ref["scores"])
    return (np.asarray(ref["boxes"], np.float64).reshape(n, 4),
            np.asarray(ref["keypoints"], np.float64).reshape(n, 6, 2),
            np.asarray(ref["scores"], np.float64).reshape(n))


def mediapipe_meshes(entry: dict) -> np.ndarray:
    """A frame's recorded mediapipe FaceMesh landmarks (N, 468, 2)."""
    lm = entry["face_mesh"]["landmarks"]
    return np.asarray(lm, np.float64).reshape(len(lm), 468, 2)


def pair_nearest(centres_ref: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """For each reference centre (N, 2), the index of the nearest of ``centres`` (N, 2); asserts a one-to-one pairing."""
    d = np.linalg.norm(np.asarray(centres_ref)[:, None, :] - np.asarray(centres)[None, :, :], axis=-1)
    idx = d.argmin(1)
    assert len(set(idx.tolist())) == len(idx), f"faces do not pair one to one (distances {d.round(1).tolist()})"
    return idx


def box_centres(boxes: np.ndarray) -> np.ndarray:
    b = np.asarray(boxes, np.float64).reshape(-1, 4)
    return (b[:, :2] + b[:, 2:]) / 2
