"""Results finished, summarised and written batch by batch equal the same done on the whole table at once."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from vidaffect.labels import EMOTIONS
from vidaffect.pipeline.finalize import FinishPlan, drop_tracks, emotion_column, finalize_batches
from vidaffect.results import Results
from vidaffect.results.accumulators import median_of_counts, summarise
from vidaffect.results.smoothing import smooth_frames
from vidaffect.results.store import PartWriter, TableWriter, frame_batches, read_batches
from vidaffect.results.va import derived_va
from vidaffect.results.vtt import vtt_events, vtt_frame_lines, write_vtt_batches

CLASSES = tuple(EMOTIONS)


def raw_table(seed: int = 0, n_frames: int = 120, faces: int = 4) -> pd.DataFrame:
    """A pass's rows: frames at a variable rate, 0-3 faces each, some without probabilities."""
    rng = np.random.default_rng(seed)
    t = np.round(np.cumsum(rng.uniform(0.02, 0.06, n_frames)), 6)
    rows = []
    for f in range(n_frames):
        ids = sorted(rng.choice(faces, size=int(rng.integers(0, 4)), replace=False).tolist())
        for fid in ids or [-1]:
            p = rng.dirichlet(np.ones(len(CLASSES))).astype(np.float32)
            if fid < 0 or rng.random() < 0.05:
                p[:] = np.nan
            rows.append({"frame": f, "time_s": t[f], "face_id": fid, "x1": 1.0, "y1": 2.0, "x2": 30.0, "y2": 40.0,
                         "score": 0.9, "faces_in_frame": len(ids), "detected": fid >= 0, "mesh_fit": fid >= 0,
                         **dict(zip(CLASSES, p)), "valence": np.float32(np.nan), "arousal": np.float32(np.nan)})
    df = pd.DataFrame(rows)
    for c in CLASSES:
        df[c] = df[c].astype(np.float32)
    return df


def whole_table_reference(raw: pd.DataFrame, plan: FinishPlan) -> pd.DataFrame:
    """The finishing steps applied to the whole table at once (what the analyser did before issue 21)."""
    df = raw.copy()
    df["face_id"] = df["face_id"].replace(plan.merged)
    df = drop_tracks(df, plan.discarded)
    has = df["face_id"].to_numpy() >= 0
    probs = df.loc[has, list(CLASSES)].to_numpy(dtype=np.float32)
    ok = ~np.isnan(probs).any(axis=1)
    va = np.full((len(probs), 2), np.nan, np.float32)
    va[ok] = derived_va(probs[ok], CLASSES)
    df.loc[has, "valence"], df.loc[has, "arousal"] = va[:, 0], va[:, 1]
    if plan.smoothing_s > 0:
        df = smooth_frames(df, list(CLASSES) + ["valence", "arousal"], plan.smoothing_s)
    df["emotion"] = emotion_column(df, CLASSES)
    return df


def batches_of(df: pd.DataFrame, n: int):
    for i in range(0, len(df), n):
        yield df.iloc[i:i + n].reset_index(drop=True)


@pytest.mark.parametrize("batch", [1, 5, 64, 10_000])
@pytest.mark.parametrize("smoothing", [0.0, 0.3])
def test_finishing_in_batches_equals_finishing_the_whole_table(batch, smoothing):
    raw = raw_table()
    plan = FinishPlan(CLASSES, None, smoothing, merged={3: 1}, discarded={2}, persons={0: 0, 1: 1})
    got = pd.concat(list(finalize_batches(batches_of(raw, batch), plan)), ignore_index=True)
    ref = whole_table_reference(raw, plan)
    assert len(got) == len(ref) and got["frame"].tolist() == ref["frame"].tolist()
    assert set(got["face_id"]) <= {-1, 0, 1}  # 3 continued as 1, 2 dropped
    assert got.groupby("frame")["face_id"].first().index.tolist() == sorted(raw["frame"].unique())  # no frame lost
    for col in [*CLASSES, "valence", "arousal", "faces_in_frame"]:
        np.testing.assert_allclose(got[col].to_numpy(float), ref[col].to_numpy(float), rtol=1e-9, atol=1e-12,
                                   equal_nan=True, err_msg=col)
    assert got["emotion"].tolist() == ref["emotion"].tolist()
    assert (got.loc[got["face_id"] >= 0, "person_id"] == got.loc[got["face_id"] >= 0, "face_id"]).all()
    assert (got.loc[got["face_id"] < 0, "va_source"].isna()).all()


