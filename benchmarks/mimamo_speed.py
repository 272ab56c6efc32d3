"""MIMAMO-Net speed on CPU: phase differences, network forward, ResNet-50, per frame.

    python benchmarks/mimamo_speed.py [--threads 2] [--repeats 3] [--video PATH --seconds 5]

Prints a table of milliseconds and frames per second per stage for 64-frame snippets
(the reference's snippet length).  The "MIMAMO path" row is gray conversion + phase
differences + network, i.e. everything but the ResNet-50 macro features, which are
reported on their own.  With ``--video``, also times ``vidaffect analyze`` on the first
``--seconds`` of the video with the default model and with ``--model mimamo``
(random weights: the timing does not depend on them).
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import torch


def _best(fn, repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def bench_stages(threads: int, repeats: int, length: int = 64) -> list[tuple[str, float]]:
    from vidaffect.models.mimamo.inference import MimamoRunner
    from vidaffect.models.mimamo.network import TwoStreamRNN
    from vidaffect.models.mimamo.resnet50_ferplus_dag import Resnet50FerplusDag

    torch.set_num_threads(threads)
    runner = MimamoRunner(TwoStreamRNN(), Resnet50FerplusDag(), length=length, stride=length)
    rng = np.random.default_rng(0)
    n = length + 2 * runner.context
    crops = rng.integers(0, 255, (n, 112, 112, 3), dtype=np.uint8)
    gray = runner.gray(crops)
    feats = torch.rand(n, 2048)
    t_gray = _best(lambda: runner.gray(crops), repeats) / n
    t_phase = _best(lambda: runner.phase_inputs(gray, runner.context, runner.context + length), repeats) / length
    l1, l2 = runner.phase_inputs(gray, runner.context, runner.context + length)
    rgb = feats[:length]

    def net():
        with torch.inference_mode():
            runner.fast_net(l1[None], l2[None], rgb[None])

    t_net = _best(net, repeats) / length
    t_resnet = _best(lambda: runner.resnet_features(crops[:16]), max(1, repeats - 1)) / 16
    return [("gray + resize (Pillow)", t_gray), ("phase differences", t_phase), ("network forward", t_net),
            ("MIMAMO path (no ResNet)", t_gray + t_phase + t_net), ("ResNet-50 FER+ (224x224)", t_resnet),
            ("all incl. ResNet-50", t_gray + t_phase + t_net + t_resnet)]


def bench_analyze(video: str, seconds: float, threads: int) -> list[tuple[str, float]]:
    from vidaffect.errors import ModelError
    from vidaffect.models import DEFAULT_MODEL, create_model
    from vidaffect.pipeline.analyzer import Analyzer

    torch.set_num_threads(threads)
    try:
        default = create_model(DEFAULT_MODEL)
    except ModelError:  # shipped weights not there yet: same architecture, random weights
        default = create_model(DEFAULT_MODEL, pretrained=False)
    rows = []
    for name, model in ((f"analyze, {DEFAULT_MODEL}", default),
                        ("analyze --model mimamo", create_model("mimamo", pretrained=False))):
        with Analyzer(model_instance=model, end=seconds) as an:
            t0 = time.perf_counter()
            res = an.analyze(video)
            dt = time.perf_counter() - t0
        n = int(res.frames["frame"].nunique())
        rows.append((f"{name} ({n} frames)", dt / max(n, 1)))
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=2, help="torch threads (default 2)")
    ap.add_argument("--repeats", type=int, default=3, help="timed repeats, best kept (default 3)")
    ap.add_argument("--video", help="also time vidaffect analyze on this video")
    ap.add_argument("--seconds", type=float, default=5.0, help="seconds of --video to analyse (default 5)")
    args = ap.parse_args()
    rows = bench_stages(args.threads, args.repeats)
    if args.video:
        rows += bench_analyze(args.video, args.seconds, args.threads)
    print(f"MIMAMO-Net CPU speed, {args.threads} torch thread(s), 64-frame snippets")
    print(f"{'stage':<44} {'ms/frame':>9} {'fps':>8}")
    for name, sec in rows:
        print(f"{name:<44} {sec * 1000:9.2f} {1 / sec if sec > 0 else float('inf'):8.1f}")


if __name__ == "__main__":
    main()
