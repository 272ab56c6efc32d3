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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from vidaffect.errors import OutputError, VidaffectError
from vidaffect.results.vtt import write_vtt
from vidaffect.utils.atomic import atomic_path, atomic_write_text

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


@dataclass(repr=False)
class Results(_ColumnGroups):
    """Per-frame, per-face results of one analysed input (see the module docstring for its sequence API)."""

    frames: pd.DataFrame
    classes: list[str]
    metadata: dict[str, Any] = field(default_factory=dict)
    # with ``save_landmarks``: one row per face row (frame, time_s, face_id[, person_id]) and its 468 mesh
    # points as ``landmarks`` (936 floats: x0, y0, x1, y1, ...; NaN without a mesh)
    landmarks: pd.DataFrame | None = field(default=None, repr=False)

    def _rows(self) -> pd.DataFrame:
        return self.frames

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
        return 0 if self.frames.empty else int(self.frames["frame"].nunique())

    def _view(self, position: int, frame: int, rows: np.ndarray) -> ResultsFrame:
        part = self.frames.iloc[rows]
        return ResultsFrame(position, int(frame), float(part["time_s"].iloc[0]), part, list(self.classes))

    def __iter__(self):
        keys, rows = self._frame_rows()
        for i, (k, r) in enumerate(zip(keys, rows)):
            yield self._view(i, k, r)

    def __getitem__(self, key: int | slice) -> ResultsFrame | list[ResultsFrame]:
        """``res[i]``: the i-th analysed frame (a :class:`ResultsFrame`); ``res[a:b]``: a list of them."""
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
        faces = self.faces
        parts = [repr(shown or video.get("name") or "?"), f"frames={len(self)}",
                 f"faces={faces['face_id'].nunique() if len(faces) else 0}", f"face_rows={len(faces)}"]
        if "person_id" in faces.columns:
            ids = faces["person_id"]
            parts.append(f"persons={ids[ids >= 0].nunique()}")
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
        return sorted(int(i) for i in self.faces["face_id"].unique())

    def summary(self, by: str = "face") -> pd.DataFrame:
        """Per face track (``by="face"``) or per person (``by="person"``: the person's tracks together; needs
        ``person_id``): first/last time, time on screen, frames, mean VA, dominant emotion and emotion shares.

        ``on_screen_s`` adds up the real durations of the analysed frames that show the face (see
        :meth:`frame_durations`), so variable-frame-rate videos and ``--fps`` sampling are counted right.
        """
        if by not in ("face", "person"):
            raise ValueError(f"summary by 'face' or 'person', not {by!r}")
        key = "face_id" if by == "face" else "person_id"
        faces = self.faces
        if key not in faces.columns:
            raise ValueError("summary by person needs person_id (analysed without --no-identity)")
        shown = self.frame_durations()
        rows = []
        for fid, g in faces.groupby(key):
            shares = g["emotion"].value_counts(normalize=True)
            row = {
                key: int(fid), "first_s": float(g["time_s"].min()), "last_s": float(g["time_s"].max()),
                "on_screen_s": round(float(shown.reindex(g["time_s"].unique()).sum()), 3), "frames": int(len(g)),
                "mean_valence": float(g["valence"].mean()), "mean_arousal": float(g["arousal"].mean()),
                "dominant_emotion": str(shares.index[0]) if len(shares) else None,
            }
            if by == "person":
                row["face_ids"] = " ".join(str(int(f)) for f in sorted(g["face_id"].unique()))
            for col in ("person_id", "person_name"):  # added by the identity stage
                if col in g.columns and col != key:
                    row[col] = g[col].iloc[0]
            for c in self.classes:
                row[f"share_{c}"] = float(shares.get(c, 0.0))
            rows.append(row)
        cols = [key, "first_s", "last_s", "on_screen_s", "frames", "mean_valence", "mean_arousal",
                "dominant_emotion"] + [f"share_{c}" for c in self.classes]
        return pd.DataFrame(rows, columns=cols if not rows else None)

    def frame_durations(self) -> pd.Series:
        """Seconds each analysed frame stands for, indexed by ``time_s``: the time until the next analysed
        frame (real timestamps, so variable frame rates and ``--fps`` sampling count right); the last frame
        and a frame followed by a damaged span (``metadata["damaged_spans"]``) get the median step instead."""
        times = np.sort(self.frames["time_s"].dropna().unique()).astype(float)
        if len(times) == 0:
            return pd.Series([], dtype=float)
        gaps = np.diff(times)
        step = float(np.median(gaps)) if len(gaps) else 0.0
        dur = np.append(gaps, step)
        for span in self.metadata.get("damaged_spans") or []:
            start = float(span.get("start_s", np.inf))
            before = np.searchsorted(times, start, side="right") - 1  # last frame before the damaged data
            if 0 <= before < len(times) - 1 and times[before + 1] > start:
                dur[before] = min(dur[before], step)
        return pd.Series(dur, index=times)

    # ----- writers (all atomic) -----
    def to_csv(self, path: str | Path) -> Path:
        with atomic_path(path) as tmp:
            self.frames.to_csv(tmp, index=False, float_format="%.5g")
        return Path(path)

    def to_parquet(self, path: str | Path) -> Path:
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pa.Table.from_pandas(self.frames, preserve_index=False)
        table = table.replace_schema_metadata({**(table.schema.metadata or {}),
                                               b"vidaffect": json.dumps(self.metadata, default=str).encode()})
        with atomic_path(path) as tmp:
            pq.write_table(table, tmp)
        return Path(path)

    def to_json(self, path: str | Path) -> Path:
        """One JSON document: ``{"metadata": ..., "summary": [...], "frames": [...]}``."""
        doc = {
            "metadata": self.metadata,
            "summary": json.loads(self.summary().to_json(orient="records")),
            "frames": json.loads(self.frames.to_json(orient="records")),
        }
        return atomic_write_text(path, json.dumps(doc, default=str))

    def to_events(self, path: str | Path, form: str = "event", object_form: str = "id") -> Path:
        """VTT-schema emotion events (see :mod:`vidaffect.results.vtt`)."""
        return write_vtt(self.frames, path, form=form, object_form=object_form)

    def plot(self, path: str | Path | None = None, max_faces: int = 6):
        """VA trend and emotion timeline per face; saves when ``path`` is given; returns the figure."""
        from vidaffect.plotting import plot_results

        title = Path(self.metadata.get("video", {}).get("path", "")).name
        return plot_results(self.frames, self.classes, title=title, path=path, max_faces=max_faces)

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
        if "csv" in formats:
            paths["csv"] = self.to_csv(folder / f"{name}.frames.csv")
        if "parquet" in formats:
            paths["parquet"] = self.to_parquet(folder / f"{name}.frames.parquet")
        if "json" in formats:
            paths["json"] = self.to_json(folder / f"{name}.frames.json")
        summary_path = folder / f"{name}.summary.csv"
        with atomic_path(summary_path) as tmp:
            self.summary().to_csv(tmp, index=False, float_format="%.4g")
        paths["summary"] = summary_path
        if "person_id" in self.frames.columns:
            persons_path = folder / f"{name}.persons.csv"
            with atomic_path(persons_path) as tmp:
                self.summary(by="person").to_csv(tmp, index=False, float_format="%.4g")
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

        lm = self.landmarks
        cols = {c: pa.array(lm[c].to_numpy()) for c in lm.columns if c != "landmarks"}
        flat = np.stack(lm["landmarks"].to_numpy()).astype(np.float32) if len(lm) else np.zeros((0, 936), np.float32)
        cols["landmarks"] = pa.FixedSizeListArray.from_arrays(pa.array(flat.reshape(-1)), 936)
        with atomic_path(path) as tmp:
            pq.write_table(pa.table(cols), tmp)
        return Path(path)

    @classmethod
    def load(cls, path: str | Path) -> "Results":
        """Read results back: a ``.frames.parquet``, ``.frames.csv`` or ``.frames.json`` file, a result set's
        ``.metadata.json`` (its frames file then: Parquet, else CSV, else JSON) or a folder that holds one
        result set.

        Metadata: the one a Parquet or JSON file carries itself (``to_parquet`` embeds it), completed by the
        set's ``<name>.metadata.json`` beside it (which adds the list of ``outputs``); a CSV file has only the
        latter.  Text columns (``emotion``, ``va_source``...) hold ``None`` where a row has no value, as in
        fresh results; a Parquet file gives back the very table that was written.
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

                table = pq.read_table(path)
                frames = _objects_back(table.to_pandas(), table.schema.metadata or {})
                raw = (table.schema.metadata or {}).get(b"vidaffect")
                embedded = json.loads(raw) if raw else {}
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
            cols = list(frames.columns)
            lo = cols.index("faces_in_frame") + 1 if "faces_in_frame" in cols else 0
            classes = cols[lo:cols.index("emotion")] if "emotion" in cols else []
        return cls(frames, list(classes), meta)


def _none_for_missing(values: pd.Series) -> pd.Series:
    values = values.astype(object)
    return values.where(values.notna(), None)


def _objects_back(frames: pd.DataFrame, schema_metadata: dict) -> pd.DataFrame:
    """Text columns that were Python objects when written (``emotion``... as the analyser makes them: ``None``
    where a row has none) back from the string dtype pandas reads them as; the Parquet file's pandas
    metadata says which."""
    try:
        columns = json.loads(schema_metadata.get(b"pandas", b"{}")).get("columns", [])
    except ValueError:
        return frames
    for c in columns:
        name = c.get("name")
        if c.get("numpy_type") == "object" and name in frames.columns and frames[name].dtype != object:
            frames[name] = _none_for_missing(frames[name])
    return frames


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
