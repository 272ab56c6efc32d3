"""One interface for still-image expression data sets.

Every loader returns an :class:`ExpressionData`: face images as one uint8
array, integer labels over the canonical label set of :mod:`vidaffect.labels`,
optional soft labels and valence/arousal, and the source path of each image so
errors and predictions can be traced back to files.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from vidaffect.errors import VidaffectError
from vidaffect.labels import EMOTIONS


class DatasetError(VidaffectError, ValueError):
    """A data set is missing, malformed or holds unusable files (message names the file)."""


@dataclass
class ExpressionData:
    """Images and labels of one split of an expression data set."""

    images: np.ndarray  # uint8, (N, H, W) grayscale or (N, H, W, 3) RGB
    labels: np.ndarray  # int64, (N,), index into ``classes``
    classes: tuple[str, ...] = EMOTIONS
    paths: list[str] = field(default_factory=list)
    soft_labels: np.ndarray | None = None  # float32, (N, C), rows sum to 1
    va: np.ndarray | None = None  # float32, (N, 2): valence, arousal in [-1, 1]

    def __post_init__(self) -> None:
        if len(self.images) != len(self.labels):
            raise DatasetError(f"{len(self.images)} images but {len(self.labels)} labels")
        if self.soft_labels is not None and self.soft_labels.shape != (len(self.labels), len(self.classes)):
            raise DatasetError("soft_labels must have shape (N, num_classes)")

    def __len__(self) -> int:
        return int(len(self.labels))

    def class_counts(self) -> dict[str, int]:
        counts = np.bincount(self.labels, minlength=len(self.classes))
        return {c: int(n) for c, n in zip(self.classes, counts)}

    def subset(self, index: np.ndarray) -> "ExpressionData":
        return ExpressionData(
            images=self.images[index],
            labels=self.labels[index],
            classes=self.classes,
            paths=[self.paths[i] for i in index] if self.paths else [],
            soft_labels=None if self.soft_labels is None else self.soft_labels[index],
            va=None if self.va is None else self.va[index],
        )


def read_face_image(path: str | Path, size: int, color: str = "gray", box: tuple[int, int, int, int] | None = None) -> np.ndarray:
    """Read one image file, optionally crop ``box`` (x, y, w, h), resize to ``size``.

    Returns uint8 ``(size, size)`` for ``color="gray"`` or ``(size, size, 3)`` RGB.
    Raises :class:`DatasetError` naming the file when it cannot be decoded.
    """
    flag = cv2.IMREAD_GRAYSCALE if color == "gray" else cv2.IMREAD_COLOR
    img = cv2.imread(str(path), flag)
    if img is None or img.size == 0:
        raise DatasetError(f"{path}: not a readable image (corrupt or unsupported format)")
    if box is not None:
        x, y, w, h = (int(round(v)) for v in box)
        x0, y0 = max(x, 0), max(y, 0)
        img = img[y0 : y + h, x0 : x + w]
        if img.size == 0:
            raise DatasetError(f"{path}: face box {box} lies outside the image")
    if img.shape[0] != size or img.shape[1] != size:
        interp = cv2.INTER_AREA if img.shape[0] > size else cv2.INTER_LINEAR
        img = cv2.resize(img, (size, size), interpolation=interp)
    if color != "gray":
        img = cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
    return img
