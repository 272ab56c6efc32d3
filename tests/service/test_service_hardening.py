"""Regression tests of issue 17 for `vidaffect serve`: hostile-but-fair requests get a 4xx, never a 500 or a full disk.

Case 3: a chunked upload over `--max-upload-mb` is refused while it arrives (little is spooled to temp);
case 6: no token means loopback only (or `--insecure`), an empty token is a warning;
case 9: NUL bytes, overlong paths and file names, 20-digit job ids get a 4xx and never leak a server path.
"""
from __future__ import annotations

import io
import os
import select
import signal
import socket
import sys
import threading
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "batch"))
from batch_helpers import SINGLE, needs_videos, start_server  # noqa: E402

httpx = pytest.importorskip("httpx", reason="the service extra is not installed (pip install 'vidaffect[service]')")
pytest.importorskip("fastapi", reason="the service extra is not installed (pip install 'vidaffect[service]')")

TOKEN = "hardening-token-456"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
LIMIT_MB = 1


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """A real server on 127.0.0.1 with a 1 MiB upload limit and its own TMPDIR (where uploads would spool)."""
    base = tmp_path_factory.mktemp("hardening")
    root, spool, out = base / "root", base / "spool", base / "out"
    for d in (root, spool):
        d.mkdir()
    (root / "notes.mp4").write_text("not a video\n")
    proc, url = start_server(out, root, TOKEN, "--max-upload-mb", str(LIMIT_MB), "--workers", "1", "--end", "0.5",
                             env={"TMPDIR": str(spool)})
    port = int(url.rsplit(":", 1)[1])
    try:
        yield {"url": url, "port": port, "pid": proc.pid, "out": out, "root": root, "spool": spool, "base": base}
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)


class TempWatch:
    """Samples the server's open files under its TMPDIR (spooled uploads are unlinked at once, so they are
    only visible as /proc/PID/fd links) and keeps the largest total size seen."""

    def __init__(self, pid: int, spool: Path) -> None:
        self.pid, self.spool, self.max_bytes = pid, str(spool), 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        fd_dir = Path(f"/proc/{self.pid}/fd")
        while not self._stop.is_set():
            total = 0
            for fd in fd_dir.iterdir() if fd_dir.is_dir() else []:
                try:
                    if os.readlink(fd).startswith(self.spool):
                        total += os.stat(fd).st_size
                except OSError:
                    continue
            self.max_bytes = max(self.max_bytes, total)
            self._stop.wait(0.005)

    def stop(self) -> int:
        self._stop.set()
        self._thread.join(timeout=5)
        return self.max_bytes


def chunked_upload(port: int, total: int, chunk: int = 64 << 10, name: str = "big.mp4") -> tuple[int, bytes]:
    """POST /jobs a multipart upload of ``total`` bytes with ``Transfer-Encoding: chunked`` (no length announced),
    reading the response as soon as one comes; return (body bytes sent, response head)."""
    boundary = "vidaffect-test-boundary"
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    try:
        sock.sendall((f"POST /jobs HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: Bearer {TOKEN}\r\n"
                      f"Content-Type: multipart/form-data; boundary={boundary}\r\n"
                      f"Transfer-Encoding: chunked\r\n\r\n").encode())

        def send_chunk(data: bytes) -> None:
            sock.sendall(b"%x\r\n" % len(data) + data + b"\r\n")

        send_chunk((f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
                    f"Content-Type: video/mp4\r\n\r\n").encode())
        payload = os.urandom(chunk)
        sent = 0
        try:
            while sent < total and not select.select([sock], [], [], 0)[0]:
                send_chunk(payload)
                sent += len(payload)
            if sent >= total:
                send_chunk(f"\r\n--{boundary}--\r\n".encode())
                send_chunk(b"")
        except (BrokenPipeError, ConnectionResetError):  # the server closed the connection: read its answer
            pass
        head = b""
        try:
            while b"\r\n\r\n" not in head:
                data = sock.recv(65536)
                if not data:
                    break
                head += data
        except (ConnectionResetError, socket.timeout):
            pass
        return sent, head
    finally:
        sock.close()


