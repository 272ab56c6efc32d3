"""`--engine ray` on a local 2-CPU Ray instance gives the same rows as the local engine."""
from __future__ import annotations

import pandas as pd
import pytest
from batch_helpers import NO_FACE, SINGLE, needs_videos

from vidaffect.batch.dataset import read_dataset
from vidaffect.batch.ledger import Ledger
from vidaffect.pipeline.analyzer import AnalyzeOptions

ray = pytest.importorskip("ray", reason="Ray is not installed (pip install 'vidaffect[ray]')")
pytestmark = [needs_videos, pytest.mark.integration]


def test_ray_engine_matches_local_engine(tmp_path):
    from vidaffect.batch.ray_engine import run_ray
    from vidaffect.batch.runner import run_local

    videos = [SINGLE, NO_FACE]
    opts = AnalyzeOptions(end=0.8)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        rep = run_ray(videos, tmp_path / "ray", opts, ("csv", "parquet"), plot=False, workers=2,
                      storage=(tmp_path / "shared-storage").as_uri(), progress=False)
    finally:
        ray.shutdown()
    assert len(rep.done) == 2 and not rep.failed
    local = run_local(videos, tmp_path / "local", opts, ("csv", "parquet"), plot=False, workers=1, progress=False)
    assert len(local.done) == 2

    lr, ll = Ledger(tmp_path / "ray"), Ledger(tmp_path / "local")
    assert lr.counts()["done"] == 2 and not lr.jobs("running")
    assert {j.key: j.settings_hash for j in lr.jobs()} == {j.key: j.settings_hash for j in ll.jobs()}
    for j in ll.jobs():
        a = pd.read_parquet(tmp_path / "local" / j.output_paths["parquet"])
        b = pd.read_parquet(tmp_path / "ray" / lr.find(j.content_hash, j.settings_hash).output_paths["parquet"])
        assert len(a) > 0
        pd.testing.assert_frame_equal(a, b)  # identical rows
    key = ["video", "frame", "face_id"]
    da = read_dataset(tmp_path / "local").sort_values(key).reset_index(drop=True)
    db = read_dataset(tmp_path / "ray").sort_values(key).reset_index(drop=True)
    pd.testing.assert_frame_equal(da, db)
    assert not list((tmp_path / "shared-storage").rglob("*.parquet"))  # per-task files removed after commit


def test_quiet_ray_batch_prints_nothing(tmp_path):
    """`vidaffect batch --engine ray -q`: no Ray INFO/WARNING lines either (Ray started and shut down by the CLI)."""
    import subprocess
    import sys

    r = subprocess.run([sys.executable, "-m", "vidaffect", "batch", str(NO_FACE), "-o", str(tmp_path / "out"),
                        "--engine", "ray", "-q", "--end", "0.3", "--no-plot"], capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 0, r.stderr
    assert (r.stdout, r.stderr) == ("", "")
    assert Ledger(tmp_path / "out").counts()["done"] == 1
