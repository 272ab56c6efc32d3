"""Face-sequence data sets: a folder per clip with ordered face crops and a label per clip or per frame.

Layout (``root`` or ``root/<split>``)::

    labels.csv            clip,label          one label per clip (optional when clips have their own)
    <clip>/000000.jpg ... crops, in file-name order
    <clip>/labels.csv     file,label          optional per-frame labels (override the clip label)

Labels are class names (any synonym :func:`vidaffect.labels.canonical_label`
knows) or integer indices into :data:`vidaffect.labels.EMOTIONS`.  Frames whose
per-frame label is empty are dropped (and split the clip there).

:func:`build_sequences_from_video` writes this layout from the tracked faces of
a video, cut with the temporal model's own crop, so training crops match what
``vidaffect analyze --model resnet18-tsm`` feeds the model.
"""
from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

import cv2
import numpy as np

from vidaffect.data.expressions.base import DatasetError, read_face_image
from vidaffect.labels import EMOTIONS, canonical_label
from vidaffect.utils.atomic import atomic_path

IMAGE_EXTS = {".jpg", ".jpeg", ".png", ".bmp", ".webp"}


@dataclass
class FaceClip:
    """One clip: crops ``(L, S, S, 3)`` uint8 RGB and labels ``(L,)`` int64 (index into the classes)."""

    name: str
    frames: np.ndarray
    labels: np.ndarray

    def __len__(self) -> int:
        return int(len(self.labels))


@dataclass
class SequenceData:
    """The clips of one split."""

    clips: list[FaceClip]
    classes: tuple[str, ...] = EMOTIONS
    root: str = ""
    skipped: list[str] = field(default_factory=list)  # clips dropped (too short), for reporting

    def __len__(self) -> int:
        return len(self.clips)

    @property
    def num_frames(self) -> int:
        return int(sum(len(c) for c in self.clips))

    def class_counts(self) -> dict[str, int]:
        counts = np.zeros(len(self.classes), np.int64)
        for c in self.clips:
            counts += np.bincount(c.labels, minlength=len(self.classes))
        return {n: int(k) for n, k in zip(self.classes, counts)}


def _natural_key(name: str) -> list[Any]:
    return [int(p) if p.isdigit() else p for p in re.split(r"(\d+)", name)]


def _parse_label(value: str, where: str) -> int | None:
    value = value.strip()
    if value == "":
        return None
    if value.lstrip("-").isdigit():
        idx = int(value)
        if not 0 <= idx < len(EMOTIONS):
            raise DatasetError(f"{where}: label index {idx} outside 0..{len(EMOTIONS) - 1}")
        return idx
    try:
        name = canonical_label(value)
    except ValueError as exc:
        raise DatasetError(f"{where}: {exc}") from None
    if name not in EMOTIONS:
        raise DatasetError(f"{where}: class {name!r} is not one of the 7 classes {EMOTIONS}")
    return EMOTIONS.index(name)


def _read_label_csv(path: Path, key: str) -> dict[str, int | None]:
    try:
        with open(path, newline="") as fh:
            reader = csv.DictReader(fh)
            if reader.fieldnames is None or key not in reader.fieldnames or "label" not in reader.fieldnames:
                raise DatasetError(f"{path}: expected the columns {key},label (found {reader.fieldnames})")
            return {row[key].strip(): _parse_label(row["label"] or "", f"{path} line {reader.line_num}")
                    for row in reader}
    except OSError as exc:
        raise DatasetError(f"{path}: cannot read ({exc.strerror})") from None


def _runs(labels: list[int | None]) -> list[tuple[int, int]]:
    """[start, end) ranges of consecutive frames that have a label."""
    runs, start = [], None
    for i, lab in enumerate(labels + [None]):
        if lab is not None and start is None:
            start = i
        elif lab is None and start is not None:
            runs.append((start, i))
            start = None
    return runs


