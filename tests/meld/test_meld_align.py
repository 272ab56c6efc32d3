"""Time alignment of video, audio and text on one axis, checked against hand-computed pooling."""
from __future__ import annotations

import numpy as np
import pytest

from vidaffect.errors import VidaffectError
from vidaffect.meld.align import Stream, align_streams, audio_stream, text_stream, video_stream


def test_video_frames_pool_by_timestamp():
    # frames at 0, 0.04, ..., 0.28 s (25 fps), value = frame number
    v = video_stream(np.arange(8) * 0.04, np.arange(8.0))
    a = align_streams({"video": v}, step_s=0.1, start_s=0.0, end_s=0.3)
    # bins [0,.1): frames 0,1,2 -> 1; [.1,.2): frames 3,4 (0.12, 0.16) -> 3.5; [.2,.3): 5,6,7 -> 6
    np.testing.assert_allclose(a.pooled["video"][:, 0], [1.0, 3.5, 6.0])
    np.testing.assert_array_equal(a.counts["video"], [3, 2, 3])
    np.testing.assert_allclose(a.grid, [0.0, 0.1, 0.2])
    assert a.utterance["video"][0] == pytest.approx(3.5)


def test_audio_rms_per_bin():
    sr = 10  # 10 samples per second: bins of 0.5 s hold 5 samples
    x = np.array([1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 0, 0, 0, 0, 0], dtype=float)
    a = align_streams({"audio": audio_stream(x, sr)}, step_s=0.5, end_s=1.5)
    np.testing.assert_allclose(a.pooled["audio"][:, 0], [1.0, 2.0, 0.0])
    assert a.utterance["audio"][0] == pytest.approx(np.sqrt((5 * 1 + 5 * 4) / 15))


def test_text_tokens_spread_or_timed():
    # 4 tokens over [0, 2): centres 0.25, 0.75, 1.25, 1.75
    t = text_stream(["we", "were", "on", "break"], 0.0, 2.0)
    np.testing.assert_allclose(t.times, [0.25, 0.75, 1.25, 1.75])
    a = align_streams({"text": t}, step_s=1.0, end_s=2.0)
    np.testing.assert_array_equal(a.pooled["text"][:, 0], [2, 2])  # token counts
    assert a.labels["text"] == [["we", "were"], ["on", "break"]]
    timed = text_stream(["hi", "there"], 0.0, 2.0, values=[[1.0], [-0.5]], word_times=[(0.0, 0.2), (1.5, 1.9)])
    a = align_streams({"text": timed}, step_s=0.5, end_s=2.0)
    assert a.labels["text"] == [["hi"], [], [], ["there"]]
    np.testing.assert_allclose(a.pooled["text"][:, 0], [1.0, np.nan, np.nan, -0.5])
    assert a.utterance["text"][0] == pytest.approx(0.25)


def test_all_modalities_share_one_grid():
    v = video_stream(np.arange(20) / 10.0, np.ones((20, 7)) / 7)
    au = audio_stream(np.ones(32000) * 0.5, 16000)
    tx = text_stream(["a", "b", "c"], 0.0, 2.0)
    a = align_streams({"video": v, "audio": au, "text": tx}, step_s=0.1, end_s=2.0)
    assert a.pooled["video"].shape == (20, 7) and a.pooled["audio"].shape == (20, 1) and a.pooled["text"].shape == (20, 1)
    np.testing.assert_array_equal(a.counts["audio"], np.full(20, 1600))
    assert a.pooled["text"].sum() == 3


def test_bad_inputs():
    with pytest.raises(VidaffectError, match="step"):
        align_streams({}, step_s=0)
    with pytest.raises(VidaffectError, match="timestamps"):
        Stream(np.arange(3), np.zeros((2, 1)))
    with pytest.raises(VidaffectError, match="word timings"):
        text_stream(["a", "b"], 0, 1, word_times=[(0, 1)])
