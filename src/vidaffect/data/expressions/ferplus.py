"""FER+ relabelling of FER2013 (Barsoum et al. 2016): 10 annotator votes per face.

Two layouts are read:

* ``fer2013new.csv`` (header ``Usage,Image name,neutral,happiness,surprise,
  sadness,anger,disgust,fear,contempt,unknown,NF``) together with the original
  ``fer2013.csv`` for the pixels (same row order; looked up beside the label
  file unless ``pixels_csv`` is given);
* the folders made by FER+'s ``generate_training_data.py``:
  ``<root>/FER2013{Train,Valid,Test}/label.csv`` (no header: image name, face
  box, the 10 vote counts) beside the ``fer*.png`` images.

Class mapping (FER+ -> canonical): neutral -> neutral, happiness -> happy,
surprise -> surprise, sadness -> sad, anger -> angry, disgust -> disgust,
fear -> fear, contempt -> contempt.  ``unknown`` and ``NF`` (not a face) are no
classes: faces where they win are dropped.

Label modes (following FER+'s ``ferplus.py``): votes of a single annotator are
discarded as outliers first; then

* ``"majority"``: keep the face when one emotion holds more than half of the
  remaining votes; its label is that emotion (hard label);
* ``"soft"``: the label distribution is the remaining votes over the emotion
  classes (normalised); the face is dropped when unknown + NF hold half the
  votes or more.  ``labels`` holds the arg-max, ``soft_labels`` the distribution.

``classes=8`` keeps contempt (:data:`EMOTIONS_8`); ``classes=7`` maps onto
:data:`EMOTIONS` and drops faces whose label is contempt (soft mode: contempt
votes are removed before normalising).
"""
from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from vidaffect.data.expressions.base import DatasetError, ExpressionData, read_face_image
from vidaffect.data.expressions.fer2013_csv import decode_pixels, fer_usage, resize_face
from vidaffect.labels import EMOTIONS, EMOTIONS_8

FERPLUS_COLUMNS = ("neutral", "happiness", "surprise", "sadness", "anger", "disgust", "fear", "contempt",
                   "unknown", "NF")
FERPLUS_TO_CANONICAL = {"neutral": "neutral", "happiness": "happy", "surprise": "surprise", "sadness": "sad",
                        "anger": "angry", "disgust": "disgust", "fear": "fear", "contempt": "contempt"}
FERPLUS_FOLDERS = {"Training": "FER2013Train", "PublicTest": "FER2013Valid", "PrivateTest": "FER2013Test"}


def votes_to_label(votes: np.ndarray, mode: str, classes: tuple[str, ...]) -> np.ndarray | None:
    """Turn 10 FER+ vote counts into a distribution over ``classes`` or None (face dropped)."""
    v = np.asarray(votes, dtype=np.float64).copy()
    v[v <= 1] = 0.0  # single votes are outliers
    total = v.sum()
    if total <= 0:
        return None
    emo = np.zeros(len(classes))
    for col, count in zip(FERPLUS_COLUMNS[:8], v[:8]):
        name = FERPLUS_TO_CANONICAL[col]
        if name in classes:
            emo[classes.index(name)] = count
    if mode == "majority":
        top = int(np.argmax(v))
        if v[top] <= 0.5 * total or top >= 8:
            return None
        name = FERPLUS_TO_CANONICAL[FERPLUS_COLUMNS[top]]
        if name not in classes:
            return None
        out = np.zeros(len(classes))
        out[classes.index(name)] = 1.0
        return out
    if mode == "soft":
        if v[8:].sum() >= 0.5 * total or emo.sum() <= 0:
            return None
        return emo / emo.sum()
    raise DatasetError(f"unknown FER+ label mode {mode!r}; use 'majority' or 'soft'")


def _parse_votes(fields: list[str], where: str) -> np.ndarray:
    try:
        votes = np.array([float(f) for f in fields], dtype=np.float64)
    except ValueError:
        raise DatasetError(f"{where}: vote counts must be numbers") from None
    if votes.size != 10 or (votes < 0).any():
        raise DatasetError(f"{where}: expected 10 non-negative vote counts, got {fields}")
    return votes


