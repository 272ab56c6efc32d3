"""Image-folder layout: ``<root>/<split>/<class>/*.jpg``.

Class folder names are mapped to canonical names with
:func:`vidaffect.labels.canonical_label` (``anger`` -> ``angry``,
``happiness`` -> ``happy``...).  FER2013 as distributed in image folders uses
this layout with the 7 canonical names.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from vidaffect.data.expressions.base import DatasetError, ExpressionData, read_face_image
from vidaffect.labels import EMOTIONS, EMOTIONS_8, canonical_label

IMAGE_EXTS = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"}


def load_image_folder(root: str | Path, split: str, size: int = 48, color: str = "gray") -> ExpressionData:
    """Load ``root/split/<class>/*`` into memory.

    Raises :class:`DatasetError` when the split folder is missing, a class name
    is unknown, a class folder is empty, or an image cannot be decoded.
    """
    split_dir = Path(root) / split
    if not split_dir.is_dir():
        raise DatasetError(f"{split_dir}: split folder not found (expected <root>/{split}/<class>/*.jpg)")
    class_dirs = sorted(p for p in split_dir.iterdir() if p.is_dir())
    if not class_dirs:
        raise DatasetError(f"{split_dir}: no class folders")
    names = []
    for d in class_dirs:
        try:
            names.append(canonical_label(d.name))
        except ValueError as exc:
            raise DatasetError(f"{d}: {exc}") from None
    classes = EMOTIONS_8 if "contempt" in names else EMOTIONS
    images, labels, paths = [], [], []
    for d, name in zip(class_dirs, names):
        files = sorted(p for p in d.iterdir() if p.suffix.lower() in IMAGE_EXTS)
        if not files:
            raise DatasetError(f"{d}: class folder holds no images")
        for f in files:
            images.append(read_face_image(f, size, color))
            labels.append(classes.index(name))
            paths.append(str(f))
    return ExpressionData(np.stack(images), np.asarray(labels, dtype=np.int64), classes, paths)
