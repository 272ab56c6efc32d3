"""The PyTorch runtime: the converted networks on any torch device, in batches, optionally in bf16/fp16.

Used for CUDA (the whole face stage then runs on the GPU) and for large
batches; on a CPU LiteRT is faster per call (see ``runtime.resolve``).
"""
from __future__ import annotations

import contextlib
from typing import Iterator

import numpy as np
import torch

from vidaffect.faces.runtime.base import NETWORKS, asset
from vidaffect.faces.runtime.torch_graph import load_graph

DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}


def cpu_has_amx_bf16() -> bool:
    """Whether this CPU multiplies bf16 in AMX tiles (Linux /proc/cpuinfo; False where unknown)."""
    try:
        with open("/proc/cpuinfo") as f:
            return any(line.startswith("flags") and " amx_bf16" in line for line in f)
    except OSError:
        return False


def auto_precision(device: torch.device) -> str:
    """bf16 on a CPU with AMX (1.6-2.3x faster, same faces found, scores within 0.01), else fp32."""
    return "bf16" if device.type == "cpu" and cpu_has_amx_bf16() else "fp32"


@contextlib.contextmanager
def _ieee_fp32_convs(device: torch.device) -> Iterator[None]:
    """Real float32 convolutions on a GPU for the duration.

    PyTorch lets cuDNN run float32 convolutions in TF32 (10-bit mantissa) on Ampere and newer GPUs by
    default; over these ~100-layer graphs that moves raw outputs by up to ~0.5 and scores by ~1e-3 from
    LiteRT's (measured with TF32 emulated on a CPU).  ``precision="fp32"`` means float32; bf16/fp16 are
    the fast choices.
    """
    if device.type != "cuda":
        yield
        return
    conv = getattr(torch.backends.cudnn, "conv", None)
    if conv is not None and hasattr(conv, "fp32_precision"):  # torch >= 2.9 (mixing in the old flag raises there)
        before = conv.fp32_precision
        conv.fp32_precision = "ieee"
        try:
            yield
        finally:
            conv.fp32_precision = before
    else:
        before = torch.backends.cudnn.allow_tf32
        torch.backends.cudnn.allow_tf32 = False
        try:
            yield
        finally:
            torch.backends.cudnn.allow_tf32 = before


class TorchNetwork:
    """A shipped network as a PyTorch module.

    precision: fp32, bf16 or fp16 (autocast; outputs are float32), or auto (:func:`auto_precision`).
    An explicit ``fp32`` on a GPU turns TF32 convolutions off for each call (a process-wide cuDNN flag,
    restored afterwards); ``auto`` leaves the host's setting alone.
    """

    runtime = "torch"

    def __init__(self, name: str, device: str | torch.device = "cpu", precision: str = "fp32") -> None:
        if precision not in (*DTYPES, "auto"):
            raise ValueError(f"unknown precision {precision!r}; choose one of {sorted(DTYPES)} or auto")
        self.name, self.input_size = name, NETWORKS[name]
        self.device = torch.device(device)
        self.precision = auto_precision(self.device) if precision == "auto" else precision
        self._ieee = precision == "fp32"
        self.module = load_graph(asset(name, ".safetensors")).to(self.device)

    @torch.inference_mode()
    def run_tensor(self, batch: torch.Tensor) -> list[torch.Tensor]:
        """Run an NHWC float tensor already on the device; outputs stay on the device (float32)."""
        if self.precision == "fp32":
            with _ieee_fp32_convs(self.device) if self._ieee else contextlib.nullcontext():
                return self.module(batch.float())
        with torch.autocast(self.device.type, dtype=DTYPES[self.precision]):
            return [o.float() for o in self.module(batch)]

    def __call__(self, batch: np.ndarray) -> list[np.ndarray]:
        x = torch.from_numpy(np.ascontiguousarray(batch, dtype=np.float32)).to(self.device)
        return [o.cpu().numpy() for o in self.run_tensor(x)]

    def close(self) -> None:
        self.module = None
