"""Test helpers: paths to ../shared data and small synthetic videos made with PyAV."""
from __future__ import annotations

import os
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
VIDEOS = SHARED / "data" / "videos"

os.environ.setdefault("GLOG_minloglevel", "2")


def noise_frames(n: int, w: int = 128, h: int = 96, seed: int = 0) -> list[np.ndarray]:
    """``n`` frames of grey noise (no face in them)."""
    rng = np.random.default_rng(seed)
    return [np.clip(rng.normal(128, 40, (h, w, 3)), 0, 255).astype(np.uint8) for _ in range(n)]


def shared_video(name: str) -> Path:
    """Path of a shared test video, or skip the test with the reason."""
    path = VIDEOS / name
    if not path.exists():
        pytest.skip(f"shared test video {path} not present (../shared/data/videos beside the repo)")
    return path


def write_video(path: Path, frames: list[np.ndarray], pts_s: list[float] | None = None, fps: int = 25,
                codec: str = "mpeg4", gop_size: int | None = None, options: dict[str, str] | None = None,
                faststart: bool = False) -> Path:
    """Encode RGB frames; ``pts_s`` gives each frame's timestamp (variable frame rate) in seconds.

    ``gop_size``: frames between key frames; ``options``: encoder options (e.g. ``{"qscale": "2"}``);
    ``faststart``: an MP4 with its index (moov) before the data, as web videos are (a cut copy still opens).
    """
    h, w = frames[0].shape[:2]
    with av.open(str(path), "w", options={"movflags": "faststart"} if faststart else {}) as out:
        s = out.add_stream(codec, rate=fps)
        s.width, s.height, s.pix_fmt = w, h, "yuv420p"
        if gop_size is not None:
            s.gop_size = gop_size
        if options:
            s.options = options
        tb = Fraction(1, 1000) if pts_s is not None else Fraction(1, fps)
        s.time_base = s.codec_context.time_base = tb
        for i, img in enumerate(frames):
            f = av.VideoFrame.from_ndarray(np.ascontiguousarray(img), format="rgb24")
            f.pts = int(round(pts_s[i] * 1000)) if pts_s is not None else i
            f.time_base = tb
            for p in s.encode(f):
                out.mux(p)
        for p in s.encode():
            out.mux(p)
    return path


def numbered_frames(n: int, w: int = 64, h: int = 48) -> list[np.ndarray]:
    """Frames whose mean brightness encodes their index (10 * i)."""
    return [np.full((h, w, 3), 10 * i % 250, np.uint8) for i in range(n)]