def test_case03_chunked_upload_over_limit_is_refused_early(server):
    total = 300 << 20  # 300 MiB announced nowhere, against a 1 MiB limit
    watch = TempWatch(server["pid"], server["spool"])
    try:
        sent, head = chunked_upload(server["port"], total)
    finally:
        spooled = watch.stop()
    assert head.startswith(b"HTTP/1.1 413"), head[:200]
    assert spooled <= (LIMIT_MB << 20) + (1 << 20), f"{spooled >> 20} MiB were spooled to temp"
    assert sent < 64 << 20, f"{sent >> 20} MiB were sent before the 413"  # refused while arriving, not at the end
    assert b"connection: close" in head.lower()  # and the server reads no more of it
    assert not list(server["spool"].iterdir())
    assert not [p for p in (server["out"] / "uploads").iterdir()]
    with httpx.Client(base_url=server["url"], headers=AUTH, timeout=30) as c:
        assert c.get("/health").status_code == 200  # the server is fine and answers the next client
        # an announced length over the limit is refused before the body is read; under it, the upload goes on
        r = c.post("/jobs", files={"file": ("big.mp4", io.BytesIO(os.urandom((LIMIT_MB << 20) + (200 << 10))))})
        assert r.status_code == 413
        r = c.post("/jobs", files={"file": ("small.mp4", io.BytesIO(b"not a video, but small" * 100))})
        assert r.status_code == 415 and "not a readable video" in r.json()["detail"]
        assert c.get("/jobs").json() == []


def _serve(argv: list[str], monkeypatch, capsys) -> tuple[int, str, dict]:
    """Run `vidaffect serve ARGV` in-process with uvicorn.run replaced; return (exit code, stderr, what it got)."""
    import uvicorn

    from vidaffect.cli.main import main

    got: dict = {}

    def fake_run(app, host, port, **kwargs):
        got.update(app=app, host=host, port=port)

    monkeypatch.setattr(uvicorn, "run", fake_run)
    code = main(["serve", *argv])
    return code, capsys.readouterr().err, got


def _guard_token(app) -> str | None:
    from vidaffect.service.app import Guard

    return next(m.kwargs["token"] for m in app.user_middleware if m.cls is Guard)


