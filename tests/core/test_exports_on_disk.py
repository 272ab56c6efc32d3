"""Emotion segments, ELAN valence/arousal bins and the exports built batch by batch (issue 21): the same as the
whole-table computation they replace, and from an on-disk table the same files as from memory, without ever
loading the table whole."""
from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from vidaffect.results import Results
from vidaffect.results.exports import export_results
from vidaffect.results.exports.elan import VaBinner, va_bins
from vidaffect.results.segments import (SEGMENT_COLUMNS, SegmentBuilder, TimeScan, emotion_segments, frame_step,
                                        results_segments)
from vidaffect.results.smoothing import moving_average_by_time
from vidaffect.results.store import TableWriter

CLASSES = ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"]


def random_table(seed: int = 0, n: int = 700, faces: int = 4, persons: bool = True) -> pd.DataFrame:
    """Frames at a variable rate with 0-3 faces each (absences of every length), a class that holds for a while
    per face under noisy probabilities (float32, some rows without), person ids (two tracks of person 0 seen
    together at times, -1 for no person), names on some rows, NaN valence on some."""
    rng = np.random.default_rng(seed)
    t = np.round(np.cumsum(rng.uniform(0.02, 0.07, n)), 6)
    state = {f: int(rng.integers(len(CLASSES))) for f in range(faces)}
    rows = []
    for i in range(n):
        ids = [] if rng.random() < 0.03 else sorted(rng.choice(faces, size=int(rng.integers(0, 4)),
                                                               replace=False).tolist())
        for f in ids or [-1]:
            if rng.random() < 0.05:
                state[f] = int(rng.integers(len(CLASSES)))
            p = rng.dirichlet(np.ones(len(CLASSES)))
            if f >= 0:
                p[state[f]] += 1.5 * rng.random()
            p = p / p.sum()
            if f < 0 or rng.random() < 0.03:
                p[:] = np.nan
            r = {"frame": i, "time_s": t[i], "face_id": f, "x1": 1.0, "y1": 2.0, "x2": 30.0, "y2": 40.0,
                 **dict(zip(CLASSES, p)), "emotion": None if np.isnan(p[0]) else CLASSES[int(np.argmax(p))],
                 "valence": rng.normal() if f >= 0 and rng.random() > 0.1 else np.nan,
                 "arousal": rng.normal() if f >= 0 else np.nan}
            if persons:
                r["person_id"] = -1 if f < 0 else (f % 2 if f < 3 else -1)
                r["person_name"] = None if f < 0 or rng.random() < 0.5 else f"p{f % 2}"
            rows.append(r)
    df = pd.DataFrame(rows)
    for c in CLASSES + ["valence", "arousal"]:
        df[c] = df[c].astype(np.float32)
    return df


# ----- the whole-table computations as they were before issue 21 (the reference) -----
def _reference_hysteresis(times, probs, min_duration_s, switch_margin, step):
    n = len(times)
    head = times <= times[0] + max(min_duration_s - step, 0.0) + 1e-9
    current = int(np.argmax(probs[head].mean(axis=0)))
    labels = np.empty(n, dtype=np.int64)
    challenger, since, start = -1, 0, 0
    for i in range(n):
        best = int(np.argmax(probs[i]))
        leads = best != current and probs[i, best] - probs[i, current] >= switch_margin
        if not leads:
            challenger = -1
            continue
        if best != challenger:
            challenger, since = best, i
        if times[i] - times[since] + step >= min_duration_s - 1e-9:
            if start > 0 or times[since] - times[0] >= min_duration_s - 1e-9:
                labels[start:since] = current
                start = since
            current, challenger = challenger, -1
    labels[start:] = current
    return labels


def _finite_mean(values):
    finite = values[np.isfinite(values)]
    return float(finite.mean()) if len(finite) else float("nan")