def test_frame_batches_never_split_a_frame():
    raw = raw_table(1)
    parts = list(frame_batches(batches_of(raw, 3)))
    assert sum(map(len, parts)) == len(raw)
    for a, b in zip(parts, parts[1:]):
        assert a["frame"].iloc[-1] != b["frame"].iloc[0]


def reference_durations(frames: pd.DataFrame, damaged=()) -> pd.Series:
    """Results.frame_durations() as it was written before (NumPy over the whole time column)."""
    times = np.sort(frames["time_s"].dropna().unique()).astype(float)
    gaps = np.diff(times)
    step = float(np.median(gaps)) if len(gaps) else 0.0
    dur = np.append(gaps, step)
    for span in damaged:
        before = np.searchsorted(times, span["start_s"], side="right") - 1
        if 0 <= before < len(times) - 1 and times[before + 1] > span["start_s"]:
            dur[before] = min(dur[before], step)
    return pd.Series(dur, index=times)


def reference_summary(frames: pd.DataFrame, classes, by="face", damaged=()):
    """Results.summary() as it was written before (pandas groupby over the whole table)."""
    key = "face_id" if by == "face" else "person_id"
    faces = frames[frames["face_id"] >= 0]
    shown = reference_durations(frames, damaged)
    rows = []
    for fid, g in faces.groupby(key):
        shares = g["emotion"].value_counts(normalize=True)
        row = {key: int(fid), "first_s": float(g["time_s"].min()), "last_s": float(g["time_s"].max()),
               "on_screen_s": round(float(shown.reindex(g["time_s"].unique()).sum()), 3), "frames": int(len(g)),
               "mean_valence": float(g["valence"].mean()), "mean_arousal": float(g["arousal"].mean()),
               "dominant_emotion": str(shares.index[0]) if len(shares) else None}
        if by == "person":
            row["face_ids"] = " ".join(str(int(f)) for f in sorted(g["face_id"].unique()))
        for c in classes:
            row[f"share_{c}"] = float(shares.get(c, 0.0))
        rows.append(row)
    return pd.DataFrame(rows)


