"""Data types of the decoding stage."""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np


@dataclass(frozen=True)
class VideoInfo:
    """What the container says about a video (before any sampling)."""

    path: str
    width: int  # after rotation
    height: int  # after rotation
    fps: float  # average frame rate (frames / second); VFR videos use real timestamps anyway
    duration_s: float
    frame_count: int  # from the container; 0 when unknown
    rotation: int  # degrees, counter-clockwise display rotation that was applied
    codec: str
    has_audio: bool
    # what the input is: "video" (a file), "image" (one still image), "images" (a folder of images),
    # "array" (a NumPy array), "webcam" (an OpenCV camera) or "stream" (a URL read by PyAV)
    kind: str = "video"
    # the default name of its result set (``<name>.frames.csv``...); "" = the file name without extension
    name: str = ""

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class VideoFrame:
    """One decoded frame: source index (counting every decoded frame), timestamp and RGB pixels."""

    index: int
    time_s: float
    image: np.ndarray  # uint8 (H, W, 3) RGB, display orientation
