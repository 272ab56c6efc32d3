"""Loaders of every supported data set format, on tiny files written in each original layout."""
from __future__ import annotations

import csv
import os
from pathlib import Path

import cv2
import numpy as np
import pytest

from vidaffect.data.expressions import DatasetError, detect_format, load_expression_dataset
from vidaffect.labels import EMOTIONS, EMOTIONS_8
from vidaffect.training.data_cache import load_cached

from expressions_synth import face, write_image_folder


# ---------------------------------------------------------------- image folder
def test_image_folder_maps_synonyms_and_reads_pixels(tmp_path):
    write_image_folder(tmp_path, "train", ["Happiness", "anger"], 2)
    data = load_expression_dataset(tmp_path, split="train", size=32)
    assert data.classes == EMOTIONS
    assert sorted(data.labels.tolist()) == [0, 0, 3, 3]  # anger -> angry (0), Happiness -> happy (3)
    assert data.images.shape == (4, 32, 32) and data.images.dtype == np.uint8
    assert detect_format(tmp_path)[0] == "imagefolder"


def test_image_folder_errors_name_the_file(tmp_path):
    write_image_folder(tmp_path, "train", ["happy"], 1)
    bad = tmp_path / "train" / "happy" / "broken.jpg"
    bad.write_bytes(b"\xff\xd8 not really a jpeg")
    with pytest.raises(DatasetError, match="broken.jpg"):
        load_expression_dataset(tmp_path, split="train")
    bad.unlink()
    (tmp_path / "train" / "sad").mkdir()
    with pytest.raises(DatasetError, match=r"sad: class folder holds no images"):
        load_expression_dataset(tmp_path, split="train")
    (tmp_path / "train" / "sad").rmdir()
    (tmp_path / "train" / "boredom").mkdir()
    with pytest.raises(DatasetError, match="boredom.*unknown emotion"):
        load_expression_dataset(tmp_path, split="train")


# ---------------------------------------------------------------- FER2013 CSV
def _pixels(img: np.ndarray) -> str:
    return " ".join(str(v) for v in img.ravel())


def write_fer_csv(path: Path) -> list[tuple[int, str, np.ndarray]]:
    rows = [(3, "Training", face(3, 1)), (0, "Training", face(0, 2)), (6, "PublicTest", face(6, 3)),
            (5, "PrivateTest", face(5, 4)), (1, "Training", face(1, 5))]
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["emotion", "pixels", "Usage"])
        for label, usage, img in rows:
            w.writerow([label, _pixels(img), usage])
    return rows


def test_fer2013_csv_splits_labels_and_pixels(tmp_path):
    path = tmp_path / "fer2013.csv"
    rows = write_fer_csv(path)
    train = load_expression_dataset(path, split="train")
    assert train.labels.tolist() == [3, 0, 1]
    assert np.array_equal(train.images[0], rows[0][2])
    val = load_expression_dataset(path, split="val")
    assert val.labels.tolist() == [6] and val.classes[6] == "neutral"
    test = load_expression_dataset(tmp_path, split="test")  # folder holding fer2013.csv
    assert test.labels.tolist() == [5] and np.array_equal(test.images[0], rows[3][2])
    rgb64 = load_expression_dataset(path, split="val", size=64, color="rgb")
    assert rgb64.images.shape == (1, 64, 64, 3)
    assert detect_format(path)[0] == "fer2013"


def test_fer2013_csv_bad_row_names_line(tmp_path):
    path = tmp_path / "fer2013.csv"
    path.write_text("emotion,pixels,Usage\n3,1 2 3,Training\n")
    with pytest.raises(DatasetError, match=r"fer2013.csv:2: pixels field must hold 2304"):
        load_expression_dataset(path, split="train")
    path.write_text(f"emotion,pixels,Usage\n9,{_pixels(face(0, 0))},Training\n")
    with pytest.raises(DatasetError, match=r"fer2013.csv:2: emotion 9 outside"):
        load_expression_dataset(path, split="train")


