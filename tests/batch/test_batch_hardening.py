"""Regression tests of issue 17 for `vidaffect batch`, `retry` and `status`.

Case 7: a SIGKILLed batch parent leaves no fork server or worker running;
case 8: Ctrl-C prints one line (no worker traceback), stops the workers and requeues their videos;
case 14: jobs requeued by `retry` run with the next batch of the same settings, whatever its inputs, and
`status` says what runs queued jobs.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from batch_helpers import SINGLE, corpus, ledger_jobs, make_variant, needs_videos, wait_for

from vidaffect.batch.ledger import Ledger, pid_alive
from vidaffect.cli.main import main

pytestmark = [needs_videos, pytest.mark.integration]


def _descendants(pid: int) -> set[int]:
    """Every live process below ``pid`` (the fork server, its workers, the resource tracker)."""
    children: dict[int, list[int]] = {}
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                ppid = int((d / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(d.name))
    found, todo = set(), [pid]
    while todo:
        for c in children.get(todo.pop(), []):
            if c not in found:
                found.add(c)
                todo.append(c)
    return found


def _start_batch(src: Path, out: Path, end: float = 3, **popen) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "vidaffect", "batch", str(src), "-o", str(out), "--workers", "2",
                             "--end", str(end), "--no-plot", "-q"], start_new_session=True, **popen)


def _running_in_workers(proc: subprocess.Popen, out: Path) -> set[int]:
    """Wait until both workers run a video; return the batch's descendant processes then."""
    def busy():
        assert proc.poll() is None, "the batch exited early"
        running = [j for j in ledger_jobs(out) if j.state == "running"]
        return len(running) == 2 and all(j.owner_pid != proc.pid for j in running)

    wait_for(busy, 180, "two workers running a video")
    kids = _descendants(proc.pid)
    assert {j.owner_pid for j in ledger_jobs(out) if j.state == "running"} <= kids
    return kids


def _cleanup(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    if proc.poll() is None:
        proc.wait(timeout=30)


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="needs /proc to find the worker processes")
def test_case07_workers_exit_when_the_batch_parent_is_sigkilled(tmp_path):
    from pipeline_speed import concat_video

    # 30-second videos (single_face.mp4 repeated): a worker cannot finish the one it runs in the second or so
    # it outlives the parent, so the videos running at the kill are the ones requeued
    corpus(tmp_path / "in", 4, src=concat_video(SINGLE, tmp_path / "long.mp4", 0.5))
    out = tmp_path / "out"
    proc = _start_batch(tmp_path / "in", out, end=30, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        kids = _running_in_workers(proc, out)
        assert len(kids) >= 3  # fork server + 2 workers (+ the resource tracker)
        done_before = sum(j.state == "done" for j in ledger_jobs(out))
        os.kill(proc.pid, signal.SIGKILL)  # the parent only, not its process group
        proc.wait(timeout=30)
        t0 = time.monotonic()
        wait_for(lambda: not any(pid_alive(p) for p in kids), 5, "the workers to exit with their parent")
        print(f"workers gone {time.monotonic() - t0:.2f} s after the parent")
    finally:
        _cleanup(proc)
    lg = Ledger(out)
    try:
        assert lg.recover()  # the videos they were running are requeued by the next run
        counts = lg.counts()
        # a worker may still complete the video it was writing when the parent died (a few ms until the kernel
        # kills it), but none starts another: at most one more done per worker, the rest requeued
        assert counts["running"] == 0 and done_before <= counts["done"] <= done_before + 2
        assert counts["queued"] >= 4 - done_before - 2
    finally:
        lg.close()


def _interrupt(proc: subprocess.Popen, kids: set[int]) -> list[str]:
    """Ctrl-C as a terminal sends it (SIGINT to the whole foreground group); return the non-empty stderr lines."""
    os.killpg(proc.pid, signal.SIGINT)
    _stdout, stderr = proc.communicate(timeout=60)
    wait_for(lambda: not any(pid_alive(p) for p in kids), 10, "the workers to exit")
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr and "KeyboardInterrupt" not in stderr, stderr
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert lines[0].startswith("vidaffect: interrupted: ") and "left queued; run the same command again" in lines[0]
    return lines


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="needs /proc to find the worker processes")
def test_case08_ctrl_c_in_batch_prints_one_line_and_requeues(tmp_path):
    corpus(tmp_path / "in", 4)
    out = tmp_path / "out"
    pipes = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE, "text": True}

    # 1. while the workers start (load their models): before, each printed its KeyboardInterrupt traceback
    proc = _start_batch(tmp_path / "in", out, **pipes)
    try:
        def workers_started():
            assert proc.poll() is None, "the batch exited early"
            kids = _descendants(proc.pid)
            server = [p for p in kids if len(_descendants(p)) >= 2]  # the fork server and its two workers
            return kids if server else None

        kids = wait_for(workers_started, 120, "the workers to start")
        time.sleep(1.0)
        kids = _descendants(proc.pid)
        _interrupt(proc, kids)
    finally:
        _cleanup(proc)
    assert {j.state for j in ledger_jobs(out)} == {"queued"}

    # 2. while both workers analyse a video: stopped at once, the videos requeued
    proc = _start_batch(tmp_path / "in", out, **pipes)
    try:
        kids = _running_in_workers(proc, out)
        lines = _interrupt(proc, kids)
    finally:
        _cleanup(proc)
    jobs = ledger_jobs(out)
    assert len(jobs) == 4 and {j.state for j in jobs} <= {"queued", "done"}  # nothing running, nothing failed
    assert f"{sum(j.state == 'queued' for j in jobs)} left queued" in lines[0]
    assert not list((out / ".staging").iterdir())


