"""Integration tests of `vidaffect batch` on the real short videos: skip, reprocess, crash-resume, status/retry."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from batch_helpers import NO_FACE, SINGLE, corpus, needs_videos

from vidaffect.batch.dataset import read_dataset
from vidaffect.batch.ledger import Ledger
from vidaffect.cli.main import main

pytestmark = [needs_videos, pytest.mark.integration]


def _mtimes(out: Path) -> dict[str, int]:
    return {str(p): p.stat().st_mtime_ns for p in (out / "results").rglob("*") if p.is_file()}


def test_skip_done_and_reprocess_on_changed_settings(tmp_path, capsys):
    out = tmp_path / "out"
    args = [str(SINGLE), str(NO_FACE), "-o", str(out), "--no-plot", "-q"]
    assert main(["batch", *args, "--end", "0.6"]) == 0
    lg = Ledger(out)
    assert lg.counts()["done"] == 2
    first = _mtimes(out)
    df = read_dataset(out)
    assert set(df["video_name"]) == {"single_face.mp4", "no_face.mp4"}
    assert df["time_s"].max() < 0.6 and (df.loc[df.video_name == "no_face.mp4", "face_id"] == -1).all()

    assert main(["batch", *args, "--end", "0.6"]) == 0  # same settings: nothing redone
    assert _mtimes(out) == first and lg.counts()["done"] == 2
    assert all(j.attempts == 1 for j in lg.jobs())

    assert main(["batch", *args, "--end", "0.6", "--format", "csv,parquet,json"]) == 0  # a new output format
    assert all(j.attempts == 2 and "json" in j.output_paths for j in lg.jobs())
    assert all((out / j.output_paths["json"]).is_file() for j in lg.jobs())

    assert main(["batch", *args, "--end", "0.3"]) == 0  # changed settings: reprocessed
    counts = lg.counts()
    assert counts["done"] == 2 and counts["superseded"] == 2
    df = read_dataset(out)
    assert df["time_s"].max() < 0.3 and df.groupby("video").size().min() > 0
    assert len(list((out / "results").iterdir())) == 2  # outputs replaced, not duplicated


def test_status_and_retry_report_failures(tmp_path, capsys):
    bad = tmp_path / "in" / "not_a_video.mp4"
    bad.parent.mkdir()
    bad.write_text("this is a text file, not a video\n" * 100)
    out = tmp_path / "out"
    assert main(["batch", str(bad.parent), "-o", str(out), "-q", "--no-plot"]) == 1
    capsys.readouterr()
    assert main(["status", str(out)]) == 0
    text = capsys.readouterr().out
    assert "1 failed" in text and "FAILED" in text and "not_a_video.mp4" in text
    assert main(["retry", str(out)]) == 0
    assert "1 failed job(s) requeued" in capsys.readouterr().out
    assert Ledger(out).counts()["queued"] == 1
    assert main(["status", str(tmp_path / "nowhere")]) == 1


def test_sigkill_mid_corpus_then_rerun_completes_each_video_once(tmp_path):
    videos = corpus(tmp_path / "in", 4)
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "vidaffect", "batch", str(tmp_path / "in"), "-o", str(out),
           "--end", "1.0", "--no-plot", "-q"]
    proc = subprocess.Popen(cmd, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    first_done: dict[str, int] = {}
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and proc.poll() is None:
            if (out / "vidaffect.sqlite").exists():
                lg = Ledger(out)
                done = lg.jobs("done")
                running = lg.jobs("running")
                lg.close()
                if done and running:  # mid-corpus: one finished, one in flight
                    break
            time.sleep(0.05)
        assert proc.poll() is None, "the batch finished before it could be killed"
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    lg = Ledger(out)
    states = lg.counts()
    assert states["done"] < 4 and states["running"] >= 1
    first_done = {j.path: j.id for j in lg.jobs("done")}
    done_mtimes = {p: m for p, m in _mtimes(out).items()}

    # the rerun uses the process pool (2 workers, models loaded once per worker)
    assert main(["batch", str(tmp_path / "in"), "-o", str(out), "--end", "1.0", "--no-plot", "-q",
                 "--workers", "2"]) == 0
    jobs = lg.jobs()
    assert len(jobs) == 4 and all(j.state == "done" for j in jobs)
    assert sorted(Path(j.path).name for j in jobs) == sorted(v.name for v in videos)
    for j in jobs:
        if j.path in first_done:
            assert j.attempts == 1  # finished before the kill: not redone
    assert any(j.attempts == 2 for j in jobs)  # the one killed while running was retried
    for p, m in done_mtimes.items():
        if any(Path(p).parent.name.startswith(Path(k).stem + "-") for k in first_done):
            assert Path(p).stat().st_mtime_ns == m
    assert len(list((out / "results").iterdir())) == 4
    df = read_dataset(out)
    assert df["video"].nunique() == 4
    assert (df.groupby("video")["frame"].apply(lambda s: s.is_unique)).all()  # no duplicated rows
    assert not any((out / ".staging").iterdir())
