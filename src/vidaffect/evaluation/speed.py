"""Cost per face of frame emotion models in core-milliseconds: one torch thread, a batch of faces, fp32 and bf16.

Usage::

    python -m vidaffect.evaluation.speed [--models exprnet-s exprnet-m] [--batch 64] [--repeats 15]
                                         [--precision fp32 bf16]

Times ``model.predict`` (normalisation, forward pass, softmax; the temperature of a calibrated checkpoint
included) on random uint8 crops of the model's input size, with ``torch.set_num_threads(1)``, so the time per
face is also the CPU time per face ("core-ms").  Each repeat times ``--runs`` calls; the figure is the median
of the repeats' per-face times (the minimum is printed too: on a busy machine it is the better estimate of
the unloaded cost).
"""
from __future__ import annotations

import argparse
import statistics
import time
from dataclasses import dataclass

import numpy as np
import torch


@dataclass
class FaceCost:
    model: str
    precision: str
    batch: int
    median_ms: float  # per face
    min_ms: float
    repeats: int


def random_crops(model, n: int, rng: np.random.Generator | None = None) -> np.ndarray:
    """``n`` random uint8 crops of the model's input size and colour (``rng``: default seed 0)."""
    shape = (model.crop.size, model.crop.size) + (() if model.crop.color == "gray" else (3,))
    rng = np.random.default_rng(0) if rng is None else rng
    return rng.integers(0, 256, (n, *shape), dtype=np.uint8)


def time_calls(fn, repeats: int, runs: int = 1, warmup: int = 0, seconds: float = 0.0) -> list[float]:
    """Wall-clock seconds of each timed repeat of ``runs`` calls of ``fn``, after ``warmup`` untimed calls: at
    least ``repeats`` repeats, and more until ``seconds`` have passed since the first."""
    for _ in range(warmup):
        fn()
    times: list[float] = []
    start = time.perf_counter()
    while len(times) < repeats or time.perf_counter() - start < seconds:
        t0 = time.perf_counter()
        for _ in range(runs):
            fn()
        times.append(time.perf_counter() - t0)
    return times


def face_cost(model, precision: str, batch: int = 64, repeats: int = 15, runs: int = 5, warmup: int = 5) -> FaceCost:
    """Median and minimum milliseconds per face of ``model.predict`` on batches of ``batch`` random crops."""
    crops = random_crops(model, batch)
    model.set_precision(precision)
    times = time_calls(lambda: model.predict(crops), repeats, runs, warmup)
    per_face = [t * 1000 / (runs * batch) for t in times]
    return FaceCost(model.name, model.precision, batch, statistics.median(per_face), min(per_face), repeats)


def main(argv: list[str] | None = None) -> int:
    from vidaffect.models import create_model

    ap = argparse.ArgumentParser(prog="python -m vidaffect.evaluation.speed", description=__doc__.splitlines()[0])
    ap.add_argument("--models", nargs="+", default=["exprnet-s", "exprnet-m"],
                    help="registered model names or .safetensors checkpoints")
    ap.add_argument("--batch", type=int, default=64, help="faces per predict call")
    ap.add_argument("--repeats", type=int, default=15, help="timed repeats (the median is reported)")
    ap.add_argument("--runs", type=int, default=5, help="predict calls per repeat")
    ap.add_argument("--precision", nargs="+", default=["fp32", "bf16"], choices=["fp32", "bf16"],
                    help="inference arithmetic to time (bf16: autocast)")
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads (1: ms per face = core-ms per face)")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    print(f"# torch {torch.__version__}, {args.threads} thread(s), batch {args.batch}, median (min) of "
          f"{args.repeats} repeats x {args.runs} calls")
    for name in args.models:
        model = create_model(name, device="cpu")
        for precision in args.precision:
            c = face_cost(model, precision, args.batch, args.repeats, args.runs)
            print(f"{name:<24} {c.precision:<5} {c.median_ms:7.3f} ms/face  (min {c.min_ms:.3f})", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
