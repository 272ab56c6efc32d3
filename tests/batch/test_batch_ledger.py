"""Unit tests of the job ledger, the commit step and the stability check (no models)."""
from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from vidaffect.batch.dataset import read_dataset
from vidaffect.batch.ledger import Ledger, settings_hash
from vidaffect.batch.outputs import MANIFEST, commit_staged, new_staging_dir, stage_results
from vidaffect.batch.watch import StabilityTracker
from vidaffect.pipeline.analyzer import AnalyzeOptions
from vidaffect.results.results import Results


def _dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def test_ledger_is_wal_and_skips_done_jobs(tmp_path):
    lg = Ledger(tmp_path)
    assert lg.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    job, what = lg.enqueue(tmp_path / "a.mp4", "c1", "s1", 10)
    assert what == "new" and job.state == "queued"
    assert lg.claim(job.id) is not None
    assert lg.claim(job.id) is None  # a second worker cannot take it
    lg.finish(job.id, {"csv": "results/a/a.frames.csv"}, frames=5)
    again, what = lg.enqueue(tmp_path / "copy_of_a.mp4", "c1", "s1", 10)
    assert (again.id, what, again.state) == (job.id, "done", "done")
    assert lg.counts()["done"] == 1 and len(lg.jobs()) == 1


def test_changed_settings_reprocess_and_supersede(tmp_path):
    lg = Ledger(tmp_path)
    a, _ = lg.enqueue("v.mp4", "c1", "s1", 10)
    lg.claim(a.id)
    lg.finish(a.id, {}, 1)
    b, what = lg.enqueue("v.mp4", "c1", "s2", 10)
    assert what == "new" and b.id != a.id
    lg.claim(b.id)
    lg.finish(b.id, {}, 1)
    assert lg.get(a.id).state == "superseded"  # its outputs were replaced by the s2 run
    c, what = lg.enqueue("v.mp4", "c1", "s1", 10)  # back to the first settings: must run again
    assert (c.id, what) == (a.id, "requeued")


def test_settings_hash_follows_result_settings_only():
    h1, _ = settings_hash(AnalyzeOptions(end=1.0))
    h2, _ = settings_hash(AnalyzeOptions(end=1.0, progress=True))
    h3, _ = settings_hash(AnalyzeOptions(end=2.0))
    assert h1 == h2 and h1 != h3


def test_recover_requeues_rows_of_dead_processes_only(tmp_path):
    lg = Ledger(tmp_path, stale_after=30)
    dead, _ = lg.enqueue("a.mp4", "c1", "s", 1)
    alive, _ = lg.enqueue("b.mp4", "c2", "s", 1)
    remote, _ = lg.enqueue("c.mp4", "c3", "s", 1)
    lg.claim(dead.id, pid=_dead_pid())
    lg.claim(alive.id)  # this test process: alive
    lg.claim(remote.id, pid=1, host="another-host")
    lg.db.execute("UPDATE jobs SET heartbeat = ? WHERE id = ?", (time.time() - 60, remote.id))
    recovered = {j.id for j in lg.recover()}
    assert recovered == {dead.id, remote.id}
    assert lg.get(dead.id).state == "queued" and lg.get(alive.id).state == "running"
    assert lg.get(dead.id).attempts == 1  # the next claim counts the retry
    assert lg.claim(dead.id).attempts == 2


def test_retry_requeues_failures(tmp_path):
    lg = Ledger(tmp_path)
    j, _ = lg.enqueue("a.mp4", "c1", "s", 1)
    lg.claim(j.id)
    lg.fail(j.id, "corrupt video data")
    assert lg.get(j.id).error == "corrupt video data"
    _, what = lg.enqueue("a.mp4", "c1", "s", 1)
    assert what == "failed"  # a plain rerun does not retry failures
    assert lg.retry_failed() == 1
    assert lg.get(j.id).state == "queued" and lg.get(j.id).error is None


def _results(stem: str, n: int) -> Results:
    frames = pd.DataFrame({"frame": range(n), "time_s": [i / 10 for i in range(n)], "face_id": [-1] * n,
                           "x1": float("nan"), "y1": float("nan"), "x2": float("nan"), "y2": float("nan"),
                           "score": float("nan"), "faces_in_frame": 0, "happy": float("nan"),
                           "emotion": [None] * n, "valence": float("nan"), "arousal": float("nan")})
    return Results(frames, ["happy"], {"video": {"path": f"/x/{stem}.mp4"}, "frames_analysed": n})


