"""The local batch engine: enqueue a corpus in the ledger and run it with a process pool.

Models are loaded once per worker process (pool initializer); the parent only
hashes files, fills the ledger and draws the progress bar (videos, overall fps).

A run processes its inputs *and* the jobs already queued in the ledger with the
same analysis settings (requeued by ``vidaffect retry``, left by an interrupted
run, or uploads waiting for a server): the ledger is the queue of the output
directory.  Jobs queued with other settings wait for a run with those settings
(``vidaffect status`` says which).  Ctrl-C: the workers ignore SIGINT, the parent
stops them, requeues their videos and raises :class:`BatchInterrupted`.
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
from vidaffect.batch.worker import WorkerConfig, close_worker, init_worker, pool_context, run_job, stop_pool
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
    earlier: int = 0  # jobs queued before this run (retry, interrupted runs) that it took on
    other_settings: int = 0  # jobs left queued because they were queued with other analysis settings
    left_queued: int = 0  # interrupted: this run's jobs put back in the queue

    @property
    def videos_per_minute(self) -> float:
        return 60.0 * len(self.done) / self.seconds if self.seconds > 0 else 0.0


class BatchInterrupted(KeyboardInterrupt):
    """Ctrl-C during a batch run: the workers were stopped and unfinished videos requeued; ``report`` says
    what was done."""

    def __init__(self, report: BatchReport) -> None:
        super().__init__("interrupted")
        self.report = report


def prepare_jobs(ledger: Ledger, videos: list[Path], options, source: str = "batch", requeue_failed: bool = False,
                 report: BatchReport | None = None, outputs: set[str] | None = None,
                 include_queued: bool = True) -> list[Job]:
    """Recover jobs of dead runs, enqueue ``videos``; return the jobs to run (done/duplicate ones are skipped).

    A done job whose outputs lack one of ``outputs`` (output kinds: csv, parquet, json, plot) runs again.
    ``include_queued``: also return the jobs already queued in the ledger with these settings (requeued by
    ``vidaffect retry``, left by an interrupted run); one whose file is gone or changed since it was queued
    is marked failed with the reason instead.  Jobs queued with other settings are counted in
    ``report.other_settings`` and left queued.
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
    for job in ledger.jobs("queued") if include_queued else []:
        if job.id in todo:
            continue
        if job.settings_hash != shash:
            if report is not None:
                report.other_settings += 1
            continue
        why = _queued_file_problem(job)
        if why is not None:
            ledger.fail(job.id, why)
            if report is not None:
                report.failed.append((job.path, why))
            continue
        todo[job.id] = job
        if report is not None:
            report.earlier += 1
    return list(todo.values())


def _queued_file_problem(job: Job) -> str | None:
    """Why a job queued earlier cannot run now (its file is gone or has other content), or None."""
    try:
        if Path(job.path).stat().st_size != job.size or content_hash(job.path) != job.content_hash:
            return "the file changed since it was queued (run `vidaffect batch` on it to analyse the new content)"
    except OSError as exc:
        return f"the file is gone since it was queued ({exc.strerror or exc})"
    return None


def _bar(total: int, enabled: bool):
    from tqdm import tqdm

    return tqdm(total=total, unit="video", desc="videos", dynamic_ncols=True, disable=not enabled or total == 0)


def run_local(videos: list[Path], out: str | os.PathLike, options, formats=("csv", "parquet"), plot: bool = True,
              workers: int = 1, threads: int = 1, progress: bool = True, requeue_failed: bool = False,
              include_queued: bool = True) -> BatchReport:
    """Process ``videos`` (and, with ``include_queued``, the jobs already queued in ``out`` with these
    settings, see :func:`prepare_jobs`) into ``out`` with ``workers`` processes; return the report.

    Ctrl-C (KeyboardInterrupt) stops the workers at once, requeues the unfinished videos and raises
    :class:`BatchInterrupted` (a KeyboardInterrupt) with the report."""
    out = Path(out)
    report = BatchReport()
    ledger = Ledger(out)
    try:
        clean_staging(out)
        retire_superseded(ledger, out)
        jobs = prepare_jobs(ledger, videos, options, requeue_failed=requeue_failed, report=report,
                            outputs=set(formats) | ({"plot"} if plot else set()), include_queued=include_queued)
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
            # the workers ignore SIGINT and exit if this process dies (init_worker's owner_pid)
            pool = ProcessPoolExecutor(max_workers=min(workers, len(jobs)), mp_context=pool_context(),
                                       initializer=init_worker, initargs=(config, os.getpid()))
            try:
                futures = [pool.submit(run_job, job.id) for job in jobs]
                for fut in as_completed(futures):
                    try:
                        account(fut.result())
                    except Exception as exc:  # a worker died (out of memory, native crash)
                        raise VidaffectError(f"a batch worker died ({type(exc).__name__}: {exc}); "
                                             f"run the same command again to resume") from None
            except BaseException:  # Ctrl-C or a dead worker: stop the others now, not after their videos
                stop_pool(pool)
                raise
            finally:  # drop the videos not started (they stay queued); requeue those stopped mid-video
                pool.shutdown(wait=True, cancel_futures=True)
                report.left_queued = _requeue_orphans(out, [j.id for j in jobs])
    except KeyboardInterrupt:
        if not report.left_queued:
            report.left_queued = _requeue_orphans(out, [j.id for j in jobs])
        raise BatchInterrupted(report) from None
    finally:
        bar.close()
        report.seconds = time.perf_counter() - t0
    return report


def _requeue_orphans(out: Path, job_ids: list[int]) -> int:
    """After the pool is gone, requeue this run's jobs still marked running (their worker was stopped), remove
    the staging folders of dead workers; return how many of this run's jobs are queued now."""
    ledger = Ledger(out)
    try:
        ids = set(job_ids)
        for j in ledger.recover():
            if j.id in ids:
                log.info("%s: requeued (its worker stopped)", j.path)
        clean_staging(out)
        return sum(1 for j in ledger.jobs("queued") if j.id in ids)
    finally:
        ledger.close()


def print_report(report: BatchReport, out: Path, file=sys.stdout) -> None:
    print(f"{len(report.done)} video(s) analysed ({report.frames} frames in {report.seconds:.1f} s, "
          f"{report.videos_per_minute:.1f} videos/min), {len(report.skipped)} skipped, "
          f"{len(report.failed)} failed; results in {out}", file=file)
    if report.earlier:
        print(f"  {report.earlier} job(s) queued before this run (`vidaffect retry`, an interrupted run) were "
              f"run too", file=file)
    if report.other_settings:
        print(f"  {report.other_settings} queued job(s) have other analysis settings and were left queued; "
              f"`vidaffect status {out}` says which settings run them", file=file)
    for path, why in report.skipped[:20]:
        print(f"  skipped {path}: {why}", file=file)
    if len(report.skipped) > 20:
        print(f"  ... {len(report.skipped) - 20} more skipped", file=file)
    for path, why in report.failed:
        print(f"  FAILED {path}: {why}", file=sys.stderr)
