"""vidaffect: frame-by-frame, face-by-face emotion analysis of videos.

>>> import vidaffect
>>> res = vidaffect.analyze("video.mp4")          # also: an image, a folder of images, a NumPy array,
>>> res.frames.head(); res.summary(); res.plot("va.png")   # a webcam index (with end=) or a stream URL
>>> len(res), res[0], res.emotions, res.pose, res.boxes, res.va
>>> vidaffect.Results.load("out/video.frames.parquet")

Inputs and the Results API: docs/pipeline.md ("Inputs", "Python API").
"""
from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

_LAZY = {
    "analyze": "vidaffect.pipeline.analyzer",
    "Analyzer": "vidaffect.pipeline.analyzer",
    "AnalyzeOptions": "vidaffect.pipeline.analyzer",
    "Results": "vidaffect.results.results",
    "open_video": "vidaffect.video.sources",
    "create_model": "vidaffect.models.registry",
    "list_models": "vidaffect.models.registry",
}


def __getattr__(name: str) -> Any:  # lazy: `import vidaffect` stays fast (no torch import)
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'vidaffect' has no attribute {name!r}")


__all__ = ["__version__", *_LAZY]