def reference_segments(frames, classes, min_duration_s=0.5, switch_margin=0.1, by=None, smoothing_s=0.5,
                       max_gap_s=0.5):
    by = by or ("person_id" if "person_id" in frames.columns else "face_id")
    extra = ["person_name"] if "person_name" in frames.columns and by != "person_name" else []
    step = frame_step(frames)
    rows = frames[(frames["face_id"] >= 0) & frames[by].notna()]
    if rows[by].dtype.kind in "iuf":
        rows = rows[rows[by] >= 0]
    rows = rows.dropna(subset=classes)
    value_cols = classes + [c for c in ("valence", "arousal") if c in rows.columns]
    out = []
    for ident, g in rows.groupby(by, sort=True):
        per_t = g.groupby("time_s", sort=True)[value_cols].mean()
        times = per_t.index.to_numpy(dtype=np.float64)
        probs = per_t[classes].to_numpy(dtype=np.float64)
        valence, arousal = per_t["valence"].to_numpy(), per_t["arousal"].to_numpy()
        name = g["person_name"].dropna().iloc[0] if extra and g["person_name"].notna().any() else None
        breaks = np.flatnonzero(np.diff(times) - step > max_gap_s + 1e-6) + 1
        for lo, hi in zip(np.r_[0, breaks], np.r_[breaks, len(times)]):
            t, p = times[lo:hi], probs[lo:hi]
            smooth = moving_average_by_time(t, p, smoothing_s) if smoothing_s > 0 else p
            labels = _reference_hysteresis(t, smooth, min_duration_s, switch_margin, step)
            cuts = np.flatnonzero(np.diff(labels)) + 1
            for a, b in zip(np.r_[0, cuts], np.r_[cuts, len(t)]):
                k = int(labels[a])
                row = {by: ident, **({"person_name": name} if extra else {})}
                start, end = float(t[a]), float(t[b - 1] + step)
                row.update(start_s=round(start, 3), end_s=round(end, 3), duration_s=round(end - start, 3),
                           emotion=classes[k], mean_probability=float(np.mean(p[a:b, k])),
                           mean_valence=_finite_mean(valence[lo + a:lo + b]),
                           mean_arousal=_finite_mean(arousal[lo + a:lo + b]), frames=int(b - a),
                           agreement=float(np.mean(np.argmax(p[a:b], axis=1) == k)))
                out.append(row)
    seg = pd.DataFrame(out, columns=[by] + extra + SEGMENT_COLUMNS)
    return seg.sort_values([by, "start_s"], kind="stable").reset_index(drop=True)


def reference_va_bins(frames, by, step_s=0.5):
    rows = frames[(frames["face_id"] >= 0) & frames[by].notna()]
    if rows[by].dtype.kind in "iuf":
        rows = rows[rows[by] >= 0]
    rows = rows.dropna(subset=["valence", "arousal"], how="all")
    step = frame_step(frames)
    rows = rows.assign(_bin=np.floor(rows["time_s"].to_numpy(dtype=np.float64) / step_s + 1e-9).astype(np.int64))
    g = rows.groupby([by, "_bin"], sort=True)
    out = pd.DataFrame({"start_s": g["time_s"].min(), "end_s": g["time_s"].max() + step,
                        "valence": g["valence"].mean(), "arousal": g["arousal"].mean()}).reset_index()
    nxt = out.groupby(by)["start_s"].shift(-1)
    out["end_s"] = np.where(nxt.notna(), np.minimum(out["end_s"], nxt), out["end_s"])
    return out[[by, "start_s", "end_s", "valence", "arousal"]]


def assert_same_segments(got: pd.DataFrame, ref: pd.DataFrame) -> None:
    assert list(got.columns) == list(ref.columns) and len(got) == len(ref)
    for c in got.columns:
        if c in ("mean_probability", "agreement"):
            np.testing.assert_allclose(got[c].astype(float), ref[c].astype(float), rtol=1e-9, atol=1e-12,
                                       err_msg=c)
        elif c in ("mean_valence", "mean_arousal"):
            # float64 sums now; pandas' groupby mean of a float32 column with NaN in a group was float32
            np.testing.assert_allclose(got[c].astype(float), ref[c].astype(float), rtol=1e-6, atol=1e-6,
                                       equal_nan=True, err_msg=c)
        else:
            assert got[c].tolist() == ref[c].tolist(), c


def batches(df: pd.DataFrame, n: int):
    for i in range(0, len(df), n):
        yield df.iloc[i:i + n]


PARAMS = [dict(), dict(min_duration_s=0.0, switch_margin=0.0, smoothing_s=0.0), dict(smoothing_s=0.0),
          dict(min_duration_s=0.2, switch_margin=0.05, smoothing_s=0.3, max_gap_s=0.1),
          dict(min_duration_s=1.5, smoothing_s=1.0), dict(by="face_id")]


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("params", PARAMS)
def test_segments_in_batches_equal_the_whole_table_computation(seed, params):
    df = random_table(seed, n=500, persons=seed != 1)
    ref = reference_segments(df, CLASSES, **params)
    assert len(ref) > 3
    assert_same_segments(emotion_segments(df, CLASSES, **params), ref)
    by = params.get("by") or ("person_id" if "person_id" in df.columns else "face_id")
    kw = {k: v for k, v in params.items() if k != "by"}
    for n in (2, 7, 64):
        builder = SegmentBuilder(CLASSES, by, frame_step(df), has_name="person_name" in df.columns, **kw)
        for b in batches(df, n):
            builder.update(b)
        assert_same_segments(builder.result(), ref)


