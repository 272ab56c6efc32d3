"""See it: a self-contained interactive HTML report per video, a batch index page, an annotated video.

Imports are lazy so that the command line (which only needs the option names) starts fast.
"""
from __future__ import annotations

from typing import Any

VIDEO_MODES = ("auto", "link", "proxy", "none")
"""How the report shows the video: link to the source, embed a 240p proxy, none, or auto."""

_LAZY = {
    "annotate_video": "vidaffect.report.annotate",
    "ReportOptions": "vidaffect.report.html",
    "build_report": "vidaffect.report.html",
    "build_index": "vidaffect.report.index",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'vidaffect.report' has no attribute {name!r}")


__all__ = ["VIDEO_MODES", *_LAZY]
