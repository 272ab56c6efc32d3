"""Speed of the micro-expression tools: TV-L1 + strain per onset/apex pair, and LOSO training.

    python benchmarks/micro_speed.py                    # everything, 1 epoch per fold
    python benchmarks/micro_speed.py --folds 3          # time 3 of the 26 folds, extrapolate
    python benchmarks/micro_speed.py --skip-train --pairs 20

Part 1 times ``compute_features`` (TV-L1 flow with scale step 0.5, magnitude,
optical strain, min-max scaling) on 227x227 textured frames, and preprocessing
throughput of a synthetic data set with 1 and 2 worker processes.  Part 2 trains
DSSN (F G, add, batch 32) leave-one-subject-out on a synthetic set of CASME II's
size (255 samples, 26 subjects, 5 classes) and reports the time per epoch.
"""
from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

# torch and the training code are imported inside bench_loso: preprocessing workers are
# spawned and re-import this module, as they would import the small `vidaffect` entry point
from vidaffect.micro.layouts import MicroSample
from vidaffect.micro.preprocess import PreprocessConfig, compute_features, preprocess_samples
from vidaffect.motion.flow import tvl1_flow
from vidaffect.motion.strain import optical_strain


def textured_pair(size: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    base = cv2.GaussianBlur(rng.random((size, size)).astype(np.float32), (0, 0), 2.0)
    base = cv2.normalize(base, None, 0, 255, cv2.NORM_MINMAX)
    m = np.float32([[1.01, 0, 1.0], [0, 1.0, -0.5]])  # small zoom + shift
    apex = cv2.warpAffine(base, m, (size, size), borderMode=cv2.BORDER_REFLECT)
    return base.astype(np.uint8), apex.astype(np.uint8)


def bench_features(pairs: int, size: int = 227) -> list[tuple[str, str]]:
    cv2.setNumThreads(1)
    rng = np.random.default_rng(0)
    data = [textured_pair(size, rng) for _ in range(pairs)]
    tvl1_flow(*data[0])  # warm-up
    t0 = time.perf_counter()
    flows = [tvl1_flow(a, b) for a, b in data]
    t_flow = (time.perf_counter() - t0) / pairs
    t0 = time.perf_counter()
    for f in flows:
        optical_strain(f)
    t_strain = (time.perf_counter() - t0) / pairs
    t0 = time.perf_counter()
    for a, b in data:
        compute_features(a, b, size=size)
    t_all = (time.perf_counter() - t0) / pairs
    return [
        (f"TV-L1 flow {size}x{size} (1 thread)", f"{t_flow * 1000:.0f} ms / pair"),
        (f"optical strain {size}x{size}", f"{t_strain * 1000:.1f} ms / pair"),
        ("all DSSN maps (flow, magnitude, strain, scaling)", f"{t_all * 1000:.0f} ms / pair"),
    ]


def _cpu_seconds() -> float:
    """User + system CPU time of this process and its finished children."""
    a, b = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return a.ru_utime + a.ru_stime + b.ru_utime + b.ru_stime


def bench_preprocess(samples: int, size: int = 227) -> list[tuple[str, str]]:
    rng = np.random.default_rng(1)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        items = []
        for i in range(samples):
            a, b = textured_pair(280, rng)
            folder = tmp / "data" / f"sub{i % 4:02d}" / f"EP{i:03d}"
            folder.mkdir(parents=True)
            cv2.imwrite(str(folder / "reg_img1.jpg"), a)
            cv2.imwrite(str(folder / "reg_img5.jpg"), b)
            items.append(MicroSample(f"sub{i % 4:02d}", f"EP{i:03d}", "x", 1, 5, 9, folder / "reg_img1.jpg", folder / "reg_img5.jpg"))
        for workers in (1, 2):
            cpu0 = _cpu_seconds()
            t0 = time.perf_counter()
            preprocess_samples(items, tmp / f"cache{workers}", "casme2", PreprocessConfig(size=size), workers=workers, progress=False)
            dt = time.perf_counter() - t0
            cpu = _cpu_seconds() - cpu0
            rows.append((f"preprocess {samples} samples, {workers} worker(s): wall / CPU time",
                         f"{dt:.1f} s / {cpu:.1f} s ({dt / samples * 1000:.0f} ms wall per sample, {cpu / dt:.2f} cores busy)"))
        t0 = time.perf_counter()
        preprocess_samples(items, tmp / "cache2", "casme2", PreprocessConfig(size=size), workers=2, progress=False)
        rows.append(("re-run on a complete cache (skips all)", f"{time.perf_counter() - t0:.2f} s"))
    return rows


def bench_loso(epochs: int, folds: int, batch: int, device_threads: int) -> list[tuple[str, str]]:
    import torch

    from vidaffect.micro.datasets import MicroFeatureSet
    from vidaffect.micro.train import MicroTrainConfig, loso_folds, train_network

    if device_threads:
        torch.set_num_threads(device_threads)
    rng = np.random.default_rng(2)
    n, subjects, classes = 255, 26, 5
    feats = rng.integers(0, 256, (n, 5, 227, 227), dtype=np.uint8)
    labels = rng.integers(0, classes, n)
    subj = np.array([f"sub{i % subjects:02d}" for i in range(n)])
    data = MicroFeatureSet.from_arrays(feats, labels, subj, [f"c{i}" for i in range(classes)])
    cfg = MicroTrainConfig(model="DSSN", image_mode=("F", "G"), epochs=epochs, batch_size=batch, input_size=227)
    cfg.validate()
    all_folds = loso_folds(data.subjects)
    chosen = all_folds[: folds or len(all_folds)]
    t0 = time.perf_counter()
    epoch_secs = []
    for i, (_, train_idx, _) in enumerate(chosen):
        _, secs = train_network(data, train_idx, cfg, i)
        epoch_secs += secs
        print(f"  fold {i + 1}/{len(chosen)}: {sum(secs):.1f} s", file=sys.stderr)
    total = time.perf_counter() - t0
    per_fold_epoch = float(np.mean(epoch_secs))
    full_epoch = per_fold_epoch * len(all_folds)
    note = "" if len(chosen) == len(all_folds) else f" (extrapolated from {len(chosen)} folds)"
    return [
        (f"DSSN training, one fold-epoch (~{n - n // subjects} samples, batch {batch}, {torch.get_num_threads()} threads)", f"{per_fold_epoch:.1f} s"),
        (f"LOSO epoch = 26 fold-epochs{note}", f"{full_epoch / 60:.1f} min"),
        (f"LOSO with the reference's 15 epochs{note}", f"{full_epoch * 15 / 3600:.1f} h"),
        (f"measured: {len(chosen)} fold(s) x {epochs} epoch(s)", f"{total:.0f} s"),
    ]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--pairs", type=int, default=10, help="onset/apex pairs to time")
    p.add_argument("--samples", type=int, default=32, help="samples for the preprocessing throughput")
    p.add_argument("--epochs", type=int, default=1, help="epochs per LOSO fold")
    p.add_argument("--folds", type=int, default=0, help="time only this many folds and extrapolate (0: all 26)")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: default)")
    p.add_argument("--skip-train", action="store_true")
    args = p.parse_args()
    rows = bench_features(args.pairs) + bench_preprocess(args.samples)
    if not args.skip_train:
        rows += bench_loso(args.epochs, args.folds, args.batch_size, args.threads)
    width = max(len(r[0]) for r in rows)
    print(f"{'measure':<{width}}  value")
    for name, value in rows:
        print(f"{name:<{width}}  {value}")


if __name__ == "__main__":
    main()
