"""Video decoding (one module per backend) and the demo video generator.

The names below are loaded on first use (PEP 562), so that light modules of this
package (e.g. :mod:`vidaffect.video.formats`, imported by every command's
argument parser) do not pay for importing PyAV.
"""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from vidaffect.video.pyav_backend import PyAVReader, open_video
    from vidaffect.video.types import VideoFrame, VideoInfo

__all__ = ["PyAVReader", "VideoFrame", "VideoInfo", "open_video"]
_WHERE = {"PyAVReader": "pyav_backend", "open_video": "pyav_backend", "VideoFrame": "types", "VideoInfo": "types"}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        value = getattr(importlib.import_module(f"{__name__}.{_WHERE[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
