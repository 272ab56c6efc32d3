"""Decoding of every input kind (one module per backend) and the demo video generator.

:func:`open_video` (in :mod:`vidaffect.video.sources`) opens any input: a video file
(:mod:`.pyav_backend`), an image or a folder of images (:mod:`.image_backend`), a NumPy array
(:mod:`.array_backend`), a webcam (:mod:`.webcam_backend`) or a stream URL (:mod:`.stream_backend`); each
backend's reader derives from :class:`~vidaffect.video.base.FrameReader`.

The names below are loaded on first use (PEP 562), so that light modules of this
package (e.g. :mod:`vidaffect.video.formats`, imported by every command's
argument parser) do not pay for importing PyAV.
"""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from vidaffect.video.array_backend import ArrayReader
    from vidaffect.video.base import FrameReader
    from vidaffect.video.image_backend import ImageFolderReader, ImageReader
    from vidaffect.video.pyav_backend import PyAVReader
    from vidaffect.video.sources import open_video, source_kind, source_name
    from vidaffect.video.stream_backend import StreamReader
    from vidaffect.video.types import VideoFrame, VideoInfo
    from vidaffect.video.webcam_backend import WebcamReader

_WHERE = {"open_video": "sources", "source_kind": "sources", "source_name": "sources", "FrameReader": "base",
          "PyAVReader": "pyav_backend", "ImageReader": "image_backend", "ImageFolderReader": "image_backend",
          "ArrayReader": "array_backend", "WebcamReader": "webcam_backend", "StreamReader": "stream_backend",
          "VideoFrame": "types", "VideoInfo": "types"}
__all__ = list(_WHERE)


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        value = getattr(importlib.import_module(f"{__name__}.{_WHERE[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
