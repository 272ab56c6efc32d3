"""Shared fixtures (helpers live in video_fixtures.py, importable from every test folder)."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
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