@pytest.mark.parametrize("batch", [1, 7, 10_000])
def test_summary_in_batches_equals_the_groupby_summary(batch):
    plan = FinishPlan(CLASSES, None, 0.0, persons={0: 0, 1: 0, 2: 1, 3: 1})
    frames = pd.concat(list(finalize_batches(batches_of(raw_table(2), 50), plan)), ignore_index=True)
    damaged = [{"start_s": float(frames["time_s"].iloc[len(frames) // 2]) + 1e-4, "end_s": 9.0}]
    for by in ("face", "person"):
        got = summarise(batches_of(frames, batch), list(CLASSES), by, damaged)
        ref = reference_summary(frames, CLASSES, by, damaged)
        key = "face_id" if by == "face" else "person_id"
        assert got[key].tolist() == ref[key].tolist()
        for col in ref.columns:
            if not pd.api.types.is_numeric_dtype(ref[col]):
                assert got[col].tolist() == ref[col].tolist(), col
            else:
                # means of float32 columns: pandas sums them in float32, the accumulator in float64
                np.testing.assert_allclose(got[col].to_numpy(float), ref[col].to_numpy(float), rtol=1e-6,
                                           err_msg=col)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_frame_durations_follow_the_summary_rule(seed, tmp_path):
    """frame_durations and summary share FrameClock; both equal the whole-column rule, in memory and on disk,
    with damaged spans before, between and after frames, and with a single frame."""
    frames = raw_table(seed, n_frames=60)
    t = np.sort(frames["time_s"].unique())
    damaged = [{"start_s": float(t[10]), "end_s": 9.0}, {"start_s": float(t[30] + 1e-4), "end_s": 9.0},
               {"start_s": float(t[-1] + 1.0), "end_s": 99.0}]
    ref = reference_durations(frames, damaged)
    res = Results(frames, list(CLASSES), {"damaged_spans": damaged})
    got = res.frame_durations()
    np.testing.assert_allclose(got.index.to_numpy(), ref.index.to_numpy())
    np.testing.assert_allclose(got.to_numpy(), ref.to_numpy())
    on_disk = Results.from_table(res.to_parquet(tmp_path / "f.parquet"), list(CLASSES),
                                 {"damaged_spans": damaged}, in_memory=False)
    np.testing.assert_allclose(on_disk.frame_durations().to_numpy(), ref.to_numpy())
    assert on_disk._frames is None  # read the time column only
    single = Results(frames[frames["frame"] == frames["frame"].iloc[0]], list(CLASSES), {})
    assert single.frame_durations().tolist() == [0.0]


def test_median_of_counts_is_numpys_median():
    rng = np.random.default_rng(0)
    for n in (1, 2, 5, 10, 11):
        values = rng.integers(0, 4, n).astype(float)
        counts = pd.Series(values).value_counts().to_dict()
        from collections import Counter

        assert median_of_counts(Counter(counts)) == pytest.approx(float(np.median(values)))


def reference_vtt_events(frames: pd.DataFrame) -> list[dict]:
    """The VTT events as they were written before (groupby per face over the whole table, then sorted by time)."""
    rows = frames[(frames["face_id"] >= 0) & frames["emotion"].notna()].sort_values(["face_id", "time_s"],
                                                                                    kind="stable")
    events = []
    for _, g in rows.groupby("face_id", sort=True):
        prev = None
        for r in g.itertuples(index=False):
            if r.emotion == prev:
                continue
            prev = r.emotion
            obj = {"id": str(r.face_id)}
            if hasattr(r, "person_id") and int(r.person_id) >= 0:
                obj["person"] = str(int(r.person_id))
            events.append({"type": "emotion", "class": str(r.emotion), "seconds": round(float(r.time_s), 3),
                           "object": obj})
    events.sort(key=lambda e: e["seconds"])
    return events


def test_events_written_in_batches_equal_the_whole_table_events(tmp_path):
    plan = FinishPlan(CLASSES, None, 0.0, persons={0: 0, 1: 0, 2: 1, 3: 1})
    frames = pd.concat(list(finalize_batches(batches_of(raw_table(3), 50), plan)), ignore_index=True)
    assert vtt_events(frames) == reference_vtt_events(frames)
    for form, ref in (("event", json.dumps(reference_vtt_events(frames), indent=1)),
                      ("frames", "".join(json.dumps(r) + "\n" for r in vtt_frame_lines(frames)))):
        path = write_vtt_batches(batches_of(frames, 9), tmp_path / f"e.{form}", form=form)
        assert path.read_text() == ref


def test_on_disk_results_behave_like_in_memory_ones(tmp_path):
    plan = FinishPlan(CLASSES, None, 0.25, merged={3: 1}, persons={0: 0, 1: 1, 2: 2})
    frames = pd.concat(list(finalize_batches(batches_of(raw_table(4), 50), plan)), ignore_index=True)
    meta = {"video": {"path": "clip.mp4", "name": "clip"}, "classes": list(CLASSES), "va_source": "x"}
    table = TableWriter(tmp_path / "t.parquet")
    for b in batches_of(frames, 33):
        table.write(b)
    table.close()
    mem = Results(frames, list(CLASSES), dict(meta))
    disk = Results.from_table(tmp_path / "t.parquet", list(CLASSES), dict(meta), in_memory=False)
    assert not disk.in_memory and mem.in_memory
    assert len(disk) == len(mem) and disk.face_ids() == mem.face_ids() and repr(disk) == repr(mem)
    pd.testing.assert_frame_equal(disk.summary(), mem.summary())
    pd.testing.assert_frame_equal(disk.summary(by="person"), mem.summary(by="person"))
    assert [(f.frame, len(f)) for f in disk] == [(f.frame, len(f)) for f in mem]
    a = mem.save(tmp_path / "mem", ("csv", "parquet", "json"), plot=False)
    b = disk.save(tmp_path / "disk", ("csv", "parquet", "json"), plot=False)
    assert disk._frames is None  # summaries, len, iteration and every writer read batches: never the whole table
    for kind in ("csv", "json", "summary", "persons", "events"):
        assert a[kind].read_bytes() == b[kind].read_bytes(), kind
    pd.testing.assert_frame_equal(Results.load(a["parquet"]).frames, Results.load(b["parquet"]).frames)
    lazy = Results.load(b["parquet"], in_memory=False)
    assert not lazy.in_memory and lazy.metadata["va_source"] == "x"
    pd.testing.assert_frame_equal(lazy.frames, mem.frames)  # read on first use
    # a mapped column (person names) on disk and in memory
    disk2 = Results.from_table(tmp_path / "t.parquet", list(CLASSES), dict(meta), in_memory=False)
    mem.map_column("person_name", "person_id", {0: "ana", 1: "bo"})
    disk2.map_column("person_name", "person_id", {0: "ana", 1: "bo"})
    pd.testing.assert_frame_equal(disk2.summary(), mem.summary())
    assert next(disk2.iter_batches(["face_id", "person_name"])).columns.tolist() == ["face_id", "person_name"]
    fig = disk.plot(tmp_path / "p.png")
    assert (tmp_path / "p.png").read_bytes()[:4] == b"\x89PNG" and fig is not None


def test_long_tables_are_plotted_from_time_bins(tmp_path):
    from vidaffect.results.plot_data import binned_face_rows

    plan = FinishPlan(CLASSES, None, 0.0)
    frames = pd.concat(list(finalize_batches(batches_of(raw_table(5, n_frames=400), 64), plan)),
                       ignore_index=True)
    res = Results(frames, list(CLASSES), {})
    exact, span, step, faces = binned_face_rows(res, max_faces=2)
    counts = frames[frames["face_id"] >= 0]["face_id"].value_counts()
    assert set(exact["face_id"]) == set(counts.index[:2]) and len(exact) == counts.iloc[:2].sum()
    assert faces == counts.index[:2].tolist()
    binned, span2, step2, faces2 = binned_face_rows(res, max_faces=2, exact_rows=10, max_bins=50)
    assert span2 == span and step2 >= step and faces2 == faces
    assert binned.groupby("face_id").size().max() <= 50
    for fid, g in binned.groupby("face_id"):  # bin means stay within the face's range of values
        v = frames.loc[frames["face_id"] == fid, "valence"]
        assert v.min() - 1e-6 <= g["valence"].min() and g["valence"].max() <= v.max() + 1e-6


def test_binned_plots_draw_the_longest_shown_face_first():
    """Face 0 shows in 300 frames packed in the first 10 s, face 1 in 180 frames spread over 30 s: in time bins
    face 1 has more rows, but face 0 was on screen longer and is drawn first."""
    from vidaffect.plotting import plot_results
    from vidaffect.results.plot_data import binned_face_rows

    rows = [{"frame": f, "time_s": f / 30, "face_id": fid, "valence": 0.1, "arousal": 0.2,
             **{c: 1 / len(CLASSES) for c in CLASSES}}
            for f in range(900) for fid in ((0,) if f < 300 else ()) + ((1,) if f % 5 == 0 else ())]
    res = Results(pd.DataFrame(rows), list(CLASSES), {})
    binned, _, _, faces = binned_face_rows(res, max_faces=2, exact_rows=10, max_bins=50)
    assert faces == [0, 1]
    assert binned.groupby("face_id").size()[1] > binned.groupby("face_id").size()[0]
    fig = plot_results(binned, list(CLASSES), faces=faces)
    assert [ax.get_ylabel() for ax in fig.axes[::2]] == ["face 0", "face 1"]


def test_table_writer_publishes_only_on_close(tmp_path):
    frames = raw_table(7)
    with pytest.raises(RuntimeError, match="stop"):
        with TableWriter(tmp_path / "t.parquet") as w:
            w.write(frames.iloc[:10])
            raise RuntimeError("stop")
    with TableWriter(tmp_path / "u.parquet") as w:  # left without close: aborted as well
        w.write(frames.iloc[:10])
    assert list(tmp_path.iterdir()) == []  # neither the table nor a temporary file
    with TableWriter(tmp_path / "t.parquet") as w:
        for b in batches_of(frames, 25):
            w.write(b)
        path = w.close()
    pd.testing.assert_frame_equal(pd.read_parquet(path), frames)
    assert [p.name for p in tmp_path.iterdir()] == ["t.parquet"]


def test_part_writer_parts_read_back_in_order(tmp_path):
    raw = raw_table(6)
    w = PartWriter(tmp_path, "rows")
    for b in batches_of(raw, 40):
        w.write(b)
    back = pd.concat(list(read_batches(w.parts(), batch_rows=17)), ignore_index=True)
    pd.testing.assert_frame_equal(back, raw)
