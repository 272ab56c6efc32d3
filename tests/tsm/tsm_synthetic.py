"""Synthetic images and face-sequence folders for the temporal-model tests."""
from __future__ import annotations

import csv
from pathlib import Path

import cv2
import numpy as np

PATTERN_CLASSES = ("angry", "happy", "neutral")


def pattern_frame(cls: int, rng: np.random.Generator, size: int = 32) -> np.ndarray:
    """A noisy RGB image whose class is a bar orientation: horizontal, vertical, or none."""
    img = rng.normal(90, 25, (size, size, 3))
    c = size // 2 + int(rng.integers(-4, 5))
    if cls == 0:
        img[c - 3 : c + 3, 4:-4] = 230
    elif cls == 1:
        img[4:-4, c - 3 : c + 3] = 230
    return np.clip(img, 0, 255).astype(np.uint8)


def write_sequence_folder(root: Path, clips_per_class: int, length: int, seed: int) -> Path:
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    rows = []
    for cls, name in enumerate(PATTERN_CLASSES):
        for k in range(clips_per_class):
            clip = root / f"{name}_{k}"
            clip.mkdir()
            for f in range(length):
                cv2.imwrite(str(clip / f"{f:04d}.png"), cv2.cvtColor(pattern_frame(cls, rng), cv2.COLOR_RGB2BGR))
            rows.append({"clip": clip.name, "label": name})
    with open(root / "labels.csv", "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=["clip", "label"])
        w.writeheader()
        w.writerows(rows)
    return root
