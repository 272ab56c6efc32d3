"""Micro-expression data sets: annotation CSV + folder layout -> onset/apex frame files.

Supported layouts (``dataset``):

* ``casme2``: ``ROOT/sub01/EP02_01f/reg_img46.jpg`` (cropped) or ``img46.jpg`` (raw);
  the CSV's subject ``1``/``01``/``sub01`` becomes folder ``sub01``.
* ``samm``: ``ROOT/006/006_1_2/006_05562.jpg`` (``{subject}_{%05d}.jpg``; unpadded
  numbers work too, no renaming needed); subject ``6`` becomes ``006``.
* ``smic``: ``ROOT/s1/micro/negative/s1_ne_01/reg_image046434.bmp`` or ``reg_46.bmp``
  (the emotion folder is found by search); subject ``1`` becomes ``s1``.

Frame numbers are matched against the trailing integer of each image's file name,
so every naming scheme of these data sets resolves without renaming files.
CSV columns are matched loosely (case, spaces and underscores ignored):
subject, filename (clip), onset frame, apex frame, offset frame, estimated emotion.
A missing apex (``/`` in CASME II, absent in SMIC) falls back to the middle frame.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from vidaffect.errors import VidaffectError

DATASETS = ("casme2", "samm", "smic")
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff"}

COLUMN_ALIASES: dict[str, tuple[str, ...]] = {
    "subject": ("subject", "sub", "subjectid", "participant"),
    "clip": ("filename", "clip", "video", "episode", "sequence"),
    "onset": ("onsetframe", "onset", "onsetf"),
    "apex": ("apexframe", "apex", "apexf"),
    "offset": ("offsetframe", "offset", "offsetf"),
    "emotion": ("estimatedemotion", "emotion", "label", "class", "category"),
}
REQUIRED = ("subject", "clip", "onset", "emotion")


class DatasetLayoutError(VidaffectError):
    """The annotation CSV or the image folders do not match the expected layout."""


@dataclass(frozen=True)
class MicroSample:
    """One annotated micro-expression clip and the files of its onset and apex frames."""

    subject: str
    clip: str
    emotion: str
    onset: int
    apex: int
    offset: int | None
    onset_path: Path
    apex_path: Path

    @property
    def key(self) -> str:
        """File-name-safe unique id ``{subject}_{clip}``."""
        return sample_key(self.subject, self.clip)


def sample_key(subject: str, clip: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", f"{subject}_{clip}")


def _norm(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", str(name).lower())


def _frame_number(value: object) -> int | None:
    """Frame number from a CSV cell (``46``, ``46.0``, ``'46'``); None for ``/``, blank, NaN."""
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return None
    text = str(value).strip()
    m = re.fullmatch(r"(\d+)(?:\.0+)?", text)
    return int(m.group(1)) if m else None


def subject_folder(subject: object, dataset: str) -> str:
    """The subject's folder name in ``dataset``'s layout (``sub01``, ``006``, ``s1``)."""
    text = str(subject).strip()
    if text.endswith(".0") and text[:-2].isdigit():
        text = text[:-2]
    digits = re.sub(r"\D", "", text)
    if dataset == "casme2":
        return f"sub{int(digits):02d}" if digits else text
    if dataset == "samm":
        return f"{int(digits):03d}" if text.isdigit() else text
    if dataset == "smic":
        return f"s{int(digits)}" if text.isdigit() else text
    raise DatasetLayoutError(f"unknown data set {dataset!r} (choose from {', '.join(DATASETS)})")


def read_annotations(csv_path: str | Path) -> pd.DataFrame:
    """The CSV's rows with normalised columns subject, clip, onset, apex, offset, emotion (all str)."""
    csv_path = Path(csv_path)
    if not csv_path.is_file():
        raise DatasetLayoutError(f"{csv_path}: annotation CSV not found")
    try:
        raw = pd.read_csv(csv_path, dtype=str, keep_default_na=False)
    except Exception as exc:
        raise DatasetLayoutError(f"{csv_path}: cannot read CSV ({exc})") from None
    by_norm = {_norm(c): c for c in raw.columns}
    out = pd.DataFrame(index=raw.index)
    for field, aliases in COLUMN_ALIASES.items():
        col = next((by_norm[a] for a in aliases if a in by_norm), None)
        if col is None and field in REQUIRED:
            raise DatasetLayoutError(
                f"{csv_path}: no {field} column (looked for {', '.join(aliases)}; found {', '.join(raw.columns)})"
            )
        out[field] = raw[col].astype(str).str.strip() if col is not None else ""
    if out.empty:
        raise DatasetLayoutError(f"{csv_path}: no rows")
    return out


def _clip_folder(root: Path, subject_dir: str, clip: str, emotion: str, dataset: str) -> Path | None:
    candidates = [root / subject_dir / clip]
    if dataset == "smic":
        candidates.insert(0, root / subject_dir / "micro" / emotion / clip)
        candidates += sorted((root / subject_dir).glob(f"*/*/{clip}")) + sorted((root / subject_dir).glob(f"*/{clip}"))
    return next((c for c in candidates if c.is_dir()), None)


def index_frames(folder: Path) -> dict[int, Path]:
    """Map frame number (trailing integer of the file name) -> image path."""
    frames: dict[int, Path] = {}
    for p in folder.iterdir():
        if p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith("."):
            m = re.search(r"(\d+)$", p.stem)
            if m:
                frames.setdefault(int(m.group(1)), p)
    return frames


def load_samples(csv_path: str | Path, root: str | Path, dataset: str) -> list[MicroSample]:
    """Resolve every CSV row to its onset/apex image files; raise listing the first problems."""
    if dataset not in DATASETS:
        raise DatasetLayoutError(f"unknown data set {dataset!r} (choose from {', '.join(DATASETS)})")
    root = Path(root)
    if not root.is_dir():
        raise DatasetLayoutError(f"{root}: image root folder not found")
    table = read_annotations(csv_path)
    samples: list[MicroSample] = []
    problems: list[str] = []
    for i, row in table.iterrows():
        line = f"{csv_path} row {i + 2}"
        onset, apex, offset = (_frame_number(row[c]) for c in ("onset", "apex", "offset"))
        if onset is None:
            problems.append(f"{line}: no onset frame")
            continue
        if apex is None:
            if offset is None:
                problems.append(f"{line}: neither apex nor offset frame")
                continue
            apex = (onset + offset) // 2
        subject = subject_folder(row["subject"], dataset)
        folder = _clip_folder(root, subject, row["clip"], row["emotion"], dataset)
        if folder is None:
            problems.append(f"{line}: clip folder {root / subject / row['clip']} not found")
            continue
        frames = index_frames(folder)
        missing = [n for n in (onset, apex) if n not in frames]
        if missing:
            problems.append(f"{line}: frame {missing[0]} not found in {folder}")
            continue
        samples.append(
            MicroSample(subject, row["clip"], row["emotion"], onset, apex, offset, frames[onset], frames[apex])
        )
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise DatasetLayoutError(f"{problems[0]}{more}")
    keys = [s.key for s in samples]
    if len(set(keys)) != len(keys):
        dup = next(k for k in keys if keys.count(k) > 1)
        raise DatasetLayoutError(f"{csv_path}: sample {dup} appears twice")
    return samples
