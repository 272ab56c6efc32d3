"""Display series: binning averages exactly, keeps gaps, and bounds the number of points."""
import numpy as np
import pandas as pd
import pytest

from vidaffect.report.series import SpanTracker, bin_series, face_series, presence_spans, segment_starts


def test_bin_series_keeps_short_series_and_averages_long_ones():
    t = np.arange(10) / 10
    v = np.arange(10, dtype=float)[:, None]
    tb, vb = bin_series(t, v, 20)
    assert np.array_equal(tb, t) and np.array_equal(vb, v)
    tb, vb = bin_series(t, v, 5)
    assert len(tb) == 5
    assert np.allclose(vb[:, 0], [0.5, 2.5, 4.5, 6.5, 8.5])
    assert np.allclose(tb, [0.05, 0.25, 0.45, 0.65, 0.85])


def test_bin_series_ignores_nan_and_drops_empty_bins():
    t = np.array([0.0, 0.1, 0.2, 0.3, 5.0, 5.1])
    v = np.array([[1.0], [np.nan], [3.0], [np.nan], [2.0], [4.0]])
    tb, vb = bin_series(t, v, 4)
    assert len(tb) == 2  # the middle bins are empty
    assert np.allclose(vb[:, 0], [2.0, 3.0])


def test_segment_starts_and_presence_spans():
    t = np.array([0.0, 0.1, 0.2, 2.0, 2.1, 5.0])
    assert segment_starts(t, 0.5) == [0, 3, 5]
    assert presence_spans(t, 0.5) == [[0.0, 0.2], [2.0, 2.1], [5.0, 5.0]]
    assert segment_starts(np.array([]), 0.5) == []


@pytest.mark.parametrize("cut", [1, 2, 3, 7])
def test_span_tracker_fed_in_pieces_equals_presence_spans(cut):
    """The report's streaming spans (batches cut anywhere, a gap falling on a cut) equal the whole-array rule."""
    rng = np.random.default_rng(cut)
    t = np.round(np.cumsum(rng.choice([0.04, 0.04, 0.04, 0.7, 2.0], 60)), 3)
    tracker = SpanTracker(0.5)
    for i in range(0, len(t), cut):
        tracker.add(t[i:i + cut])
    tracker.add(np.array([]))
    assert tracker.result() == presence_spans(t, 0.5)
    assert SpanTracker(0.5).result() == presence_spans(np.array([]), 0.5) == []


def test_face_series_of_a_long_track_is_bounded_and_breaks_at_the_absence():
    fps, n = 30, 18000  # 10 minutes
    t = np.arange(n) / fps
    keep = (t < 200) | (t > 260)  # absent for a minute
    rows = pd.DataFrame({"time_s": t[keep], "valence": np.sin(t[keep]), "arousal": 0.5, "happy": 0.7, "sad": 0.3})
    s = face_series(rows, ["happy", "sad", "fear"], max_points=800, gap_s=0.1)
    assert len(s["t"]) <= 800 and len(s["valence"]) == len(s["t"]) == len(s["probs"]["happy"])
    assert set(s["probs"]) == {"happy", "sad"}  # classes without a column are left out
    assert len(s["starts"]) == 2
    split = s["starts"][1]
    assert s["t"][split - 1] < 200.5 and s["t"][split] > 259.5
    assert all(abs(v - 0.5) < 1e-9 for v in s["arousal"])