def load_face_sequences(root: str | Path, split: str | None = None, size: int = 224,
                        min_length: int = 1) -> SequenceData:
    """Load every clip of ``root`` (or ``root/split``) into memory, crops resized to ``size`` RGB.

    Clips (or labelled runs of per-frame-labelled clips) shorter than
    ``min_length`` frames are skipped and listed in ``SequenceData.skipped``.
    Raises :class:`DatasetError` naming the file for a missing folder, an
    unlabelled clip, an unknown class or an unreadable image.
    """
    base = Path(root) / split if split else Path(root)
    if not base.is_dir():
        raise DatasetError(f"{base}: sequence folder not found (expected <clip>/<frames> and labels.csv)")
    clip_labels = _read_label_csv(base / "labels.csv", "clip") if (base / "labels.csv").is_file() else {}
    clip_dirs = sorted((p for p in base.iterdir() if p.is_dir()), key=lambda p: _natural_key(p.name))
    if not clip_dirs:
        raise DatasetError(f"{base}: no clip folders")
    clips, skipped = [], []
    for d in clip_dirs:
        files = sorted((p for p in d.iterdir() if p.suffix.lower() in IMAGE_EXTS), key=lambda p: _natural_key(p.name))
        if not files:
            raise DatasetError(f"{d}: clip folder holds no images")
        frame_csv = d / "labels.csv"
        if frame_csv.is_file():
            per = _read_label_csv(frame_csv, "file")
            missing = [f.name for f in files if f.name not in per]
            if missing:
                raise DatasetError(f"{frame_csv}: no label for {missing[0]} ({len(missing)} files unlabelled)")
            labels = [per[f.name] for f in files]
        elif d.name in clip_labels:
            labels = [clip_labels[d.name]] * len(files)
        else:
            raise DatasetError(f"{d}: no label (add it to {base / 'labels.csv'} or write {frame_csv})")
        for k, (a, b) in enumerate(_runs(labels)):
            name = d.name if (a, b) == (0, len(files)) else f"{d.name}#{k}"
            if b - a < min_length:
                skipped.append(name)
                continue
            frames = np.stack([read_face_image(f, size, "rgb") for f in files[a:b]])
            clips.append(FaceClip(name, frames, np.asarray(labels[a:b], np.int64)))
    if not clips:
        raise DatasetError(f"{base}: no clip has at least {min_length} labelled frames")
    return SequenceData(clips, EMOTIONS, str(base), skipped)


# ---------------------------------------------------------------- building from videos


def _read_annotations(path: str | Path) -> list[tuple[float, float, int]]:
    """``start_s,end_s,label`` rows (seconds, inclusive start, exclusive end)."""
    path = Path(path)
    out = []
    try:
        with open(path, newline="") as fh:
            reader = csv.DictReader(fh)
            need = {"start_s", "end_s", "label"}
            if reader.fieldnames is None or not need <= set(reader.fieldnames):
                raise DatasetError(f"{path}: expected the columns start_s,end_s,label (found {reader.fieldnames})")
            for row in reader:
                where = f"{path} line {reader.line_num}"
                try:
                    a, b = float(row["start_s"]), float(row["end_s"])
                except ValueError:
                    raise DatasetError(f"{where}: start_s/end_s must be numbers") from None
                lab = _parse_label(row["label"] or "", where)
                if lab is not None:
                    out.append((a, b, lab))
    except OSError as exc:
        raise DatasetError(f"{path}: cannot read ({exc.strerror})") from None
    return out


def _label_at(t: float, default: int | None, spans: list[tuple[float, float, int]]) -> int | None:
    for a, b, lab in spans:
        if a <= t < b:
            return lab
    return default


