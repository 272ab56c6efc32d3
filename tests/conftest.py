"""Shared fixtures (helpers live in video_fixtures.py, importable from every test folder)."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("GLOG_minloglevel", "2")


@pytest.fixture(scope="session")
def demo_video(tmp_path_factory) -> Path:
    from vidaffect.video.demo import make_demo_video

    return make_demo_video(tmp_path_factory.mktemp("demo") / "demo.mp4")