# ---------------------------------------------------------------- FER+
# votes: neutral, happiness, surprise, sadness, anger, disgust, fear, contempt, unknown, NF
FERPLUS_ROWS = [
    ("Training", "fer0000000.png", [0, 8, 2, 0, 0, 0, 0, 0, 0, 0]),   # happy, clear majority
    ("Training", "fer0000001.png", [4, 0, 0, 4, 0, 0, 1, 0, 1, 0]),   # tie 4/4: no majority; soft 0.5/0.5
    ("Training", "", [10, 0, 0, 0, 0, 0, 0, 0, 0, 0]),                # no image name: dropped by FER+
    ("Training", "fer0000003.png", [0, 0, 0, 0, 0, 0, 0, 0, 2, 8]),   # not a face: dropped
    ("Training", "fer0000004.png", [3, 0, 0, 0, 0, 0, 0, 7, 0, 0]),   # contempt majority
    ("PublicTest", "fer0000005.png", [0, 0, 9, 0, 1, 0, 0, 0, 0, 0]),  # surprise
]


def write_ferplus_csv(tmp_path: Path) -> Path:
    with open(tmp_path / "fer2013.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["emotion", "pixels", "Usage"])
        for i, (usage, _, _) in enumerate(FERPLUS_ROWS):
            w.writerow([0, _pixels(face(i % 7, i)), usage])
    path = tmp_path / "fer2013new.csv"
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["Usage", "Image name", "neutral", "happiness", "surprise", "sadness", "anger", "disgust", "fear",
                    "contempt", "unknown", "NF"])
        for usage, name, votes in FERPLUS_ROWS:
            w.writerow([usage, name, *votes])
    return path


def test_ferplus_majority_and_soft_modes(tmp_path):
    path = write_ferplus_csv(tmp_path)
    maj = load_expression_dataset(path, split="train", mode="majority")
    assert maj.classes == EMOTIONS_8
    assert [maj.classes[i] for i in maj.labels] == ["happy", "contempt"]
    assert np.array_equal(maj.images[0], face(0, 0))  # pixels come from the aligned fer2013.csv row
    assert maj.soft_labels is None
    soft = load_expression_dataset(path, split="train", mode="soft")
    assert len(soft) == 3  # the tie is kept as a distribution
    tie = soft.soft_labels[1]
    assert tie[EMOTIONS_8.index("neutral")] == pytest.approx(0.5) and tie[EMOTIONS_8.index("sad")] == pytest.approx(0.5)
    assert tie[EMOTIONS_8.index("fear")] == 0  # a single vote is an outlier
    seven = load_expression_dataset(path, split="train", mode="majority", classes=7)
    assert seven.classes == EMOTIONS and [EMOTIONS[i] for i in seven.labels] == ["happy"]
    val = load_expression_dataset(path, split="val")
    assert [val.classes[i] for i in val.labels] == ["surprise"]
    assert detect_format(path)[0] == "ferplus"


def test_ferplus_image_folders(tmp_path):
    folder = tmp_path / "FER2013Train"
    folder.mkdir()
    cv2.imwrite(str(folder / "fer0000000.png"), face(3, 0))
    cv2.imwrite(str(folder / "fer0000001.png"), face(4, 1))
    (folder / "label.csv").write_text('fer0000000.png,"(0, 0, 48, 48)",0,9,1,0,0,0,0,0,0,0\n'
                                      'fer0000001.png,"(0, 0, 48, 48)",1,0,0,9,0,0,0,0,0,0\n')
    data = load_expression_dataset(tmp_path, split="train")
    assert [data.classes[i] for i in data.labels] == ["happy", "sad"]
    assert np.array_equal(data.images[1], face(4, 1))


# ---------------------------------------------------------------- RAF-DB
def test_rafdb_mapping_and_aligned_images(tmp_path):
    base = tmp_path / "basic"
    (base / "EmoLabel").mkdir(parents=True)
    (base / "Image" / "aligned").mkdir(parents=True)
    entries = [("train_00001.jpg", 1), ("train_00002.jpg", 4), ("train_00003.jpg", 6), ("test_0001.jpg", 7)]
    for i, (name, _) in enumerate(entries):
        img = cv2.resize(face(i, i), (100, 100), interpolation=cv2.INTER_NEAREST)
        cv2.imwrite(str(base / "Image" / "aligned" / name.replace(".jpg", "_aligned.png")), img)
    # RAF-DB's aligned files are JPEGs; PNG content under a .jpg name is read the same way
    for p in (base / "Image" / "aligned").glob("*.png"):
        p.rename(p.with_suffix(".jpg"))
    (base / "EmoLabel" / "list_patition_label.txt").write_text("".join(f"{n} {l}\n" for n, l in entries))
    train = load_expression_dataset(tmp_path / "basic", split="train")
    assert [EMOTIONS[i] for i in train.labels] == ["surprise", "happy", "angry"]
    assert train.images.shape == (3, 48, 48)
    test = load_expression_dataset(base / "EmoLabel" / "list_patition_label.txt", split="test")
    assert [EMOTIONS[i] for i in test.labels] == ["neutral"]
    (base / "EmoLabel" / "list_patition_label.txt").write_text("train_00001.jpg 9\n")
    with pytest.raises(DatasetError, match=r"list_patition_label.txt:1"):
        load_expression_dataset(base, split="train")


