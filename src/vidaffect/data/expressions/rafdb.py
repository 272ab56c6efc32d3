"""RAF-DB basic emotions (Li et al. 2017): ``EmoLabel/list_patition_label.txt`` + images.

Layout (``path`` may be the ``basic`` folder or the label file itself)::

    basic/EmoLabel/list_patition_label.txt   # "train_00001.jpg 5" per line
    basic/Image/aligned/train_00001_aligned.jpg   # 100x100 RGB, used when present
    basic/Image/original/train_00001.jpg          # fallback

Splits: ``train`` (names ``train_*``) and ``test`` (``test_*``; ``val`` is
accepted as an alias because RAF-DB has no separate validation split).

Class mapping (RAF-DB label -> canonical): 1 surprise, 2 fear, 3 disgust,
4 happy, 5 sad, 6 angry, 7 neutral.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from vidaffect.data.expressions.base import DatasetError, ExpressionData, read_face_image
from vidaffect.labels import EMOTIONS

RAFDB_LABELS = {1: "surprise", 2: "fear", 3: "disgust", 4: "happy", 5: "sad", 6: "angry", 7: "neutral"}
LABEL_FILE = "list_patition_label.txt"


def find_rafdb_label_file(path: Path) -> Path | None:
    """The label file for ``path`` (the file itself, ``<path>/EmoLabel/...`` or ``<path>/basic/EmoLabel/...``)."""
    if path.is_file() and path.name == LABEL_FILE:
        return path
    for cand in (path / "EmoLabel" / LABEL_FILE, path / "basic" / "EmoLabel" / LABEL_FILE, path / LABEL_FILE):
        if cand.is_file():
            return cand
    return None


def _image_path(base: Path, name: str) -> Path:
    stem = Path(name).stem
    aligned = base / "Image" / "aligned" / f"{stem}_aligned.jpg"
    return aligned if aligned.is_file() else base / "Image" / "original" / name


def load_rafdb(path: str | Path, split: str = "train", size: int = 48, color: str = "gray") -> ExpressionData:
    """Load RAF-DB basic; prefers the aligned 100x100 faces."""
    path = Path(path)
    label_file = find_rafdb_label_file(path)
    if label_file is None:
        raise DatasetError(f"{path}: RAF-DB label file {LABEL_FILE} not found")
    prefix = {"train": "train_", "test": "test_", "val": "test_", "validation": "test_"}.get(split.lower())
    if prefix is None:
        raise DatasetError(f"unknown RAF-DB split {split!r}; use train or test")
    base = label_file.parent.parent
    images, labels, paths = [], [], []
    for line_no, line in enumerate(label_file.read_text().splitlines(), start=1):
        parts = line.split()
        if not parts:
            continue
        where = f"{label_file}:{line_no}"
        if len(parts) != 2 or not parts[1].isdigit() or int(parts[1]) not in RAFDB_LABELS:
            raise DatasetError(f"{where}: expected '<image> <label 1..7>', got {line!r}")
        if not parts[0].startswith(prefix):
            continue
        img_path = _image_path(base, parts[0])
        if not img_path.is_file():
            raise DatasetError(f"{img_path}: image listed in {label_file.name} line {line_no} not found")
        images.append(read_face_image(img_path, size, color))
        labels.append(EMOTIONS.index(RAFDB_LABELS[int(parts[1])]))
        paths.append(str(img_path))
    if not images:
        raise DatasetError(f"{label_file}: no images of split {split!r}")
    return ExpressionData(np.stack(images), np.asarray(labels, dtype=np.int64), EMOTIONS, paths)
