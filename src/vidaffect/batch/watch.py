"""Watch mode: poll a folder and analyse each new video once it is complete.

A file is picked up only when its size and modification time did not change
between two consecutive checks (a file still being copied is left alone).
Polling works on every file system (NFS, SMB, bind mounts) where inotify does
not; the interval bounds the latency.  Jobs go through the same ledger as
``vidaffect batch``, so restarting the watcher never redoes finished videos.
"""
from __future__ import annotations

import logging
import os
import signal
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from vidaffect.batch.ledger import Ledger, content_hash, settings_hash
from vidaffect.batch.outputs import clean_staging
from vidaffect.batch.worker import WorkerConfig, close_worker, init_worker

log = logging.getLogger("vidaffect.watch")
IGNORED_SUFFIXES = (".part", ".tmp", ".crdownload", ".partial", ".download")


@dataclass
class _Seen:
    size: int
    mtime_ns: int
    stable_checks: int = 0


class StabilityTracker:
    """Reports a file as ready once size and mtime were unchanged over two consecutive checks."""

    def __init__(self) -> None:
        self.seen: dict[Path, _Seen] = {}

    def check(self, path: Path, size: int, mtime_ns: int) -> bool:
        prev = self.seen.get(path)
        if prev is None or (prev.size, prev.mtime_ns) != (size, mtime_ns) or size == 0:
            self.seen[path] = _Seen(size, mtime_ns)
            return False
        prev.stable_checks += 1
        return prev.stable_checks >= 1

    def forget(self, path: Path) -> None:
        self.seen.pop(path, None)


class Watcher:
    """Poll ``directory`` every ``interval`` seconds and process complete new videos into ``out``."""

    def __init__(self, directory: str | os.PathLike, out: str | os.PathLike, options, interval: float = 5.0,
                 exts: str = "mp4", formats=("csv", "parquet"), plot: bool = True, threads: int = 1) -> None:
        self.directory, self.out = Path(directory), Path(out)
        self.interval = interval
        self.exts = {"." + e.strip().lower().lstrip(".") for e in exts.split(",") if e.strip()}
        self.options = options
        self.config = WorkerConfig.build(self.out, options, formats, plot, threads)
        self.tracker = StabilityTracker()
        self.handled: dict[Path, tuple[int, int]] = {}
        self.stop_event = threading.Event()
        self.current_job: int | None = None
        self._interrupts = 0

    def candidates(self) -> list[Path]:
        return sorted(p for p in self.directory.rglob("*") if p.is_file() and p.suffix.lower() in self.exts
                      and not p.name.startswith(".") and not p.name.endswith(IGNORED_SUFFIXES))

    def ready_files(self) -> list[Path]:
        """Files that are complete (stable over two checks) and not handled yet in their current state."""
        ready = []
        for p in self.candidates():
            try:
                st = p.stat()
            except OSError:
                continue
            sig = (st.st_size, st.st_mtime_ns)
            if self.handled.get(p) == sig:
                continue
            if self.tracker.check(p, *sig):
                ready.append(p)
            else:
                log.debug("%s: not complete yet (size %d)", p, st.st_size)
        return ready

    def install_signal_handlers(self) -> None:
        """First SIGINT/SIGTERM: finish the current video and stop; second: requeue it and stop now."""
        def handler(signum, frame):
            self._interrupts += 1
            if self._interrupts == 1:
                log.info("signal %d: stopping after the current video", signum)
                self.stop_event.set()
            else:
                log.info("signal %d again: requeueing the current video and stopping", signum)
                raise KeyboardInterrupt

        signal.signal(signal.SIGINT, handler)
        signal.signal(signal.SIGTERM, handler)

    def process(self, ledger: Ledger, path: Path, shash: str) -> str:
        from vidaffect.batch import worker

        try:
            st = path.stat()
            chash = content_hash(path)
        except OSError as exc:
            log.error("%s: cannot read (%s)", path, exc.strerror or exc)
            return "failed"
        job, what = ledger.enqueue(path, chash, shash, st.st_size, source="watch")
        self.handled[path] = (st.st_size, st.st_mtime_ns)
        self.tracker.forget(path)
        if what not in ("new", "requeued", "queued"):
            log.info("%s: skipped (%s)", path, what)
            return what
        log.info("%s: processing (job %d)", path, job.id)
        self.current_job = job.id
        try:
            r = worker.process_job(ledger, worker._ANALYZER, self.config, job.id)
        finally:
            self.current_job = None
        if r["state"] == "done":
            log.info("%s: done (%d frames in %.1f s)", path, r["frames"], r["seconds"])
        elif r["state"] == "failed":
            log.error("%s: failed: %s", path, r["error"])
        return r["state"]

    def run(self, max_polls: int | None = None) -> int:
        """Poll until stopped (signal or :attr:`stop_event`); return the number of videos processed."""
        ledger = Ledger(self.out)
        clean_staging(self.out)
        for j in ledger.recover():
            log.info("%s: requeued (its run died while it was running)", j.path)
        shash, described = settings_hash(self.options)
        ledger.remember_settings(shash, described)
        init_worker(self.config)
        n = polls = 0
        log.info("watching %s every %.1f s for %s; results in %s", self.directory, self.interval,
                 ",".join(sorted(self.exts)), self.out)
        try:
            while not self.stop_event.is_set():
                for path in self.ready_files():
                    if self.stop_event.is_set():
                        break
                    n += self.process(ledger, path, shash) == "done"
                polls += 1
                if max_polls is not None and polls >= max_polls:
                    break
                self.stop_event.wait(self.interval)
        except KeyboardInterrupt:
            log.info("stopped (interrupted)")
        finally:
            close_worker()
            ledger.close()
        log.info("stopped after %d video(s)", n)
        return n