# ---------------------------------------------------------------- AffectNet
def test_affectnet_boxes_classes_and_va(tmp_path):
    imgs = tmp_path / "Manually_Annotated_Images" / "101"
    imgs.mkdir(parents=True)
    rows = []
    for i, code in enumerate([1, 7, 9, 6, 0]):
        big = np.zeros((120, 160), np.uint8)
        big[20:80, 40:100] = 50 + 40 * i  # the face box region has a known uniform value
        cv2.imwrite(str(imgs / f"img{i}.png"), big)
        va = (0.5, -0.25) if code != 0 else (-2, -2)
        rows.append([f"101/img{i}.png", 40, 20, 60, 60, "", code, *va])
    with open(tmp_path / "training.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["subDirectory_filePath", "face_x", "face_y", "face_width", "face_height", "facial_landmarks",
                    "expression", "valence", "arousal"])
        w.writerows(rows)
    data = load_expression_dataset(tmp_path, split="train")
    assert data.classes == EMOTIONS_8
    assert [data.classes[i] for i in data.labels] == ["happy", "contempt", "angry", "neutral"]  # 9 uncertain dropped
    assert data.images[0].min() == data.images[0].max() == 50  # cropped exactly to the box
    assert data.images[2].min() == 50 + 40 * 3
    assert data.va[0].tolist() == [0.5, -0.25] and np.isnan(data.va[3]).all()
    seven = load_expression_dataset(tmp_path / "training.csv", split="train", classes=7)
    assert seven.classes == EMOTIONS and "contempt" not in [EMOTIONS[i] for i in seven.labels] and len(seven) == 3
    assert detect_format(tmp_path / "training.csv")[0] == "affectnet"
    os.remove(imgs / "img3.png")
    with pytest.raises(DatasetError, match=r"img3.png: image listed in training.csv line 5 not found"):
        load_expression_dataset(tmp_path, split="train")


# ---------------------------------------------------------------- dispatch + cache
def test_unknown_option_and_format_are_rejected(tmp_path):
    path = tmp_path / "fer2013.csv"
    write_fer_csv(path)
    with pytest.raises(DatasetError, match="does not take option"):
        load_expression_dataset(path, split="train", mode="soft")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match="empty: cannot tell the data set format"):
        load_expression_dataset(tmp_path / "empty")
    with pytest.raises(DatasetError, match="unknown data set format 'csv'"):
        load_expression_dataset(path, format="csv")


def test_cache_hits_and_invalidates_on_change(tmp_path):
    path = tmp_path / "fer2013.csv"
    write_fer_csv(path)
    cache = tmp_path / "cache"
    first, hit1 = load_cached(path, split="train", cache_dir=cache)
    second, hit2 = load_cached(path, split="train", cache_dir=cache)
    assert (hit1, hit2) == (False, True)
    assert np.array_equal(first.images, second.images) and first.paths == second.paths
    assert first.classes == second.classes
    with open(path, "a") as fh:
        fh.write(f"4,{_pixels(face(4, 9))},Training\n")
    third, hit3 = load_cached(path, split="train", cache_dir=cache)
    assert not hit3 and third.labels.tolist() == [3, 0, 1, 4]


def test_stratified_split_holds_out_every_class():
    from vidaffect.data.expressions.base import ExpressionData
    from vidaffect.training.expressions_cli import stratified_split

    labels = np.array([0] * 10 + [3] * 20 + [6] * 1)
    data = ExpressionData(np.arange(31, dtype=np.uint8)[:, None, None].repeat(4, 1).repeat(4, 2), labels, EMOTIONS,
                          [str(i) for i in range(31)])
    train, val = stratified_split(data, 0.2, seed=0)
    assert val.class_counts()["angry"] == 2 and val.class_counts()["happy"] == 4 and val.class_counts()["neutral"] == 0
    assert len(train) + len(val) == 31 and not set(train.paths) & set(val.paths)
    assert np.array_equal(stratified_split(data, 0.2, seed=0)[1].paths, val.paths)  # deterministic
    with pytest.raises(DatasetError, match="between 0 and 1"):
        stratified_split(data, 1.5, seed=0)
