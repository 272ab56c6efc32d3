"""AffectNet (Mollahosseini et al. 2017): CSV of image paths, face boxes, expression, valence, arousal.

Layout (``path`` may be the root folder or one of the CSVs)::

    <root>/training.csv      # train split
    <root>/validation.csv    # val split
    <root>/Manually_Annotated_Images/<subDirectory_filePath>

CSV columns: ``subDirectory_filePath, face_x, face_y, face_width, face_height,
facial_landmarks, expression, valence, arousal``.  Images are cropped to the
face box, then resized.

Class mapping (AffectNet code -> canonical): 0 neutral, 1 happy, 2 sad,
3 surprise, 4 fear, 5 disgust, 6 angry, 7 contempt; 8 none, 9 uncertain and
10 no-face are dropped.  ``classes=8`` (default) keeps contempt
(:data:`EMOTIONS_8`); ``classes=7`` drops contempt faces and uses
:data:`EMOTIONS`.  Valence and arousal (in [-1, 1]) go to ``va``; values
outside that range (AffectNet writes -2 for "not annotated") become NaN.
``limit`` keeps the first N usable rows (AffectNet's training CSV has ~290k).
"""
from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from vidaffect.data.expressions.base import DatasetError, ExpressionData, read_face_image
from vidaffect.labels import EMOTIONS, EMOTIONS_8

AFFECTNET_CODES = {0: "neutral", 1: "happy", 2: "sad", 3: "surprise", 4: "fear", 5: "disgust", 6: "angry",
                   7: "contempt"}
AFFECTNET_SPLITS = {"train": "training.csv", "training": "training.csv", "val": "validation.csv",
                    "valid": "validation.csv", "validation": "validation.csv"}
AFFECTNET_COLUMNS = ("subDirectory_filePath", "face_x", "face_y", "face_width", "face_height", "expression",
                     "valence", "arousal")


def _csv_for(path: Path, split: str) -> Path:
    if path.is_file():
        return path
    name = AFFECTNET_SPLITS.get(split.lower())
    if name is None:
        raise DatasetError(f"unknown AffectNet split {split!r}; use train or val")
    return path / name


def _image_root(csv_path: Path) -> Path:
    root = csv_path.parent / "Manually_Annotated_Images"
    return root if root.is_dir() else csv_path.parent


def load_affectnet(path: str | Path, split: str = "train", size: int = 48, color: str = "gray", classes: int = 8,
                   limit: int | None = None) -> ExpressionData:
    """Load one AffectNet split with face crops, labels and valence/arousal."""
    if classes not in (7, 8):
        raise DatasetError(f"AffectNet supports classes=7 or 8, not {classes}")
    label_set = EMOTIONS_8 if classes == 8 else EMOTIONS
    csv_path = _csv_for(Path(path), split)
    if not csv_path.is_file():
        raise DatasetError(f"{csv_path}: AffectNet CSV not found")
    root = _image_root(csv_path)
    images, labels, va, paths = [], [], [], []
    with open(csv_path, newline="") as fh:
        reader = csv.DictReader(fh)
        missing = set(AFFECTNET_COLUMNS) - set(reader.fieldnames or [])
        if missing:
            raise DatasetError(f"{csv_path}: not an AffectNet CSV (missing columns {sorted(missing)})")
        for line, row in enumerate(reader, start=2):
            where = f"{csv_path}:{line}"
            try:
                code = int(row["expression"])
                box = tuple(int(float(row[k])) for k in ("face_x", "face_y", "face_width", "face_height"))
                v, a = float(row["valence"]), float(row["arousal"])
            except (TypeError, ValueError):
                raise DatasetError(f"{where}: expression, face box, valence and arousal must be numbers") from None
            name = AFFECTNET_CODES.get(code)
            if name is None or name not in label_set:
                continue
            img_path = root / row["subDirectory_filePath"]
            if not img_path.is_file():
                raise DatasetError(f"{img_path}: image listed in {csv_path.name} line {line} not found")
            images.append(read_face_image(img_path, size, color, box=box if box[2] > 0 and box[3] > 0 else None))
            labels.append(label_set.index(name))
            va.append([v if -1 <= v <= 1 else np.nan, a if -1 <= a <= 1 else np.nan])
            paths.append(str(img_path))
            if limit and len(images) >= limit:
                break
    if not images:
        raise DatasetError(f"{csv_path}: no usable rows (expression codes 0..{classes - 1})")
    return ExpressionData(np.stack(images), np.asarray(labels, dtype=np.int64), label_set, paths,
                          va=np.asarray(va, dtype=np.float32))
