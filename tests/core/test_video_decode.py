"""Decoding: timestamps (VFR), sampling, time range, rotation, bad input."""
from __future__ import annotations

import numpy as np
import pytest

from video_fixtures import numbered_frames, write_video
from vidaffect.errors import VideoError
from vidaffect.video import open_video
from vidaffect.video.pyav_backend import _rotate


def test_variable_frame_rate_gives_real_seconds(tmp_path):
    pts = [0.0, 0.1, 0.15, 0.5, 0.55, 1.2]
    path = write_video(tmp_path / "vfr.mp4", numbered_frames(len(pts)), pts_s=pts)
    frames = list(open_video(path))
    assert [f.index for f in frames] == list(range(len(pts)))
    np.testing.assert_allclose([f.time_s for f in frames], pts, atol=1e-3)
    assert frames[0].image.shape == (48, 64, 3) and frames[0].image.dtype == np.uint8


def test_fps_sampling_keeps_source_indices_and_times(tmp_path):
    path = write_video(tmp_path / "cfr.mp4", numbered_frames(50), fps=25)  # 2 s
    frames = list(open_video(path, fps=5))
    assert [f.index for f in frames] == list(range(0, 50, 5))
    np.testing.assert_allclose([f.time_s for f in frames], np.arange(0, 2, 0.2), atol=1e-3)


def test_start_end_range(tmp_path):
    path = write_video(tmp_path / "cfr.mp4", numbered_frames(50), fps=25)
    frames = list(open_video(path, start=0.4, end=0.8))  # frames at 0.40, 0.44, ... 0.76
    times = [f.time_s for f in frames]
    assert times[0] == pytest.approx(0.4, abs=1e-3) and max(times) < 0.8
    assert len(frames) == 10 and frames[0].index == 10


def test_info_and_frame_content(tmp_path):
    path = write_video(tmp_path / "cfr.mp4", numbered_frames(20), fps=10)
    reader = open_video(path)
    assert (reader.info.width, reader.info.height) == (64, 48)
    assert reader.info.fps == pytest.approx(10)
    assert reader.info.duration_s == pytest.approx(2.0, abs=0.11)
    means = [f.image.mean() for f in reader]
    np.testing.assert_allclose(means, [10 * i for i in range(20)], atol=3)


def test_rotation_is_applied(tmp_path, monkeypatch):
    img = np.zeros((2, 3, 3), np.uint8)
    img[0, 0] = 255  # top-left
    rot = _rotate(img, 90)  # counter-clockwise: top-left goes to bottom-left
    assert rot.shape == (3, 2, 3) and rot[2, 0, 0] == 255
    path = write_video(tmp_path / "v.mp4", numbered_frames(3, 64, 32), fps=10)
    from vidaffect.video import pyav_backend

    monkeypatch.setattr(pyav_backend.PyAVReader, "_read_rotation", lambda self, c, s: 90)
    reader = open_video(path)
    assert (reader.info.width, reader.info.height, reader.info.rotation) == (32, 64, 90)
    assert next(iter(reader)).image.shape == (64, 32, 3)


@pytest.mark.parametrize("content, message", [
    (b"", "empty file"),
    (b"this is not a video\n" * 50, "not a readable video"),
])
def test_bad_files_raise_one_line_errors(tmp_path, content, message):
    path = tmp_path / "bad.mp4"
    path.write_bytes(content)
    with pytest.raises(VideoError, match=message) as exc:
        open_video(path)
    assert str(path) in str(exc.value) and "\n" not in str(exc.value)


def test_missing_and_directory(tmp_path):
    with pytest.raises(VideoError, match="file not found"):
        open_video(tmp_path / "nope.mp4")
    with pytest.raises(VideoError, match="directory"):
        open_video(tmp_path)


def test_audio_only_file(tmp_path):
    import av

    path = tmp_path / "a.m4a"
    with av.open(str(path), "w") as c:
        s = c.add_stream("aac", rate=16000)
        for i in range(10):
            f = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
            f.sample_rate, f.pts = 16000, i * 1024
            for p in s.encode(f):
                c.mux(p)
        for p in s.encode():
            c.mux(p)
    with pytest.raises(VideoError, match="audio-only"):
        open_video(path)


def test_truncated_video(tmp_path):
    frames = [np.random.default_rng(i).integers(0, 255, (48, 64, 3), dtype=np.uint8) for i in range(100)]
    full = write_video(tmp_path / "full.avi", frames, fps=25)
    data = full.read_bytes()
    cut = tmp_path / "cut.avi"
    cut.write_bytes(data[: len(data) // 3])
    with pytest.raises(VideoError, match="truncated|corrupt"):
        list(open_video(cut))
