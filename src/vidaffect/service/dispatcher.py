"""Runs the service's queued jobs in a bounded pool of worker processes (models loaded once per worker).

The queue *is* the ledger: the dispatcher submits ledger rows in state
``queued`` (whatever queued them: an upload, or a killed batch run sharing the
output directory), so a restarted server picks up where the old one stopped
(its running rows are requeued by :meth:`Ledger.recover`).  Workers claim rows
atomically, so a batch run on the same directory never duplicates a job.  Only
rows queued with the server's own analysis settings (settings hash) are run:
the workers analyse with the server's options, so a row queued with other
settings (by a batch run with other flags) waits for a run with those.

Workers ignore SIGINT and exit with the server (see :mod:`vidaffect.batch.worker`);
on shutdown, running videos get ``grace_s`` seconds to finish, then their
workers are stopped and the rows requeued for the next start.
"""
from __future__ import annotations

import logging
import os
import threading
import time
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

from vidaffect.batch.ledger import Ledger
from vidaffect.batch.outputs import clean_staging, retire_superseded
from vidaffect.batch.worker import WorkerConfig, init_worker, pool_context, run_job, stop_pool

log = logging.getLogger("vidaffect.service")


class Dispatcher:
    """Background thread: feeds queued jobs of the ledger to at most ``workers`` worker processes."""

    def __init__(self, out: Path, config: WorkerConfig, workers: int = 1, poll_s: float = 0.5,
                 settings: str | None = None, grace_s: float = 10.0) -> None:
        self.out, self.config, self.workers, self.poll_s = out, config, max(1, workers), poll_s
        self.settings, self.grace_s = settings, grace_s
        self.inflight: dict[int, Future] = {}
        self.wake = threading.Event()
        self._stop = threading.Event()
        self._pool: ProcessPoolExecutor | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        ledger = Ledger(self.out)
        try:
            for j in ledger.recover():
                log.info("job %d (%s): requeued after a restart", j.id, j.name)
            retire_superseded(ledger, self.out)
        finally:
            ledger.close()
        clean_staging(self.out)
        self._pool = self._new_pool()
        self._thread = threading.Thread(target=self._loop, daemon=True, name="vidaffect-dispatcher")
        self._thread.start()

    def _new_pool(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(max_workers=self.workers, mp_context=pool_context(),
                                   initializer=init_worker, initargs=(self.config, os.getpid()))

    def stop(self) -> None:
        """Stop taking jobs; give running videos ``grace_s`` seconds to finish, then stop their workers and
        requeue them (queued ones stay queued for the next start)."""
        self._stop.set()
        self.wake.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
        if self._pool is not None:
            stop_pool(self._pool, self.grace_s)
            self._pool.shutdown(wait=True)
            ledger = Ledger(self.out)
            try:
                for j in ledger.recover():
                    log.info("job %d (%s): stopped by the shutdown, requeued", j.id, j.name)
            finally:
                ledger.close()

    def _loop(self) -> None:
        ledger = Ledger(self.out)
        last_recover = time.monotonic()
        try:
            while not self._stop.is_set():
                if time.monotonic() - last_recover > 10:  # a worker process that died leaves its row running
                    ledger.recover()
                    last_recover = time.monotonic()
                self.inflight = {i: f for i, f in self.inflight.items() if not f.done()}
                free = self.workers - len(self.inflight)
                if free > 0:
                    for job in ledger.jobs("queued"):  # any source: a killed batch's leftovers too
                        if free <= 0:
                            break
                        if job.id in self.inflight or (self.settings and job.settings_hash != self.settings):
                            continue
                        assert self._pool is not None
                        try:
                            self.inflight[job.id] = self._pool.submit(run_job, job.id)
                        except BrokenProcessPool:
                            log.error("a worker process died; starting a new pool")
                            self._pool = self._new_pool()
                            self.inflight.clear()
                            break
                        free -= 1
                self.wake.wait(self.poll_s)
                self.wake.clear()
        except Exception:  # keep the service answering; the log says why jobs stopped
            log.exception("dispatcher stopped")
        finally:
            ledger.close()
