"""Speed of registered frame emotion models on CPU: ms per face at batch 1, faces/s at batch 64.

Usage::

    python benchmarks/model_speed.py [--models 'exprnet*' 'mini*'] [--threads 2] [--seconds 3] [--tta]

Models whose weights are not installed are timed with random weights (same
speed) and marked so.  Time covers ``model.predict`` on uint8 crops of the
model's input size: normalisation, forward pass and softmax.
"""
from __future__ import annotations

import argparse
import platform
import statistics

import numpy as np
import torch

from vidaffect.errors import VidaffectError
from vidaffect.evaluation.speed import random_crops, time_calls
from vidaffect.models import FrameEmotionModel, create_model, list_models


def bench(model: FrameEmotionModel, seconds: float) -> tuple[float, float]:
    """(median ms per face at batch 1, faces per second at batch 64)."""
    rng = np.random.default_rng(0)
    one = random_crops(model, 1, rng)
    many = random_crops(model, 64, rng)
    t1 = time_calls(lambda: model.predict(one), 20, warmup=10, seconds=seconds)
    t64 = time_calls(lambda: model.predict(many), 3, warmup=1, seconds=seconds)
    return 1000 * statistics.median(t1), 64 / statistics.median(t64)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", nargs="+", default=["*"], help="globs over registered model names (default: all frame models)")
    ap.add_argument("--threads", type=int, default=2, help="torch CPU threads (default 2)")
    ap.add_argument("--seconds", type=float, default=3.0, help="time budget per measurement")
    ap.add_argument("--tta", action="store_true", help="also time each model with horizontal-flip TTA")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    print(f"# {platform.processor() or platform.machine()}, torch {torch.__version__}, {args.threads} threads")
    print(f"{'model':<24} {'params':>8} {'input':>9} {'ms/face @1':>11} {'faces/s @64':>12}  weights")
    names = sorted({n for pattern in args.models for n in list_models(pattern)})
    for name in names:
        variants = [False, True] if args.tta else [False]
        for tta in variants:
            note = "shipped/user"
            try:
                model = create_model(name, tta_flip=tta)
            except VidaffectError:
                try:
                    model = create_model(name, pretrained=False, tta_flip=tta)
                    note = "random (not installed)"
                except VidaffectError as exc:
                    print(f"{name:<24} skipped: {exc}")
                    continue
            if not isinstance(model, FrameEmotionModel) or model.temporal:
                break
            params = sum(p.numel() for p in model.net.parameters()) if hasattr(model, "net") else 0
            ms, fps = bench(model, args.seconds)
            label = name + (" +flip" if tta else "")
            size = f"{model.crop.size}x{model.crop.size}"
            print(f"{label:<24} {params / 1e6:>7.2f}M {size:>9} {ms:>11.2f} {fps:>12.0f}  {note}", flush=True)


if __name__ == "__main__":
    main()
