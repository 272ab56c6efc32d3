"""The CPU runtime: Google's LiteRT interpreter (``ai-edge-litert``) on the shipped ``.tflite`` files.

LiteRT's XNNPACK kernels use the full-range detector's sparsity and run these
small networks 2-4x faster per call than dense PyTorch on a CPU
(see docs/pipeline.md).  LiteRT's C++ logger prints one INFO line when it
creates the XNNPACK delegate; :func:`_quiet_stderr` keeps that off the
user's console.
"""
from __future__ import annotations

import contextlib
import os
import sys
from typing import Iterator

import numpy as np

from vidaffect.faces.runtime.base import NETWORKS, asset


@contextlib.contextmanager
def _quiet_stderr() -> Iterator[None]:
    """Silence file descriptor 2 for the duration (native libraries write there directly, past Python's sys.stderr)."""
    try:
        fd = sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):  # no real stderr (captured, redirected to an object)
        yield
        return
    sys.stderr.flush()
    saved = os.dup(fd)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), fd)
            yield
    finally:
        os.dup2(saved, fd)
        os.close(saved)


def available() -> bool:
    """Whether the ``ai-edge-litert`` package can be imported."""
    try:
        import ai_edge_litert.interpreter  # noqa: F401
    except ImportError:
        return False
    return True


class LiteRTNetwork:
    """A shipped network on LiteRT's interpreter (CPU, one thread by default: the pipeline runs other threads)."""

    runtime = "litert"

    def __init__(self, name: str, threads: int = 1) -> None:
        from ai_edge_litert.interpreter import Interpreter

        self.name, self.input_size = name, NETWORKS[name]
        with _quiet_stderr():
            self._interp = Interpreter(model_path=str(asset(name, ".tflite")), num_threads=threads)
            self._interp.allocate_tensors()
        self._input = self._interp.get_input_details()[0]["index"]
        # outputs in the graph's order (the order the converted PyTorch graph uses too)
        self._outputs = [d["index"] for d in self._interp.get_output_details()]
        self._invoke = self._interp.invoke

    def __call__(self, batch: np.ndarray) -> list[np.ndarray]:
        batch = np.ascontiguousarray(batch, dtype=np.float32)
        outs: list[list[np.ndarray]] = [[] for _ in self._outputs]
        for item in batch:  # the interpreter is sized for batch 1; its cost is per call anyway
            self._interp.set_tensor(self._input, item[None])
            self._invoke()
            for k, idx in enumerate(self._outputs):
                outs[k].append(self._interp.get_tensor(idx)[0])
        return [np.stack(o) if o else np.zeros((0,)) for o in outs]

    def close(self) -> None:
        self._interp = None
