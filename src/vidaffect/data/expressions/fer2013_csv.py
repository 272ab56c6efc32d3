"""The original FER2013 CSV: ``emotion,pixels,Usage``.

* ``emotion``: 0 angry, 1 disgust, 2 fear, 3 happy, 4 sad, 5 surprise,
  6 neutral -- identical to the canonical :data:`vidaffect.labels.EMOTIONS` order.
* ``pixels``: 2,304 space-separated grey values of a 48x48 face.
* ``Usage``: ``Training`` (28,709 rows), ``PublicTest`` (3,589, used as
  validation) and ``PrivateTest`` (3,589, the held-out test split).

Split names accepted: ``train``/``Training``, ``val``/``valid``/``validation``/
``PublicTest``, ``test``/``PrivateTest``.
"""
from __future__ import annotations

import csv
from pathlib import Path

import cv2
import numpy as np

from vidaffect.data.expressions.base import DatasetError, ExpressionData
from vidaffect.labels import EMOTIONS

FER_SPLITS = {
    "train": "Training", "training": "Training",
    "val": "PublicTest", "valid": "PublicTest", "validation": "PublicTest", "publictest": "PublicTest",
    "test": "PrivateTest", "privatetest": "PrivateTest",
}


def fer_usage(split: str) -> str:
    """Map a split name to the FER2013 ``Usage`` value."""
    key = split.strip().lower()
    if key not in FER_SPLITS:
        raise DatasetError(f"unknown FER2013 split {split!r}; use train, val (PublicTest) or test (PrivateTest)")
    return FER_SPLITS[key]


def decode_pixels(text: str, where: str) -> np.ndarray:
    """Parse a FER2013 ``pixels`` field into a uint8 (48, 48) image."""
    try:
        values = np.array(text.split(), dtype=np.int32)
    except ValueError:
        raise DatasetError(f"{where}: pixels field is not a list of integers") from None
    if values.size != 48 * 48 or values.min(initial=0) < 0 or values.max(initial=0) > 255:
        raise DatasetError(f"{where}: pixels field must hold 2304 values in 0..255 (got {values.size})")
    return values.astype(np.uint8).reshape(48, 48)


def resize_face(img: np.ndarray, size: int, color: str) -> np.ndarray:
    """Resize a grey (H, W) face to ``size`` and convert to ``color`` ("gray" or "rgb")."""
    if img.shape[0] != size:
        interp = cv2.INTER_AREA if img.shape[0] > size else cv2.INTER_LINEAR
        img = cv2.resize(img, (size, size), interpolation=interp)
    if color == "rgb":
        img = np.repeat(img[..., None], 3, axis=2)
    return img


def load_fer2013_csv(path: str | Path, split: str = "train", size: int = 48, color: str = "gray") -> ExpressionData:
    """Load one split of the FER2013 CSV; ``paths`` are ``"<csv>:<line>"``."""
    path = Path(path)
    if path.is_dir():
        path = path / "fer2013.csv"
    usage = fer_usage(split)
    if not path.is_file():
        raise DatasetError(f"{path}: FER2013 CSV not found")
    images, labels, paths = [], [], []
    with open(path, newline="") as fh:
        reader = csv.DictReader(fh)
        missing = {"emotion", "pixels", "Usage"} - set(reader.fieldnames or [])
        if missing:
            raise DatasetError(f"{path}: not a FER2013 CSV (missing columns {sorted(missing)})")
        for line, row in enumerate(reader, start=2):
            if row["Usage"] != usage:
                continue
            where = f"{path}:{line}"
            try:
                label = int(row["emotion"])
            except (TypeError, ValueError):
                raise DatasetError(f"{where}: emotion {row['emotion']!r} is not an integer") from None
            if not 0 <= label < len(EMOTIONS):
                raise DatasetError(f"{where}: emotion {label} outside 0..6")
            images.append(resize_face(decode_pixels(row["pixels"] or "", where), size, color))
            labels.append(label)
            paths.append(where)
    if not images:
        raise DatasetError(f"{path}: no rows with Usage={usage}")
    return ExpressionData(np.stack(images), np.asarray(labels, dtype=np.int64), EMOTIONS, paths)
