"""Results as a Python object (issue 16, item 6): len, iteration and indexing per frame, a short repr, column
groups, ``Results.load`` round trips with metadata, the ``va_source`` column, and no matplotlib backend change."""
from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from vidaffect.errors import OutputError, VidaffectError
from vidaffect.labels import EMOTIONS
from vidaffect.results import Results
from vidaffect.results.results import ResultsFrame

GEOMETRY = ["detected", "mesh_fit", "face_px", "yaw", "pitch", "roll", "eye_open_left", "eye_open_right",
            "mouth_open"]
META = {"video": {"path": "/data/clip.mp4", "kind": "video", "name": "clip"}, "classes": list(EMOTIONS),
        "va_source": "derived:russell1980", "frames_analysed": 4, "settings": {"fps": None}}


def table() -> pd.DataFrame:
    """4 analysed frames (source frames 0, 3, 6, 9): two faces, one, none, one; in the analyser's column order."""
    rows = []
    layout = {0: [0, 1], 3: [1], 6: [], 9: [0]}
    for frame, faces in layout.items():
        for fid in faces or [-1]:
            face = fid >= 0
            p = {c: (0.7 if c == ("happy" if fid == 0 else "sad") else 0.05) if face else np.nan for c in EMOTIONS}
            rows.append({"frame": frame, "time_s": frame / 10, "face_id": fid,
                         **dict(zip(["x1", "y1", "x2", "y2"], [10.0 * fid, 5.0, 10.0 * fid + 8, 13.0] if face else [np.nan] * 4)),
                         "score": 0.9 if face else np.nan, "faces_in_frame": len(faces), **p,
                         "emotion": ("happy" if fid == 0 else "sad") if face else None,
                         "valence": 0.5 if face else np.nan, "arousal": 0.25 if face else np.nan,
                         "va_source": "derived:russell1980" if face else None,
                         "detected": face, "mesh_fit": face, "face_px": 8.0 if face else np.nan,
                         "yaw": 5.0 * fid if face else np.nan, "pitch": 1.0 if face else np.nan,
                         "roll": -2.0 if face else np.nan, "eye_open_left": 0.3 if face else np.nan,
                         "eye_open_right": 0.3 if face else np.nan, "mouth_open": 0.1 if face else np.nan,
                         "person_id": fid})
    df = pd.DataFrame(rows)
    for col in ("emotion", "va_source"):  # as the analyser makes them: objects, None where no face
        df[col] = pd.Series([v for v in df[col]], dtype=object).where(df[col].notna(), None)
    return df


@pytest.fixture
def res() -> Results:
    return Results(table(), list(EMOTIONS), json.loads(json.dumps(META)))


# ----- a sequence of analysed frames -----
def test_len_is_the_number_of_analysed_frames(res):
    assert len(res.frames) == 5 and len(res) == 4
    assert len(Results(table().iloc[:0], list(EMOTIONS), {})) == 0


def test_indexing_and_iteration_give_frames_in_order(res):
    first = res[0]
    assert isinstance(first, ResultsFrame)
    assert (first.position, first.frame, first.time_s, len(first)) == (0, 0, 0.0, 2)
    assert first.faces["face_id"].tolist() == [0, 1] and list(first.rows.index) == [0, 1]  # res.frames' index
    assert (res[2].frame, len(res[2]), res[2].rows["face_id"].tolist()) == (6, 0, [-1])  # no face: its one row
    assert res[-1].frame == 9 and res[-4].frame == 0 and res[np.int64(1)].frame == 3
    assert [f.frame for f in res[1:3]] == [3, 6] and [f.frame for f in res[::-2]] == [9, 3]
    assert [(f.position, f.frame, len(f)) for f in res] == [(0, 0, 2), (1, 3, 1), (2, 6, 0), (3, 9, 1)]
    assert sum(len(f) for f in res) == len(res.faces)
    for bad in (4, -5):
        with pytest.raises(IndexError, match="out of range: 4 analysed frame"):
            res[bad]
    for bad in ("valence", 1.0, True, [0, 1]):
        with pytest.raises(TypeError, match="indexed by frame position"):
            res[bad]


def test_frames_are_ordered_by_frame_number_whatever_the_row_order(res):
    shuffled = Results(res.frames.iloc[::-1], res.classes, res.metadata)
    assert [f.frame for f in shuffled] == [0, 3, 6, 9] and shuffled[0].faces["face_id"].tolist() == [1, 0]


