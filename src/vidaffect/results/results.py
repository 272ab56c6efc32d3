"""The ``Results`` object of one analysed video (in the spirit of ultralytics' ``Results``).

``frames``: one row per analysed frame and face (``face_id`` = -1 and NaN
values for frames where no face was found, so no frame is missing).
``metadata``: video info, model(s), versions, settings, VA source and the
per-stage ``speed`` dict (milliseconds per analysed frame).
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

from vidaffect.errors import OutputError
from vidaffect.results.vtt import write_vtt
from vidaffect.utils.atomic import atomic_path, atomic_write_text

BASE_COLUMNS = ["frame", "time_s", "face_id", "x1", "y1", "x2", "y2", "score", "faces_in_frame"]
FORMATS = ("csv", "parquet", "json")


@dataclass
class Results:
    """Per-frame, per-face results of one video."""

    frames: pd.DataFrame
    classes: list[str]
    metadata: dict[str, Any] = field(default_factory=dict)

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

    def summary(self) -> pd.DataFrame:
        """Per face: first/last time, time on screen, frames, mean VA, dominant emotion and emotion shares.

        ``on_screen_s`` adds up the real durations of the analysed frames that show the face (see
        :meth:`frame_durations`), so variable-frame-rate videos and ``--fps`` sampling are counted right.
        """
        faces = self.faces
        shown = self.frame_durations()
        rows = []
        for fid, g in faces.groupby("face_id"):
            shares = g["emotion"].value_counts(normalize=True)
            row = {
                "face_id": int(fid), "first_s": float(g["time_s"].min()), "last_s": float(g["time_s"].max()),
                "on_screen_s": round(float(shown.reindex(g["time_s"].unique()).sum()), 3), "frames": int(len(g)),
                "mean_valence": float(g["valence"].mean()), "mean_arousal": float(g["arousal"].mean()),
                "dominant_emotion": str(shares.index[0]) if len(shares) else None,
            }
            for col in ("person_id", "person_name"):  # added by the identity stage
                if col in g.columns:
                    row[col] = g[col].iloc[0]
            for c in self.classes:
                row[f"share_{c}"] = float(shares.get(c, 0.0))
            rows.append(row)
        cols = ["face_id", "first_s", "last_s", "on_screen_s", "frames", "mean_valence", "mean_arousal",
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
        name = name if name is not None else Path(self.metadata.get("video", {}).get("path", "video")).stem
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
        ext = "jsonl" if events_form == "frames" else "json"
        paths["events"] = self.to_events(folder / f"{name}.events.{ext}", form=events_form)
        if plot:
            paths["plot"] = folder / f"{name}.va_trend.png"
            self.plot(paths["plot"])
        return paths

    @classmethod
    def load(cls, path: str | Path) -> "Results":
        """Read results back from a ``.frames.csv``/``.frames.parquet`` file (metadata from its sidecar)."""
        path = Path(path)
        if path.suffix == ".parquet":
            frames = pd.read_parquet(path)
        elif path.suffix == ".csv":
            frames = pd.read_csv(path)
        else:
            raise OutputError(f"{path}: expected a .frames.csv or .frames.parquet file")
        meta_path = path.with_name(path.name.split(".frames.")[0] + ".metadata.json")
        meta = json.loads(meta_path.read_text()) if meta_path.exists() else {}
        classes = meta.get("classes") or [c for c in frames.columns if c not in BASE_COLUMNS + ["emotion", "valence", "arousal"]]
        return cls(frames, list(classes), meta)


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
