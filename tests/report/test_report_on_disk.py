"""The report and the annotated video read an on-disk results table in bounded batches (issue 21): the same
page and the same drawn faces as from the same table in memory, and the table is never loaded whole."""
from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from report_synth import CLASSES, face_box, make_video

from vidaffect.results.results import Results
from vidaffect.results.store import TableWriter

FPS = 10.0


def people_table(n: int = 1200, size: tuple[int, int] = (160, 120), seed: int = 0) -> pd.DataFrame:
    """Three face tracks over ``n`` frames: 0 (person 0, "alice" on most rows, absent in 300..400), 1 (person 1,
    from frame 100) and 2 (person 0 again, frames 700..900, seen together with track 0: two tracks of one
    person at one time); frames without anyone; float32 probabilities that drift, some rows without VA."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        present = [f for f, on in ((0, not 300 <= i < 400), (1, i >= 100), (2, 700 <= i < 900)) if on]
        if i % 97 == 5:
            present = []
        for f in present or [-1]:
            row = {"frame": i, "time_s": round(i / FPS, 6), "face_id": f, "faces_in_frame": len(present)}
            if f >= 0:
                lead = (i // 150 + f) % len(CLASSES)
                p = rng.dirichlet(np.ones(len(CLASSES)))
                p[lead] += 1.0
                p = (p / p.sum()).astype(np.float32)
                box = face_box(i, size[0]) if f == 0 else (100, 60, 140, 100) if f == 1 else (10, 10, 40, 40)
                row.update({"x1": float(box[0]), "y1": float(box[1]), "x2": float(box[2]), "y2": float(box[3]),
                            "score": 0.9, **dict(zip(CLASSES, p)), "emotion": CLASSES[int(np.argmax(p))],
                            "valence": np.float32(np.sin(i / 40 + f)) if i % 31 else np.float32(np.nan),
                            "arousal": np.float32(np.cos(i / 60 - f)),
                            "person_id": 1 if f == 1 else 0, "person_name": "alice" if f != 1 and i % 3 else None})
            else:
                row.update({"person_id": -1, "person_name": None})
            rows.append(row)
    df = pd.DataFrame(rows)
    for c in CLASSES + ["valence", "arousal"]:
        df[c] = df[c].astype(np.float32)
    return df


def metadata(video, n: int) -> dict:
    return {"video": {"path": str(video), "width": 160, "height": 120, "fps": FPS, "duration_s": n / FPS,
                      "frame_count": n, "rotation": 0, "codec": "mpeg4", "has_audio": False},
            "classes": CLASSES, "model": {"name": "synthetic"}, "va_source": "synthetic",
            "settings": {"start": None, "end": None}}


def pair(frames: pd.DataFrame, meta: dict, path) -> tuple[Results, Results]:
    """The same table in memory and on disk (written in row groups of 333 rows)."""
    writer = TableWriter(path)
    for i in range(0, len(frames), 333):
        writer.write(frames.iloc[i:i + 333])
    writer.close()
    return Results(frames, CLASSES, dict(meta)), Results.from_table(path, CLASSES, dict(meta), in_memory=False)


def _page(path) -> str:
    return re.sub(r"Made by vidaffect on [^<]*", "", path.read_text())


@pytest.fixture
def small_batches(monkeypatch):
    """On-disk tables read in batches of 97 rows: frames, faces and times cut anywhere."""
    import vidaffect.results.store as store

    monkeypatch.setattr(store, "BATCH_ROWS", 97)


def test_report_from_disk_equals_report_from_memory(tmp_path, monkeypatch):
    import vidaffect.results.store as store
    from vidaffect.report import ReportOptions, build_report

    n = 1200
    video = make_video(tmp_path / "v.mp4", n=60, fps=int(FPS))  # thumbnails within its first 6 s
    frames = people_table(n)
    mem, disk = pair(frames, metadata(video, n), tmp_path / "t.parquet")
    for k, options in enumerate([ReportOptions(video_mode="link", thumbnails=40),
                                 ReportOptions(video_mode="none", max_faces=1, max_points=50)]):
        a = build_report(mem, tmp_path / f"mem{k}.html", video=video, options=options)
        with monkeypatch.context() as m:
            m.setattr(store, "BATCH_ROWS", 97)
            b = build_report(disk, tmp_path / f"disk{k}.html", video=video, options=options)
        assert _page(a) == _page(b)
    assert disk._frames is None  # read in batches only
    page = _page(tmp_path / "mem0.html")
    data = page[page.index('id="vidaffect-data">'):]
    assert '"key":"person-0"' in data and '"key":"person-1"' in data and "alice" in page
    assert "data:image/jpeg" in page  # thumbnails were cut from the video
    assert "data:image/png" in page  # the static plots


def test_report_series_are_binned_as_the_whole_table_would_be(tmp_path, small_batches):
    """The drawn series from batches equal :func:`face_series` of the whole group's rows (the former way)."""
    from vidaffect.report.html import ReportOptions, collect
    from vidaffect.report.series import face_series

    frames = people_table(1200)
    _, disk = pair(frames, metadata(tmp_path / "v.mp4", 1200), tmp_path / "t.parquet")
    c = collect(disk, ReportOptions(max_points=200))
    assert disk._frames is None
    gap = c.gap
    for g in c.groups:
        rows = frames[frames["face_id"].isin(g.tracks)]
        merged = rows.groupby("time_s", sort=True)[["valence", "arousal", *CLASSES]].mean().reset_index()
        assert c.series[g.key] == face_series(merged, CLASSES, 200, gap)
    assert [g.key for g in c.groups] == ["person-0", "person-1"] and c.groups[0].tracks == [0, 2]


def test_annotated_video_reads_the_table_along_with_the_video(tmp_path, small_batches):
    from vidaffect.report import annotate_video
    from vidaffect.report.annotate import FaceCursor
    from vidaffect.report.people import person_labels

    n = 300
    frames = people_table(n)
    frames = frames[frames["frame"] % 3 == 0].reset_index(drop=True)  # --fps sampling: a face holds 3 frames
    video = make_video(tmp_path / "v.mp4", n=40, fps=int(FPS))
    mem, disk = pair(frames, metadata(video, n), tmp_path / "t.parquet")
    a, b = FaceCursor(mem), FaceCursor(disk)
    got = [b.faces_at(i) for i in range(n + 5)]
    assert repr([a.faces_at(i) for i in range(n + 5)]) == repr(got)  # (repr: NaN valences compare equal)
    # what the former lookup (all frames in memory) drew: the latest analysed frame's faces, held 3 frames
    labels = person_labels(frames)
    for i in range(n + 5):
        rows = frames[(frames["frame"] == i - i % 3) & (frames["face_id"] >= 0)] if i - i % 3 < n else frames.iloc[:0]
        want = [((r.x1, r.y1, r.x2, r.y2), int(r.face_id), r.emotion, float(getattr(r, r.emotion)), float(r.valence),
                 float(r.arousal), labels.get(int(r.face_id))) for r in rows.itertuples()]
        assert repr(got[i]) == repr(want), i
    assert repr(b.faces_at(3)) == repr(got[3])  # asked backwards: read again
    out = annotate_video(video, disk, tmp_path / "a.mp4")
    assert out.stat().st_size > 0 and disk._frames is None
