"""``vidaffect batch``, ``vidaffect status``, ``vidaffect retry``: corpora of videos with a resumable job ledger."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from vidaffect.cli.commands.analyze import (DEFAULT_EXTS, add_analysis_arguments, collect_videos, options_from_args,
                                            start_run)
from vidaffect.errors import VidaffectError

LIST_SUFFIXES = {".txt", ".lst", ".list"}


def expand_inputs(inputs: list[str], exts: str) -> tuple[list[Path], list[tuple[Path, str]]]:
    """Directories, video files and list files (``.txt``: one path per line, ``#`` comments) -> videos."""
    items: list[str] = []
    for item in inputs:
        p = Path(item)
        if p.is_file() and p.suffix.lower() in LIST_SUFFIXES:
            base = p.parent
            for line in p.read_text().splitlines():
                line = line.strip()
                if line and not line.startswith("#"):
                    q = Path(line)
                    items.append(str(q if q.is_absolute() else base / q))
        else:
            items.append(item)
    return collect_videos(items, exts)


def run_batch(args: argparse.Namespace) -> int:
    from vidaffect.batch.runner import BatchInterrupted, print_report, run_local

    formats, out, videos, missing = start_run(args, expand=expand_inputs)
    if not videos:
        return 1
    if args.workers < 1:
        raise VidaffectError(f"--workers must be >= 1, got {args.workers}")
    options = options_from_args(args)
    progress = not args.quiet
    if args.engine == "ray":
        from vidaffect.batch.ray_engine import run_ray

        report = run_ray(videos, out, options, formats, plot=not args.no_plot, address=args.address,
                         storage=args.storage, workers=args.workers, threads=args.threads or 1,
                         progress=progress, requeue_failed=args.retry_failed, quiet=args.quiet,
                         include_queued=not args.inputs_only)
    else:
        try:
            report = run_local(videos, out, options, formats, plot=not args.no_plot, workers=args.workers,
                               threads=args.threads or 1, progress=progress, requeue_failed=args.retry_failed,
                               include_queued=not args.inputs_only)
        except BatchInterrupted as exc:  # Ctrl-C: workers stopped, unfinished videos requeued
            r = exc.report
            print(f"vidaffect: interrupted: {len(r.done)} video(s) analysed, {r.left_queued} left queued; "
                  f"run the same command again to resume", file=sys.stderr)
            return 130
    if not args.quiet:
        print_report(report, out)
    return 1 if report.failed or missing else 0


def run_status(args: argparse.Namespace) -> int:
    import json

    from vidaffect.batch.ledger import DB_NAME, Ledger

    out = Path(args.output)
    if not (out / DB_NAME).is_file():
        raise VidaffectError(f"{out}: no job ledger here ({DB_NAME} not found)")
    if args.limit < 0:
        raise VidaffectError(f"--limit must be >= 0, got {args.limit}")
    ledger = Ledger(out)
    try:
        ledger.recover()
        counts = ledger.counts()
        failed = ledger.jobs("failed")
        running = ledger.jobs("running")
        replaced = ledger.superseded_by_content()
        if args.json:
            print(json.dumps({"counts": counts, "failed": [{"path": j.path, "error": j.error, "attempts": j.attempts}
                                                           for j in failed],
                              "queued": [{"settings_hash": h, "settings": diff, "jobs": len(jobs),
                                          "paths": [j.path for j in jobs]}
                                         for h, diff, jobs in queued_by_settings(ledger)],
                              "superseded": [{"path": o.path, "job": o.id, "key": o.key, "superseded_by": n.id,
                                              "current_key": n.key, "outputs": o.output_paths}
                                             for o, n in replaced]}, indent=2))
            return 0
        print(f"{out}: " + ", ".join(f"{n} {s}" for s, n in counts.items() if n or s in ("queued", "done", "failed")))
        for line in _queued_lines(ledger, out):
            print(line)
        done = ledger.jobs("done")
        frames = sum(j.frames or 0 for j in done)
        secs = sum(j.seconds or 0 for j in done)
        if done:
            print(f"  done: {frames} frames in {secs:.1f} worker-seconds ({frames / max(secs, 1e-9):.1f} fps per worker)")
        for j in running:
            print(f"  running: {j.path} ({100 * j.progress:.0f} %, pid {j.owner_pid} on {j.owner_host})")
        for j in failed:
            print(f"  FAILED: {j.path} (attempts {j.attempts}): {j.error}")
        for o, n in replaced[-args.limit:] if args.limit else replaced:
            was = "result moved to superseded/" if o.outputs else "no result: it failed or never ran"
            print(f"  superseded: {o.path} (job {o.id}, {o.key}, {was}) -> changed file, current: job {n.id} "
                  f"({n.key}, {n.state})")
        if args.limit and len(replaced) > args.limit:
            print(f"  ... {len(replaced) - args.limit} older superseded version(s) not shown (--limit 0 shows all)")
    finally:
        ledger.close()
    return 0


def queued_by_settings(ledger) -> list[tuple[str, dict, list]]:
    """Queued jobs grouped by settings hash: (hash, the analysis options that differ from the defaults, jobs),
    largest group first."""
    groups: dict[str, list] = {}
    for j in ledger.jobs("queued"):
        groups.setdefault(j.settings_hash, []).append(j)
    if not groups:
        return []
    from vidaffect.pipeline.analyzer import AnalyzeOptions

    defaults = AnalyzeOptions().settings()
    out = []
    for h, jobs in sorted(groups.items(), key=lambda kv: -len(kv[1])):
        stored = (ledger.settings_json(h) or {}).get("settings", {})
        diff = {k: v for k, v in stored.items() if k in defaults and v != defaults[k]}
        out.append((h, diff, jobs))
    return out


def _queued_lines(ledger, out: Path) -> list[str]:
    """What `status` says about queued jobs: which run takes them."""
    lines = []
    for h, diff, jobs in queued_by_settings(ledger):
        described = ("non-default options: " + ", ".join(f"{k}={v}" for k, v in sorted(diff.items()))
                     if diff else "the default options")
        lines.append(f"  queued: {len(jobs)} job(s) with settings {h[:8]} ({described}); the next "
                     f"`vidaffect batch ... -o {out}` (any inputs) or `vidaffect serve -o {out}` with these "
                     f"analysis settings runs them")
    return lines


def run_retry(args: argparse.Namespace) -> int:
    from vidaffect.batch.ledger import DB_NAME, Ledger

    out = Path(args.output)
    if not (out / DB_NAME).is_file():
        raise VidaffectError(f"{out}: no job ledger here ({DB_NAME} not found)")
    ledger = Ledger(out)
    try:
        n = ledger.retry_failed()
        stale = ledger.recover()
    finally:
        ledger.close()
    print(f"{n} failed job(s) requeued" + (f", {len(stale)} interrupted job(s) requeued" if stale else "")
          + f"; the next `vidaffect batch ... -o {out}` (any inputs) with the analysis settings they were queued "
            f"with runs them (`vidaffect status {out}` shows the settings)")
    return 0


def add_engine_arguments(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("engine")
    g.add_argument("--workers", type=int, default=1, help="worker processes (local) or actors (ray), each with its own model copy (default: %(default)s)")
    g.add_argument("--engine", choices=["local", "ray"], default="local", help="local process pool, or Ray tasks over a cluster (needs `pip install vidaffect[ray]`) (default: %(default)s)")
    g.add_argument("--address", help="Ray cluster address (e.g. ray://head:10001 or auto); default: start a local Ray instance")
    g.add_argument("--storage", help="Ray: shared storage for per-task result files, as an fsspec URL (file:///nfs/x, s3://bucket/x...; default: OUT_DIR/.ray-staging)")


def register(cli) -> None:
    p = cli.top.add_parser(
        "batch", help="analyse a corpus of videos with a resumable job ledger",
        description="Analyse every video of the inputs into OUT_DIR with a pool of workers. A job ledger "
                    "(OUT_DIR/vidaffect.sqlite) records each video by content hash and settings hash: finished "
                    "videos are skipped, changed settings reprocess them, and a killed run resumes where it stopped. "
                    "Jobs already queued in OUT_DIR with the same analysis settings (`vidaffect retry`, an "
                    "interrupted run) run too, whatever the inputs (--inputs-only: not). Ctrl-C stops the workers "
                    "and requeues the unfinished videos. "
                    "Outputs: OUT_DIR/results/<video>-<hash>/ (as `vidaffect analyze`) and one Parquet data set "
                    "OUT_DIR/dataset/video=<video>-<hash>/part-0.parquet readable as one table.")
    p.add_argument("inputs", nargs="+", metavar="DIR_OR_LIST", help="directories (searched recursively), video files, or .txt list files with one video path per line")
    p.add_argument("-o", "--output", required=True, metavar="OUT_DIR", help="output directory (holds the ledger, results and data set)")
    p.add_argument("--video-exts", default=DEFAULT_EXTS, help="extensions of videos looked for in directories (default: %(default)s)")
    add_engine_arguments(p)
    add_analysis_arguments(p)
    g = p.add_argument_group("output")
    g.add_argument("--format", default="csv,parquet", help="comma-separated per-video result formats: csv, parquet, json (default: %(default)s)")
    g.add_argument("--no-plot", action="store_true", help="do not write the VA trend PNG of each video")
    g.add_argument("--retry-failed", action="store_true", help="also requeue videos that failed in an earlier run")
    g.add_argument("--inputs-only", action="store_true", help="run only the given inputs, not also the jobs "
                   "already queued in OUT_DIR with the same settings (requeued by `vidaffect retry`, left by an "
                   "interrupted run)")
    g.add_argument("--log-file", help="write a log (INFO level) to this file")
    g.add_argument("-q", "--quiet", action="store_true", help="no progress bar and no summary")
    p.set_defaults(func=run_batch)

    s = cli.top.add_parser("status", help="show the job ledger of a batch output directory",
                           description="Counts of jobs by state, running jobs, the failures with their errors, and superseded "
                                       "versions: older results of a video path whose file changed since (moved "
                                       "to OUT_DIR/superseded/; results/ and dataset/ hold the current ones).")
    s.add_argument("output", metavar="OUT_DIR", help="output directory of `vidaffect batch`/`watch`/`serve`")
    s.add_argument("--json", action="store_true", help="print counts, failures and superseded versions as JSON")
    s.add_argument("--limit", type=int, default=20, help="superseded versions (older results of a path whose file "
                   "changed) to list, newest last; 0 = all (default: %(default)s)")
    s.set_defaults(func=run_status)

    r = cli.top.add_parser("retry", help="requeue the failed jobs of a batch output directory",
                           description="Put every failed job (and jobs of dead runs) back in the queue; the next "
                                       "`vidaffect batch ... -o OUT_DIR` (any inputs) or `vidaffect serve -o "
                                       "OUT_DIR` with the analysis settings they were queued with runs them "
                                       "(`vidaffect status OUT_DIR` shows them).")
    r.add_argument("output", metavar="OUT_DIR", help="output directory of `vidaffect batch`")
    r.set_defaults(func=run_retry)
