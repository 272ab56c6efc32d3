"""The job ledger: one embedded SQLite database (WAL mode) that records every video of an output directory.

A job is one (video content, analysis settings) pair.  States::

    queued -> running -> done | failed
    done -> superseded   (the same video was since analysed with other settings: its outputs were replaced)
    done | failed | queued -> superseded
                         (the file at its path changed and the new content was analysed: one current
                         result per path; the old outputs move to OUT/superseded/, see outputs.retire_superseded)

``superseded_by`` names the job that replaced a superseded row.  The current
version of a path is its newest enqueued content (``queued_at``), so a file
that changes back to an older content makes that one current again.

A row in ``running`` names its owner (pid, host) and a heartbeat; rows whose
owner is dead (same host: the pid is gone; other host: no heartbeat for
``stale_after`` seconds) are put back in ``queued`` by :meth:`Ledger.recover`.
Rows turn ``done`` only after their outputs were renamed into place
(:mod:`vidaffect.batch.outputs`), so a killed run loses nothing and duplicates nothing.
"""
from __future__ import annotations

import hashlib
import json
import os
import socket
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from vidaffect.errors import OutputError

DB_NAME = "vidaffect.sqlite"
STATES = ("queued", "running", "done", "failed", "superseded")
HOST = socket.gethostname()

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    content_hash TEXT NOT NULL,
    settings_hash TEXT NOT NULL,
    path TEXT NOT NULL,
    name TEXT NOT NULL,
    size INTEGER NOT NULL,
    source TEXT NOT NULL DEFAULT 'batch',
    state TEXT NOT NULL DEFAULT 'queued',
    attempts INTEGER NOT NULL DEFAULT 0,
    error TEXT,
    progress REAL NOT NULL DEFAULT 0,
    frames INTEGER,
    queued_at REAL NOT NULL,
    started_at REAL,
    finished_at REAL,
    seconds REAL,
    outputs TEXT,
    owner_pid INTEGER,
    owner_host TEXT,
    heartbeat REAL,
    superseded_by INTEGER,
    UNIQUE (content_hash, settings_hash)
);
CREATE INDEX IF NOT EXISTS jobs_state ON jobs (state);
CREATE INDEX IF NOT EXISTS jobs_content ON jobs (content_hash);
CREATE INDEX IF NOT EXISTS jobs_path ON jobs (path);
CREATE TABLE IF NOT EXISTS settings (hash TEXT PRIMARY KEY, json TEXT NOT NULL);
"""


@dataclass
class Job:
    """One row of the ledger."""

    id: int
    content_hash: str
    settings_hash: str
    path: str
    name: str
    size: int
    source: str
    state: str
    attempts: int
    error: str | None
    progress: float
    frames: int | None
    queued_at: float
    started_at: float | None
    finished_at: float | None
    seconds: float | None
    outputs: str | None
    owner_pid: int | None
    owner_host: str | None
    heartbeat: float | None
    superseded_by: int | None = None

    @property
    def key(self) -> str:
        """Name of this video's output folder and data set partition: ``<stem>-<content hash[:10]>``."""
        return f"{Path(self.name).stem}-{self.content_hash[:10]}"

    @property
    def output_paths(self) -> dict[str, str]:
        return json.loads(self.outputs) if self.outputs else {}

    def to_dict(self) -> dict[str, Any]:
        d = dict(self.__dict__)
        d["outputs"] = self.output_paths
        d["key"] = self.key
        return d


def content_hash(path: str | os.PathLike) -> str:
    """SHA-256 of the file's bytes (what identifies a video, whatever its name or folder)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _weights_identity(options) -> dict[str, Any]:
    """What identifies the model's weights: the checkpoint's content hash, or the shipped weight files' hashes."""
    if options.checkpoint:
        p = Path(options.checkpoint)
        return {"checkpoint": content_hash(p) if p.is_file() else str(p)}
    weights = Path(__file__).resolve().parents[1] / "models" / "weights"
    prefix = options.model.replace("-", "_")
    files = sorted(weights.glob(f"{prefix}*")) if weights.is_dir() else []
    return {"shipped": {f.name: content_hash(f) for f in files}}


