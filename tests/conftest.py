"""Shared fixtures (helpers live in video_fixtures.py, importable from every test folder, as are the
benchmarks' modules, e.g. ``pipeline_speed.concat_video``)."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parents[1] / "benchmarks"))
os.environ.setdefault("GLOG_minloglevel", "2")


@pytest.fixture(autouse=True)
def _one_torch_thread():
    """Every test runs torch single-threaded: CI has 2 cores, and MediaPipe, the decoder thread and
    torch's own threads would otherwise oversubscribe them (threads then wait on each other)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def demo_video(tmp_path_factory) -> Path:
    from vidaffect.video.demo import make_demo_video

    return make_demo_video(tmp_path_factory.mktemp("demo") / "demo.mp4")


# ----- nothing left running: every process the tests start must be gone when the session ends -----
# Each process started by the tests inherits this marker in its environment (servers, their forkserver and
# workers, Ray's raylet/GCS/workers, watchers), even after it was reparented to init or started in a new
# session; at the end of the session /proc is searched for it.
_MARKER = "VIDAFFECT_TEST_SESSION"
_LEFTOVER_GRACE_S = 10.0  # Ray and process pools may take a few seconds to exit after shutdown


def _marked_processes(token: str) -> dict[int, str]:
    """pid -> command line of live (non-zombie) processes, other than this one, whose environment has the marker."""
    needle = f"{_MARKER}={token}".encode()
    found = {}
    for d in Path("/proc").iterdir():
        if not d.name.isdigit() or int(d.name) == os.getpid():
            continue
        try:
            if needle not in (d / "environ").read_bytes().split(b"\0"):
                continue
            if (d / "stat").read_text().rsplit(")", 1)[1].split()[0] in ("Z", "X"):
                continue
            found[int(d.name)] = (d / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:  # gone meanwhile, or not ours
            continue
    return found


def _stop_own_multiprocessing_helpers() -> None:
    """The fork server and resource tracker of the pytest process itself (started by in-process pools, e.g.
    ``run_local(workers=2)``) live as long as it does; stop them so that the check sees only real leftovers."""
    import multiprocessing.forkserver as forkserver
    import multiprocessing.resource_tracker as resource_tracker

    for helper in (getattr(forkserver, "_forkserver", None), getattr(resource_tracker, "_resource_tracker", None)):
        try:
            helper._stop()
        except Exception:  # private API: where it differs, the helpers still end with this process
            pass


def pytest_configure(config):
    if Path("/proc/self/environ").is_file() and not hasattr(config, "workerinput"):
        import uuid

        config._vidaffect_marker = os.environ[_MARKER] = uuid.uuid4().hex


def pytest_sessionfinish(session, exitstatus):
    import signal
    import time

    token = getattr(session.config, "_vidaffect_marker", None)
    if not token:  # no /proc (macOS, Windows): the check is skipped
        return
    _stop_own_multiprocessing_helpers()
    deadline = time.monotonic() + _LEFTOVER_GRACE_S
    left = _marked_processes(token)
    while left and time.monotonic() < deadline:
        time.sleep(0.2)
        left = _marked_processes(token)
    if not left:
        return
    lines = [f"  pid {pid}: {cmd[:200]}" for pid, cmd in sorted(left.items())]
    for pid in left:  # do not leave them running either
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    msg = (f"{len(left)} process(es) started by the tests were still running at the end of the session "
           f"(now killed); a test or fixture does not stop what it starts:\n" + "\n".join(lines))
    if reporter is not None:
        reporter.write_sep("=", "processes left behind", red=True)
        reporter.write_line(msg)
    else:
        print(msg, file=sys.stderr)
    session.exitstatus = pytest.ExitCode.TESTS_FAILED