def test_repr_is_short_and_says_what_the_results_are(res):
    text = repr(res)
    assert text == ("Results('clip.mp4', frames=4, faces=2, face_rows=4, persons=2, classes=[angry, disgust, fear, "
                    "happy, sad, surprise, neutral], va_source='derived:russell1980')")
    big = Results(pd.concat([res.frames] * 2000, ignore_index=True), [f"c{i}" for i in range(40)], res.metadata)
    assert len(repr(big)) < 250 and "time_s" not in repr(big) and "c0, c1, c2, ..., c38, c39" in repr(big)
    assert str(res) == repr(res)
    assert repr(res[0]) == "<ResultsFrame 0: frame 0 at 0.000 s, 2 face(s) (0: happy, 1: sad)>"
    assert repr(res[2]) == "<ResultsFrame 2: frame 6 at 0.600 s, 0 face(s)>"
    array = Results(res.frames, res.classes, {"video": {"path": "<array 3x64x64x3>", "kind": "array"}})
    assert repr(array).startswith("Results('<array 3x64x64x3>', frames=4")


# ----- column groups -----
def test_column_groups_hold_the_face_rows_keys_and_their_columns(res):
    keys = ["frame", "time_s", "face_id", "person_id"]
    assert list(res.emotions.columns) == keys + list(EMOTIONS) + ["emotion"]
    assert list(res.pose.columns) == keys + ["yaw", "pitch", "roll"]
    assert list(res.boxes.columns) == keys + ["x1", "y1", "x2", "y2"]
    assert list(res.va.columns) == keys + ["valence", "arousal", "va_source"]
    for group in (res.emotions, res.pose, res.boxes, res.va):
        assert list(group.index) == list(res.faces.index) and (group["face_id"] >= 0).all()
    assert res.emotions["emotion"].tolist() == ["happy", "sad", "sad", "happy"]
    pd.testing.assert_frame_equal(res.boxes[["x1", "x2"]], res.frames.loc[res.faces.index, ["x1", "x2"]])
    assert res.pose["yaw"].tolist() == [0.0, 5.0, 5.0, 0.0]
    # a frame has the same groups, for its faces
    assert res[0].pose["face_id"].tolist() == [0, 1] and res[2].emotions.empty
    assert list(res[3].va.columns) == list(res.va.columns)


def test_column_groups_of_older_results_say_what_is_missing(res):
    old = Results(res.frames.drop(columns=["yaw", "pitch", "roll", "va_source", "person_id"]), res.classes, {})
    with pytest.raises(VidaffectError, match=r"no head pose column\(s\) yaw, pitch, roll") as exc:
        old.pose
    assert "\n" not in str(exc.value)
    assert list(old.va.columns) == ["frame", "time_s", "face_id", "valence", "arousal"]  # no va_source: not required


# ----- load round trips -----
def test_parquet_round_trip_keeps_table_and_embedded_metadata(res, tmp_path):
    path = res.to_parquet(tmp_path / "clip.frames.parquet")  # the file alone: no metadata.json beside it
    back = Results.load(path)
    pd.testing.assert_frame_equal(back.frames, res.frames)  # dtypes too: None stays None in text columns
    assert back.metadata == res.metadata and back.classes == res.classes
    assert back.frames["emotion"].dtype == object and back.frames["emotion"].iloc[3] is None  # frame 6: no face


def test_saved_set_loads_from_every_file_and_the_folder(res, tmp_path):
    paths = res.save(tmp_path, formats=("csv", "parquet", "json"), plot=False)
    assert paths["csv"].name == "clip.frames.csv"  # the set's name comes from the metadata
    sidecar = json.loads(paths["metadata"].read_text())
    for source in (paths["parquet"], paths["metadata"], tmp_path):  # Parquet first where the set has one
        back = Results.load(source)
        pd.testing.assert_frame_equal(back.frames, res.frames)
        assert back.metadata == sidecar and back.metadata["outputs"]["csv"]["file"] == "clip.frames.csv"
    for source in (paths["csv"], paths["json"]):  # text formats: values and text columns back, numbers as floats
        back = Results.load(source)
        pd.testing.assert_frame_equal(back.frames, res.frames, check_dtype=False, rtol=1e-4)
        assert back.frames["va_source"].iloc[3] is None and back.frames["emotion"].iloc[3] is None
        assert back.classes == list(EMOTIONS) and back.metadata["va_source"] == "derived:russell1980"
    assert len(Results.load(paths["csv"])) == 4


