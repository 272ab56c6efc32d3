"""Watch mode: poll a folder and analyse each new video once it is complete.

A file is picked up only when its size and modification time did not change
between two checks at least ``interval`` seconds apart (a file still being
copied is left alone).  With the optional ``inotify_simple`` package on Linux
the watcher wakes on file events (new files are seen at once); without it, or
when inotify fails (some network file systems), it polls every ``interval``
seconds.  Jobs go through the same ledger as ``vidaffect batch``, so
restarting the watcher never redoes finished videos.
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
    since: float


class StabilityTracker:
    """Reports a file as ready once size and mtime were unchanged over two checks ``min_age`` seconds apart."""

    def __init__(self, min_age: float = 0.0) -> None:
        self.min_age = min_age
        self.seen: dict[Path, _Seen] = {}

    def check(self, path: Path, size: int, mtime_ns: int, now: float | None = None) -> bool:
        now = time.monotonic() if now is None else now
        prev = self.seen.get(path)
        if prev is None or (prev.size, prev.mtime_ns) != (size, mtime_ns) or size == 0:
            self.seen[path] = _Seen(size, mtime_ns, now)
            return False
        return now - prev.since >= self.min_age

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
        self.tracker = StabilityTracker(min_age=interval)
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
        waker = make_waker(self.directory, self.stop_event)
        n = polls = 0
        log.info("watching %s (%s, interval %.1f s) for %s; results in %s", self.directory, waker.kind,
                 self.interval, ",".join(sorted(self.exts)), self.out)
        try:
            while not self.stop_event.is_set():
                for path in self.ready_files():
                    if self.stop_event.is_set():
                        break
                    n += self.process(ledger, path, shash) == "done"
                polls += 1
                if max_polls is not None and polls >= max_polls:
                    break
                # wake early on file events, but re-check files that are settling after at most an interval
                settling = any(p not in self.handled for p in self.tracker.seen)
                waker.wait(self.interval / 2 if settling else self.interval)
        except KeyboardInterrupt:
            log.info("stopped (interrupted)")
        finally:
            waker.close()
            close_worker()
            ledger.close()
        log.info("stopped after %d video(s)", n)
        return n


class PollWaker:
    """Sleep for the interval (or until stopped)."""

    kind = "polling"

    def __init__(self, stop: threading.Event) -> None:
        self.stop = stop

    def wait(self, timeout: float) -> bool:
        return self.stop.wait(timeout)

    def close(self) -> None:
        pass


class InotifyWaker(PollWaker):
    """Sleep until a file event in the watched tree, the timeout, or a stop (Linux, ``inotify_simple``)."""

    kind = "inotify"

    def __init__(self, directory: Path, stop: threading.Event) -> None:
        from inotify_simple import INotify, flags

        super().__init__(stop)
        self.flags = flags
        self.mask = flags.CREATE | flags.CLOSE_WRITE | flags.MOVED_TO | flags.MODIFY | flags.DELETE_SELF
        self.ino = INotify()
        self.dirs: dict[int, Path] = {}
        for d in [directory, *(p for p in directory.rglob("*") if p.is_dir())]:
            self._add(d)

    def _add(self, d: Path) -> None:
        try:
            self.dirs[self.ino.add_watch(str(d), self.mask)] = d
        except OSError as exc:
            log.warning("%s: cannot watch with inotify (%s); polling covers it", d, exc)

    def wait(self, timeout: float) -> bool:
        start = time.monotonic()
        deadline, min_gap, woke = start + timeout, min(0.2, timeout), False
        while not self.stop.is_set():
            now = time.monotonic()
            if now >= deadline or (woke and now - start >= min_gap):  # at most one rescan per min_gap
                return False
            events = self.ino.read(timeout=int(1000 * min(deadline - now, 0.25)))
            for ev in events:
                if ev.mask & self.flags.ISDIR and ev.mask & self.flags.CREATE and ev.wd in self.dirs:
                    self._add(self.dirs[ev.wd] / ev.name)
            woke = woke or bool(events)
        return True

    def close(self) -> None:
        self.ino.close()


def make_waker(directory: Path, stop: threading.Event) -> PollWaker:
    """inotify where available, polling otherwise."""
    try:
        return InotifyWaker(directory, stop)
    except (ImportError, OSError) as exc:
        log.info("inotify not available (%s); polling", exc)
        return PollWaker(stop)
