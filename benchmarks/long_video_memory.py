"""Memory and speed on hours-long videos: ``vidaffect analyze`` on a clip and on long remuxes of it, one run.

Usage:
    python benchmarks/long_video_memory.py [--video multi_face.avi] [--minutes 30 120] [--repeats 3]
                                           [--baseline PYTHON:SRC]

Builds MKV files that repeat the clip's packets (remux, no re-encoding) until ``--minutes`` long (cached in
/tmp), then runs ``vidaffect analyze FILE -q --no-plot`` (default settings) in a child process per file and
prints, per file: frames, face rows, peak RSS of the child (``wait4``'s ``ru_maxrss``), the pass's fps (from
the result's metadata: frames over the pass's wall time, model loading excluded) and the fps relative to the
short clip's in the same run.  The short clip runs ``--repeats`` times interleaved with the long files'
(medians).  ``--baseline PYTHON:SRC`` runs the same commands with another checkout (its own interpreter and
``src`` folder; for example the release before issue 21) on the clip (``--baseline-long``: and on the
shortest remux), so new-vs-old memory and fps come from one run.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "videos"
sys.path.insert(0, str(Path(__file__).resolve().parent))


def remux(src: Path, minutes: float) -> Path:
    """``src`` repeated until ``minutes`` long, as MKV in /tmp (built once)."""
    from pipeline_speed import concat_video

    dst = Path(tempfile.gettempdir()) / f"vidaffect_{src.stem}_{minutes:g}min.mkv"
    if not dst.exists():
        tmp = dst.with_name(dst.stem + ".part.mkv")
        concat_video(src, tmp, minutes)
        os.replace(tmp, dst)
    return dst


def analyze(video: Path, python: str = sys.executable, src: str | None = None) -> dict:
    """One ``vidaffect analyze`` child: its peak RSS and the result's frames, face rows and fps."""
    out = Path(tempfile.mkdtemp(prefix="vidaffect-mem-"))
    env = dict(os.environ)
    if src:
        env["PYTHONPATH"] = src
    t0 = time.perf_counter()
    proc = subprocess.Popen([python, "-m", "vidaffect", "analyze", str(video), "-o", str(out), "-q", "--no-plot"],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    proc.returncode = os.waitstatus_to_exitcode(status)
    try:
        if proc.returncode:
            sys.exit(f"{video.name}: vidaffect analyze failed ({proc.returncode}): {err.strip()[-500:]}")
        meta = json.loads(next(out.glob("*.metadata.json")).read_text())
    finally:
        shutil.rmtree(out, ignore_errors=True)
    return {"frames": meta["frames_analysed"], "face_rows": meta["faces_found"], "fps": meta["fps"],
            "rss_mb": usage.ru_maxrss / 1024, "wall_s": wall}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--video", default="multi_face.avi", help="clip from ../shared/data/videos or a path")
    ap.add_argument("--minutes", type=float, nargs="*", default=[30.0, 120.0], help="lengths of the remuxes")
    ap.add_argument("--repeats", type=int, default=3, help="runs of the short clip (medians)")
    ap.add_argument("--baseline", metavar="PYTHON:SRC", help="also run another checkout on the clip")
    ap.add_argument("--baseline-long", action="store_true", help="and on the shortest remux")
    args = ap.parse_args()
    clip = Path(args.video) if Path(args.video).exists() else SHARED / args.video
    if not clip.exists():
        sys.exit(f"{clip}: not found")
    longs = [remux(clip, m) for m in args.minutes]
    runs: dict[str, list[dict]] = {}
    base: dict[str, list[dict]] = {}
    bpython, bsrc = args.baseline.split(":", 1) if args.baseline else (None, None)
    plan = [clip] * args.repeats
    for i, lv in enumerate(longs):  # the long runs between the short ones
        plan.insert(min(len(plan), 1 + 2 * i), lv)
    for video in plan:
        runs.setdefault(video.name, []).append(analyze(video))
        print(f"  {video.name}: {runs[video.name][-1]}", file=sys.stderr, flush=True)
        if bpython and (video == clip or (args.baseline_long and longs and video == longs[0])):
            base.setdefault(video.name, []).append(analyze(video, bpython, bsrc))
            print(f"  baseline {video.name}: {base[video.name][-1]}", file=sys.stderr, flush=True)

    def med(rs: list[dict], k: str) -> float:
        return statistics.median(r[k] for r in rs)

    ref_fps, ref_rss = med(runs[clip.name], "fps"), med(runs[clip.name], "rss_mb")
    for rs in [*runs.values(), *base.values()]:
        for r in rs:
            r["wall_fps"] = r["frames"] / r["wall_s"]
    print(f"\n{'video':<44} {'frames':>8} {'face rows':>10} {'peak RSS MB':>12} {'+MB vs clip':>12} "
          f"{'pass fps':>9} {'fps/clip':>9} {'wall s':>8} {'wall fps':>9}")
    for label, table in (("", runs), ("baseline ", base)):
        for name, rs in table.items():
            rss, fps = med(rs, "rss_mb"), med(rs, "fps")
            print(f"{label + name:<44} {rs[0]['frames']:>8} {rs[0]['face_rows']:>10} {rss:>12.0f} "
                  f"{rss - ref_rss:>+12.0f} {fps:>9.1f} {fps / ref_fps:>9.2f} {med(rs, 'wall_s'):>8.1f} "
                  f"{med(rs, 'wall_fps'):>9.1f}")
    print("\npass fps: frames over the analysis pass (metadata 'fps'); wall: the whole command (model loading, "
          "finishing and writing the set included); +MB and fps/clip against this checkout's short clip")


if __name__ == "__main__":
    main()
