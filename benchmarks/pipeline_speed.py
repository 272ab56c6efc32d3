"""Pipeline speed and memory: decode-only vs the full default pipeline, on the same files, in one run.

Usage:
    python benchmarks/pipeline_speed.py [--videos NAME ...] [--long-minutes 10] [--threads N]

For each video it runs decode-only and the pipeline ``--repeats`` times,
interleaved (this machine's load changes from second to second), and prints
the medians of decode-only fps (PyAV decode + RGB conversion, what
the pipeline's reader does), full-pipeline fps (every frame: detect, mesh,
track, align, default model, results; BlazeFace on every 3rd frame and
optical flow in between, the default), their ratio, and the peak RSS.
Each measurement runs in its own child process so peak RSS is per run.  With
``--long-minutes M`` it also builds an M-minute video by concatenating the
first clip (packets remuxed, no re-encoding) and reports the full pipeline's
peak RSS on it, to show that memory does not grow with video length.

``--baseline PYTHON:SRC`` adds a third interleaved run per repeat: the default
pipeline of another checkout (for example the previous release, with its own
virtual environment), so new-vs-old speed is measured in the same run:

    python benchmarks/pipeline_speed.py --baseline /tmp/mpvenv/bin/python:/tmp/oldtree/src

``--option KEY=VALUE`` (repeatable) sets any analyze option of the new
pipeline (``--option detector=full``, ``--option min_face=40``).
"""
from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import resource
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "videos"


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _decode_only(path: str, q) -> None:
    from vidaffect.video import open_video

    t = time.perf_counter()
    n = sum(1 for _ in open_video(path))
    q.put({"frames": n, "seconds": time.perf_counter() - t, "rss_mb": _peak_rss_mb()})


def _pipeline(path: str, threads: int, options: dict, q) -> None:
    import numpy as np
    import torch

    if threads:
        torch.set_num_threads(threads)
    from vidaffect.pipeline import Analyzer

    an = Analyzer(**options)  # model + detector loading is not timed
    from vidaffect.video import open_video

    warm = [f.image for _, f in zip(range(10), open_video(path))]  # first calls initialise the face runtime (XNNPACK)
    for image in warm:
        an.detector.detect(image)
    if hasattr(an.model, "predict"):  # and the model's first batch
        an.model.predict(np.zeros((8,) + ((an.model_crop.size,) * 2), np.uint8))
    if getattr(an, "embedder", None) is not None:  # and the face descriptor's first batches of 1-3 faces
        for k in (1, 2, 3):
            an.embedder.net.embed_chips(np.zeros((k, 150, 150, 3), np.uint8))
    t = time.perf_counter()
    res = an.analyze(path)
    q.put({"frames": res.metadata["frames_analysed"], "seconds": time.perf_counter() - t, "rss_mb": _peak_rss_mb(),
           "faces": res.metadata["faces_found"], "speed": res.speed})


def _run(target, *args) -> dict:
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    p = ctx.Process(target=target, args=(*args, q))
    p.start()
    out = q.get()
    p.join()
    return out


def _run_baseline(baseline: str, path: str, threads: int) -> dict:
    """The default pipeline of another checkout (``PYTHON:SRC``), in its own interpreter."""
    python, src = baseline.split(":", 1)
    env = dict(os.environ, PYTHONPATH=src)
    out = subprocess.run([python, __file__, "--child", path, "--threads", str(threads)], env=env,
                         capture_output=True, text=True, check=False)
    lines = [ln for ln in out.stdout.splitlines() if ln.startswith("{")]
    if out.returncode or not lines:
        sys.exit(f"baseline run failed: {out.stderr.strip().splitlines()[-1:] or out.returncode}")
    return json.loads(lines[-1])


class _Print:
    """A queue stand-in for ``--child``: the result goes to stdout as JSON."""

    def put(self, item: dict) -> None:
        print(json.dumps(item), flush=True)


def _value(text: str):
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return {"true": True, "false": False}.get(text.lower(), text)


