"""Watch mode: poll a folder and analyse each new video once it is whole.

A file is analysed only when it is whole:

* **settled**: its size, modification time and inode change time (which no
  copy tool can set back) did not change for ``settle`` seconds, as seen by
  this watcher (an old mtime kept by ``cp -p``/``rsync -t`` proves nothing);
* **decodes to its announced end**: the container's header (duration, frame
  count, file size) matches the data that is there
  (:func:`vidaffect.video.pyav_backend.incomplete_reason`, packets are read,
  not decoded).  A settled file that stays incomplete is left alone until it
  changes, and handed to the analyser (which records why it failed) only after
  ``GIVE_UP_FACTOR`` x ``settle`` seconds without change;
* **not named "in progress"**: ``*.part``, ``*.tmp``, ``*.crdownload``,
  ``*.partial``, ``*.download``, dotfiles and files in dot-folders (rsync's
  temporary files), plus the ``ignore`` patterns;
* with ``ready_marker`` (e.g. ``.done``): only when ``<file><marker>`` exists
  (the marker replaces the settle rule, the decode check still runs and a
  file it fails is analysed anyway and recorded as failed).

With the optional ``inotify_simple`` package on Linux the watcher wakes on
file events; without it, or when inotify fails (some network file systems),
it polls every ``interval`` seconds.  Jobs go through the same ledger as
``vidaffect batch``, so restarting the watcher never redoes finished videos,
and a file whose content changes after it was analysed gets a new result that
supersedes the old one (see :meth:`Ledger.finish`).
"""
from __future__ import annotations

import fnmatch
import logging
import os
import signal
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from vidaffect.batch.ledger import Ledger, content_hash, settings_hash
from vidaffect.batch.outputs import clean_staging, retire_superseded
from vidaffect.batch.worker import WorkerConfig, close_worker, init_worker
from vidaffect.video.formats import DEFAULT_EXTS, DEFAULT_SETTLE_S, IN_PROGRESS_PATTERNS, parse_exts

log = logging.getLogger("vidaffect.watch")
# A settled file that still does not decode to its announced end is analysed (and recorded as failed)
# once it stayed unchanged for this many settle periods.
GIVE_UP_FACTOR = 10


@dataclass
class _Seen:
    sig: tuple[int, int, int]
    since: float
    warned: bool = False


class StabilityTracker:
    """Reports a file as settled once its (size, mtime, ctime) stayed the same for ``settle`` seconds."""

    def __init__(self, settle: float = 0.0) -> None:
        self.settle = settle
        self.seen: dict[Path, _Seen] = {}

    def check(self, path: Path, size: int, mtime_ns: int, ctime_ns: int = 0, now: float | None = None) -> bool:
        return self.unchanged_for(path, size, mtime_ns, ctime_ns, now) >= self.settle

    def unchanged_for(self, path: Path, size: int, mtime_ns: int, ctime_ns: int = 0,
                      now: float | None = None) -> float:
        """Seconds this file has been seen unchanged; -1 at first sight, after a change, and while empty."""
        now = time.monotonic() if now is None else now
        sig = (size, mtime_ns, ctime_ns)
        prev = self.seen.get(path)
        if prev is None or prev.sig != sig or size == 0:
            self.seen[path] = _Seen(sig, now)
            return -1.0  # never ready at first sight: two checks at least, even with settle 0
        return now - prev.since

    def forget(self, path: Path) -> None:
        self.seen.pop(path, None)


class Watcher:
    """Poll ``directory`` every ``interval`` seconds and process complete new videos into ``out``."""

    def __init__(self, directory: str | os.PathLike, out: str | os.PathLike, options, interval: float = 5.0,
                 exts: str = DEFAULT_EXTS, formats=("csv", "parquet"), plot: bool = True, threads: int = 1,
                 settle: float = DEFAULT_SETTLE_S, ignore: tuple[str, ...] | list[str] = (),
                 ready_marker: str | None = None) -> None:
        self.directory, self.out = Path(directory), Path(out)
        self.interval = interval
        self.settle = settle
        self.exts = set(parse_exts(exts))
        self.ignore = tuple(IN_PROGRESS_PATTERNS) + tuple(ignore)
        self.ready_marker = ready_marker or None
        self.options = options
        self.config = WorkerConfig.build(self.out, options, formats, plot, threads)
        self.tracker = StabilityTracker(settle=settle)
        self.handled: dict[Path, tuple[int, int]] = {}
        self.stop_event = threading.Event()
        self.current_job: int | None = None
        self._interrupts = 0

    def ignored(self, path: Path) -> bool:
        """In-progress names: the patterns (on the file name) and anything in a dot-folder of the tree."""
        try:
            parts = path.relative_to(self.directory).parts
        except ValueError:
            parts = (path.name,)
        if any(part.startswith(".") for part in parts[:-1]):
            return True
        return any(fnmatch.fnmatch(path.name, pat) or fnmatch.fnmatch(path.name.lower(), pat) for pat in self.ignore)

    def candidates(self) -> list[Path]:
        return sorted(p for p in self.directory.rglob("*") if p.is_file() and p.suffix.lower() in self.exts
                      and not self.ignored(p))

    def ready_files(self) -> list[Path]:
        """Files that are whole (see the module doc) and not handled yet in their current state."""
        from vidaffect.video.pyav_backend import incomplete_reason

        ready = []
        for p in self.candidates():
            try:
                st = p.stat()
            except OSError:
                continue
            if self.handled.get(p) == (st.st_size, st.st_mtime_ns):
                continue
            if self.ready_marker:
                if not Path(str(p) + self.ready_marker).exists():
                    log.debug("%s: no ready marker %s yet", p, self.ready_marker)
                    continue
                why = incomplete_reason(p)
                if why:
                    log.warning("%s: has its ready marker but is incomplete (%s); analysing it anyway", p, why)
                ready.append(p)
                continue
            age = self.tracker.unchanged_for(p, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
            if age < self.settle:
                log.debug("%s: not settled yet (size %d, unchanged for %.1f s)", p, st.st_size, max(age, 0.0))
                continue
            why = incomplete_reason(p)
            if why is None:
                ready.append(p)
                continue
            seen = self.tracker.seen[p]
            if age >= GIVE_UP_FACTOR * self.settle:
                log.warning("%s: still incomplete after %.0f s without change (%s); analysing it", p, age, why)
                ready.append(p)
            elif not seen.warned:
                seen.warned = True
                log.info("%s: settled but incomplete (%s); waiting for the rest", p, why)
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
        retire_superseded(ledger, self.out)
        shash, described = settings_hash(self.options)
        ledger.remember_settings(shash, described)
        init_worker(self.config)
        waker = make_waker(self.directory, self.stop_event)
        n = polls = 0
        rule = f"ready marker {self.ready_marker}" if self.ready_marker else f"settle {self.settle:g} s"
        log.info("watching %s (%s, interval %.1f s, %s) for %s; results in %s", self.directory, waker.kind,
                 self.interval, rule, ",".join(sorted(self.exts)), self.out)
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
                waker.wait(min(self.interval, max(self.settle / 2, 0.05)) if settling else self.interval)
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
