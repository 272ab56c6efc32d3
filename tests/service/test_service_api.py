"""`vidaffect serve` as a real server on 127.0.0.1 (subprocess), driven with httpx: limits, jobs, burst, restart."""
from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "batch"))
from batch_helpers import NO_FACE, SINGLE, free_port, make_variant, needs_videos  # noqa: E402

httpx = pytest.importorskip("httpx", reason="the service extra is not installed (pip install 'vidaffect[service]')")
pytest.importorskip("fastapi", reason="the service extra is not installed (pip install 'vidaffect[service]')")
pytestmark = [needs_videos, pytest.mark.integration]

TOKEN = "test-token-123"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


class Server:
    def __init__(self, out: Path, root: Path, workers: int = 2) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "VIDAFFECT_TOKEN": TOKEN}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "vidaffect", "serve", "--host", "127.0.0.1", "--port", str(self.port),
             "-o", str(out), "--root", str(root), "--max-upload-mb", "0.25", "--workers", str(workers), "--end", "0.5", "-q"],
            env=env, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, "the server exited"
            try:
                if httpx.get(self.url + "/health", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.2)
        raise AssertionError("the server did not start within 60 s")

    def client(self, auth: bool = True) -> "httpx.Client":
        return httpx.Client(base_url=self.url, headers=AUTH if auth else {}, timeout=30)

    def kill(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=30)


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    base = tmp_path_factory.mktemp("service")
    root, outside = base / "root", base / "outside"
    root.mkdir()
    outside.mkdir()
    make_variant(SINGLE, root / "inside.mp4", "inside")
    make_variant(SINGLE, outside / "secret.mp4", "secret")
    (root / "escape.mp4").symlink_to(outside / "secret.mp4")
    (root / "notes.mp4").write_text("plain text pretending to be a video\n")
    variants = [make_variant(SINGLE if i % 2 else NO_FACE, base / f"burst{i}.mp4", f"burst{i}") for i in range(8)]
    state = {"base": base, "root": root, "outside": outside, "server": Server(base / "out", root),
             "variants": variants}
    yield state
    state["server"].kill()  # the server running now: test_restart_keeps_jobs replaces the first one


def _wait_done(client, job_ids, timeout: float = 120, max_running: list | None = None) -> list[dict]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        jobs = [client.get(f"/jobs/{i}").json() for i in job_ids]
        if max_running is not None:
            max_running.append(len(client.get("/jobs", params={"state": "running"}).json()))
        if all(j["state"] in ("done", "failed") for j in jobs):
            return jobs
        time.sleep(0.3)
    raise AssertionError(f"jobs not finished in {timeout} s: {[(j['id'], j['state']) for j in jobs]}")


def _upload(client, path: Path, name: str | None = None):
    with open(path, "rb") as f:
        return client.post("/jobs", files={"file": (name or path.name, f, "video/mp4")})


def test_token_required_everywhere_but_health(env):
    s = env["server"]
    with s.client(auth=False) as c:
        assert c.get("/health").status_code == 200
        for route in ("/models", "/jobs", "/jobs/1", "/openapi.json"):
            assert c.get(route).status_code == 401, route
        assert c.get("/models", headers={"Authorization": "Bearer wrong"}).status_code == 401
        assert c.post("/jobs", data={"path": "inside.mp4"}).status_code == 401
    with s.client() as c:
        models = c.get("/models").json()
        assert models["serving"] == "exprnet-s" and any(m["name"] == "exprnet-s" for m in models["models"])
        schema = c.get("/openapi.json").json()
        assert {"/jobs", "/jobs/{job_id}", "/jobs/{job_id}/results", "/jobs/{job_id}/plot.png",
                "/health", "/models"} <= set(schema["paths"])