def settings_hash(options) -> tuple[str, dict[str, Any]]:
    """Hash of ``AnalyzeOptions.settings()`` + the model's weights identity; returns (hash, the hashed dict)."""
    d = {"settings": options.settings(), "weights": _weights_identity(options)}
    blob = json.dumps(d, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest(), d


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child (killed but not reaped yet) is dead too.
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return True


class Ledger:
    """The SQLite job ledger of one output directory (one connection per process/thread)."""

    def __init__(self, path: str | os.PathLike, stale_after: float = 120.0) -> None:
        path = Path(path)
        self.path = path / DB_NAME if path.is_dir() or not path.suffix else path
        self.stale_after = stale_after
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.db = sqlite3.connect(self.path, timeout=60.0, isolation_level=None, check_same_thread=False)
            self.db.row_factory = sqlite3.Row
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
            self._migrate()
            self.db.executescript(_SCHEMA)
        except sqlite3.Error as exc:
            raise OutputError(f"{self.path}: cannot open the job ledger ({exc})") from None

    def _migrate(self) -> None:
        """Add the columns of newer versions to a ledger written by an older one."""
        cols = {r[1] for r in self.db.execute("PRAGMA table_info(jobs)")}
        if cols and "superseded_by" not in cols:
            try:
                self.db.execute("ALTER TABLE jobs ADD COLUMN superseded_by INTEGER")
            except sqlite3.OperationalError as exc:  # another process migrated it first
                if "duplicate column" not in str(exc):
                    raise

    def close(self) -> None:
        self.db.close()

    # ----- reading -----
    def _jobs(self, sql: str, params: Iterable[Any] = ()) -> list[Job]:
        return [Job(**dict(r)) for r in self.db.execute(sql, tuple(params)).fetchall()]

    def get(self, job_id: int) -> Job | None:
        rows = self._jobs("SELECT * FROM jobs WHERE id = ?", (job_id,))
        return rows[0] if rows else None

    def find(self, content: str, settings: str) -> Job | None:
        rows = self._jobs("SELECT * FROM jobs WHERE content_hash = ? AND settings_hash = ?", (content, settings))
        return rows[0] if rows else None

    def jobs(self, state: str | None = None, source: str | None = None) -> list[Job]:
        sql, params = "SELECT * FROM jobs WHERE 1=1", []
        if state:
            sql += " AND state = ?"
            params.append(state)
        if source:
            sql += " AND source = ?"
            params.append(source)
        return self._jobs(sql + " ORDER BY id", params)

    def counts(self) -> dict[str, int]:
        out = {s: 0 for s in STATES}
        for state, n in self.db.execute("SELECT state, COUNT(*) FROM jobs GROUP BY state"):
            out[state] = n
        return out

    def versions(self, path: str | os.PathLike) -> list[Job]:
        """Every job of one video path, newest enqueued first (at most one of them is current: done)."""
        return self._jobs("SELECT * FROM jobs WHERE path = ? ORDER BY queued_at DESC, id DESC", (str(path),))

    def superseded_by_content(self) -> list[tuple[Job, Job]]:
        """(old, new) pairs where the file at a path changed: the old job's results are no longer current."""
        rows = self.db.execute(
            "SELECT o.id, n.id FROM jobs o JOIN jobs n ON o.superseded_by = n.id "
            "WHERE o.state = 'superseded' AND o.content_hash != n.content_hash ORDER BY o.id").fetchall()
        out = []
        for old_id, new_id in rows:
            old, new = self.get(old_id), self.get(new_id)
            if old is not None and new is not None:
                out.append((old, new))
        return out

    def set_outputs(self, job_id: int, outputs: dict[str, str]) -> None:
        self.db.execute("UPDATE jobs SET outputs = ? WHERE id = ?", (json.dumps(outputs), job_id))

    def settings_json(self, settings: str) -> dict[str, Any] | None:
        row = self.db.execute("SELECT json FROM settings WHERE hash = ?", (settings,)).fetchone()
        return json.loads(row[0]) if row else None

    # ----- writing -----
    def remember_settings(self, settings: str, described: dict[str, Any]) -> None:
        self.db.execute("INSERT OR IGNORE INTO settings (hash, json) VALUES (?, ?)",
                        (settings, json.dumps(described, sort_keys=True, default=str)))

    def enqueue(self, path: str | os.PathLike, content: str, settings: str, size: int, source: str = "batch",
                name: str | None = None, requeue_failed: bool = False) -> tuple[Job, str]:
        """Add a video; return (its job, what happened: 'new', 'done', 'queued', 'running', 'failed', 'requeued')."""
        now = time.time()
        name = name or Path(path).name
        self.db.execute("BEGIN IMMEDIATE")
        try:
            row = self.db.execute("SELECT state FROM jobs WHERE content_hash = ? AND settings_hash = ?",
                                  (content, settings)).fetchone()
            if row is None:
                self.db.execute(
                    "INSERT INTO jobs (content_hash, settings_hash, path, name, size, source, state, queued_at) "
                    "VALUES (?, ?, ?, ?, ?, ?, 'queued', ?)", (content, settings, str(path), name, size, source, now))
                what = "new"
            elif row["state"] == "superseded" or (row["state"] == "failed" and requeue_failed):
                self.db.execute(
                    "UPDATE jobs SET state = 'queued', path = ?, name = ?, error = NULL, progress = 0, queued_at = ?, "
                    "superseded_by = NULL WHERE content_hash = ? AND settings_hash = ?",
                    (str(path), name, now, content, settings))
                what = "requeued"
            else:
                what = row["state"]
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        job = self.find(content, settings)
        assert job is not None
        return job, what

    def claim(self, job_id: int, pid: int | None = None, host: str = HOST) -> Job | None:
        """Move a queued job to ``running`` for this process; None when someone else has it or it is finished."""
        now = time.time()
        cur = self.db.execute(
            "UPDATE jobs SET state = 'running', attempts = attempts + 1, owner_pid = ?, owner_host = ?, "
            "heartbeat = ?, started_at = ?, progress = 0, error = NULL WHERE id = ? AND state = 'queued'",
            (pid or os.getpid(), host, now, now, job_id))
        return self.get(job_id) if cur.rowcount == 1 else None

    def claim_next(self, source: str | None = None, pid: int | None = None) -> Job | None:
        """Claim the oldest queued job (of ``source``)."""
        for _ in range(20):
            sql, params = "SELECT id FROM jobs WHERE state = 'queued'", []
            if source:
                sql += " AND source = ?"
                params.append(source)
            row = self.db.execute(sql + " ORDER BY id LIMIT 1", params).fetchone()
            if row is None:
                return None
            job = self.claim(row[0], pid)
            if job is not None:
                return job
        return None

    def heartbeat(self, job_id: int, progress: float | None = None) -> None:
        if progress is None:
            self.db.execute("UPDATE jobs SET heartbeat = ? WHERE id = ? AND state = 'running'", (time.time(), job_id))
        else:
            self.db.execute("UPDATE jobs SET heartbeat = ?, progress = ? WHERE id = ? AND state = 'running'",
                            (time.time(), float(progress), job_id))

    def finish(self, job_id: int, outputs: dict[str, str], frames: int | None = None) -> list[Job]:
        """Mark a job done (call only after its outputs were renamed into place) and supersede the rows it
        replaces: the same content with other settings, and other contents of the same path enqueued before
        it (done, failed or still queued).  If a newer content of its path is already done, this job is the
        one superseded.  Returns the rows superseded because their path changed (their outputs are to be
        moved out of the current results by :func:`vidaffect.batch.outputs.retire_superseded`)."""
        now = time.time()
        self.db.execute("BEGIN IMMEDIATE")
        try:
            job = self.get(job_id)
            assert job is not None
            self.db.execute(
                "UPDATE jobs SET state = 'done', progress = 1, finished_at = ?, seconds = ? - COALESCE(started_at, ?), "
                "outputs = ?, frames = ?, owner_pid = NULL, owner_host = NULL, superseded_by = NULL WHERE id = ?",
                (now, now, now, json.dumps(outputs), frames, job_id))
            self.db.execute("UPDATE jobs SET state = 'superseded', superseded_by = ? "
                            "WHERE content_hash = ? AND id != ? AND state = 'done'",
                            (job_id, job.content_hash, job_id))
            newer = self.db.execute(
                "SELECT id FROM jobs WHERE path = ? AND content_hash != ? AND state = 'done' AND queued_at > ? "
                "ORDER BY queued_at DESC LIMIT 1", (job.path, job.content_hash, job.queued_at)).fetchone()
            if newer is not None:
                self.db.execute("UPDATE jobs SET state = 'superseded', superseded_by = ? WHERE id = ?",
                                (newer[0], job_id))
                replaced = [job_id]
            else:
                replaced = [r[0] for r in self.db.execute(
                    "SELECT id FROM jobs WHERE path = ? AND content_hash != ? AND queued_at <= ? "
                    "AND state IN ('done', 'failed', 'queued')", (job.path, job.content_hash, job.queued_at))]
                self.db.executemany("UPDATE jobs SET state = 'superseded', superseded_by = ? WHERE id = ?",
                                    [(job_id, i) for i in replaced])
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        return [j for j in (self.get(i) for i in replaced) if j is not None]

    def fail(self, job_id: int, error: str) -> None:
        now = time.time()
        self.db.execute(
            "UPDATE jobs SET state = 'failed', error = ?, finished_at = ?, seconds = ? - COALESCE(started_at, ?), "
            "owner_pid = NULL, owner_host = NULL WHERE id = ?", (error, now, now, now, job_id))

    def requeue(self, job_id: int) -> None:
        """Put a running job back in the queue (clean shutdown in the middle of a video)."""
        self.db.execute("UPDATE jobs SET state = 'queued', owner_pid = NULL, owner_host = NULL, progress = 0, "
                        "attempts = MAX(attempts - 1, 0) WHERE id = ? AND state = 'running'", (job_id,))

    def reopen(self, job_id: int) -> bool:
        """Requeue a done job (e.g. its outputs lack a format asked for now); False if it is not done."""
        cur = self.db.execute("UPDATE jobs SET state = 'queued', progress = 0, queued_at = ? "
                              "WHERE id = ? AND state = 'done'", (time.time(), job_id))
        return cur.rowcount == 1

    def retry_failed(self) -> int:
        """Requeue every failed job; return how many."""
        cur = self.db.execute("UPDATE jobs SET state = 'queued', error = NULL, progress = 0, queued_at = ? "
                              "WHERE state = 'failed'", (time.time(),))
        return cur.rowcount

    def is_stale(self, job: Job, now: float | None = None) -> bool:
        """Is this running job's owner gone?"""
        now = now or time.time()
        if job.owner_host == HOST and job.owner_pid:
            return not pid_alive(job.owner_pid)
        return (job.heartbeat or 0) < now - self.stale_after

    def recover(self) -> list[Job]:
        """Requeue running jobs whose owner died (killed run, crashed worker); return them."""
        stale = [j for j in self.jobs("running") if self.is_stale(j)]
        for j in stale:
            self.db.execute("UPDATE jobs SET state = 'queued', owner_pid = NULL, owner_host = NULL, progress = 0 "
                            "WHERE id = ? AND state = 'running' AND heartbeat IS ?", (j.id, j.heartbeat))
        return stale
