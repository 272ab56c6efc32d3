"""Face networks per call: LiteRT vs PyTorch (fp32, bf16) at batch 1 and 8, medians of several runs.

Usage::

    python benchmarks/face_runtime_speed.py [--repeats 7] [--calls 20] [--device cpu|cuda] [--threads 1]

Prints milliseconds per image for each shipped network (BlazeFace short and
full range, the face mesh) and runtime, and the ratio to LiteRT measured in
the same run.  This is the measurement behind ``--face-runtime auto``
(LiteRT on the CPU, PyTorch on a GPU).
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time

import numpy as np


def per_image_ms(net, batch: np.ndarray, calls: int, repeats: int) -> float:
    for _ in range(3):  # warm-up (XNNPACK packing, torch kernels)
        net(batch)
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        for _ in range(calls):
            net(batch)
        times.append((time.perf_counter() - t) / calls / len(batch) * 1000)
    return statistics.median(times)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=7, help="timed runs per case; the median is printed (default: 7)")
    ap.add_argument("--calls", type=int, default=20, help="calls per timed run (default: 20)")
    ap.add_argument("--device", default="cpu", help="torch device for the PyTorch rows (default: cpu)")
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads (default: 1, as the pipeline)")
    args = ap.parse_args()
    if args.repeats < 1 or args.calls < 1:
        sys.exit("--repeats and --calls must be >= 1")
    import torch

    from vidaffect.errors import VidaffectError
    from vidaffect.faces.runtime import NETWORKS, load_network
    from vidaffect.faces.runtime.torch_runtime import cpu_has_amx_bf16
    from vidaffect.utils.device import check_device

    try:
        check_device(args.device)
    except VidaffectError as e:
        sys.exit(str(e))
    torch.set_num_threads(args.threads)
    cases = [("litert", "fp32", 1)] if args.device == "cpu" else []
    cases += [("torch", "fp32", 1), ("torch", "fp32", 8)]
    if args.device != "cpu" or cpu_has_amx_bf16():
        cases += [("torch", "bf16", 1), ("torch", "bf16", 8)]
    rng = np.random.default_rng(0)
    print(f"ms per image, median of {args.repeats} x {args.calls} calls (device {args.device}, "
          f"torch threads {args.threads})")
    print(f"{'network':<36}{'runtime':<9}{'precision':<11}{'batch':>6}{'ms/image':>10}{'vs litert':>11}")
    for name, size in NETWORKS.items():
        base = None
        for runtime, precision, batch in cases:
            net = load_network(name, runtime, "cpu" if runtime == "litert" else args.device, precision)
            x = rng.uniform(-1, 1, (batch, size, size, 3)).astype(np.float32)
            ms = per_image_ms(net, x, args.calls, args.repeats)
            base = ms if runtime == "litert" else base
            rel = f"{ms / base:.2f}x" if base else "-"
            print(f"{name:<36}{runtime:<9}{precision:<11}{batch:>6}{ms:>10.2f}{rel:>11}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
