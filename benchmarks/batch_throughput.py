"""Throughput (videos/minute) of `vidaffect batch`: local process pool vs Ray actors.

    python benchmarks/batch_throughput.py [--videos DIR] [--end 5] [--workers 2] [--engines local,ray]

Each engine processes the same videos into a fresh output directory; the wall
time covers everything a user waits for (hashing, worker start-up and model
loading, analysis, commit), Ray's own start-up included.
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from vidaffect.batch.ray_engine import run_ray
from vidaffect.batch.runner import run_local
from vidaffect.cli.commands.analyze import DEFAULT_EXTS, collect_videos
from vidaffect.pipeline.analyzer import AnalyzeOptions

DEFAULT_VIDEOS = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "videos"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--videos", default=str(DEFAULT_VIDEOS), help="folder of videos (default: the shared test videos)")
    ap.add_argument("--end", type=float, default=5.0, help="analyse at most this many seconds per video (default: %(default)s)")
    ap.add_argument("--workers", type=int, default=2, help="worker processes / Ray actors (default: %(default)s)")
    ap.add_argument("--engines", default="local,ray", help="comma-separated: local, ray (default: %(default)s)")
    args = ap.parse_args()
    videos, _ = collect_videos([args.videos], DEFAULT_EXTS)
    if not videos:
        raise SystemExit(f"no videos in {args.videos}")
    opts = AnalyzeOptions(end=args.end)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for engine in [e.strip() for e in args.engines.split(",") if e.strip()]:
            out = Path(tmp) / engine
            t0 = time.perf_counter()
            if engine == "ray":
                rep = run_ray(videos, out, opts, ("parquet",), plot=False, workers=args.workers, progress=False)
            else:
                rep = run_local(videos, out, opts, ("parquet",), plot=False, workers=args.workers, progress=False)
            wall = time.perf_counter() - t0
            rows.append((engine, args.workers, len(rep.done), len(rep.failed), rep.frames, wall,
                         60 * len(rep.done) / wall, rep.frames / wall))
    print(f"{len(videos)} videos from {args.videos}, first {args.end:g} s of each, {args.workers} workers")
    print(f"{'engine':<7} {'workers':>7} {'done':>5} {'failed':>6} {'frames':>7} {'wall s':>7} {'videos/min':>10} {'fps':>6}")
    for r in rows:
        print(f"{r[0]:<7} {r[1]:>7} {r[2]:>5} {r[3]:>6} {r[4]:>7} {r[5]:>7.1f} {r[6]:>10.2f} {r[7]:>6.1f}")


if __name__ == "__main__":
    main()
