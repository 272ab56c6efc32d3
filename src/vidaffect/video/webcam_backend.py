"""Webcam backend: camera ``N`` of OpenCV's ``VideoCapture`` (``analyze(0)``, ``vidaffect analyze webcam:0``).

A camera has no end of its own, so ``end`` (``--end``, in seconds) is required: frames are read from the
first one on for that long.  ``time_s`` is the time since the first frame on the monotonic clock, taken
when each frame is read; ``start`` skips the first seconds and ``fps`` samples as on a video.  Frames are
read as fast as the analysis takes them; the camera drops the ones in between.
"""
from __future__ import annotations

import contextlib
import sys
import time
from pathlib import Path
from typing import Iterator

import cv2

from vidaffect.errors import VideoError
from vidaffect.video.base import FrameReader, TimeSampler, check_time_options
from vidaffect.video.formats import WEBCAM_PREFIX
from vidaffect.video.types import VideoFrame, VideoInfo

# a camera that delivers no frame for this long after it opened (or between two frames) has failed
READ_TIMEOUT_S = 5.0


@contextlib.contextmanager
def _quiet_opencv():
    """OpenCV logs its failed camera probes as warnings on stderr; the one-line error says it instead."""
    logging = getattr(getattr(cv2, "utils", None), "logging", None)
    if logging is None:
        yield
        return
    before = logging.getLogLevel()
    logging.setLogLevel(logging.LOG_LEVEL_SILENT)
    try:
        yield
    finally:
        logging.setLogLevel(before)


def no_camera_reason(index: int) -> str | None:
    """Why camera ``index`` certainly cannot be opened (Linux: no ``/dev/videoN``), without asking OpenCV."""
    if sys.platform.startswith("linux") and not Path(f"/dev/video{index}").exists():
        return f"no camera at index {index} (/dev/video{index} does not exist)"
    return None


class WebcamReader(FrameReader):
    """Frames of an OpenCV camera for ``end`` seconds (see the module docstring)."""

    live = True

    def __init__(self, index: int, fps: float | None = None, start: float | None = None,
                 end: float | None = None) -> None:
        super().__init__()
        self.index = int(index)
        self.path = f"{WEBCAM_PREFIX}{self.index}"
        if self.index < 0:
            raise VideoError(f"{self.path}: a camera index is >= 0")
        check_time_options(self.path, fps, start, end)
        if end is None:
            raise VideoError(f"{self.path}: a camera has no end; give --end (end= in Python), the seconds to record")
        self.fps, self.start, self.end = fps, start, end
        self._cap = self._open()
        ok, image = self._read(self._cap)
        if not ok:
            self._cap.release()
            raise VideoError(f"{self.path}: the camera opened but delivered no frame")
        h, w = image.shape[:2]
        rate = float(self._cap.get(cv2.CAP_PROP_FPS) or 0.0)
        backend = self._cap.getBackendName() if hasattr(self._cap, "getBackendName") else "opencv"
        self.info = VideoInfo(self.path, w, h, rate, float(end - (start or 0.0)), 0, 0, f"camera ({backend})",
                              False, "webcam", f"webcam{self.index}")

    def _open(self) -> cv2.VideoCapture:
        why = no_camera_reason(self.index)
        if why is not None:
            raise VideoError(f"{self.path}: {why}")
        with _quiet_opencv():
            cap = cv2.VideoCapture(self.index)
        if not cap.isOpened():
            cap.release()
            raise VideoError(f"{self.path}: no camera at index {self.index} (OpenCV could not open it)")
        return cap

    @staticmethod
    def _read(cap: cv2.VideoCapture):
        deadline = time.monotonic() + READ_TIMEOUT_S
        while time.monotonic() < deadline:
            ok, image = cap.read()
            if ok and image is not None:
                return True, image
            time.sleep(0.01)
        return False, None

    def __iter__(self) -> Iterator[VideoFrame]:
        self.damaged = []
        cap, self._cap = self._cap, None
        if cap is None or not cap.isOpened():
            cap = self._open()
        take = TimeSampler(self.fps, self.start, self.end)
        t0 = None
        index = -1
        try:
            while True:
                ok, image = self._read(cap)
                if not ok:
                    if index < 0:
                        raise VideoError(f"{self.path}: the camera delivered no frame")
                    raise VideoError(f"{self.path}: the camera stopped delivering frames after frame {index}")
                now = time.monotonic()
                t0 = now if t0 is None else t0
                index += 1
                what = take(now - t0)
                if what == TimeSampler.STOP:
                    return
                if what == TimeSampler.TAKE:
                    yield VideoFrame(index, round(now - t0, 6), cv2.cvtColor(image, cv2.COLOR_BGR2RGB))
        finally:
            cap.release()

    def __del__(self) -> None:
        cap = getattr(self, "_cap", None)
        if cap is not None:
            cap.release()
