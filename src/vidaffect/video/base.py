"""What every input backend shares: the reader interface and the time options (``fps``, ``start``, ``end``).

A reader (``PyAVReader``, ``ImageReader``, ``ImageFolderReader``, ``ArrayReader``, ``WebcamReader``,
``StreamReader``) is made by :func:`vidaffect.video.open_video`; it has ``info`` (a :class:`VideoInfo`),
``path`` (what error messages name), ``fps``/``start``/``end``, ``damaged`` (damaged spans met by the last
iteration, only file and stream readers find any) and yields :class:`VideoFrame` objects when iterated.
"""
from __future__ import annotations

import math
from typing import Iterator

from vidaffect.errors import VideoError
from vidaffect.video.types import VideoFrame, VideoInfo


def check_time_options(label: object, fps: float | None, start: float | None, end: float | None) -> None:
    """Raise :class:`VideoError` (one line, naming ``label``) for unusable ``--fps``/``--start``/``--end``."""
    for name, value in (("--fps", fps), ("--start", start), ("--end", end)):
        if value is not None and not math.isfinite(value):
            raise VideoError(f"{label}: {name} must be a finite number of seconds, got {value}")
    if fps is not None and fps <= 0:
        raise VideoError(f"{label}: --fps must be positive, got {fps}")
    if start is not None and start < 0:
        raise VideoError(f"{label}: --start must be >= 0 seconds, got {start}")
    if end is not None and end <= 0:
        raise VideoError(f"{label}: --end must be > 0 seconds, got {end}")
    if start is not None and end is not None and end <= start:
        raise VideoError(f"{label}: --end ({end}) must be after --start ({start})")


class TimeSampler:
    """The frame choice of ``--fps``/``--start``/``--end`` on timestamps, as the PyAV backend makes it: frames
    before ``start`` are skipped, the first frame at or after ``end`` stops the input, and with ``fps`` the
    first frame at or after each multiple of ``1 / fps`` (from ``start``) is taken."""

    SKIP, TAKE, STOP = 0, 1, 2

    def __init__(self, fps: float | None, start: float | None, end: float | None) -> None:
        self.start, self.end = start, end
        step = 1.0 / fps if fps else None
        self.step = None if step is not None and step < 1e-6 else step
        self.next_sample = start or 0.0

    def __call__(self, t: float) -> int:
        if self.start is not None and t < self.start - 1e-6:
            return self.SKIP
        if self.end is not None and t >= self.end:
            return self.STOP
        if self.step is not None:
            if t + 1e-6 < self.next_sample:
                return self.SKIP
            self.next_sample += (math.floor((t + 1e-6 - self.next_sample) / self.step) + 1) * self.step
        return self.TAKE


class FrameReader:
    """Base class of the input backends (see the module docstring)."""

    path: object
    info: VideoInfo
    fps: float | None = None
    start: float | None = None
    end: float | None = None
    live = False  # a camera or live stream: no end of its own
    # every frame is a picture of its own (an image, a folder's images, an (H, W, 3) array): the analyser
    # searches each one for faces afresh, without the video rules (flow between detections, confirmation)
    stills = False
    # frames before this index are decoded but not given out (``--resume``: the analysis continues at a
    # frame it reached before); only backends that set ``can_skip`` honour it
    skip_until = 0
    can_skip = False

    def __init__(self) -> None:
        self.damaged: list[dict] = []

    def __iter__(self) -> Iterator[VideoFrame]:  # pragma: no cover - every backend defines it
        raise NotImplementedError

    def __repr__(self) -> str:
        i = self.info
        return f"<{type(self).__name__} {self.path} {i.width}x{i.height} {i.kind}>"