def test_commit_moves_complete_outputs_and_builds_one_dataset(tmp_path):
    out = tmp_path / "out"
    for stem, n in (("a", 3), ("b", 5)):
        staging = new_staging_dir(out, f"{stem}-key")
        stage_results(_results(stem, n), staging, f"{stem}.mp4", ("csv",), plot=False)
        paths = commit_staged(staging, out, f"{stem}-key")
        assert not staging.exists()
        assert (out / paths["csv"]).is_file() and (out / paths["metadata"]).is_file()
    df = read_dataset(out)
    assert sorted(df["video"].unique()) == ["a-key", "b-key"]
    assert df.groupby("video").size().to_dict() == {"a-key": 3, "b-key": 5}
    assert df["emotion"].isna().all()  # all-None column kept as a string column across parts
    # pandas reads the folder as one table too
    assert len(pd.read_parquet(out / "dataset")) == 8


def test_commit_refuses_incomplete_staging(tmp_path):
    staging = new_staging_dir(tmp_path, "k")
    stage_results(_results("a", 2), staging, "a.mp4", ("csv",), plot=False)
    (staging / MANIFEST).unlink()  # killed before the manifest was written
    with pytest.raises(FileNotFoundError):
        commit_staged(staging, tmp_path, "k")
    assert not (tmp_path / "results" / "k").exists()


def test_stability_needs_two_unchanged_checks_an_interval_apart():
    t = StabilityTracker(settle=1.0)
    p = Path("x.mp4")
    assert not t.check(p, 100, 1, now=0.0)
    assert not t.check(p, 200, 2, now=1.0)  # still growing
    assert not t.check(p, 200, 2, now=1.5)  # unchanged, but not for a whole interval yet
    assert t.check(p, 200, 2, now=2.0)
    assert not t.check(p, 200, 2, 7, now=2.5)  # the change time moved (mtime set back by `cp -p`): starts over
    assert not t.check(p, 200, 2, 7, now=3.0) and t.check(p, 200, 2, 7, now=3.5)
    assert not t.check(Path("empty.mp4"), 0, 1, now=0.0) and not t.check(Path("empty.mp4"), 0, 1, now=5.0)


def test_inotify_waker_wakes_on_new_files(tmp_path):
    import threading

    from vidaffect.batch.watch import make_waker

    pytest.importorskip("inotify_simple", reason="inotify_simple not installed (polling fallback only)")
    waker = make_waker(tmp_path, threading.Event())
    try:
        assert waker.kind == "inotify"
        threading.Timer(0.2, lambda: (tmp_path / "new.mp4").write_bytes(b"x")).start()
        t0 = time.monotonic()
        assert waker.wait(10.0) is False
        assert time.monotonic() - t0 < 5.0  # woken by the event, not by the 10 s timeout
    finally:
        waker.close()


def test_auto_device_resolves_per_worker():
    import torch

    from vidaffect.batch.worker import WorkerConfig

    cfg = WorkerConfig.build("out", AnalyzeOptions(device="auto"))
    assert cfg.analyze_options().device == ("cuda" if torch.cuda.is_available() else "cpu")
    assert settings_hash(AnalyzeOptions(device="auto"))[0] != settings_hash(AnalyzeOptions(device="cpu"))[0]


def test_watcher_falls_back_to_polling_without_inotify(tmp_path, monkeypatch):
    import threading

    from vidaffect.batch.watch import make_waker

    monkeypatch.setitem(sys.modules, "inotify_simple", None)  # import fails as if not installed
    stop = threading.Event()
    waker = make_waker(tmp_path, stop)
    assert waker.kind == "polling"
    t0 = time.monotonic()
    assert waker.wait(0.3) is False and time.monotonic() - t0 >= 0.25
    stop.set()
    assert waker.wait(10.0) is True  # a stop request ends the wait at once


def _run(lg: Ledger, out: Path, path: str, content: str, n: int, settings: str = "s1"):
    """Enqueue, claim and finish one job with real staged outputs (as a worker does); return the job."""
    from vidaffect.batch.outputs import retire_superseded

    job, _ = lg.enqueue(path, content, settings, 10)
    assert lg.claim(job.id) is not None
    staging = new_staging_dir(out, job.key)
    stage_results(_results(Path(path).stem, n), staging, Path(path).name, ("csv",), plot=False)
    if lg.finish(job.id, commit_staged(staging, out, job.key), frames=n):
        retire_superseded(lg, out)
    return lg.get(job.id)


