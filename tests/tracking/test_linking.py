"""Person linking after the pass: embeddings, cannot-link for faces on screen together, stopping rule."""
from __future__ import annotations

import numpy as np
import pandas as pd

from vidaffect.identity.linking import link_tracks, spans_overlap
from vidaffect.pipeline.finalize import drop_tracks
from vidaffect.tracking import BoxKalman, Track


def track(fid: int, spans, emb=None) -> Track:
    t = Track(fid, BoxKalman(np.array([0, 0, 10, 10]), spans[0][0]), np.zeros(4, np.float32),
              spans[0][0], spans[-1][1], confirmed=True, spans=[list(s) for s in spans])
    if emb is not None:
        t.add_embedding(np.asarray(emb, float) / np.linalg.norm(emb), spans[0][0])
    return t


def test_spans_overlap_needs_a_tenth_of_a_second():
    assert spans_overlap([[0, 1]], [[0.8, 2]])
    assert not spans_overlap([[0, 1]], [[1, 2]])  # one shared instant: a cut frame, not two people
    assert not spans_overlap([[0, 1], [3, 4]], [[1.5, 2.5]])


def test_same_person_in_two_shots_is_one_person_and_a_stranger_is_not():
    a, b = [1, 0, 0.05], [0, 1, 0.05]
    tracks = [track(0, [[0, 5]], a), track(1, [[0, 5]], b), track(2, [[6, 9]], [1, 0.02, 0.04]),
              track(3, [[6, 9]], [0.02, 1, 0.07])]
    assert link_tracks(tracks, threshold=0.1) == {0: 0, 1: 1, 2: 0, 3: 1}


def test_tracks_on_screen_together_are_never_one_person():
    e = [1, 0, 0]
    assert link_tracks([track(0, [[0, 5]], e), track(1, [[4, 8]], e)], threshold=0.5) == {0: 0, 1: 1}
    assert link_tracks([track(0, [[0, 5]], e), track(1, [[5, 8]], e)], threshold=0.5) == {0: 0, 1: 0}


def test_threshold_stops_merging():
    tracks = [track(0, [[0, 1]], [1, 0]), track(1, [[2, 3]], [1, 0.5])]  # cosine distance 0.106
    assert link_tracks(tracks, threshold=0.1) == {0: 0, 1: 1}
    assert link_tracks(tracks, threshold=0.12) == {0: 0, 1: 0}


def test_track_without_embedding_is_its_own_person_numbered_by_first_appearance():
    tracks = [track(5, [[3, 4]], [1, 0]), track(2, [[0, 1]]), track(7, [[5, 6]], [1, 0])]
    assert link_tracks(tracks, threshold=0.1) == {2: 0, 5: 1, 7: 1}


def test_drop_tracks_keeps_every_frame_and_recounts_faces():
    df = pd.DataFrame({"frame": [0, 0, 1, 2, 2], "time_s": [0, 0, 0.1, 0.2, 0.2], "face_id": [0, 1, 1, 0, 1],
                       "x1": [1.0] * 5, "score": [0.9] * 5, "faces_in_frame": [2, 2, 1, 2, 2]})
    out = drop_tracks(df, {1})
    assert out["frame"].tolist() == [0, 1, 2]
    assert out["face_id"].tolist() == [0, -1, 0]
    assert out["faces_in_frame"].tolist() == [1, 0, 1]
    assert np.isnan(out.loc[1, "x1"]) and np.isnan(out.loc[1, "score"])
    assert drop_tracks(df, set()) is df
