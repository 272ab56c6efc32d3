"""Tiny synthetic expression images and data sets for the expression tests."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[2]
SHARED = REPO / ".." / "shared"


def face(label: int, seed: int, size: int = 48) -> np.ndarray:
    """A gray 'face' whose class is a bright horizontal bar at a class-specific height (flip invariant)."""
    rng = np.random.default_rng(seed)
    img = rng.integers(40, 90, (size, size)).astype(np.uint8)
    y = 4 + label * (size - 8) // 7
    img[y : y + 5, 6 : size - 6] = 230
    return img


def write_train_val_folder(root: Path, train_per_class: int, val_per_class: int) -> Path:
    """A tiny image-folder data set of three classes: ``root/train/<class>/`` and ``root/val/<class>/``."""
    write_image_folder(root, "train", ["angry", "happy", "surprise"], train_per_class)
    write_image_folder(root, "val", ["angry", "happy", "surprise"], val_per_class, seed=1)
    return root


def write_image_folder(root: Path, split: str, classes: list[str], per_class: int, seed: int = 0) -> None:
    for c, name in enumerate(classes):
        d = root / split / name
        d.mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            cv2.imwrite(str(d / f"{name}_{i}.png"), face(c, seed * 1000 + c * 100 + i))
