"""Report tests: the real analysis of single_face.mp4 runs once."""
from __future__ import annotations

import pytest
import torch


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