def test_upload_limits(env):
    with env["server"].client() as c:
        big = os.urandom(300 * 1024)  # over --max-upload-mb 0.25
        r = c.post("/jobs", files={"file": ("big.mp4", io.BytesIO(big), "video/mp4")})
        assert r.status_code == 413
        r = c.post("/jobs", files={"file": ("clip.txt", io.BytesIO(b"hello"), "text/plain")})
        assert r.status_code == 415 and "extension" in r.json()["detail"]
        r = c.post("/jobs", files={"file": ("renamed.mp4", io.BytesIO(b"just text\n" * 50), "video/mp4")})
        assert r.status_code == 415 and "not a readable video" in r.json()["detail"]
        assert c.post("/jobs").status_code in (400, 422)
        with open(SINGLE, "rb") as f:
            r = c.post("/jobs", files={"file": ("a.mp4", f, "video/mp4")}, data={"path": "inside.mp4"})
        assert r.status_code == 400
        assert c.get("/jobs").json() == []  # nothing rejected was queued
        assert not [p for p in (env["base"] / "out" / "uploads").iterdir()]  # nor kept


def test_server_side_paths_are_confined_to_the_root(env):
    with env["server"].client() as c:
        for bad in ("../outside/secret.mp4", "escape.mp4", str(env["outside"] / "secret.mp4"),
                    "sub/../../outside/secret.mp4"):
            r = c.post("/jobs", data={"path": bad})
            assert r.status_code == 403, (bad, r.text)
        assert c.post("/jobs", data={"path": "missing.mp4"}).status_code == 404
        assert c.post("/jobs", data={"path": "notes.mp4"}).status_code == 415  # content sniffed
        r = c.post("/jobs", data={"path": "inside.mp4"})
        assert r.status_code == 202
        job = _wait_done(c, [r.json()["id"]])[0]
        assert job["state"] == "done" and job["progress"] == 1 and job["frames"] > 0
        jid = job["id"]
        csv = pd.read_csv(io.StringIO(c.get(f"/jobs/{jid}/results", params={"format": "csv"}).text))
        assert len(csv) == job["frames"] and csv["time_s"].max() < 0.5 and (csv["face_id"] >= 0).any()
        doc = c.get(f"/jobs/{jid}/results", params={"format": "json"}).json()
        assert len(doc["frames"]) == len(csv)
        pq = pd.read_parquet(io.BytesIO(c.get(f"/jobs/{jid}/results", params={"format": "parquet"}).content))
        assert pq["frame"].tolist() == csv["frame"].tolist()
        png = c.get(f"/jobs/{jid}/plot.png")
        assert png.status_code == 200 and png.content[:8] == b"\x89PNG\r\n\x1a\n"
        assert c.get(f"/jobs/{jid}/results", params={"format": "xml"}).status_code == 422
        assert c.get("/jobs/999999").status_code == 404
        assert c.get("/jobs/999999/results").status_code == 404


def test_concurrent_burst_of_uploads_all_complete(env):
    variants = env["variants"][:6]
    with env["server"].client() as c:
        with ThreadPoolExecutor(max_workers=6) as pool:
            responses = list(pool.map(lambda p: _upload(c, p), variants))
        assert [r.status_code for r in responses] == [202] * 6
        ids = [r.json()["id"] for r in responses]
        assert len(set(ids)) == 6
        running: list[int] = []
        jobs = _wait_done(c, ids, max_running=running)
        assert all(j["state"] == "done" for j in jobs), jobs
        assert 1 <= max(running) <= 2  # the pool is bounded by --workers
        assert sorted(j["name"] for j in jobs) == sorted(p.name for p in variants)
        for jid in ids:
            df = pd.read_csv(io.StringIO(c.get(f"/jobs/{jid}/results").text))
            assert len(df) > 0
        again = _upload(c, variants[0]).json()  # same content again: the same job, not a new one
        assert again["id"] == ids[0] and again["submitted"] == "done"


def test_restart_keeps_jobs(env):
    old = env["server"]
    with old.client() as c:
        before = {j["id"]: j["state"] for j in c.get("/jobs").json()}
        new_ids = [_upload(c, p).json()["id"] for p in env["variants"][6:8]]
    old.kill()  # SIGKILL: no clean shutdown, jobs left queued or running
    new = Server(env["base"] / "out", env["root"], workers=1)
    env["server"] = new
    with new.client() as c:
        jobs = _wait_done(c, new_ids)
        assert [j["state"] for j in jobs] == ["done", "done"]
        after = {j["id"]: j["state"] for j in c.get("/jobs").json()}
        assert all(after[i] == s for i, s in before.items())  # earlier jobs still known, same ids
