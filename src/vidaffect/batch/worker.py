"""The per-video work shared by every engine (local pool, watch, service, Ray).

Each worker process keeps one module-level :class:`Analyzer` (models loaded
once per worker, set up by :func:`init_worker`, the pool initializer) and runs
:func:`run_job`: claim the ledger row, analyse, stage the outputs, rename them
into place, then mark the row done.

Pool workers (``init_worker(config, owner_pid)``) ignore SIGINT (Ctrl-C in a
terminal reaches the whole process group: the parent alone handles it, stops
the pool with :func:`stop_pool` and prints one line) and exit when the process
that owns the pool dies (:func:`watch_parent`), so a SIGKILLed ``batch`` or
``serve`` leaves no worker running.
"""
from __future__ import annotations

import logging
import os
import shutil
import signal
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Callable

from vidaffect.batch.ledger import Ledger
from vidaffect.batch.outputs import commit_staged, new_staging_dir, retire_superseded, stage_results
from vidaffect.errors import VidaffectError

log = logging.getLogger(__name__)

HEARTBEAT_S = 2.0


@dataclass
class WorkerConfig:
    """What a worker needs to run jobs (picklable, sent once to each worker)."""

    out: str
    options: dict[str, Any]
    formats: tuple[str, ...] = ("csv", "parquet")
    plot: bool = True
    threads: int = 1
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def build(cls, out, options, formats=("csv", "parquet"), plot=True, threads=1) -> "WorkerConfig":
        d = asdict(options)
        d["progress"] = False
        return cls(str(out), d, tuple(formats), plot, threads)

    def analyze_options(self):
        """The options for this worker; ``device="auto"`` becomes ``cuda`` where torch sees a GPU, else ``cpu``."""
        from vidaffect.pipeline.analyzer import AnalyzeOptions
        from vidaffect.utils.device import resolve_device

        opts = AnalyzeOptions(**self.options)
        if opts.device == "auto":
            opts.device = resolve_device(opts.device)
        return opts


def pool_context():
    """Multiprocessing context of the worker pools: a fork server that imported the heavy libraries once.

    Workers fork from a clean single-threaded server process (never from the
    caller, which may hold threads or an event loop), and do not each pay the
    torch + face-runtime import again.
    """
    import multiprocessing as mp

    if "forkserver" not in mp.get_all_start_methods():
        return mp.get_context("spawn")
    ctx = mp.get_context("forkserver")
    ctx.set_forkserver_preload(["vidaffect.pipeline.analyzer"])
    return ctx


_CONFIG: WorkerConfig | None = None
_ANALYZER = None
_LEDGER: Ledger | None = None


PR_SET_PDEATHSIG = 1  # linux/prctl.h
PARENT_POLL_S = 1.0


