"""One entry point for every expression data set format: :func:`load_expression_dataset`.

Formats and how ``format="auto"`` recognises them:

==============  ===========================================================
``imagefolder`` a folder with ``<split>/<class>/*.jpg``
``fer2013``     a CSV whose header has ``emotion,pixels,Usage`` (or a folder holding ``fer2013.csv``)
``ferplus``     ``fer2013new.csv`` (header ``Usage,Image name,neutral,...``) or a folder with
                ``FER2013Train/label.csv`` or ``fer2013new.csv``
``rafdb``       ``list_patition_label.txt`` or a folder with ``EmoLabel/`` (or ``basic/EmoLabel/``)
``affectnet``   a CSV whose header has ``subDirectory_filePath`` or a folder with ``training.csv``/``validation.csv``
``npz``         an ``.npz`` with ``images``, ``labels``, ``classes`` (as written by the data set cache)
==============  ===========================================================

The class mapping of each format is documented in its module
(:mod:`.fer2013_csv`, :mod:`.ferplus`, :mod:`.rafdb`, :mod:`.affectnet`,
:mod:`.imagefolder`) and in ``docs/expression-model.md``.
"""
from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any, Callable

import numpy as np

from vidaffect.data.expressions.affectnet import load_affectnet
from vidaffect.data.expressions.base import DatasetError, ExpressionData
from vidaffect.data.expressions.fer2013_csv import load_fer2013_csv
from vidaffect.data.expressions.ferplus import load_ferplus
from vidaffect.data.expressions.imagefolder import load_image_folder
from vidaffect.data.expressions.rafdb import find_rafdb_label_file, load_rafdb

LOADERS: dict[str, Callable[..., ExpressionData]] = {
    "imagefolder": load_image_folder,
    "fer2013": load_fer2013_csv,
    "ferplus": load_ferplus,
    "rafdb": load_rafdb,
    "affectnet": load_affectnet,
}
FORMATS = ("auto", *LOADERS, "npz")


def _csv_header(path: Path) -> list[str]:
    try:
        with open(path, newline="") as fh:
            return [h.strip() for h in fh.readline().split(",")]
    except (OSError, UnicodeDecodeError) as exc:
        raise DatasetError(f"{path}: cannot read CSV header ({exc})") from None


def detect_format(path: str | Path, split: str = "train") -> tuple[str, Path]:
    """Guess the format of ``path``; return ``(format, path to hand to the loader)``."""
    path = Path(path)
    if not path.exists():
        raise DatasetError(f"{path}: data set not found")
    if path.is_file():
        if path.suffix == ".npz":
            return "npz", path
        if path.name == "list_patition_label.txt":
            return "rafdb", path
        if path.suffix.lower() == ".csv":
            header = set(_csv_header(path))
            if {"emotion", "pixels", "Usage"} <= header:
                return "fer2013", path
            if {"Usage", "Image name"} <= header:
                return "ferplus", path
            if "subDirectory_filePath" in header:
                return "affectnet", path
        raise DatasetError(f"{path}: unrecognised data set file; pass --format explicitly")
    if (path / "FER2013Train" / "label.csv").is_file():
        return "ferplus", path
    if (path / "fer2013new.csv").is_file():
        return "ferplus", path / "fer2013new.csv"
    if (path / "fer2013.csv").is_file():
        return "fer2013", path / "fer2013.csv"
    if find_rafdb_label_file(path) is not None:
        return "rafdb", path
    if (path / "training.csv").is_file() or (path / "validation.csv").is_file():
        return "affectnet", path
    if (path / split).is_dir():
        return "imagefolder", path
    raise DatasetError(f"{path}: cannot tell the data set format (no {split}/<class>/ folders, "
                       "FER2013/FER+/RAF-DB/AffectNet files); pass --format explicitly")


def load_npz(path: str | Path) -> ExpressionData:
    """Read arrays written by :func:`save_npz`."""
    try:
        with np.load(path, allow_pickle=False) as z:
            soft = z["soft_labels"] if "soft_labels" in z.files else None
            va = z["va"] if "va" in z.files else None
            paths = [str(p) for p in z["paths"]] if "paths" in z.files else []
            return ExpressionData(z["images"], z["labels"].astype(np.int64), tuple(str(c) for c in z["classes"]),
                                  paths, soft, va)
    except (OSError, KeyError, ValueError) as exc:
        raise DatasetError(f"{path}: not a readable expression-data npz ({exc})") from None


def save_npz(path: str | Path, data: ExpressionData) -> None:
    """Write ``data`` as an uncompressed npz (no pickled objects)."""
    arrays: dict[str, np.ndarray] = {
        "images": data.images, "labels": data.labels, "classes": np.array(data.classes),
        "paths": np.array(data.paths, dtype=str),
    }
    if data.soft_labels is not None:
        arrays["soft_labels"] = data.soft_labels
    if data.va is not None:
        arrays["va"] = data.va
    with open(path, "wb") as fh:
        np.savez(fh, **arrays)


def load_expression_dataset(path: str | Path, format: str = "auto", split: str = "train", size: int = 48,
                            color: str = "gray", **options: Any) -> ExpressionData:
    """Load one split of any supported data set as :class:`ExpressionData`.

    ``options`` go to the format's loader: ``mode`` ("majority"/"soft") and
    ``classes`` (7/8) for FER+, ``classes`` and ``limit`` for AffectNet,
    ``pixels_csv`` for FER+ label files.  Unknown options raise
    :class:`DatasetError`.  Images come back as uint8 ``(N, size, size)``
    (gray) or ``(N, size, size, 3)`` (rgb).
    """
    if color not in ("gray", "rgb"):
        raise DatasetError(f"color must be 'gray' or 'rgb', not {color!r}")
    if format == "auto":
        format, path = detect_format(path, split)
    if format == "npz":
        return load_npz(path)
    if format not in LOADERS:
        raise DatasetError(f"unknown data set format {format!r}; known: {', '.join(FORMATS)}")
    loader = LOADERS[format]
    accepted = set(inspect.signature(loader).parameters) - {"path", "root", "split", "size", "color"}
    unknown = set(options) - accepted
    if unknown:
        raise DatasetError(f"format {format!r} does not take option(s) {sorted(unknown)}; it takes {sorted(accepted)}")
    return loader(path, split=split, size=size, color=color, **options)