def test_classes_without_metadata_are_the_columns_before_emotion(res, tmp_path):
    path = res.to_csv(tmp_path / "loose.frames.csv")  # no metadata anywhere
    back = Results.load(path)
    assert back.metadata == {} and back.classes == list(EMOTIONS)  # not the geometry or person columns
    bare = Results(res.frames, list(EMOTIONS), {})  # a Parquet file without embedded metadata, left on disk
    on_disk = Results.load(bare.to_parquet(tmp_path / "loose.frames.parquet"), in_memory=False)
    assert not on_disk.in_memory and on_disk.metadata == {} and on_disk.classes == list(EMOTIONS)


def test_load_errors_are_one_line(res, tmp_path):
    res.save(tmp_path / "two", plot=False)
    res.save(tmp_path / "two", plot=False, name="other")
    (tmp_path / "none").mkdir()
    (tmp_path / "x.txt").write_text("x")
    (tmp_path / "bad.frames.json").write_text("[1, 2]")
    (tmp_path / "bad.frames.parquet").write_bytes(b"not parquet")
    cases = [(tmp_path / "two", "2 result sets (clip, other)"), (tmp_path / "none", "no result set here"),
             (tmp_path / "x.txt", "expected a .frames.parquet"), (tmp_path / "gone.frames.csv", "file not found"),
             (tmp_path / "bad.frames.json", "not a vidaffect .frames.json"),
             (tmp_path / "bad.frames.parquet", "not readable as results")]
    for source, message in cases:
        with pytest.raises(OutputError) as exc:
            Results.load(source)
        assert message in str(exc.value) and "\n" not in str(exc.value), source


# ----- va_source, on real results -----
@pytest.fixture(scope="module")
def analysed():
    """One real analysis: scikit-image's astronaut photograph twice (a face is confirmed on its second sighting),
    then a black frame (no face)."""
    import vidaffect
    from skimage import data

    return vidaffect.analyze(np.stack([data.astronaut()] * 2 + [np.zeros((512, 512, 3), np.uint8)]), name="astro",
                             detect_every=1)


def test_va_source_column_marks_every_face_row(analysed, tmp_path):
    frames = analysed.frames
    assert list(frames.columns[frames.columns.get_loc("arousal") + 1:][:1]) == ["va_source"]
    faces = frames["face_id"] >= 0
    assert faces.any() and (~faces).any()
    assert set(frames.loc[faces, "va_source"]) == {analysed.metadata["va_source"]} == {"derived:russell1980"}
    assert frames.loc[~faces, "va_source"].isna().all()
    csv = pd.read_csv(analysed.save(tmp_path, plot=False)["csv"])  # the CSV alone says where VA comes from
    assert set(csv.loc[csv["face_id"] >= 0, "va_source"]) == {"derived:russell1980"}


def test_real_results_work_as_a_sequence(analysed, tmp_path):
    assert len(analysed) == 3 and [len(f) for f in analysed] == [1, 1, 0]
    assert repr(analysed).startswith("Results('<array 3x512x512x3>', frames=3, faces=1, face_rows=2, persons=1")
    assert analysed.emotions.iloc[0]["emotion"] in EMOTIONS and analysed.pose["yaw"].notna().all()
    path = analysed.save(tmp_path, formats=("parquet",), plot=False)["parquet"]
    assert path.name == "astro.frames.parquet"
    back = Results.load(path)
    pd.testing.assert_frame_equal(back.frames, analysed.frames)
    assert back.metadata["video"] == analysed.metadata["video"] and back.metadata["speed_ms_per_frame"]


# ----- matplotlib -----
def backend_calls(path: Path) -> list[str]:
    """``matplotlib.use(...)`` / ``pyplot.switch_backend(...)`` calls in a module's source."""
    tree = ast.parse(path.read_text())
    return [ast.unparse(n) for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)
            and n.func.attr in ("use", "switch_backend")]


def test_results_module_never_switches_the_matplotlib_backend():
    import vidaffect.results.results as module

    assert not backend_calls(Path(module.__file__))


def test_plot_keeps_the_users_backend(res, tmp_path):
    """Results.plot returns a Figure and leaves the caller's backend alone (no module of vidaffect.plotting
    calls matplotlib.use)."""
    import vidaffect.plotting

    assert not [c for p in Path(vidaffect.plotting.__file__).parent.glob("*.py") for c in backend_calls(p)]
    code = ("import matplotlib; matplotlib.use('svg'); import pandas as pd; from vidaffect.results import Results; "
            f"r = Results(pd.read_parquet({str(res.to_parquet(tmp_path / 'r.parquet'))!r}), {list(EMOTIONS)!r}, {{}}); "
            f"fig = r.plot({str(tmp_path / 'p.png')!r}); print(matplotlib.get_backend(), type(fig).__name__)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["svg", "Figure"] and (tmp_path / "p.png").exists()
