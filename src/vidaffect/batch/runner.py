"""The local batch engine: enqueue a corpus in the ledger and run it with a process pool.

Models are loaded once per worker process (pool initializer); the parent only
hashes files, fills the ledger and draws the progress bar (videos, overall fps).
"""
from __future__ import annotations

import logging
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vidaffect.batch.ledger import Job, Ledger, content_hash, settings_hash
from vidaffect.batch.outputs import clean_staging, retire_superseded
from vidaffect.batch.worker import WorkerConfig, close_worker, init_worker, pool_context, run_job
from vidaffect.errors import VidaffectError

log = logging.getLogger(__name__)


@dataclass
class BatchReport:
    """What a batch run did."""

    done: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    frames: int = 0
    seconds: float = 0.0

    @property
    def videos_per_minute(self) -> float:
        return 60.0 * len(self.done) / self.seconds if self.seconds > 0 else 0.0


def prepare_jobs(ledger: Ledger, videos: list[Path], options, source: str = "batch", requeue_failed: bool = False,
                 report: BatchReport | None = None, outputs: set[str] | None = None) -> list[Job]:
    """Recover jobs of dead runs, enqueue ``videos``; return the jobs to run (done/duplicate ones are skipped).

    A done job whose outputs lack one of ``outputs`` (output kinds: csv, parquet, json, plot) runs again.
    """
    recovered = ledger.recover()
    for j in recovered:
        log.info("%s: requeued (its run died while it was running)", j.path)
    shash, described = settings_hash(options)
    ledger.remember_settings(shash, described)
    todo: dict[int, Job] = {}
    for video in videos:
        video = Path(video).absolute()  # the ledger outlives the working directory
        try:
            chash, size = content_hash(video), video.stat().st_size
        except OSError as exc:
            if report is not None:
                report.failed.append((str(video), f"cannot read ({exc.strerror or exc})"))
            continue
        job, what = ledger.enqueue(video, chash, shash, size, source=source, requeue_failed=requeue_failed)
        if what == "done" and outputs and not outputs <= set(job.output_paths) and ledger.reopen(job.id):
            what = "requeued"  # done before, but without an output asked for now
        if job.id in todo:
            if report is not None:
                report.skipped.append((str(video), f"same content as {todo[job.id].path}"))
        elif what in ("new", "requeued", "queued"):
            todo[job.id] = job
        elif report is not None:
            why = {"done": "already done with these settings", "failed": "failed before (use `vidaffect retry`)",
                   "running": "being processed by another run"}.get(what, what)
            report.skipped.append((str(video), why))
    return list(todo.values())


def _bar(total: int, enabled: bool):
    from tqdm import tqdm

    return tqdm(total=total, unit="video", desc="videos", dynamic_ncols=True, disable=not enabled or total == 0)


def run_local(videos: list[Path], out: str | os.PathLike, options, formats=("csv", "parquet"), plot: bool = True,
              workers: int = 1, threads: int = 1, progress: bool = True, requeue_failed: bool = False) -> BatchReport:
    """Process ``videos`` into ``out`` with ``workers`` processes; return the report."""
    out = Path(out)
    report = BatchReport()
    ledger = Ledger(out)
    try:
        clean_staging(out)
        retire_superseded(ledger, out)
        jobs = prepare_jobs(ledger, videos, options, requeue_failed=requeue_failed, report=report,
                            outputs=set(formats) | ({"plot"} if plot else set()))
    finally:
        ledger.close()
    config = WorkerConfig.build(out, options, formats, plot, threads)
    t0 = time.perf_counter()
    bar = _bar(len(jobs), progress)

    def account(r: dict[str, Any]) -> None:
        if r["state"] == "done":
            report.done.append(r["path"])
            report.frames += r["frames"]
        elif r["state"] == "failed":
            report.failed.append((r["path"], r["error"]))
        else:
            report.skipped.append((str(r["id"]), f"taken by another run ({r.get('why')})"))
        bar.update(1)
        elapsed = time.perf_counter() - t0
        bar.set_postfix(fps=f"{report.frames / max(elapsed, 1e-9):.1f}", failed=len(report.failed))

    try:
        if not jobs:
            pass
        elif workers <= 1:
            init_worker(config)
            try:
                for job in jobs:
                    account(run_job(job.id))
            finally:
                close_worker()
        else:
            pool = ProcessPoolExecutor(max_workers=min(workers, len(jobs)), mp_context=pool_context(),
                                       initializer=init_worker, initargs=(config,))
            try:
                futures = [pool.submit(run_job, job.id) for job in jobs]
                for fut in as_completed(futures):
                    try:
                        account(fut.result())
                    except Exception as exc:  # a worker died (out of memory, native crash)
                        raise VidaffectError(f"a batch worker died ({type(exc).__name__}: {exc}); "
                                             f"run the same command again to resume") from None
            finally:  # on Ctrl-C or a dead worker: drop the videos not started (they stay queued)
                pool.shutdown(wait=True, cancel_futures=True)
                _requeue_orphans(out, [j.id for j in jobs])
    finally:
        bar.close()
        report.seconds = time.perf_counter() - t0
    return report


def _requeue_orphans(out: Path, job_ids: list[int]) -> None:
    """After the pool is gone, requeue this run's jobs still marked running (their worker was killed)."""
    ledger = Ledger(out)
    try:
        ids = set(job_ids)
        for j in ledger.recover():
            if j.id in ids:
                log.info("%s: requeued (its worker stopped)", j.path)
    finally:
        ledger.close()


def print_report(report: BatchReport, out: Path, file=sys.stdout) -> None:
    print(f"{len(report.done)} video(s) analysed ({report.frames} frames in {report.seconds:.1f} s, "
          f"{report.videos_per_minute:.1f} videos/min), {len(report.skipped)} skipped, "
          f"{len(report.failed)} failed; results in {out}", file=file)
    for path, why in report.skipped[:20]:
        print(f"  skipped {path}: {why}", file=file)
    if len(report.skipped) > 20:
        print(f"  ... {len(report.skipped) - 20} more skipped", file=file)
    for path, why in report.failed:
        print(f"  FAILED {path}: {why}", file=sys.stderr)