def test_changed_file_at_a_path_supersedes_its_old_result(tmp_path):
    out = tmp_path / "out"
    lg = Ledger(out)
    a = _run(lg, out, "/in/v.mp4", "aaaa", 3)
    other = _run(lg, out, "/in/w.mp4", "wwww", 4)
    b = _run(lg, out, "/in/v.mp4", "bbbb", 5)  # the file at /in/v.mp4 was replaced, then analysed again
    a = lg.get(a.id)
    assert (a.state, a.superseded_by) == ("superseded", b.id) and b.state == "done"
    assert [j.id for j in lg.versions("/in/v.mp4")] == [b.id, a.id]
    # one current set of rows per path: the old version's outputs moved to superseded/
    df = read_dataset(out)
    assert df.groupby("video").size().to_dict() == {b.key: 5, other.key: 4}
    assert sorted(p.name for p in (out / "results").iterdir()) == sorted([b.key, other.key])
    assert all(v.startswith("superseded/") for v in a.output_paths.values())
    assert (out / a.output_paths["csv"]).is_file() and (out / a.output_paths["dataset"]).is_file()
    assert [(o.id, n.id) for o, n in lg.superseded_by_content()] == [(a.id, b.id)]

    # the file changes back to the first content: that one is current again, its copy leaves superseded/
    a2 = _run(lg, out, "/in/v.mp4", "aaaa", 3)
    assert a2.id == a.id and a2.state == "done" and lg.get(b.id).state == "superseded"
    assert read_dataset(out).groupby("video").size().to_dict() == {a.key: 3, other.key: 4}
    assert not (out / "superseded" / "results" / a.key).exists()
    assert (out / "superseded" / "results" / b.key).is_dir()


def test_an_older_version_finishing_last_does_not_become_current(tmp_path):
    out = tmp_path / "out"
    lg = Ledger(out)
    old, _ = lg.enqueue("/in/v.mp4", "old", "s1", 10)
    lg.claim(old.id)  # still running when the file changes and the new content is analysed
    new = _run(lg, out, "/in/v.mp4", "new", 2)
    staging = new_staging_dir(out, old.key)
    stage_results(_results("v", 7), staging, "v.mp4", ("csv",), plot=False)
    assert [j.id for j in lg.finish(old.id, commit_staged(staging, out, old.key), frames=7)] == [old.id]
    from vidaffect.batch.outputs import retire_superseded

    retire_superseded(lg, out)
    assert lg.get(old.id).state == "superseded" and lg.get(new.id).state == "done"
    assert read_dataset(out)["video"].unique().tolist() == [new.key]


def test_failed_and_queued_old_versions_are_superseded_too(tmp_path):
    out = tmp_path / "out"
    lg = Ledger(out)
    bad, _ = lg.enqueue("/in/v.mp4", "partial", "s1", 10)
    lg.claim(bad.id)
    lg.fail(bad.id, "truncated video")
    stale, _ = lg.enqueue("/in/v.mp4", "partial2", "s1", 10)  # queued, never run
    good = _run(lg, out, "/in/v.mp4", "whole", 3)
    assert {lg.get(bad.id).state, lg.get(stale.id).state} == {"superseded"}
    assert lg.get(good.id).state == "done"
    assert lg.counts()["failed"] == 0 and lg.retry_failed() == 0


def test_old_ledger_gains_the_superseded_by_column(tmp_path):
    import sqlite3

    db = sqlite3.connect(tmp_path / "vidaffect.sqlite")
    db.execute("CREATE TABLE jobs (id INTEGER PRIMARY KEY AUTOINCREMENT, content_hash TEXT NOT NULL, "
               "settings_hash TEXT NOT NULL, path TEXT NOT NULL, name TEXT NOT NULL, size INTEGER NOT NULL, "
               "source TEXT NOT NULL DEFAULT 'batch', state TEXT NOT NULL DEFAULT 'queued', attempts INTEGER NOT "
               "NULL DEFAULT 0, error TEXT, progress REAL NOT NULL DEFAULT 0, frames INTEGER, queued_at REAL NOT "
               "NULL, started_at REAL, finished_at REAL, seconds REAL, outputs TEXT, owner_pid INTEGER, "
               "owner_host TEXT, heartbeat REAL, UNIQUE (content_hash, settings_hash))")
    db.execute("INSERT INTO jobs (content_hash, settings_hash, path, name, size, state, queued_at) "
               "VALUES ('c', 's', '/v.mp4', 'v.mp4', 1, 'done', 1.0)")
    db.commit()
    db.close()
    lg = Ledger(tmp_path)
    assert lg.jobs()[0].superseded_by is None and lg.jobs()[0].state == "done"
