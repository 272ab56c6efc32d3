"""Face-sequence folders: loading, label forms, errors, and building clips from tracked faces."""
from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pytest

from vidaffect.data.expressions.base import DatasetError
from vidaffect.data.sequences import build_sequences, load_face_sequences
from vidaffect.labels import EMOTIONS
from vidaffect.models.tsm.crop import square_crop, square_crop_box


def _clip(root: Path, name: str, n: int, value: int = 100) -> Path:
    d = root / name
    d.mkdir(parents=True)
    for i in range(n):  # names sort naturally: 2 < 10
        cv2.imwrite(str(d / f"f{i * 2}.png"), np.full((20, 20, 3), value + i, np.uint8))
    return d


def _csv(path: Path, header: list[str], rows: list[list]) -> None:
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)


def test_clip_labels_and_per_frame_labels(tmp_path: Path) -> None:
    _clip(tmp_path, "a", 6)
    b = _clip(tmp_path, "b", 7, value=50)
    _csv(tmp_path / "labels.csv", ["clip", "label"], [["a", "happiness"], ["b", "sad"]])
    # per-frame labels of b override its clip label; the unlabelled frame f6 splits it in two runs
    frame_labels = ["", "0", "angry", "", "surprise", "surprise", "surprise"]
    _csv(b / "labels.csv", ["file", "label"], [[f"f{i * 2}.png", lab] for i, lab in enumerate(frame_labels)])
    data = load_face_sequences(tmp_path, size=16, min_length=2)
    assert [c.name for c in data.clips] == ["a", "b#0", "b#1"]
    a = data.clips[0]
    assert a.frames.shape == (6, 16, 16, 3) and a.frames.dtype == np.uint8
    assert a.labels.tolist() == [EMOTIONS.index("happy")] * 6
    assert [int(f[0, 0, 0]) for f in a.frames] == [100, 101, 102, 103, 104, 105]  # natural file order
    assert data.clips[1].labels.tolist() == [0, 0]
    assert data.clips[2].labels.tolist() == [EMOTIONS.index("surprise")] * 3
    assert data.num_frames == 11 and data.class_counts()["angry"] == 2
    short = load_face_sequences(tmp_path, size=16, min_length=3)
    assert short.skipped == ["b#0"]


def test_split_subfolder(tmp_path: Path) -> None:
    _clip(tmp_path / "val", "x", 2)
    _csv(tmp_path / "val" / "labels.csv", ["clip", "label"], [["x", "fear"]])
    assert load_face_sequences(tmp_path, "val", size=8).clips[0].labels.tolist() == [2, 2]


@pytest.mark.parametrize("case, message", [
    ("missing", "not found"), ("unlabelled", "no label"), ("unknown", "unknown emotion"),
    ("contempt", "not one of the 7"), ("columns", "expected the columns"), ("empty", "holds no images"),
    ("corrupt", "not a readable image"),
])
def test_errors_name_the_file(tmp_path: Path, case: str, message: str) -> None:
    if case == "missing":
        root = tmp_path / "nope"
    else:
        root = tmp_path
        d = _clip(tmp_path, "c", 2)
        label = {"unknown": "bored", "contempt": "contempt"}.get(case, "happy")
        _csv(tmp_path / "labels.csv", ["clip", "label"] if case != "columns" else ["name", "class"],
             [] if case == "unlabelled" else [["c", label]])
        if case == "empty":
            for f in d.iterdir():
                f.unlink()
        if case == "corrupt":
            (d / "f0.png").write_bytes(b"not an image")
    with pytest.raises(DatasetError, match=message):
        load_face_sequences(root, size=8)


def test_square_crop_follows_the_reference_formula() -> None:
    cx, cy, side = square_crop_box((10, 20, 50, 100), 0.5)  # w 40, h 80: extra 60
    assert (cx, cy) == (30, 60) and side == pytest.approx(np.sqrt(100 * 140))
    img = np.full((100, 100, 3), 200, np.uint8)
    crop = square_crop(img, (0, 0, 20, 20), size=40, margin=0.5)  # side 40 around (10, 10): half outside
    assert crop.shape == (40, 40, 3)
    assert crop[5, 5].tolist() == [0, 0, 0] and crop[30, 30].tolist() == [200, 200, 200]  # zero padding


@dataclass
class _Frame:
    index: int
    time_s: float
    image: np.ndarray


@dataclass
class _Dets:
    xyxy: np.ndarray
    face_ids: np.ndarray


def test_build_sequences_splits_tracks_at_gaps_and_labels(tmp_path: Path) -> None:
    frames = []
    for i in list(range(8)) + list(range(30, 36)):  # a 1 s gap after frame 7
        image = np.full((60, 80, 3), i, np.uint8)
        ids = [1, 2] if i < 5 else [1]  # face 2 only in 5 frames
        boxes = np.array([[10, 10, 30, 30], [40, 10, 60, 30]], np.float32)[: len(ids)]
        frames.append((_Frame(i, i / 25, image), _Dets(boxes, np.array(ids))))

    def crop_fn(image, dets):
        return np.stack([square_crop(image, b, 16) for b in dets.xyxy])

    names = build_sequences(frames, crop_fn, tmp_path, "vid", label="happy", min_length=4)
    assert sorted(names) == ["vid_face1_000000", "vid_face1_000030", "vid_face2_000000"]
    data = load_face_sequences(tmp_path, size=16)
    lengths = {c.name: len(c) for c in data.clips}
    assert lengths == {"vid_face1_000000": 8, "vid_face1_000030": 6, "vid_face2_000000": 5}
    assert all(c.labels.tolist() == [3] * len(c) for c in data.clips)
    # per-frame labels from annotations; frames outside every span are skipped
    ann = tmp_path / "ann.csv"
    _csv(ann, ["start_s", "end_s", "label"], [[0, 0.12, "sad"], [0.12, 0.4, "angry"]])  # frames 0-2 sad, 3-7 angry
    out2 = tmp_path / "ann_out"
    names = build_sequences(frames, crop_fn, out2, "vid", annotations=ann, min_length=3)
    data = load_face_sequences(out2, size=16)
    by_name = {c.name: (len(c), c.labels[0]) for c in data.clips}
    assert by_name == {"vid_face1_000000": (3, 4), "vid_face1_000003": (5, 0), "vid_face2_000000": (3, 4)}
    with pytest.raises(DatasetError, match="label"):
        build_sequences(frames, crop_fn, out2, "vid")