def concat_video(src: Path, dst: Path, minutes: float) -> Path:
    """Repeat ``src``'s video packets (remux, no re-encode) until ``minutes`` long."""
    import av

    with av.open(str(src)) as probe:
        s = probe.streams.video[0]
        # Read everything needed here: PyAV >= 19 refuses stream attributes once the file is closed.
        time_base = s.time_base
        clip_pts = s.duration or int(float(probe.duration) / 1e6 / time_base)
    repeats = max(1, int(minutes * 60 / float(clip_pts * time_base)) + 1)
    with av.open(str(dst), "w") as out:
        with av.open(str(src)) as first:
            ostream = out.add_stream_from_template(first.streams.video[0])
        for k in range(repeats):
            with av.open(str(src)) as inp:
                istream = inp.streams.video[0]
                for packet in inp.demux(istream):
                    if packet.dts is None:
                        continue
                    packet.pts = None if packet.pts is None else packet.pts + k * clip_pts
                    packet.dts += k * clip_pts
                    packet.stream = ostream
                    out.mux(packet)
    return dst


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--videos", nargs="+", default=["WolfgangLanger_Pexels.mp4", "multi_face.avi"])
    ap.add_argument("--long-minutes", type=float, default=0.0, help="also measure memory on a video this long")
    ap.add_argument("--threads", type=int, default=0, help="torch threads in the pipeline (0: default)")
    ap.add_argument("--mesh-every", type=int, default=None, help="face mesh on every N-th detection frame (default: analyze's)")
    ap.add_argument("--detect-every", type=int, default=None, help="BlazeFace on every N-th frame (default: analyze's)")
    ap.add_argument("--repeats", type=int, default=3, help="interleaved decode/pipeline runs per video (medians)")
    ap.add_argument("--json", help="also write the rows to this JSON file")
    ap.add_argument("--option", action="append", default=[], metavar="KEY=VALUE",
                    help="an analyze option for the new pipeline, e.g. detector=full (repeatable)")
    ap.add_argument("--baseline", metavar="PYTHON:SRC",
                    help="also run the default pipeline of another checkout: its python and its src folder")
    ap.add_argument("--child", help=argparse.SUPPRESS)  # internal: one pipeline run for --baseline
    args = ap.parse_args()
    if args.child:
        _pipeline(args.child, args.threads, {}, _Print())
        return
    options = {} if args.mesh_every is None else {"mesh_every": args.mesh_every}
    if args.detect_every is not None:
        options["detect_every"] = args.detect_every
    for item in args.option:
        key, sep, value = item.partition("=")
        if not sep:
            sys.exit(f"--option {item!r}: expected KEY=VALUE")
        options[key] = _value(value)
    rows = []
    for name in args.videos:
        path = Path(name) if Path(name).exists() else SHARED / name
        if not path.exists():
            sys.exit(f"{path}: not found")
        decs, fulls, bases = [], [], []
        for _ in range(args.repeats):  # interleaved, so both see the same machine load
            decs.append(_run(_decode_only, str(path)))
            fulls.append(_run(_pipeline, str(path), args.threads, options))
            if args.baseline:
                bases.append(_run_baseline(args.baseline, str(path), args.threads))
        dec_fps = sorted(d["frames"] / d["seconds"] for d in decs)
        full_fps = sorted(f["frames"] / f["seconds"] for f in fulls)
        ratios = sorted(f["frames"] / f["seconds"] / (d["frames"] / d["seconds"]) for d, f in zip(decs, fulls))
        mid = fulls[[f["frames"] / f["seconds"] for f in fulls].index(statistics.median_low(full_fps))]
        rows.append({"video": path.name, "frames": mid["frames"], "decode_fps": statistics.median(dec_fps),
                     "pipeline_fps": statistics.median(full_fps), "ratio": statistics.median(ratios),
                     "decode_fps_all": dec_fps, "pipeline_fps_all": full_fps, "ratio_all": ratios,
                     "decode_rss_mb": max(d["rss_mb"] for d in decs),
                     "pipeline_rss_mb": max(f["rss_mb"] for f in fulls), "stages_ms": mid["speed"],
                     "faces": mid.get("faces")})
        if bases:
            base_fps = [b["frames"] / b["seconds"] for b in bases]
            rows[-1].update(baseline_fps=statistics.median(base_fps), baseline_faces=bases[0].get("faces"),
                            baseline_ratio=statistics.median(b / d["frames"] * d["seconds"]
                                                             for b, d in zip(base_fps, decs)),
                            new_over_baseline=statistics.median(f["frames"] / f["seconds"] / b
                                                                for f, b in zip(fulls, base_fps)))
    print(f"medians of {args.repeats} interleaved runs (ratio: median of the per-pair ratios)")
    print(f"{'video':<28}{'frames':>7}{'decode fps':>12}{'pipeline fps':>14}{'ratio':>8}{'ratio range':>14}"
          f"{'peak RSS MB':>13}")
    for r in rows:
        rng = f"{r['ratio_all'][0]:.2f}-{r['ratio_all'][-1]:.2f}"
        print(f"{r['video']:<28}{r['frames']:>7}{r['decode_fps']:>12.1f}{r['pipeline_fps']:>14.1f}"
              f"{r['ratio']:>8.2f}{rng:>14}{r['pipeline_rss_mb']:>13.0f}")
    if args.baseline:
        print(f"\nbaseline ({args.baseline}), same runs:")
        print(f"{'video':<28}{'faces new':>10}{'faces base':>11}{'base fps':>10}{'base ratio':>11}{'new/base':>10}")
        for r in rows:
            print(f"{r['video']:<28}{r['faces']:>10}{r['baseline_faces']:>11}{r['baseline_fps']:>10.1f}"
                  f"{r['baseline_ratio']:>11.2f}{r['new_over_baseline']:>10.2f}")
    for r in rows:
        print(f"  {r['video']}: ms/frame by stage {json.dumps(r['stages_ms'])}")
    if args.long_minutes:
        src = Path(args.videos[0]) if Path(args.videos[0]).exists() else SHARED / args.videos[0]
        long_path = Path("/tmp") / f"vidaffect_long_{args.long_minutes:g}min.mp4"
        if not long_path.exists():
            concat_video(src, long_path, args.long_minutes)
        full = _run(_pipeline, str(long_path), args.threads, options)
        short_rss = rows[0]["pipeline_rss_mb"]
        print(f"\nmemory vs length: {src.name} ({rows[0]['frames']} frames) peak RSS {short_rss:.0f} MB; "
              f"{args.long_minutes:g}-minute concatenation ({full['frames']} frames, "
              f"{full['frames'] / full['seconds']:.1f} fps) peak RSS {full['rss_mb']:.0f} MB")
        rows.append({"video": long_path.name, "frames": full["frames"], "pipeline_rss_mb": full["rss_mb"],
                     "pipeline_fps": full["frames"] / full["seconds"]})
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