def build_sequences(faces: Iterable[tuple[Any, Any]], crop_fn: Callable[[np.ndarray, Any], np.ndarray],
                    out_dir: str | Path, prefix: str, label: str | int | None = None,
                    annotations: str | Path | None = None,
                    min_length: int = 4, max_gap_s: float = 0.5) -> list[str]:
    """Write clips from ``(frame, detections)`` pairs (``frame.image/index/time_s``, ``dets.xyxy/face_ids``).

    Each face track becomes clips of consecutive frames, split where the track
    is lost for more than ``max_gap_s`` or the label changes; clips shorter than
    ``min_length`` are dropped.  Labels: ``label`` for every frame, or per-frame
    from an ``annotations`` CSV (``start_s,end_s,label``; unannotated frames are
    skipped).  Appends to ``out_dir/labels.csv``; returns the clip names written.
    """
    if label is None and annotations is None:
        raise DatasetError("give a label for the video or an annotations CSV (start_s,end_s,label)")
    default = None if label is None else _parse_label(str(label), "label")
    spans = _read_annotations(annotations) if annotations is not None else []
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    open_clips: dict[int, dict[str, Any]] = {}
    written: list[tuple[str, int]] = []

    def close(fid: int) -> None:
        clip = open_clips.pop(fid)
        if len(clip["crops"]) < min_length:
            return
        name = f"{prefix}_face{fid}_{clip['start']:06d}"
        d = out / name
        d.mkdir(parents=True, exist_ok=True)
        for idx, crop in zip(clip["frames"], clip["crops"]):
            with atomic_path(d / f"{idx:06d}.jpg") as tmp:
                ok, buf = cv2.imencode(".jpg", cv2.cvtColor(crop, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 95])
                tmp.write_bytes(buf.tobytes())
        written.append((name, clip["label"]))

    for frame, dets in faces:
        t = float(frame.time_s)
        lab = _label_at(t, default, spans)
        seen = set()
        ids = np.asarray(dets.face_ids) if len(dets.xyxy) else np.zeros(0, np.int64)
        crops = crop_fn(frame.image, dets) if len(ids) and lab is not None else None
        for j, fid in enumerate(int(v) for v in ids):
            if fid < 0 or lab is None:
                continue
            seen.add(fid)
            clip = open_clips.get(fid)
            if clip is not None and (t - clip["time"] > max_gap_s or clip["label"] != lab):
                close(fid)
                clip = None
            if clip is None:
                clip = open_clips[fid] = {"start": int(frame.index), "frames": [], "crops": [], "label": lab}
            clip["frames"].append(int(frame.index))
            clip["crops"].append(np.asarray(crops[j]))
            clip["time"] = t
        for fid in [f for f, c in open_clips.items() if f not in seen and t - c["time"] > max_gap_s]:
            close(fid)
    for fid in list(open_clips):
        close(fid)
    labels_csv = out / "labels.csv"
    rows = []
    if labels_csv.is_file():
        with open(labels_csv, newline="") as fh:
            rows = list(csv.DictReader(fh))
    names = {n for n, _ in written}
    rows = [r for r in rows if r.get("clip") not in names] + [{"clip": n, "label": EMOTIONS[lab]} for n, lab in written]
    with atomic_path(labels_csv) as tmp, open(tmp, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=["clip", "label"])
        w.writeheader()
        w.writerows(rows)
    return [n for n, _ in written]


def build_sequences_from_video(video: str | Path, out_dir: str | Path, label: str | int | None = None,
                               annotations: str | Path | None = None, size: int = 224, fps: float | None = None,
                               detector: str = "short", min_length: int = 4, max_gap_s: float = 0.5,
                               progress: bool = True) -> list[str]:
    """Track the faces of ``video`` with the main pipeline and write their crops as clips in ``out_dir``.

    Crops are the temporal model's (square, margin 0.5, RGB, ``size`` px) cut by
    :func:`vidaffect.faces.align_faces`, exactly as analyze cuts them.
    """
    from vidaffect.faces import align_faces  # the main pipeline; imported here so loading clips never needs it
    from vidaffect.models.base import CropSpec
    from vidaffect.models.tsm.checkpoint import CROP_MARGIN
    from vidaffect.pipeline import iter_tracked_faces

    spec = CropSpec(size=int(size), color="rgb", kind="square", margin=CROP_MARGIN)
    faces: Iterable[tuple[Any, Any]] = iter_tracked_faces(str(video), fps=fps, detector=detector, multi_face=True)
    if progress:
        from tqdm import tqdm

        faces = tqdm(faces, desc=f"faces of {Path(video).name}", unit="frame")
    return build_sequences(faces, lambda image, dets: align_faces(image, dets, spec), out_dir, Path(video).stem,
                           label, annotations, min_length, max_gap_s)
