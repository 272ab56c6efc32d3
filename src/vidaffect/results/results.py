"""The ``Results`` object of one analysed video (in the spirit of ultralytics' ``Results``).

``frames``: one row per analysed frame and face (``face_id`` = -1 and NaN
values for frames where no face was found, so no frame is missing).
``metadata``: video info, model(s), versions, settings, VA source and the
per-stage ``speed`` dict (milliseconds per analysed frame).
"""
from __future__ import annotations

import json
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
        """Per face: first/last time, time on screen, frames, mean VA, dominant emotion and emotion shares."""
        faces = self.faces
        times = np.sort(self.frames["time_s"].unique())
        step = float(np.median(np.diff(times))) if len(times) > 1 else 0.0
        rows = []
        for fid, g in faces.groupby("face_id"):
            shares = g["emotion"].value_counts(normalize=True)
            row = {
                "face_id": int(fid), "first_s": float(g["time_s"].min()), "last_s": float(g["time_s"].max()),
                "on_screen_s": round(len(g) * step, 3), "frames": int(len(g)),
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
             events_form: str = "event") -> dict[str, Path]:
        """Write every output of this video into ``out_dir`` as ``<stem>.<kind>.<ext>``; return their paths.

        Each file is written atomically; the metadata file is written last, so
        its presence marks a complete set.
        """
        out = Path(out_dir)
        stem = Path(self.metadata.get("video", {}).get("path", "video")).stem
        unknown = [f for f in formats if f not in FORMATS]
        if unknown:
            raise OutputError(f"unknown output format(s) {unknown}; choose from {list(FORMATS)}")
        try:
            out.mkdir(parents=True, exist_ok=True)
            paths: dict[str, Path] = {}
            if "csv" in formats:
                paths["csv"] = self.to_csv(out / f"{stem}.frames.csv")
            if "parquet" in formats:
                paths["parquet"] = self.to_parquet(out / f"{stem}.frames.parquet")
            if "json" in formats:
                paths["json"] = self.to_json(out / f"{stem}.frames.json")
            summary_path = out / f"{stem}.summary.csv"
            with atomic_path(summary_path) as tmp:
                self.summary().to_csv(tmp, index=False, float_format="%.4g")
            paths["summary"] = summary_path
            ext = "jsonl" if events_form == "frames" else "json"
            paths["events"] = self.to_events(out / f"{stem}.events.{ext}", form=events_form)
            if plot:
                paths["plot"] = out / f"{stem}.va_trend.png"
                self.plot(paths["plot"])
            paths["metadata"] = atomic_write_text(out / f"{stem}.metadata.json",
                                                  json.dumps(self.metadata, indent=2, default=str))
        except OSError as exc:
            raise OutputError(f"{out}: cannot write results ({exc.strerror or exc})") from None
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