def _finish(images: list, dists: list, paths: list, classes: tuple[str, ...], mode: str, source: Path) -> ExpressionData:
    if not images:
        raise DatasetError(f"{source}: no usable faces for this split (all dropped or none listed)")
    soft = np.stack(dists).astype(np.float32)
    labels = soft.argmax(1).astype(np.int64)
    return ExpressionData(np.stack(images), labels, classes, paths, soft if mode == "soft" else None)


def load_ferplus(path: str | Path, split: str = "train", size: int = 48, color: str = "gray",
                 mode: str = "majority", classes: int = 8, pixels_csv: str | Path | None = None) -> ExpressionData:
    """Load FER+ labels for one split (``path``: ``fer2013new.csv`` or the FER+ image root)."""
    if mode not in ("majority", "soft"):
        raise DatasetError(f"unknown FER+ label mode {mode!r}; use 'majority' or 'soft'")
    if classes not in (7, 8):
        raise DatasetError(f"FER+ supports classes=7 or 8, not {classes}")
    label_set = EMOTIONS_8 if classes == 8 else EMOTIONS
    path = Path(path)
    usage = fer_usage(split)
    if path.is_dir() and not (path / FERPLUS_FOLDERS[usage]).is_dir() and (path / "fer2013new.csv").is_file():
        path = path / "fer2013new.csv"
    if path.is_dir():
        return _load_folders(path, usage, size, color, mode, label_set)
    if not path.is_file():
        raise DatasetError(f"{path}: FER+ label file not found")
    pixels_path = Path(pixels_csv) if pixels_csv else path.with_name("fer2013.csv")
    if not pixels_path.is_file():
        raise DatasetError(f"{pixels_path}: FER2013 pixel CSV not found (FER+ labels need it beside {path.name})")
    images, dists, paths = [], [], []
    with open(path, newline="") as lf, open(pixels_path, newline="") as pf:
        labels_r, pixels_r = csv.DictReader(lf), csv.DictReader(pf)
        missing = {"Usage", "Image name", *FERPLUS_COLUMNS} - set(labels_r.fieldnames or [])
        if missing:
            raise DatasetError(f"{path}: not a FER+ label CSV (missing columns {sorted(missing)})")
        if "pixels" not in (pixels_r.fieldnames or []):
            raise DatasetError(f"{pixels_path}: not a FER2013 CSV (no pixels column)")
        for line, (lab, pix) in enumerate(zip(labels_r, pixels_r), start=2):
            if lab["Usage"] != usage or not (lab["Image name"] or "").strip():
                continue
            where = f"{path}:{line}"
            dist = votes_to_label(_parse_votes([lab[c] for c in FERPLUS_COLUMNS], where), mode, label_set)
            if dist is None:
                continue
            images.append(resize_face(decode_pixels(pix["pixels"] or "", f"{pixels_path}:{line}"), size, color))
            dists.append(dist)
            paths.append(where)
    return _finish(images, dists, paths, label_set, mode, path)


def _load_folders(root: Path, usage: str, size: int, color: str, mode: str, label_set: tuple[str, ...]) -> ExpressionData:
    folder = root / FERPLUS_FOLDERS[usage]
    label_file = folder / "label.csv"
    if not label_file.is_file():
        raise DatasetError(f"{label_file}: FER+ label file not found")
    images, dists, paths = [], [], []
    with open(label_file, newline="") as fh:
        for line, row in enumerate(csv.reader(fh), start=1):
            if not row:
                continue
            where = f"{label_file}:{line}"
            if len(row) != 12:
                raise DatasetError(f"{where}: expected 12 fields (name, box, 10 votes), got {len(row)}")
            dist = votes_to_label(_parse_votes(row[2:], where), mode, label_set)
            if dist is None:
                continue
            images.append(read_face_image(folder / row[0], size, color))
            dists.append(dist)
            paths.append(str(folder / row[0]))
    return _finish(images, dists, paths, label_set, mode, label_file)
