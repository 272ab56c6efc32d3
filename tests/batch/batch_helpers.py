"""Shared helpers of the batch and service tests: the shared videos and distinct-content copies of them."""
from __future__ import annotations

import socket
from pathlib import Path

import pytest

VIDEOS = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "videos"
SINGLE = VIDEOS / "single_face.mp4"
NO_FACE = VIDEOS / "no_face.mp4"

needs_videos = pytest.mark.skipif(not SINGLE.is_file() or not NO_FACE.is_file(),
                                  reason=f"shared test videos not found in {VIDEOS}")


def make_variant(src: Path, dst: Path, tag: str = "", fmt: str = "mp4") -> Path:
    """Remux ``src`` into ``dst`` (container ``fmt``) with a container comment ``tag``: same frames, different
    bytes (content hash)."""
    import av

    with av.open(str(src)) as inp, av.open(str(dst), "w", format=fmt) as out:
        if tag:
            out.metadata["comment"] = f"vidaffect test variant {tag}"
        ins = inp.streams.video[0]
        ost = out.add_stream_from_template(ins)
        for packet in inp.demux(ins):
            if packet.dts is None:
                continue
            packet.stream = ost
            out.mux(packet)
    return dst


def wait_for(cond, timeout: float, what: str):
    """Poll ``cond`` every 50 ms until it returns something truthy (returned); fail after ``timeout`` seconds."""
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = cond()
        if v:
            return v
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def ledger_jobs(out: Path) -> list:
    """The jobs of the ledger in ``out`` (none before it exists)."""
    from vidaffect.batch.ledger import Ledger

    if not (out / "vidaffect.sqlite").exists():
        return []
    lg = Ledger(out)
    try:
        return lg.jobs()
    finally:
        lg.close()


def corpus(folder: Path, n: int, src: Path = SINGLE, prefix: str = "clip") -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    return [make_variant(src, folder / f"{prefix}{i}.mp4", f"{prefix}{i}") for i in range(n)]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(out: Path, root: Path, token: str, *args: str, env: dict | None = None):
    """Start `vidaffect serve` on a free 127.0.0.1 port in its own session; return (process, base URL) once
    /health answers.  The caller kills the process group (``os.killpg(proc.pid, SIGKILL)``)."""
    import os
    import subprocess
    import sys
    import time

    import httpx

    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "vidaffect", "serve", "--host", "127.0.0.1", "--port", str(port), "-o", str(out),
         "--root", str(root), "-q", *args],
        env={**os.environ, "VIDAFFECT_TOKEN": token, **(env or {})}, start_new_session=True,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        if proc.poll() is not None:
            raise AssertionError("the server exited")
        try:
            if httpx.get(url + "/health", timeout=2).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            import signal

            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
            raise AssertionError("the server did not start within 60 s")
        time.sleep(0.2)