def test_case06_no_token_is_loopback_only_and_an_empty_token_warns(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("VIDAFFECT_TOKEN", raising=False)
    out = tmp_path / "out"
    for host in ("0.0.0.0", "::", "192.168.1.20", "myhost.example"):
        for token in ([], ["--token", ""], ["--token", "  "]):
            code, err, got = _serve(["--host", host, "-o", str(out), *token], monkeypatch, capsys)
            assert code == 1 and not got, (host, token)
            assert f"vidaffect: error: refusing to listen on {host} without a token" in err
            assert "Traceback" not in err
    assert not out.exists()  # refused before anything was created

    code, err, got = _serve(["--host", "0.0.0.0", "-o", str(out), "--insecure"], monkeypatch, capsys)
    assert code == 0 and got["host"] == "0.0.0.0" and _guard_token(got["app"]) is None
    assert "warning: listening on 0.0.0.0 without a token (--insecure)" in err

    code, err, got = _serve(["--host", "127.0.0.1", "-o", str(out), "--token", ""], monkeypatch, capsys)
    assert code == 0 and _guard_token(got["app"]) is None
    assert "vidaffect: warning: --token is empty: the service runs WITHOUT authentication" in err

    for host in ("127.0.0.1", "localhost", "::1", "[::1]", "127.0.0.2"):  # loopback without a token: allowed
        code, err, got = _serve(["--host", host, "-o", str(out)], monkeypatch, capsys)
        assert code == 0 and _guard_token(got["app"]) is None and not err, host

    monkeypatch.setenv("VIDAFFECT_TOKEN", "from-env")  # an empty --token never discards the environment's
    code, err, got = _serve(["--host", "0.0.0.0", "-o", str(out), "--token", ""], monkeypatch, capsys)
    assert code == 0 and _guard_token(got["app"]) == "from-env" and "--token is empty: using" in err
    code, err, got = _serve(["--host", "0.0.0.0", "-o", str(out)], monkeypatch, capsys)
    assert code == 0 and _guard_token(got["app"]) == "from-env" and not err
    monkeypatch.setenv("VIDAFFECT_TOKEN", "")
    code, err, got = _serve(["--host", "0.0.0.0", "-o", str(out)], monkeypatch, capsys)
    assert code == 1 and "refusing to listen" in err and "$VIDAFFECT_TOKEN is empty" in err


@needs_videos
def test_case09_hostile_paths_names_and_job_ids_get_4xx(server):
    base = str(server["base"])
    with httpx.Client(base_url=server["url"], headers=AUTH, timeout=30) as c:
        answers = []
        for path in ("inside\x00.mp4", "a" * 10_000, "x" * 300 + ".mp4", "sub/" + "y" * 300 + "/v.mp4",
                     "bad\nname.mp4", "/" + "z/" * 3000 + "v.mp4", ""):
            answers.append((repr(path[:20]), c.post("/jobs", data={"path": path})))
        for jid in ("9" * 20, "-1", "0", str(1 << 63), "1e3", "abc"):
            for route in ("/jobs/{}", "/jobs/{}/results", "/jobs/{}/plot.png"):
                answers.append((route.format(jid), c.get(route.format(jid))))
        with open(SINGLE, "rb") as f:
            video = f.read()
        for name in ("clip\x00.mp4", "n" * 246 + ".mp4", "é" * 120 + ".mp4", "tab\tname.mp4"):
            # a raw multipart body: clients like httpx percent-escape control characters in file names
            body = (b"--b0undary\r\nContent-Disposition: form-data; name=\"file\"; filename=\"" + name.encode()
                    + b"\"\r\nContent-Type: video/mp4\r\n\r\n" + video + b"\r\n--b0undary--\r\n")
            answers.append((repr(name[:20]), c.post("/jobs", content=body, headers={
                "Content-Type": "multipart/form-data; boundary=b0undary"})))
        for what, r in answers:
            assert 400 <= r.status_code < 500, (what, r.status_code, r.text[:300])
            assert base not in r.text and "Traceback" not in r.text, (what, r.text[:300])
        assert c.get("/jobs").json() == []  # nothing hostile was queued (so no job can fail later)
        long_name = [r for what, r in answers if what.startswith("'nnnn")][0]
        assert long_name.status_code == 400 and "at most 200" in long_name.json()["detail"]
        nul = c.post("/jobs", data={"path": "inside\x00.mp4"})
        assert nul.status_code == 400 and "control characters" in nul.json()["detail"]
        assert c.get("/jobs/" + "9" * 20).status_code == 422
    assert not [p for p in (server["out"] / "uploads").iterdir()]


def test_case09_job_errors_never_name_server_paths():
    from vidaffect.batch.ledger import Job
    from vidaffect.service.app import _job_view

    err = "OSError: [Errno 36] File name too long: '/srv/vid/out/.staging/x.1.ab' (from /srv/vid/root/a.mp4)"
    job = Job(id=1, content_hash="0" * 64, settings_hash="1" * 64, path="/srv/vid/root/a.mp4", name="a.mp4",
              size=1, source="service", state="failed", attempts=1, error=err, progress=0.0, frames=None,
              queued_at=0.0, started_at=None, finished_at=None, seconds=None, outputs=None, owner_pid=None,
              owner_host=None, heartbeat=None)
    view = _job_view(job, (("/srv/vid/root", "<root>"), ("/srv/vid/out", "<out>")))
    assert view["error"] == "OSError: [Errno 36] File name too long: '<out>/.staging/x.1.ab' (from <root>/a.mp4)"
    assert "/srv" not in str(view)