def test_case14_retry_then_batch_with_other_inputs_runs_the_requeued_jobs(tmp_path, capsys):
    bad_dir, good_dir, out = tmp_path / "bad", tmp_path / "good", tmp_path / "out"
    bad_dir.mkdir()
    bad = bad_dir / "broken.mp4"
    bad.write_text("this is a text file, not a video\n" * 100)
    make_variant(SINGLE, good_dir.mkdir() or good_dir / "good.mp4", "case14")
    common = ["-o", str(out), "--no-plot"]
    assert main(["batch", str(bad_dir), *common, "--end", "0.3", "-q"]) == 1
    assert main(["retry", str(out)]) == 0
    said = capsys.readouterr().out
    assert "1 failed job(s) requeued" in said and "(any inputs)" in said
    assert main(["status", str(out)]) == 0
    said = capsys.readouterr().out
    assert "queued: 1 job(s) with settings" in said and "end=0.3" in said and "any inputs" in said

    # another corpus, the same settings: the requeued job runs too (and fails again: it is still not a video)
    assert main(["batch", str(good_dir), *common, "--end", "0.3"]) == 1
    said = capsys.readouterr()
    assert "1 job(s) queued before this run" in said.out and "broken.mp4" in said.err
    jobs = {Path(j.path).name: j for j in ledger_jobs(out)}
    assert jobs["good.mp4"].state == "done" and jobs["broken.mp4"].state == "failed"
    assert jobs["broken.mp4"].attempts == 2

    # other settings cannot run it (its results would carry settings it was not analysed with): left queued, said so
    assert main(["retry", str(out)]) == 0
    assert main(["batch", str(good_dir), *common, "--end", "0.2"]) == 0
    said = capsys.readouterr().out
    assert "1 queued job(s) have other analysis settings and were left queued" in said
    assert {Path(j.path).name: j.state for j in ledger_jobs(out)}["broken.mp4"] == "queued"
    assert main(["status", str(out)]) == 0
    assert "queued: 1 job(s) with settings" in capsys.readouterr().out

    # --inputs-only: only the inputs
    assert main(["batch", str(good_dir), *common, "--end", "0.3", "-q", "--inputs-only"]) == 0
    assert {Path(j.path).name: j.state for j in ledger_jobs(out)}["broken.mp4"] == "queued"

    # a queued file that changed since: not analysed under its old content hash, failed with the reason
    bad.write_text("other bytes now\n")
    assert main(["batch", str(good_dir), *common, "--end", "0.3"]) == 1
    broken = {Path(j.path).name: j for j in ledger_jobs(out)}["broken.mp4"]
    assert broken.state == "failed" and "changed since it was queued" in broken.error
    assert "changed since it was queued" in capsys.readouterr().err
