"""One ``open_video(source)`` for every kind of input; each kind has its backend module.

========================================  ==============================  ===========================
source                                    backend                         result set name
========================================  ==============================  ===========================
video file (any other path)               :mod:`.pyav_backend`            file name without extension
image file (``.png``, ``.jpg``...)        :mod:`.image_backend`           file name without extension
folder (of images)                        :mod:`.image_backend`           folder name
NumPy array (H, W, 3) or (N, H, W, 3)     :mod:`.array_backend`           ``array``
``int`` N or ``"webcam:N"``               :mod:`.webcam_backend`          ``webcamN``
``rtsp://``, ``rtmp://``, ``http(s)://``  :mod:`.stream_backend`          host, port and path
========================================  ==============================  ===========================

Anything else raises a one-line :class:`~vidaffect.errors.VideoError` that lists what is accepted.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from vidaffect.errors import VideoError
from vidaffect.video.base import FrameReader
from vidaffect.video.formats import STREAM_SCHEMES, WEBCAM_PREFIX

ACCEPTED = ("a video or image file, a folder of images, a NumPy array (H, W, 3) or (N, H, W, 3) of uint8 RGB, "
            "a webcam index (0 or 'webcam:0') or a stream URL (" + ", ".join(s + "://" for s in STREAM_SCHEMES) + ")")


def webcam_index(source: Any) -> int | None:
    """The camera index of ``0`` / ``"webcam:0"``, else None (``bool`` is not an index)."""
    if isinstance(source, (int, np.integer)) and not isinstance(source, (bool, np.bool_)):
        return int(source)
    if isinstance(source, str) and source.lower().startswith(WEBCAM_PREFIX):
        rest = source[len(WEBCAM_PREFIX):].strip()
        if not (rest.isascii() and rest.isdigit()):
            raise VideoError(f"{source}: a webcam is webcam:N with N the camera's index (webcam:0, webcam:1...)")
        return int(rest)
    return None


def source_kind(source: Any) -> str:
    """What ``source`` is: "video", "image", "images", "array", "webcam" or "stream" (see the module
    docstring); :class:`VideoError` for a source of no kind (the path's existence is not checked here)."""
    from vidaffect.video.image_backend import is_image_path
    from vidaffect.video.stream_backend import url_scheme

    if isinstance(source, FrameReader):
        return source.info.kind
    if isinstance(source, np.ndarray):
        return "array"
    if webcam_index(source) is not None:
        return "webcam"
    if isinstance(source, str) and url_scheme(source) is not None:
        if url_scheme(source) in STREAM_SCHEMES:
            return "stream"
        from vidaffect.video.stream_backend import redact_url

        raise VideoError(f"{redact_url(source)}: unsupported URL scheme {url_scheme(source)!r}; vidaffect reads "
                         f"{', '.join(s + '://' for s in STREAM_SCHEMES)} (a local file: give its path)")
    if isinstance(source, (str, os.PathLike)):
        p = Path(source)
        if p.is_dir():
            return "images"
        return "image" if is_image_path(p) else "video"
    what = type(source).__name__
    if isinstance(source, (list, tuple)):
        what = f"{what} of {len(source)} item(s) (one input at a time; np.stack frames into one array)"
    raise VideoError(f"cannot analyse a {what}: give {ACCEPTED}")


def source_name(source: Any) -> str:
    """The default name of ``source``'s result set (see the module docstring), without opening it."""
    from vidaffect.video.array_backend import ARRAY_NAME
    from vidaffect.video.stream_backend import url_name

    kind = source_kind(source)
    if isinstance(source, FrameReader):
        return source.info.name or Path(str(source.info.path)).stem
    if kind == "array":
        return ARRAY_NAME
    if kind == "webcam":
        return f"webcam{webcam_index(source)}"
    if kind == "stream":
        return url_name(source)
    p = Path(source)
    return (p.resolve().name or "images") if kind == "images" else p.stem


def source_label(source: Any) -> str:
    """How messages name ``source``: its path, ``webcam:N``, ``array`` or the URL without secrets."""
    from vidaffect.video.stream_backend import redact_url

    kind = source_kind(source)
    if isinstance(source, FrameReader):
        return str(source.path)
    if kind == "array":
        return "array"
    if kind == "webcam":
        return f"{WEBCAM_PREFIX}{webcam_index(source)}"
    if kind == "stream":
        return redact_url(source)
    return str(source)


def open_video(source: Any, fps: float | None = None, start: float | None = None, end: float | None = None,
               strict: bool = False, image_fps: float | None = None,
               image_exts: frozenset[str] | None = None) -> FrameReader:
    """Open any input (see the module docstring) for streaming; raises :class:`VideoError` with a one-line cause.

    ``fps``/``start``/``end``: frame rate sampling and time range (seconds), as for a video; ``strict``: raise
    on damaged data instead of skipping it (files and streams); ``image_fps``: the frame rate of inputs without
    timestamps (a folder of images, an (N, H, W, 3) array; default 1); ``image_exts``: the extensions of a
    folder's images (with the dot; default every image extension).  A reader passed in is returned as it is.
    """
    if isinstance(source, FrameReader):
        return source
    kind = source_kind(source)
    if kind == "array":
        from vidaffect.video.array_backend import ArrayReader

        return ArrayReader(source, fps=fps, start=start, end=end, image_fps=image_fps)
    if kind == "webcam":
        from vidaffect.video.webcam_backend import WebcamReader

        return WebcamReader(webcam_index(source), fps=fps, start=start, end=end)
    if kind == "stream":
        from vidaffect.video.stream_backend import StreamReader

        return StreamReader(source, fps=fps, start=start, end=end, strict=strict)
    if kind == "images":
        from vidaffect.video.image_backend import ImageFolderReader

        return ImageFolderReader(source, fps=fps, start=start, end=end, image_fps=image_fps, exts=image_exts,
                                 strict=strict)
    if kind == "image":
        from vidaffect.video.image_backend import ImageReader

        return ImageReader(source, fps=fps, start=start, end=end)
    from vidaffect.video.pyav_backend import PyAVReader

    return PyAVReader(source, fps=fps, start=start, end=end, strict=strict)
