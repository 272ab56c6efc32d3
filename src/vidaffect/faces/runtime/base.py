"""What every face-network runtime provides: NHWC float batches in, the network's raw outputs out."""
from __future__ import annotations

from pathlib import Path
from typing import Protocol

import numpy as np

ASSETS = Path(__file__).resolve().parents[1] / "assets"

# The shipped networks (files in vidaffect/faces/assets/, see NOTICE there): name -> input size.
NETWORKS = {
    "face_detection_short_range": 128,
    "face_detection_full_range_sparse": 192,
    "face_landmark": 192,
}


class FaceNetwork(Protocol):
    """One of MediaPipe's face networks, loaded by some runtime."""

    name: str
    runtime: str
    input_size: int

    def __call__(self, batch: np.ndarray) -> list[np.ndarray]:
        """Run ``batch`` (N, size, size, 3) float32; returns the raw outputs, each with a leading N axis."""
        ...

    def close(self) -> None:
        ...


def asset(name: str, suffix: str) -> Path:
    """Path of a shipped model file (``suffix`` = ``.tflite`` or ``.safetensors``)."""
    if name not in NETWORKS:
        raise ValueError(f"unknown face network {name!r}; shipped: {sorted(NETWORKS)}")
    return ASSETS / f"{name}{suffix}"