def _set_parent_death_signal(sig: int) -> bool:
    """Linux: have the kernel send ``sig`` to this process when its parent (the fork server) exits."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(PR_SET_PDEATHSIG, int(sig), 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def watch_parent(owner_pid: int, poll_s: float = PARENT_POLL_S) -> None:
    """Make this pool worker exit as soon as ``owner_pid`` (the process that owns the pool) dies.

    Pool workers are children of the fork server, which exits when its owner dies (its pipe from the owner
    closes), not of the owner itself: ``PR_SET_PDEATHSIG`` (Linux) kills the worker when the fork server
    goes, and a thread polls every ``poll_s`` seconds, wherever prctl is missing, for the owner being gone
    or this worker reparented.  A job the worker was running stays ``running`` with a dead owner and is
    requeued by the next run (:meth:`Ledger.recover`).
    """
    from vidaffect.batch.ledger import pid_alive

    direct = os.getppid()
    _set_parent_death_signal(signal.SIGKILL)

    def orphaned() -> bool:
        return os.getppid() != direct or not pid_alive(owner_pid)

    if orphaned():  # the owner died before the death signal was armed
        os._exit(1)

    def poll() -> None:
        while True:
            time.sleep(poll_s)
            if orphaned():
                os._exit(1)

    threading.Thread(target=poll, daemon=True, name="vidaffect-parent-watch").start()


def stop_pool(pool, grace_s: float = 0.0) -> None:
    """Stop a :class:`ProcessPoolExecutor` now: cancel the jobs not started, give the running ones ``grace_s``
    seconds to finish, then terminate the workers still busy (their rows stay ``running`` with a dead owner:
    :meth:`Ledger.recover` requeues them).  Returns when every worker has exited."""
    procs = list((getattr(pool, "_processes", None) or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    deadline = time.monotonic() + grace_s
    for p in procs:
        p.join(max(0.0, deadline - time.monotonic()))
    for p in procs:
        if p.is_alive():
            p.terminate()
    for p in procs:
        p.join(10)
        if p.is_alive():
            p.kill()
            p.join(10)


def init_worker(config: WorkerConfig, owner_pid: int | None = None) -> None:
    """Pool initializer: load the detector and model once for this worker process.

    ``owner_pid`` (pool workers only, not in-process use): the pid of the process that owns the pool; the
    worker then ignores SIGINT and exits when that process dies (:func:`watch_parent`)."""
    global _CONFIG, _ANALYZER, _LEDGER
    if owner_pid is not None:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        watch_parent(owner_pid)
    from vidaffect.pipeline.analyzer import Analyzer

    if config.threads:
        import torch

        torch.set_num_threads(config.threads)
    _CONFIG = config
    _ANALYZER = Analyzer(config.analyze_options())
    _LEDGER = Ledger(config.out)


def close_worker() -> None:
    global _ANALYZER, _LEDGER
    if _ANALYZER is not None:
        _ANALYZER.close()
    if _LEDGER is not None:
        _LEDGER.close()
    _ANALYZER = _LEDGER = None


def analyze_video(analyzer, path: str | os.PathLike, on_progress: Callable[[float], None] | None = None):
    """Analyse one video with ``analyzer``, reporting the fraction done; return its Results."""
    from vidaffect.video import open_video

    opts = analyzer.options
    duration = None
    if on_progress is not None:
        duration = open_video(path).info.duration_s or None
        if duration and opts.end is not None:
            duration = min(duration, opts.end)
        if duration and opts.start is not None:
            duration = max(duration - opts.start, 1e-6)
    for fr in analyzer.stream(path):
        if on_progress is not None and duration:
            on_progress(min(max(fr.frame.time_s - (opts.start or 0.0), 0.0) / duration, 0.99))
    return analyzer.last_results


class _Heartbeat:
    """Background thread that refreshes a running job's heartbeat and progress in the ledger."""

    def __init__(self, out: str, job_id: int, every: float = HEARTBEAT_S) -> None:
        self.out, self.job_id, self.every = out, job_id, every
        self.progress: float | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name=f"heartbeat-{job_id}")
        self._thread.start()

    def _run(self) -> None:
        ledger = Ledger(self.out)
        try:
            while not self._stop.wait(self.every):
                ledger.heartbeat(self.job_id, self.progress)
        finally:
            ledger.close()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)


def run_job(job_id: int) -> dict[str, Any]:
    """Claim, analyse and commit one job in this worker; return a small report."""
    assert _CONFIG is not None and _ANALYZER is not None and _LEDGER is not None, "init_worker was not called"
    return process_job(_LEDGER, _ANALYZER, _CONFIG, job_id)


def process_job(ledger: Ledger, analyzer, config: WorkerConfig, job_id: int) -> dict[str, Any]:
    """Claim job ``job_id`` in ``ledger`` and run it with ``analyzer`` (see :func:`run_job`)."""
    job = ledger.claim(job_id)
    if job is None:
        current = ledger.get(job_id)
        return {"id": job_id, "state": "skipped", "why": current.state if current else "missing", "frames": 0}
    t0 = time.perf_counter()
    beat = _Heartbeat(config.out, job_id)
    staging = None
    try:
        staging = new_staging_dir(config.out, job.key)
        res = analyze_video(analyzer, job.path, on_progress=lambda f: setattr(beat, "progress", f))
        manifest = stage_results(res, staging, job.name, config.formats, config.plot)
        outputs = commit_staged(staging, config.out, job.key)
        beat.stop()
        if ledger.finish(job_id, outputs, manifest["frames"]):
            retire_superseded(ledger, config.out)
        log.info("%s: done (%d frames, %.1f s)", job.path, manifest["frames"], time.perf_counter() - t0)
        return {"id": job_id, "state": "done", "frames": manifest["frames"], "seconds": time.perf_counter() - t0,
                "path": job.path}
    except Exception as exc:  # a bad video must not stop the corpus: record it and go on
        beat.stop()
        why = str(exc) if isinstance(exc, VidaffectError) else f"{type(exc).__name__}: {exc}"
        why = why[len(f"{job.path}: "):] if why.startswith(f"{job.path}: ") else why
        ledger.fail(job_id, why)
        log.error("%s: failed: %s", job.path, why)
        return {"id": job_id, "state": "failed", "error": why, "frames": 0, "path": job.path}
    except BaseException:  # interrupted (Ctrl-C, shutdown): give the job back to the queue
        beat.stop()
        ledger.requeue(job_id)
        raise
    finally:
        if staging is not None and staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
