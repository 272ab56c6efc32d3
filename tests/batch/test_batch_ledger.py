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
    t = StabilityTracker(min_age=1.0)
    p = Path("x.mp4")
    assert not t.check(p, 100, 1, now=0.0)
    assert not t.check(p, 200, 2, now=1.0)  # still growing
    assert not t.check(p, 200, 2, now=1.5)  # unchanged, but not for a whole interval yet
    assert t.check(p, 200, 2, now=2.0)
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
