"""Report tests: one thread for torch (shared 2-core CI); the real analysis of single_face.mp4 runs once."""
from __future__ import annotations

import pytest
import torch


@pytest.fixture(autouse=True)
def _one_thread():
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


@pytest.fixture(scope="session")
def analyzed_dir(tmp_path_factory):
    """``vidaffect analyze single_face.mp4 --report --annotate`` (whole 2.4 s clip) into a temporary dir."""
    from video_fixtures import shared_video

    from vidaffect.cli.main import main

    video = shared_video("single_face.mp4")
    out = tmp_path_factory.mktemp("analyzed")
    torch.set_num_threads(1)
    code = main(["analyze", str(video), "-o", str(out), "--format", "csv,parquet", "--report", "--annotate", "-q"])
    assert code == 0
    return out
