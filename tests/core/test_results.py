"""Results: derived VA, smoothing on timestamps, VTT events, writers, summary."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from vidaffect.labels import CIRCUMPLEX_VA, EMOTIONS
from vidaffect.results import Results, derived_va
from vidaffect.results.smoothing import moving_average_by_time, smooth_frames
from vidaffect.results.vtt import vtt_events, vtt_frame_lines


def test_derived_va_is_probability_weighted_circumplex():
    probs = np.zeros((3, 7), np.float32)
    probs[0, EMOTIONS.index("happy")] = 1
    probs[1, EMOTIONS.index("sad")] = 0.5
    probs[1, EMOTIONS.index("neutral")] = 0.5
    probs[2] = 1 / 7
    va = derived_va(probs, EMOTIONS)
    np.testing.assert_allclose(va[0], CIRCUMPLEX_VA["happy"], atol=1e-6)
    np.testing.assert_allclose(va[1], np.array(CIRCUMPLEX_VA["sad"]) / 2, atol=1e-6)
    np.testing.assert_allclose(va[2], np.mean([CIRCUMPLEX_VA[c] for c in EMOTIONS], axis=0), atol=1e-6)


def test_moving_average_uses_real_timestamps():
    t = np.array([0.0, 0.1, 0.2, 1.0, 1.05])
    v = np.array([0.0, 1.0, 2.0, 10.0, 20.0])
    out = moving_average_by_time(t, v, window_s=0.25)  # +-0.125 s
    np.testing.assert_allclose(out, [0.5, 1.0, 1.5, 15.0, 15.0])
    assert out.shape == v.shape
    np.testing.assert_allclose(moving_average_by_time(t, v, 0.0), v)


def test_smoothing_is_per_face_and_ignores_no_face_rows():
    df = pd.DataFrame({"face_id": [0, 1, 0, 1, -1], "time_s": [0.0, 0.0, 0.1, 0.1, 0.2],
                       "valence": [0.0, 1.0, 1.0, 1.0, np.nan]})
    out = smooth_frames(df, ["valence"], 1.0)
    assert out["valence"].tolist()[:4] == [0.5, 1.0, 0.5, 1.0]
    assert np.isnan(out["valence"].iloc[4])


def frames_table() -> pd.DataFrame:
    rows = []
    seq = {0: ["happy", "happy", "sad", "sad", "happy"], 1: ["neutral", "neutral", "neutral", None, "angry"]}
    for k in range(5):
        for fid, emos in seq.items():
            e = emos[k]
            if e is None:
                continue
            p = {c: (0.9 if c == e else 0.1 / 6) for c in EMOTIONS}
            rows.append({"frame": k, "time_s": k * 0.5, "face_id": fid, "x1": 10.0 * fid, "y1": 0.0, "x2": 10.0 * fid + 5,
                         "y2": 5.0, "score": 0.9, "faces_in_frame": 2, **p, "emotion": e, "valence": 0.1, "arousal": 0.2})
    rows.append({"frame": 5, "time_s": 2.5, "face_id": -1, "faces_in_frame": 0, "emotion": None})
    return pd.DataFrame(rows)


def test_vtt_events_one_per_change_per_face():
    events = vtt_events(frames_table())
    by_face = {}
    for e in events:
        assert e["type"] == "emotion" and set(e) == {"type", "class", "seconds", "object"}
        by_face.setdefault(e["object"]["id"], []).append((e["seconds"], e["class"]))
    assert by_face["0"] == [(0.0, "happy"), (1.0, "sad"), (2.0, "happy")]
    assert by_face["1"] == [(0.0, "neutral"), (2.0, "angry")]
    coords = vtt_events(frames_table(), object_form="coordinates")[0]["object"]["coordinates"]
    assert len(coords) == 4 and coords[2] == 5.0  # x, y, width, height


def test_vtt_events_and_lines_name_the_person_when_people_are_on():
    table = frames_table()
    table["person_id"] = table["face_id"].map({0: 7, 1: 3, -1: -1})
    events = vtt_events(table)
    assert {e["object"]["id"]: e["object"]["person"] for e in events} == {"0": "7", "1": "3"}
    assert {(line["id"], line["person"]) for line in vtt_frame_lines(table)} == {(0, 7), (1, 3)}
    assert "person" not in vtt_events(frames_table())[0]["object"]  # without people: the schema as it was


def test_vtt_frame_lines_form():
    lines = vtt_frame_lines(frames_table())
    assert len(lines) == 9
    assert lines[0] == {"type": "emotion", "class": "happy", "frames": 0, "coordinates": [0.0, 0.0, 5.0, 5.0], "id": 0}


def test_writers_and_summary(tmp_path):
    res = Results(frames_table(), list(EMOTIONS), {"video": {"path": "/x/clip.mp4"}, "va_source": "derived:russell1980"})
    s = res.summary().set_index("face_id")
    assert s.loc[0, "dominant_emotion"] == "happy" and s.loc[0, "share_sad"] == pytest.approx(0.4)
    assert s.loc[1, "frames"] == 4 and s.loc[0, "on_screen_s"] == pytest.approx(2.5)
    paths = res.save(tmp_path, ("csv", "parquet", "json"))
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["clip.frames.csv", "clip.frames.parquet", "clip.frames.json", "clip.summary.csv", "clip.events.json",
         "clip.va_trend.png", "clip.metadata.json"])
    assert not list(tmp_path.glob(".*"))  # no temporary files left behind
    back = Results.load(paths["parquet"])
    pd.testing.assert_frame_equal(back.frames, res.frames, check_dtype=False)
    assert back.metadata["va_source"] == "derived:russell1980"
    doc = json.loads(paths["json"].read_text())
    assert len(doc["frames"]) == len(res.frames) and doc["summary"][0]["face_id"] == 0
    assert paths["plot"].read_bytes()[:4] == b"\x89PNG"


def test_failed_write_leaves_no_partial_file(tmp_path, monkeypatch):
    res = Results(frames_table(), list(EMOTIONS), {"video": {"path": "clip.mp4"}})

    def boom(self, *a, **k):
        target = a[0]
        if hasattr(target, "write"):  # written batch by batch into an open file
            target.write("half")
        else:
            with open(target, "w") as fh:
                fh.write("half")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(pd.DataFrame, "to_csv", boom)
    from vidaffect.errors import OutputError

    with pytest.raises(OutputError, match="No space left"):
        res.save(tmp_path, ("csv",))
    assert list(tmp_path.iterdir()) == []


def test_summary_carries_person_columns_when_identity_ran():
    df = frames_table()
    df["person_id"] = df["face_id"].map({0: 5, 1: 7, -1: -1})
    df["person_name"] = df["face_id"].map({0: "ana", 1: "unknown", -1: None})
    s = Results(df, list(EMOTIONS), {}).summary().set_index("face_id")
    assert s.loc[0, "person_id"] == 5 and s.loc[1, "person_name"] == "unknown"
