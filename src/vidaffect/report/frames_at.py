"""Decode the frames at a set of times with PyAV: seek for far targets, decode forward for near ones.

Times are the ``time_s`` of ``Results.frames`` (presentation time relative to
the video stream's start, as :mod:`vidaffect.video.pyav_backend` counts them),
so the frame returned for a time is the one the analysis saw.
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterator

import av
import numpy as np

from vidaffect.errors import VideoError
from vidaffect.video.pyav_backend import open_container

# Decoding forward is cheaper than seeking (which restarts at a key frame) for targets this close.
SEEK_AHEAD_S = 2.0


def rotate(image: np.ndarray, rotation: int) -> np.ndarray:
    """Apply a counter-clockwise display rotation of a multiple of 90 degrees (as the reader does)."""
    k = (int(rotation) // 90) % 4
    return np.ascontiguousarray(np.rot90(image, k)) if k else image


def frames_at(path: str | Path, times: list[float], rotation: int = 0) -> Iterator[tuple[float, np.ndarray]]:
    """Yield ``(requested time, RGB image)`` for each distinct time in ascending order (the first frame at or
    after the time, within half a frame).  Times past the end of the video are skipped."""
    path = Path(path)
    container = open_container(path)
    try:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        tb = float(stream.time_base)
        rate = float(stream.average_rate or stream.guessed_rate or 25)
        half = 0.5 / max(rate, 1.0)
        base = stream.start_time
        decoder, pos = None, None
        frame = None
        for target in sorted(set(float(t) for t in times)):
            if decoder is None or pos is None or target < pos - half or target - pos > SEEK_AHEAD_S:
                if decoder is not None or target > SEEK_AHEAD_S:
                    offset = int((target - 1.0 / rate) / tb) + (base or 0)
                    container.seek(max(offset, base or 0), stream=stream, backward=True)
                decoder, frame = container.decode(stream), None
            if frame is not None and pos is not None and abs(pos - target) <= half:
                yield target, rotate(frame.to_ndarray(format="rgb24"), rotation)
                continue
            found = False
            for frame in decoder:
                if frame.pts is None:
                    continue
                if base is None:
                    base = frame.pts
                pos = (frame.pts - base) * tb
                if pos >= target - half:
                    found = True
                    break
            if not found:
                break
            yield target, rotate(frame.to_ndarray(format="rgb24"), rotation)
    except av.error.FFmpegError as exc:
        raise VideoError(f"{path}: cannot decode ({exc.strerror or type(exc).__name__})") from None
    finally:
        container.close()
