"""`vidaffect watch` as a real subprocess: a file written slowly is not picked up early; clean stop on SIGTERM."""
from __future__ import annotations

import hashlib
import signal
import subprocess
import sys
import time

import pytest
from batch_helpers import SINGLE, ledger_jobs, make_variant, needs_videos, wait_for


pytestmark = [needs_videos, pytest.mark.integration]


def test_watch_waits_for_complete_files_and_stops_cleanly(tmp_path):
    watched, out, log = tmp_path / "drop", tmp_path / "out", tmp_path / "watch.log"
    watched.mkdir()
    src = make_variant(SINGLE, tmp_path / "slow_source.mp4", "slow")
    data = src.read_bytes()
    proc = subprocess.Popen([sys.executable, "-m", "vidaffect", "watch", str(watched), "-o", str(out),
                             "--interval", "0.3", "--settle", "0.5", "--end", "1.0", "--no-plot", "--log-file", str(log)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: log.exists() and "watching" in log.read_text(), 60, "the watcher to start")
        # Copy slowly: a chunk every 0.1 s (faster than the 0.3 s poll), about 2 s in all.
        target = watched / "slow.mp4"
        step = len(data) // 20 + 1
        with open(target, "wb") as f:
            for i in range(0, len(data), step):
                f.write(data[i:i + step])
                f.flush()
                time.sleep(0.1)
                assert not ledger_jobs(out), "a file still being written was picked up"
        jobs = wait_for(lambda: [j for j in ledger_jobs(out) if j.state in ("done", "failed")], 60, "the video to be processed")
        assert [j.state for j in jobs] == ["done"] and jobs[0].attempts == 1
        assert jobs[0].content_hash == hashlib.sha256(data).hexdigest()  # the complete file, not a prefix
        assert (out / jobs[0].output_paths["csv"]).is_file()

        # A second video; SIGTERM while it runs: the watcher finishes it, then exits 0.
        make_variant(SINGLE, watched / "second.mp4", "second")
        wait_for(lambda: any(j.state == "running" for j in ledger_jobs(out)), 60, "the second video to start")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0
        states = sorted(j.state for j in ledger_jobs(out))
        assert states == ["done", "done"]
        text = log.read_text()
        assert "stopping after the current video" in text and "stopped after 2 video(s)" in text
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
