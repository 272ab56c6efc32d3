"""NumPy backend: ``analyze(array)`` on pixels already in memory.

An ``(H, W, 3)`` uint8 RGB array is one image (frame 0 at 0 s); an ``(N, H, W, 3)`` one is N frames of a
video at ``image_fps`` frames a second (frame ``i`` at ``i / image_fps`` s; default 1).  Pixels are RGB, as
every vidaffect frame: OpenCV's ``cv2.imread`` gives BGR, so convert first
(``cv2.cvtColor(img, cv2.COLOR_BGR2RGB)``).  Anything else (another dtype, grey or RGBA, no pixels) is
refused with a one-line :class:`VideoError` that says what to give instead.
"""
from __future__ import annotations

import math
from typing import Iterator

import numpy as np

from vidaffect.errors import VideoError
from vidaffect.video.base import FrameReader, TimeSampler, check_time_options
from vidaffect.video.formats import DEFAULT_IMAGE_FPS
from vidaffect.video.types import VideoFrame, VideoInfo

ARRAY_NAME = "array"  # the default name of an array's result set (array.frames.csv...)


def check_array(array: np.ndarray) -> np.ndarray:
    """``array`` as (N, H, W, 3) uint8 (a view when possible); :class:`VideoError` for any other array."""
    a = np.asarray(array)
    shape = "x".join(map(str, a.shape)) or "scalar"
    if a.dtype != np.uint8:
        hint = " (floats in [0, 1]: (a * 255).round().astype(np.uint8))" if a.dtype.kind == "f" else ""
        raise VideoError(f"array: pixels must be uint8 RGB, got {a.dtype} {shape}{hint}")
    if a.ndim not in (3, 4) or a.shape[-1] != 3:
        if a.ndim in (2, 3) and (a.ndim == 2 or a.shape[-1] in (1, 4)):
            what = "grey" if a.ndim == 2 or a.shape[-1] == 1 else "RGBA"
            raise VideoError(f"array: an {shape} {what} image; give (H, W, 3) RGB (cv2.cvtColor with "
                             f"COLOR_GRAY2RGB or COLOR_RGBA2RGB)")
        raise VideoError(f"array: shape {shape} is neither an image (H, W, 3) nor frames (N, H, W, 3) of RGB pixels")
    a = a[None] if a.ndim == 3 else a
    if a.shape[0] == 0 or a.shape[1] == 0 or a.shape[2] == 0:
        raise VideoError(f"array: shape {shape} holds no pixels")
    return a


class ArrayReader(FrameReader):
    """Frames from a NumPy array (see the module docstring); the array is not copied."""

    def __init__(self, array: np.ndarray, fps: float | None = None, start: float | None = None,
                 end: float | None = None, image_fps: float | None = None, name: str = ARRAY_NAME) -> None:
        super().__init__()
        self.path = name
        check_time_options(self.path, fps, start, end)
        single = np.ndim(array) == 3
        self.stills = single  # an image; (N, H, W, 3) frames are a video
        self.frames = check_array(array)
        image_fps = DEFAULT_IMAGE_FPS if image_fps is None else image_fps
        if not math.isfinite(image_fps) or image_fps <= 0:
            raise VideoError(f"{self.path}: image_fps must be a positive number of frames a second, got {image_fps}")
        self.fps, self.start, self.end, self.image_fps = fps, start, end, float(image_fps)
        n, h, w = self.frames.shape[:3]
        self.info = VideoInfo(f"<{name} {'x'.join(map(str, np.shape(array)))}>", w, h,
                              0.0 if single else self.image_fps, 0.0 if single else n / self.image_fps, n, 0,
                              "ndarray", False, "array", name)

    def __iter__(self) -> Iterator[VideoFrame]:
        self.damaged = []
        take = TimeSampler(self.fps, self.start, self.end)
        for i in range(len(self.frames)):
            t = i / self.image_fps
            what = take(t)
            if what == TimeSampler.STOP:
                return
            if what == TimeSampler.TAKE:
                yield VideoFrame(i, round(t, 6), np.ascontiguousarray(self.frames[i]))
