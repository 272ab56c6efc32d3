"""Runtimes for MediaPipe's face networks: LiteRT (CPU) and PyTorch (CUDA, batches), one interface.

>>> net = load_network("face_detection_short_range", runtime="auto", device="cpu")
>>> regressors, scores = net(batch)   # batch: (N, 128, 128, 3) float32 in [-1, 1]
"""
from __future__ import annotations

from vidaffect.errors import VidaffectError
from vidaffect.faces.runtime.base import NETWORKS, FaceNetwork, asset

RUNTIMES = ("auto", "litert", "torch")


def resolve(runtime: str, device: str = "cpu") -> str:
    """The concrete runtime for ``runtime`` on ``device``.

    auto: LiteRT on a CPU (measured 2-4x faster per call than PyTorch here,
    docs/pipeline.md), PyTorch on a GPU; PyTorch on a CPU too if LiteRT is not installed.
    """
    from vidaffect.faces.runtime import litert

    if runtime not in RUNTIMES:
        raise VidaffectError(f"unknown face runtime {runtime!r}; choose one of {', '.join(RUNTIMES)}")
    on_cpu = str(device).split(":")[0] == "cpu"
    if runtime == "auto":
        return "litert" if on_cpu and litert.available() else "torch"
    if runtime == "litert":
        if not on_cpu:
            raise VidaffectError(f"the litert face runtime runs on the CPU only; use --face-runtime torch "
                                 f"(or auto) with device {device}")
        if not litert.available():
            raise VidaffectError("the litert face runtime needs the ai-edge-litert package: pip install ai-edge-litert")
    return runtime


def load_network(name: str, runtime: str = "auto", device: str = "cpu", precision: str = "fp32") -> FaceNetwork:
    """Load shipped network ``name`` on the resolved runtime."""
    kind = resolve(runtime, device)
    if kind == "litert":
        from vidaffect.faces.runtime.litert import LiteRTNetwork

        return LiteRTNetwork(name)
    from vidaffect.faces.runtime.torch_runtime import TorchNetwork

    try:
        return TorchNetwork(name, device, precision)
    except (RuntimeError, AssertionError) as e:  # no CUDA build / no such device
        raise VidaffectError(f"cannot load the face networks on {device}: {str(e).splitlines()[0]}") from None


__all__ = ["NETWORKS", "RUNTIMES", "FaceNetwork", "asset", "load_network", "resolve"]