def test_time_scan_gives_the_whole_table_frame_step():
    df = random_table(3)
    for n in (1, 5, 10_000):
        scan = TimeScan()
        for b in batches(df, n):
            scan.update(b)
        assert scan.step == frame_step(df) and scan.frames == df["frame"].nunique()
        assert scan.bounds == (df["time_s"].min(), df["time_s"].max())


@pytest.mark.parametrize("by, step_s", [("face_id", 0.1), ("person_id", 0.5), ("face_id", 2.0)])
def test_va_bins_in_batches_equal_the_whole_table_computation(by, step_s):
    df = random_table(4, n=400)
    ref = reference_va_bins(df, by, step_s)
    assert len(ref) > 20

    def same(got):
        assert list(got.columns) == list(ref.columns)
        for c in (by, "start_s", "end_s"):
            assert got[c].tolist() == ref[c].tolist(), c
        for c in ("valence", "arousal"):  # float64 means (pandas' were float32 for a float32 column with NaN)
            np.testing.assert_allclose(got[c].astype(float), ref[c].astype(float), rtol=1e-6, atol=1e-6,
                                       equal_nan=True, err_msg=c)

    same(va_bins(df, by, step_s))
    for n in (7, 29):
        binner = VaBinner(by, step_s, frame_step(df))
        for b in batches(df, n):
            binner.update(b)
        same(binner.result())


def on_disk(frames: pd.DataFrame, path, meta: dict) -> Results:
    writer = TableWriter(path)
    for b in batches(frames, 333):
        writer.write(b)
    writer.close()
    return Results.from_table(path, CLASSES, dict(meta), in_memory=False)


def _strip_eaf(text: str) -> str:
    return re.sub(r'DATE="[^"]*"', "", re.sub(r"urn:nl-mpi-tools-elan-eaf:[0-9a-f-]+", "", text))


def test_exports_from_an_on_disk_table_equal_those_from_memory(tmp_path, monkeypatch):
    import vidaffect.results.store as store

    frames = random_table(5, n=2500, faces=3)
    meta = {"video": {"path": str(tmp_path / "v.mp4")}, "classes": CLASSES}
    mem = Results(frames, CLASSES, dict(meta))
    disk = on_disk(frames, tmp_path / "t.parquet", meta)
    a = export_results(mem, tmp_path / "mem", stem="v")
    monkeypatch.setattr(store, "BATCH_ROWS", 97)  # many batches, cut anywhere
    b = export_results(disk, tmp_path / "disk", stem="v")
    assert disk._frames is None  # the table was only read in batches
    assert sorted(a) == sorted(b) == ["elan", "segments", "srt", "webvtt"]
    for kind in a:
        ta, tb = a[kind].read_text(), b[kind].read_text()
        if kind == "elan":
            ta, tb = _strip_eaf(ta), _strip_eaf(tb)
        assert ta == tb, kind
    seg = pd.read_csv(a["segments"])
    assert len(seg) > 5 and set(seg["person_id"]) == {0, 1}
    assert "valence" in a["elan"].read_text()  # the VA tiers were written
    # the same segments as the whole-table computation, from disk too
    assert_same_segments(results_segments(disk, min_duration_s=0.3), reference_segments(frames, CLASSES, 0.3))
    assert disk._frames is None


def test_eaf_written_part_by_part_is_the_document_serialised(tmp_path, monkeypatch):
    import uuid
    import xml.etree.ElementTree as ET

    from vidaffect.results.exports import elan

    monkeypatch.setattr(elan.uuid, "uuid4", lambda: uuid.UUID(int=7))
    frames = random_table(6, n=400)
    frames.loc[frames["person_name"] == "p0", "person_name"] = 'Zoë & "B" <c>'  # escaped in attributes
    seg = emotion_segments(frames, CLASSES, min_duration_s=0.2)
    for segments, step in [(seg, 0.5), (seg, 0.0), (seg.iloc[:0], 0.5)]:
        path = elan.write_eaf(segments, tmp_path / "a & b.eaf", video=tmp_path / "v.mp4", frames=frames,
                              va_step_s=step, classes=CLASSES)
        tree = elan.eaf_document(segments, video=tmp_path / "v.mp4", eaf_path=path, frames=frames, va_step_s=step,
                                 classes=CLASSES)
        whole = '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(tree.getroot(), encoding="unicode") + "\n"
        assert _strip_eaf(path.read_text(encoding="utf-8")) == _strip_eaf(whole)
        if len(segments) and step > 0:
            assert 'TIER_ID="Zoë &amp; &quot;B&quot; &lt;c&gt; valence"' in whole
    assert "<TIME_ORDER />" in path.read_text()  # no segments: no slots
