"""Where an analysis keeps its rows during the pass: a folder of Parquet parts (see :mod:`vidaffect.results.store`).

``rows-NNNNNN.parquet`` hold the pass's rows (live track ids, model outputs), ``landmarks-NNNNNN.parquet``
the mesh points of face rows with ``--save-landmarks``; at the end the analyser finishes them into
``frames.parquet`` (and ``landmarks.parquet``) in the same folder.  ``checkpoint.json`` is the last restart
point (see ``Analyzer.analyze(resume=True)``): the state to continue from and how many parts it covers.  The folder is the analyser's own
temporary one, or one the caller names (``vidaffect analyze`` uses ``OUT_DIR/.partial-<name>/``, which
``--resume`` continues from).
"""
from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

import pandas as pd

from vidaffect.results.store import PartWriter, part_files
from vidaffect.utils.atomic import atomic_write_text

ROWS_PREFIX = "rows"
LANDMARKS_PREFIX = "landmarks"


class Spool:
    """The parts of one analysis in ``folder`` (a new temporary folder when ``None``)."""

    def __init__(self, folder: str | Path | None = None, fresh: bool = True) -> None:
        self.temporary = folder is None
        self.folder = Path(tempfile.mkdtemp(prefix="vidaffect-spool-")) if folder is None else Path(folder)
        if fresh and not self.temporary and self.folder.exists():
            shutil.rmtree(self.folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.rows = PartWriter(self.folder, ROWS_PREFIX, start=len(part_files(self.folder, ROWS_PREFIX)))
        self.landmarks = PartWriter(self.folder, LANDMARKS_PREFIX,
                                    start=len(part_files(self.folder, LANDMARKS_PREFIX)))

    def write(self, rows: pd.DataFrame, landmarks: pd.DataFrame | None) -> None:
        self.rows.write(rows)
        if landmarks is not None:
            self.landmarks.write(landmarks)

    def row_parts(self) -> list[Path]:
        return part_files(self.folder, ROWS_PREFIX)

    def landmark_parts(self) -> list[Path]:
        return part_files(self.folder, LANDMARKS_PREFIX)

    def drop_parts(self) -> None:
        """Remove the pass's parts and its restart point (once the final tables are written)."""
        (self.folder / CHECKPOINT).unlink(missing_ok=True)  # first: a checkpoint never outlives its parts
        for p in self.row_parts() + self.landmark_parts():
            p.unlink(missing_ok=True)

    def has_checkpoint(self) -> bool:
        return (self.folder / CHECKPOINT).is_file()

    def remove(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


CHECKPOINT = "checkpoint.json"


def read_checkpoint(folder: str | Path, identity: dict) -> dict | None:
    """The restart point saved in ``folder`` for this input and these settings (``identity``), or ``None``
    (no checkpoint, another input or other settings, or parts missing)."""
    path = Path(folder) / CHECKPOINT
    try:
        state = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(state, dict) or state.get("identity") != json.loads(json.dumps(identity, default=str)):
        return None
    rows = part_files(folder, ROWS_PREFIX)
    lms = part_files(folder, LANDMARKS_PREFIX)
    if len(rows) < state.get("row_parts", 0) or len(lms) < state.get("landmark_parts", 0):
        return None
    return state


def checkpoint_time(folder: str | Path) -> float | None:
    """Video time of the restart point saved in ``folder`` (for any input or settings), or ``None``."""
    try:
        return float(json.loads((Path(folder) / CHECKPOINT).read_text())["time_s"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def write_checkpoint(folder: str | Path, state: dict) -> None:
    atomic_write_text(Path(folder) / CHECKPOINT, json.dumps(state, default=str))


def truncate_parts(folder: str | Path, row_parts: int, landmark_parts: int) -> None:
    """Remove the parts written after a checkpoint (they are written again when the analysis resumes)."""
    for prefix, keep in ((ROWS_PREFIX, row_parts), (LANDMARKS_PREFIX, landmark_parts)):
        for p in part_files(folder, prefix)[keep:]:
            p.unlink()
