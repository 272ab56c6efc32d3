"""The whole pipeline on the real shared videos (skipped when ../shared is absent)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from video_fixtures import VIDEOS, shared_video
from vidaffect.pipeline import Analyzer
from vidaffect.video import open_video

ALL_VIDEOS = ["WolfgangLanger_Pexels.mp4", "default.wmv", "face_noface.mov", "multi_face.avi", "no_face.mp4",
              "noface_face.mov", "short_hamilton_clip.mp4", "single_face.mp4"]


@pytest.fixture(scope="module")
def analyzer():
    an = Analyzer()
    yield an
    an.close()


@pytest.mark.integration
@pytest.mark.parametrize("name", ALL_VIDEOS)
def test_timestamps_monotonic_and_match_duration(name):
    reader = open_video(shared_video(name))
    times = np.array([f.time_s for f in reader])
    assert np.all(np.diff(times) > 0)
    frame_dt = 1.0 / reader.info.fps
    assert abs(times[-1] + frame_dt - reader.info.duration_s) <= frame_dt + 1e-6


def faces_per_frame(res) -> pd.Series:
    return res.frames.groupby("frame")["face_id"].apply(lambda s: int((s >= 0).sum()))


@pytest.mark.integration
def test_no_face_video_gives_valid_empty_results(analyzer):
    res = analyzer.analyze(shared_video("no_face.mp4"))
    assert res.metadata["frames_analysed"] == 95 and res.metadata["faces_found"] == 0
    assert len(res.frames) == 95 and res.summary().empty


@pytest.mark.integration
def test_single_face_one_track_every_frame(analyzer):
    res = analyzer.analyze(shared_video("single_face.mp4"))
    assert res.face_ids() == [0]
    assert (faces_per_frame(res) == 1).all()
    probs = res.faces[res.classes].to_numpy()
    np.testing.assert_allclose(probs.sum(1), 1.0, atol=1e-4)
    assert res.faces["valence"].between(-1, 1).all() and res.metadata["va_source"] == "derived:russell1980"
    assert set(res.speed) >= {"detect", "align", "model", "total"}


@pytest.mark.integration
def test_multi_face_has_two_simultaneous_tracks(analyzer):
    an = Analyzer(fps=5, end=10.0)
    res = an.analyze(shared_video("multi_face.avi"))
    an.close()
    assert faces_per_frame(res).max() >= 2
    long_tracks = res.faces.groupby("face_id").size()
    assert (long_tracks >= 10).sum() >= 2  # at least two people followed for a while
    single = Analyzer(fps=5, end=10.0, multi_face=False)
    res1 = single.analyze(shared_video("multi_face.avi"))
    single.close()
    assert faces_per_frame(res1).max() == 1


@pytest.mark.integration
@pytest.mark.parametrize("name, face_half", [("face_noface.mov", "first"), ("noface_face.mov", "second")])
def test_face_cut_videos_have_faces_in_the_right_half(analyzer, name, face_half):
    res = analyzer.analyze(shared_video(name))
    n = faces_per_frame(res)
    times = res.frames.groupby("frame")["time_s"].first()
    mid = times.max() / 2
    first, second = n[times < mid], n[times >= mid]
    with_face, without = (first, second) if face_half == "first" else (second, first)
    assert (with_face > 0).mean() > 0.5  # the face shot fills most of its half
    assert (without > 0).sum() == 0  # and no face at all in the other half


@pytest.mark.integration
def test_stream_api_matches_analyze_and_crops_saved(tmp_path):
    video = shared_video("single_face.mp4")
    an = Analyzer(end=1.0, save_crops=str(tmp_path / "crops"), face_size=96)
    streamed = list(an.stream(video))
    final = an.last_results
    an.close()
    assert len(streamed) == final.metadata["frames_analysed"] == len(final.frames)
    rows = pd.concat([s.rows for s in streamed], ignore_index=True)
    np.testing.assert_allclose(rows[final.classes].to_numpy(), final.frames[final.classes].to_numpy(), atol=1e-6)
    crops = sorted((tmp_path / "crops" / "single_face" / "face000").glob("*.jpg"))
    assert len(crops) == len(final.frames)
    import cv2

    assert cv2.imread(str(crops[0])).shape == (96, 96, 3)


@pytest.mark.integration
def test_smoothing_keeps_length_and_reduces_jitter():
    video = shared_video("WolfgangLanger_Pexels.mp4")
    raw = Analyzer(end=4.0).analyze(video)
    smooth = Analyzer(end=4.0, smoothing_size=1.0).analyze(video)
    assert len(raw.frames) == len(smooth.frames)
    jitter = lambda r: np.nanmean(np.abs(np.diff(r.faces["valence"].to_numpy())))
    assert jitter(smooth) < jitter(raw)
