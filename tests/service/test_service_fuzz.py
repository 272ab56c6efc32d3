"""Fuzzing `vidaffect serve` through its own OpenAPI schema (schemathesis + hypothesis) on 127.0.0.1: no 5xx.

Every operation of ``/openapi.json`` gets schema-conforming (positive) and schema-violating (negative)
requests; any answer >= 500 fails, with the request that caused it.  Bounded in time (``FUZZ_SECONDS`` of
requests, a few seconds of start-up); `VIDAFFECT_FUZZ_SECONDS` changes it (e.g. longer, nightly).
"""
from __future__ import annotations

import os
import signal
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "batch"))
from batch_helpers import start_server  # noqa: E402

pytest.importorskip("fastapi", reason="the service extra is not installed (pip install 'vidaffect[service]')")
pytest.importorskip("httpx", reason="the service extra is not installed (pip install 'vidaffect[service]')")
schemathesis = pytest.importorskip("schemathesis", reason="schemathesis is not installed (pip install schemathesis)")

from hypothesis import HealthCheck, Phase, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

TOKEN = "fuzz-token-789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
FUZZ_SECONDS = float(os.environ.get("VIDAFFECT_FUZZ_SECONDS", "45"))
BATCH = 100  # examples per hypothesis run


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    base = tmp_path_factory.mktemp("fuzz")
    root = base / "root"
    (root / "sub").mkdir(parents=True)
    (root / "notes.mp4").write_text("not a video\n")  # something for `path` to find (refused: not a video)
    (root / "loop.mp4").symlink_to(root / "loop.mp4")
    proc, url = start_server(base / "out", root, TOKEN, "--max-upload-mb", "1", "--workers", "1", "--end", "0.3")
    try:
        yield {"url": url, "proc": proc, "out": base / "out"}
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)


def test_fuzz_openapi_schema_never_gives_5xx(server):
    from schemathesis import GenerationMode

    schema = schemathesis.openapi.from_url(server["url"] + "/openapi.json", headers=AUTH, timeout=30)
    operations = {f"{op.ok().method.upper()} {op.ok().path}" for op in schema.get_all_operations()}
    assert {"POST /jobs", "GET /jobs", "GET /jobs/{job_id}", "GET /jobs/{job_id}/results",
            "GET /jobs/{job_id}/plot.png", "GET /health", "GET /models"} <= operations
    strategy = st.one_of(schema.as_strategy(GenerationMode.POSITIVE), schema.as_strategy(GenerationMode.NEGATIVE))
    seen: Counter = Counter()
    statuses: Counter = Counter()
    stop_at = time.monotonic() + FUZZ_SECONDS

    @settings(max_examples=BATCH, deadline=None, database=None, phases=[Phase.generate, Phase.shrink],
              suppress_health_check=list(HealthCheck))
    @given(case=strategy)
    def fuzz(case):
        response = case.call(headers=AUTH, timeout=30)
        seen[f"{case.method.upper()} {case.path}"] += 1
        statuses[response.status_code] += 1
        assert response.status_code < 500, (
            f"{response.status_code} {response.text[:500]!r} for: {case.as_curl_command(headers=AUTH)[:2000]}")

    while time.monotonic() < stop_at:  # runs of BATCH examples, each with a fresh random seed, until time is up
        fuzz()
    print(f"fuzzed {sum(seen.values())} requests: {dict(seen)}; statuses {dict(sorted(statuses.items()))}")
    assert operations <= set(seen), f"operations never fuzzed: {operations - set(seen)}"
    assert server["proc"].poll() is None  # and the server is still up
