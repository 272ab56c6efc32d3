"""The ``Results`` object of one analysed input (in the spirit of ultralytics' ``Results`` and py-feat's ``Fex``).

``frames``: one row per analysed frame and face (``face_id`` = -1 and NaN
values for frames where no face was found, so no frame is missing).
``metadata``: video info, model(s), versions, settings, VA source and the
per-stage ``speed`` dict (milliseconds per analysed frame).

A ``Results`` is a sequence of its analysed frames: ``len(res)`` is their
number, ``res[i]`` (``i``-th analysed frame, in frame order; negative indices
count from the end; a slice gives a list) and iteration give
:class:`ResultsFrame` objects, each holding that frame's rows.  Column groups
(``res.emotions``, ``res.pose``, ``res.boxes``, ``res.va``, also on a
``ResultsFrame``) are DataFrames of the face rows: the key columns ``frame``,
``time_s``, ``face_id`` (and ``person_id`` when the identity stage ran)
followed by the group's columns, indexed like ``res.frames``.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import uuid
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from vidaffect.errors import OutputError, VidaffectError
from vidaffect.results.store import _none_for_missing, _objects_back, read_whole
from vidaffect.results.vtt import write_vtt_batches
from vidaffect.utils.atomic import atomic_path, atomic_write_text

IN_MEMORY_ROWS = 50_000  # Results.load and analysis: larger tables stay on disk
BASE_COLUMNS = ["frame", "time_s", "face_id", "x1", "y1", "x2", "y2", "score", "faces_in_frame"]
FORMATS = ("csv", "parquet", "json")
# The column groups (py-feat's Fex has the same idea): the key columns of every group, then each group's own.
KEY_COLUMNS = ("frame", "time_s", "face_id", "person_id")
POSE_COLUMNS = ("yaw", "pitch", "roll")
BOX_COLUMNS = ("x1", "y1", "x2", "y2")
VA_COLUMNS = ("valence", "arousal", "va_source")
TEXT_COLUMNS = ("emotion", "va_source", "person_name")  # strings; None where a row has none


class _ColumnGroups:
    """``emotions``, ``pose``, ``boxes`` and ``va`` over the face rows of ``_rows()``."""

    classes: list[str]

    def _rows(self) -> pd.DataFrame:  # pragma: no cover - defined by the classes below
        raise NotImplementedError

    def _group(self, what: str, columns: list[str], required: tuple[str, ...]) -> pd.DataFrame:
        rows = self._rows()
        missing = [c for c in required if c not in rows.columns]
        if missing:
            raise VidaffectError(f"these results have no {what} column(s) {', '.join(missing)} (written by an older "
                                 f"vidaffect?)")
        keys = [c for c in KEY_COLUMNS if c in rows.columns]
        faces = rows[rows["face_id"] >= 0] if "face_id" in rows.columns else rows
        return faces[keys + [c for c in columns if c in rows.columns and c not in keys]]

    @property
    def emotions(self) -> pd.DataFrame:
        """Face rows: key columns, the probability of every class, and ``emotion`` (the most probable)."""
        return self._group("emotion", [*self.classes, "emotion"], ("emotion",))

    @property
    def pose(self) -> pd.DataFrame:
        """Face rows: key columns and head pose ``yaw``, ``pitch``, ``roll`` (degrees; NaN without a mesh)."""
        return self._group("head pose", list(POSE_COLUMNS), POSE_COLUMNS)

    @property
    def boxes(self) -> pd.DataFrame:
        """Face rows: key columns and the face box ``x1``, ``y1``, ``x2``, ``y2`` (pixels of the frame)."""
        return self._group("box", list(BOX_COLUMNS), BOX_COLUMNS)

    @property
    def va(self) -> pd.DataFrame:
        """Face rows: key columns, ``valence``, ``arousal`` and ``va_source`` (where VA comes from, e.g.
        ``derived:russell1980`` = mapped from the class probabilities, ``model:mimamo`` = a VA model)."""
        return self._group("valence/arousal", list(VA_COLUMNS), ("valence", "arousal"))


@dataclass(frozen=True, repr=False, eq=False)
class ResultsFrame(_ColumnGroups):
    """One analysed frame of a :class:`Results` (what ``res[i]`` and ``for frame in res`` give).

    ``rows`` are the frame's rows of ``res.frames`` (same index and columns; a frame without faces has its one
    row with ``face_id`` -1), ``faces`` only those with a face; ``len(frame)`` is its number of faces.
    """

    position: int  # 0-based among the analysed frames: res[position] is this frame
    frame: int  # the source frame index (column ``frame``)
    time_s: float
    rows: pd.DataFrame
    classes: list[str]

    def _rows(self) -> pd.DataFrame:
        return self.rows

    @property
    def faces(self) -> pd.DataFrame:
        return self.rows[self.rows["face_id"] >= 0]

    def __len__(self) -> int:
        return int((self.rows["face_id"] >= 0).sum())

    def __repr__(self) -> str:
        faces = self.faces
        shown = ", ".join(f"{int(f)}: {e if isinstance(e, str) else '-'}"
                          for f, e in zip(faces["face_id"], faces.get("emotion", [None] * len(faces))))
        return (f"<ResultsFrame {self.position}: frame {self.frame} at {self.time_s:.3f} s, {len(faces)} face(s)"
                f"{' (' + shown + ')' if shown else ''}>")


class Results(_ColumnGroups):
    """Per-frame, per-face results of one analysed input (see the module docstring for its sequence API).

    The table lives in memory (``frames``, a DataFrame) or, for long inputs, in a Parquet file on disk
    (:meth:`from_table` with ``in_memory=False``): ``frames`` then reads it on first use, while
    :meth:`iter_batches`, :meth:`summary`, the writers and :meth:`plot` read it in bounded batches whatever
    its length."""

    def __init__(self, frames: pd.DataFrame | None = None, classes: list[str] | tuple[str, ...] = (),
                 metadata: dict[str, Any] | None = None, landmarks: pd.DataFrame | None = None, *,
                 table: str | Path | None = None, landmarks_table: str | Path | None = None) -> None:
        if frames is None and table is None:
            raise ValueError("Results need frames (a DataFrame) or a table (a Parquet file)")
        self._frames = frames
        self.table = Path(table) if table is not None else None  # the on-disk table (None: in memory)
        self.classes = list(classes)
        self.metadata = metadata if metadata is not None else {}
        # with ``save_landmarks``: one row per face row (frame, time_s, face_id[, person_id]) and its 468 mesh
        # points as ``landmarks`` (936 floats: x0, y0, x1, y1, ...; NaN without a mesh)
        self._landmarks = landmarks
        self.landmarks_table = Path(landmarks_table) if landmarks_table is not None else None
        self._mapped: list[tuple[str, str, dict]] = []  # columns added to an on-disk table (see map_column)

    @classmethod
    def from_table(cls, path: str | Path, classes: list[str], metadata: dict[str, Any],
                   landmarks: str | Path | None = None, in_memory: bool = True,
                   owner: str | Path | None = None) -> "Results":
        """Results of the Parquet table ``path`` (and ``landmarks``): read into memory, or kept on disk.
        ``owner``: a folder holding the files that is removed when these results are garbage-collected."""
        if in_memory:
            lms = read_whole(landmarks) if landmarks is not None else None
            return cls(read_whole(path), classes, metadata, landmarks=lms)
        res = cls(None, classes, metadata, table=path, landmarks_table=landmarks)
        if owner is not None:
            weakref.finalize(res, shutil.rmtree, str(owner), True)
        return res

    def _rows(self) -> pd.DataFrame:
        return self.frames

    @property
    def in_memory(self) -> bool:
        """Whether ``frames`` is held in memory (else it is read from ``table`` on use)."""
        return self._frames is not None

    @property
    def frames(self) -> pd.DataFrame:
        """The whole table as a DataFrame (read from disk on first use when the results live there)."""
        if self._frames is None:
            self._frames = self._apply_mapped(read_whole(self.table))
        return self._frames

    @frames.setter
    def frames(self, value: pd.DataFrame) -> None:
        self._frames = value

    @property
    def landmarks(self) -> pd.DataFrame | None:
        if self._landmarks is None and self.landmarks_table is not None:
            self._landmarks = read_whole(self.landmarks_table)
        return self._landmarks

    @landmarks.setter
    def landmarks(self, value: pd.DataFrame | None) -> None:
        self._landmarks = value

    def iter_batches(self, columns: list[str] | None = None, batch_rows: int | None = None):
        """The table in order as DataFrames of at most ``batch_rows`` rows (default ``store.BATCH_ROWS``), only ``columns``
        when given: what bounded-memory consumers read (an on-disk table is never loaded whole)."""
        from vidaffect.results.store import BATCH_ROWS, read_batches

        n = batch_rows or BATCH_ROWS
        if self._frames is not None:
            df = self._frames if columns is None else self._frames[[c for c in columns if c in self._frames.columns]]
            for i in range(0, len(df), n):
                yield df.iloc[i:i + n]
            return
        sources = None if columns is None else list(columns) + [s for _, s, _ in self._mapped]
        for b in read_batches(self.table, sources, n):
            b = self._apply_mapped(b)
            yield b if columns is None else b[[c for c in columns if c in b.columns]]

    def _apply_mapped(self, df: pd.DataFrame, mapped: list | None = None) -> pd.DataFrame:
        for name, source, mapping in self._mapped if mapped is None else mapped:
            df[name] = df[source].map(mapping).where(df["face_id"] >= 0, None)
        return df

    def map_column(self, name: str, source: str, mapping: dict) -> None:
        """Add column ``name`` = ``mapping`` of column ``source`` on the face rows (``None`` elsewhere), e.g.
        ``person_name`` from ``person_id``; on an on-disk table it is applied as batches are read."""
        if self._frames is not None:
            self._apply_mapped(self._frames, [(name, source, mapping)])
        else:
            self._mapped = [m for m in self._mapped if m[0] != name] + [(name, source, dict(mapping))]

    # ----- a sequence of analysed frames -----
    def _frame_rows(self) -> tuple[np.ndarray, list[np.ndarray]]:
        """The analysed frames' numbers (sorted) and each one's row positions in ``frames``."""
        if self.frames.empty:
            return np.zeros(0, np.int64), []
        groups = self.frames.groupby("frame", sort=True).indices
        keys = np.array(sorted(groups), dtype=np.int64)
        return keys, [groups[k] for k in keys]

    def __len__(self) -> int:
        """The number of analysed frames (with or without faces)."""
        if self._frames is not None:
            return 0 if self._frames.empty else int(self._frames["frame"].nunique())
        seen: set[int] = set()
        for b in self.iter_batches(["frame"]):  # frames are few next to rows: a set of their numbers
            seen.update(b["frame"].unique().tolist())
        return len(seen)

    def _view(self, position: int, frame: int, rows: np.ndarray) -> ResultsFrame:
        part = self.frames.iloc[rows]
        return ResultsFrame(position, int(frame), float(part["time_s"].iloc[0]), part, list(self.classes))

    def __iter__(self):
        if self._frames is None:  # on disk: frame by frame from bounded batches (rows are in frame order)
            from vidaffect.results.store import frame_batches

            i = 0
            for b in frame_batches(self.iter_batches()):
                for k, r in b.groupby("frame", sort=True).indices.items():
                    part = b.iloc[r]
                    yield ResultsFrame(i, int(k), float(part["time_s"].iloc[0]), part, list(self.classes))
                    i += 1
            return
        keys, rows = self._frame_rows()
        for i, (k, r) in enumerate(zip(keys, rows)):
            yield self._view(i, k, r)

    def __getitem__(self, key: int | slice) -> ResultsFrame | list[ResultsFrame]:
        """``res[i]``: the i-th analysed frame (a :class:`ResultsFrame`); ``res[a:b]``: a list of them.
        (Indexing reads a table on disk whole; iterate, or use :meth:`iter_batches`, to keep memory bounded.)"""
        keys, rows = self._frame_rows()
        if isinstance(key, slice):
            return [self._view(i, keys[i], rows[i]) for i in range(*key.indices(len(keys)))]
        if isinstance(key, (bool, np.bool_)) or not isinstance(key, (int, np.integer)):
            raise TypeError(f"Results are indexed by frame position (an int or a slice), not by "
                            f"{type(key).__name__}; columns are in res.frames[...]")
        i = int(key) + len(keys) if key < 0 else int(key)
        if not 0 <= i < len(keys):
            raise IndexError(f"frame position {int(key)} out of range: {len(keys)} analysed frame(s)")
        return self._view(i, keys[i], rows[i])

    def __repr__(self) -> str:
        video = self.metadata.get("video") or {}
        path = str(video.get("path") or "")
        kind = video.get("kind", "video")
        shown = Path(path).name if path and kind in ("video", "image", "images") else path
        shown = shown if len(shown) <= 60 else shown[:57] + "..."
        frames, face_ids, persons, face_rows = set(), set(), set(), 0
        for b in self.iter_batches(["frame", "face_id", "person_id"]):
            frames.update(b["frame"].unique().tolist())
            faces = b[b["face_id"] >= 0]
            face_rows += len(faces)
            face_ids.update(faces["face_id"].unique().tolist())
            if "person_id" in b.columns:
                persons.update(faces.loc[faces["person_id"] >= 0, "person_id"].unique().tolist())
        parts = [repr(shown or video.get("name") or "?"), f"frames={len(frames)}", f"faces={len(face_ids)}",
                 f"face_rows={face_rows}"]
        if "person_id" in self.columns:
            parts.append(f"persons={len(persons)}")
        classes = list(self.classes)
        shown_classes = ", ".join(classes if len(classes) <= 8 else [*classes[:3], "...", *classes[-2:]])
        parts.append(f"classes=[{shown_classes}]")
        if self.metadata.get("va_source"):
            parts.append(f"va_source={self.metadata['va_source']!r}")
        return f"Results({', '.join(parts)})"

    @property
    def speed(self) -> dict[str, float]:
        """Milliseconds per analysed frame for each stage (decode, detect, track, align, model, total)."""
        return self.metadata.get("speed_ms_per_frame", {})

    @property
    def faces(self) -> pd.DataFrame:
        """Only the rows that hold a face."""
        return self.frames[self.frames["face_id"] >= 0]

    def to_df(self) -> pd.DataFrame:
        return self.frames

    def face_ids(self) -> list[int]:
        ids: set[int] = set()
        for b in self.iter_batches(["face_id"]):
            ids.update(int(i) for i in b.loc[b["face_id"] >= 0, "face_id"].unique())
        return sorted(ids)

    def summary(self, by: str = "face") -> pd.DataFrame:
        """Per face track (``by="face"``) or per person (``by="person"``: the person's tracks together; needs
        ``person_id``): first/last time, time on screen, frames, mean VA, dominant emotion and emotion shares.

        ``on_screen_s`` adds up the real durations of the analysed frames that show the face (see
        :meth:`frame_durations`), so variable-frame-rate videos and ``--fps`` sampling are counted right.
        Computed batch by batch (:class:`~vidaffect.results.accumulators.SummaryAccumulator`): bounded memory
        for a table on disk.
        """
        if by not in ("face", "person"):
            raise ValueError(f"summary by 'face' or 'person', not {by!r}")
        return self._summaries((by,))[0]

    def _summaries(self, bys: tuple[str, ...]) -> list[pd.DataFrame]:
        """The summary by each of ``bys`` from one read of the table."""
        from vidaffect.results.accumulators import SUMMARY_INPUT_COLUMNS, summarise_each

        return summarise_each(self.iter_batches(list(SUMMARY_INPUT_COLUMNS)), self.classes, bys,
                              self.metadata.get("damaged_spans"))

    def frame_durations(self) -> pd.Series:
        """Seconds each analysed frame stands for, indexed by ``time_s``: the time until the next analysed
        frame (real timestamps, so variable frame rates and ``--fps`` sampling count right); the last frame
        and a frame followed by a damaged span (``metadata["damaged_spans"]``) get the median step instead
        (:class:`~vidaffect.results.accumulators.FrameClock`, the rule ``summary`` uses).  Reads only the
        ``time_s`` column, batch by batch."""
        from vidaffect.results.accumulators import FrameClock

        times: set[float] = set()
        for b in self.iter_batches(["time_s"]):
            times.update(b["time_s"].dropna().astype(float).unique().tolist())
        ordered = sorted(times)
        clock, gaps = FrameClock(self.metadata.get("damaged_spans")), []
        for t in ordered:
            previous = clock.advance(t)
            if previous is not None:
                gaps.append(previous)
        step = clock.step()
        dur = [FrameClock.duration(gap, over, step) for gap, over in gaps] + ([step] if times else [])
        return pd.Series(dur, index=ordered, dtype=float)

    # ----- writers (all atomic, all batch by batch: bounded memory for a table on disk) -----
    def _header_frame(self) -> pd.DataFrame:
        """The table's columns without rows."""
        if self._frames is not None:
            return self._frames.iloc[0:0]
        return self._apply_mapped(_empty_frame(self.table))

    @property
    def columns(self) -> list[str]:
        """The table's column names (from the file's schema when it lives on disk: nothing is read)."""
        return list(self._header_frame().columns)

    def to_csv(self, path: str | Path) -> Path:
        with atomic_path(path) as tmp:
            with open(tmp, "w", newline="") as fh:
                first = True
                for b in self.iter_batches():
                    b.to_csv(fh, index=False, header=first, float_format="%.5g")
                    first = False
                if first:
                    self._header_frame().to_csv(fh, index=False, float_format="%.5g")
        return Path(path)

    def to_parquet(self, path: str | Path) -> Path:
        from vidaffect.results.store import TableWriter

        with TableWriter(path, metadata=self.metadata) as writer:
            for b in self.iter_batches():
                writer.write(b)
            return writer.close(empty_like=self._header_frame())

    def to_json(self, path: str | Path, summary: pd.DataFrame | None = None) -> Path:
        """One JSON document: ``{"metadata": ..., "summary": [...], "frames": [...]}``.  ``summary``: this
        table's ``summary()`` when the caller has it already (else it is computed)."""
        summary = json.loads((self.summary() if summary is None else summary).to_json(orient="records"))
        with atomic_path(path) as tmp:
            with open(tmp, "w") as fh:
                fh.write('{"metadata": ' + json.dumps(self.metadata, default=str) + ', "summary": '
                         + json.dumps(summary, default=str) + ', "frames": [')
                first = True
                for b in self.iter_batches():
                    records = json.dumps(json.loads(b.to_json(orient="records")), default=str)[1:-1]
                    if records:
                        fh.write(records if first else ", " + records)
                        first = False
                fh.write("]}")
        return Path(path)

    def to_events(self, path: str | Path, form: str = "event", object_form: str = "id") -> Path:
        """VTT-schema emotion events (see :mod:`vidaffect.results.vtt`)."""
        return write_vtt_batches(self.iter_batches(), path, form=form, object_form=object_form)

    def plot(self, path: str | Path | None = None, max_faces: int = 6):
        """VA trend and emotion timeline per face; saves when ``path`` is given; returns the figure.

        A table on disk is drawn from per-face time bins (at most 2,000 per face) read in bounded batches."""
        from vidaffect.plotting import plot_results

        title = Path(self.metadata.get("video", {}).get("path", "")).name
        if self._frames is not None:
            return plot_results(self.frames, self.classes, title=title, path=path, max_faces=max_faces)
        from vidaffect.results.plot_data import binned_face_rows

        rows, span, step, faces = binned_face_rows(self, max_faces)
        return plot_results(rows, self.classes, title=title, path=path, max_faces=max_faces, time_range=span,
                            step=step, faces=faces)

    def save(self, out_dir: str | Path, formats: tuple[str, ...] | list[str] = ("csv",), plot: bool = True,
             events_form: str = "event", name: str | None = None) -> dict[str, Path]:
        """Write every output of this video into ``out_dir`` as ``<name>.<kind>.<ext>``; return their paths.

        ``name`` defaults to the video's file name without extension.  The set is written into a staging
        folder ``out_dir/.staging-<name>-<pid>-<random>/`` and then published in one step: the old set's
        ``<name>.metadata.json`` is removed first (the old set is then visibly incomplete), then the old
        set's files that the new set does not replace, the staged files are renamed into place, and the new
        metadata file, which lists every file of the set with its size and SHA-256 (``outputs``), is written
        last.  So ``<name>.metadata.json`` exists only beside a complete set of files of one run; an
        interrupted save leaves the old complete set (interrupted while staging) or a set without metadata
        (interrupted while publishing), never a mix that looks complete.  See :func:`check_result_set`.
        """
        out = Path(out_dir)
        video = self.metadata.get("video") or {}
        name = name if name is not None else video.get("name") or Path(video.get("path") or "video").stem
        if not name or name in (".", "..") or "/" in name or os.sep in name or "\0" in name:
            raise OutputError(f"{name!r}: not a usable output name")
        unknown = [f for f in formats if f not in FORMATS]
        if unknown:
            raise OutputError(f"unknown output format(s) {unknown}; choose from {list(FORMATS)}")
        staging = None
        try:
            out.mkdir(parents=True, exist_ok=True)
            clean_staging(out)
            staging = out / f"{STAGING_PREFIX}{name[:80]}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
            staging.mkdir()
            staged = self._write_set(staging, name, formats, plot, events_form)
            meta = {k: v for k, v in self.metadata.items() if k != "outputs"}
            meta["outputs"] = {kind: {"file": p.name, "bytes": p.stat().st_size, "sha256": _sha256(p)}
                               for kind, p in staged.items()}
            meta_text = json.dumps(meta, indent=2, default=str)
            paths = _publish(staging, out, name, staged, meta_text)
        except OSError as exc:
            raise OutputError(f"{out}: cannot write results ({exc.strerror or exc})") from None
        finally:
            if staging is not None:
                shutil.rmtree(staging, ignore_errors=True)
        return paths

    def _write_set(self, folder: Path, name: str, formats, plot: bool, events_form: str) -> dict[str, Path]:
        """Every file of the set but the metadata, into ``folder``."""
        paths: dict[str, Path] = {}
        # one read of the table for both summaries (self.frames would read a table on disk whole)
        people = "person_id" in self.columns
        summaries = self._summaries(("face", "person") if people else ("face",))
        if "csv" in formats:
            paths["csv"] = self.to_csv(folder / f"{name}.frames.csv")
        if "parquet" in formats:
            paths["parquet"] = self.to_parquet(folder / f"{name}.frames.parquet")
        if "json" in formats:
            paths["json"] = self.to_json(folder / f"{name}.frames.json", summary=summaries[0])
        summary_path = folder / f"{name}.summary.csv"
        with atomic_path(summary_path) as tmp:
            summaries[0].to_csv(tmp, index=False, float_format="%.4g")
        paths["summary"] = summary_path
        if people:
            persons_path = folder / f"{name}.persons.csv"
            with atomic_path(persons_path) as tmp:
                summaries[1].to_csv(tmp, index=False, float_format="%.4g")
            paths["persons"] = persons_path
        ext = "jsonl" if events_form == "frames" else "json"
        paths["events"] = self.to_events(folder / f"{name}.events.{ext}", form=events_form)
        if plot:
            paths["plot"] = folder / f"{name}.va_trend.png"
            self.plot(paths["plot"])
        if self.landmarks is not None:
            paths["landmarks"] = self.landmarks_to_parquet(folder / f"{name}.landmarks.parquet")
        return paths

    def landmarks_to_parquet(self, path: str | Path) -> Path:
        """The landmarks side table as Parquet (``landmarks``: a fixed-size list of 936 float32 per row)."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        def arrow(lm: pd.DataFrame):
            cols = {c: pa.array(lm[c].to_numpy()) for c in lm.columns if c != "landmarks"}
            flat = (np.stack(lm["landmarks"].to_numpy()).astype(np.float32) if len(lm)
                    else np.zeros((0, 936), np.float32))
            cols["landmarks"] = pa.FixedSizeListArray.from_arrays(pa.array(flat.reshape(-1)), 936)
            return pa.table(cols)

        if self._landmarks is not None or self.landmarks_table is None:
            with atomic_path(path) as tmp:
                pq.write_table(arrow(self.landmarks), tmp)
            return Path(path)
        from vidaffect.results.store import read_batches

        with atomic_path(path) as tmp:
            writer = None
            try:
                for b in read_batches(self.landmarks_table, batch_rows=2048):  # 3.7 KB a row
                    t = arrow(b)
                    writer = writer or pq.ParquetWriter(tmp, t.schema)
                    writer.write_table(t)
                if writer is None:
                    pq.write_table(arrow(_empty_frame(self.landmarks_table)), tmp)
            finally:
                if writer is not None:
                    writer.close()
        return Path(path)

    @classmethod
    def load(cls, path: str | Path, in_memory: bool | None = None) -> "Results":
        """Read results back: a ``.frames.parquet``, ``.frames.csv`` or ``.frames.json`` file, a result set's
        ``.metadata.json`` (its frames file then: Parquet, else CSV, else JSON) or a folder that holds one
        result set.

        Metadata: the one a Parquet or JSON file carries itself (``to_parquet`` embeds it), completed by the
        set's ``<name>.metadata.json`` beside it (which adds the list of ``outputs``); a CSV file has only the
        latter.  Text columns (``emotion``, ``va_source``...) hold ``None`` where a row has no value, as in
        fresh results; a Parquet file gives back the very table that was written.

        ``in_memory``: read a Parquet table into memory (``True``) or leave it on disk and read it in batches
        (``False``, see :meth:`iter_batches`); default: on disk when it has more than 50,000 rows.  CSV and
        JSON files are always read whole.
        """
        path = Path(path)
        if path.is_dir():
            path = _single_set(path)
        if path.name.endswith(METADATA_SUFFIX):
            path = _frames_file(path)
        name = path.name
        embedded: dict[str, Any] = {}
        try:
            if name.endswith(".parquet"):
                import pyarrow.parquet as pq

                pf = pq.ParquetFile(path)
                raw = (pf.schema_arrow.metadata or {}).get(b"vidaffect")
                embedded = json.loads(raw) if raw else {}
                if in_memory is None:
                    in_memory = pf.metadata.num_rows <= IN_MEMORY_ROWS
                if in_memory:
                    frames = read_whole(path)
                else:
                    frames = None
            elif name.endswith(".csv"):
                frames = _text_columns(pd.read_csv(path))
            elif name.endswith(".json"):
                doc = json.loads(path.read_text())
                if not isinstance(doc, dict) or "frames" not in doc:
                    raise OutputError(f"{path}: not a vidaffect .frames.json file (no 'frames' list)")
                frames = _text_columns(pd.DataFrame.from_records(doc["frames"]))
                embedded = doc.get("metadata") or {}
            else:
                raise OutputError(f"{path}: expected a .frames.parquet, .frames.csv or .frames.json file, a "
                                  f".metadata.json file or a results folder")
        except FileNotFoundError:
            raise OutputError(f"{path}: file not found") from None
        except (OSError, ValueError) as exc:
            raise OutputError(f"{path}: not readable as results ({exc})") from None
        stem = name.split(".frames.")[0] if ".frames." in name else path.stem
        meta_path = path.with_name(stem + METADATA_SUFFIX)
        try:
            sidecar = json.loads(meta_path.read_text()) if meta_path.exists() else {}
        except (OSError, ValueError) as exc:
            raise OutputError(f"{meta_path}: unreadable metadata ({exc})") from None
        meta = {**sidecar, **embedded}
        classes = meta.get("classes")
        if classes is None:  # no metadata: the columns between faces_in_frame and emotion (the writers' order)
            cols = list(frames.columns) if frames is not None else list(pf.schema_arrow.names)
            lo = cols.index("faces_in_frame") + 1 if "faces_in_frame" in cols else 0
            classes = cols[lo:cols.index("emotion")] if "emotion" in cols else []
        if frames is None:
            return cls(None, list(classes), meta, table=path)
        return cls(frames, list(classes), meta)


def _empty_frame(path: str | Path) -> pd.DataFrame:
    """The columns of a Parquet file, without rows, with its types."""
    import pyarrow.parquet as pq

    table = pq.read_schema(path).empty_table()
    return _objects_back(table.to_pandas(), table.schema.metadata or {})


def _text_columns(frames: pd.DataFrame) -> pd.DataFrame:
    """CSV and JSON keep no types: the text columns as the analyser makes them (objects, ``None`` where a row
    has none; an all-empty one reads as numbers), and a JSON number column without any value as floats."""
    for col in frames.columns:
        if col in TEXT_COLUMNS:
            frames[col] = _none_for_missing(frames[col])
        elif frames[col].dtype == object and frames[col].isna().all():
            frames[col] = frames[col].astype(float)
    return frames


def _single_set(folder: Path) -> Path:
    """The ``.metadata.json`` of the one result set in ``folder``; :class:`OutputError` for none or several."""
    sets = sorted(folder.glob(f"*{METADATA_SUFFIX}"))
    if len(sets) == 1:
        return sets[0]
    if not sets:
        raise OutputError(f"{folder}: no result set here (no *{METADATA_SUFFIX} file)")
    names = ", ".join(p.name[: -len(METADATA_SUFFIX)] for p in sets[:5]) + (", ..." if len(sets) > 5 else "")
    raise OutputError(f"{folder}: {len(sets)} result sets ({names}); give one's {METADATA_SUFFIX} or frames file")


def _frames_file(meta_path: Path) -> Path:
    """The frames file of the set of ``meta_path``: Parquet, else CSV, else JSON (listed or beside it)."""
    stem = meta_path.name[: -len(METADATA_SUFFIX)]
    for ext in ("parquet", "csv", "json"):
        p = meta_path.with_name(f"{stem}.frames.{ext}")
        if p.is_file():
            return p
    raise OutputError(f"{meta_path}: its set has no frames file ({stem}.frames.parquet, .csv or .json)")


# ----- result sets: staging, publishing, checking -----
METADATA_SUFFIX = ".metadata.json"
# Every file a result set <name>.* may have: the writers above, and what analyze's plugins add after the set is
# published (report, annotated video, exports).  A new save removes the old set's files of these kinds.
SET_SUFFIXES = (".frames.csv", ".frames.parquet", ".frames.json", ".summary.csv", ".events.json", ".events.jsonl",
                ".va_trend.png", ".report.html", ".annotated.mp4", ".segments.csv", ".eaf", ".subtitles.vtt",
                ".subtitles.srt")
STAGING_PREFIX = ".staging-"


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _publish(staging: Path, out: Path, name: str, staged: dict[str, Path], meta_text: str) -> dict[str, Path]:
    """Replace the set ``out/<name>.*`` by the staged files, metadata last (see :meth:`Results.save`)."""
    (out / f"{name}{METADATA_SUFFIX}").unlink(missing_ok=True)  # from here on the old set is incomplete
    new_names = {p.name for p in staged.values()}
    for suffix in SET_SUFFIXES:  # the old set's files that the new one does not replace
        if f"{name}{suffix}" not in new_names:
            (out / f"{name}{suffix}").unlink(missing_ok=True)
    paths = {}
    for kind, src in staged.items():
        paths[kind] = out / src.name
        os.replace(src, paths[kind])
    paths["metadata"] = atomic_write_text(out / f"{name}{METADATA_SUFFIX}", meta_text)
    return paths


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True  # exists, owned by someone else
    return True


def clean_staging(out_dir: str | Path) -> int:
    """Remove the staging folders that killed runs left in ``out_dir`` (their process is gone); return how many."""
    n = 0
    for d in Path(out_dir).glob(f"{STAGING_PREFIX}*"):
        try:
            pid = int(d.name.rsplit("-", 2)[-2])
        except (ValueError, IndexError):
            continue
        if d.is_dir() and pid != os.getpid() and not _pid_alive(pid):
            shutil.rmtree(d, ignore_errors=True)
            n += 1
    return n


def add_outputs(metadata_path: str | Path, files: dict[str, str | Path]) -> Path:
    """List more files of a published set in its metadata (``outputs``, with size and SHA-256): what
    ``vidaffect analyze``'s plugins (report, annotated video, exports) write beside it after it was
    published.  The metadata file is replaced atomically."""
    metadata_path = Path(metadata_path)
    meta = json.loads(metadata_path.read_text())
    outputs = meta.setdefault("outputs", {})
    for kind, p in files.items():
        p = Path(p)
        outputs[kind] = {"file": p.name, "bytes": p.stat().st_size, "sha256": _sha256(p)}
    return atomic_write_text(metadata_path, json.dumps(meta, indent=2, default=str))


def check_result_set(metadata_path: str | Path) -> list[str]:
    """Problems of the result set of ``<name>.metadata.json`` (empty list: complete and consistent): every
    file the metadata lists must be there with the recorded size and SHA-256."""
    metadata_path = Path(metadata_path)
    try:
        meta = json.loads(metadata_path.read_text())
    except (OSError, ValueError) as exc:
        return [f"{metadata_path}: unreadable ({exc})"]
    outputs = meta.get("outputs") if isinstance(meta, dict) else None
    if not isinstance(outputs, dict) or not outputs:
        return [f"{metadata_path}: no list of outputs (written by an older version?)"]
    problems = []
    for kind, entry in outputs.items():
        p = metadata_path.with_name(entry["file"])
        if not p.is_file():
            problems.append(f"{p}: missing")
        elif p.stat().st_size != entry["bytes"] or _sha256(p) != entry["sha256"]:
            problems.append(f"{p}: not the file this metadata was written with")
    return problems
