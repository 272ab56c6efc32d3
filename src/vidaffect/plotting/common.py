"""Helpers shared by every plot: a headless pyplot, atomic PNG/SVG saving, face colours, gap breaking."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

FACE_PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf",
                "#bcbd22", "#7f7f7f"]
VALENCE_COLOR, AROUSAL_COLOR = "#2ca02c", "#d62728"
SAVE_FORMATS = ("png", "svg", "pdf")


def pyplot():
    """matplotlib.pyplot on the non-interactive Agg backend."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def face_color(face_id: int) -> str:
    """A stable colour per face id."""
    return FACE_PALETTE[int(face_id) % len(FACE_PALETTE)]


def save_figure(fig, path: str | Path | None, dpi: int = 90):
    """Save ``fig`` atomically to ``path`` (format from the suffix: .png, .svg, .pdf), close it, return ``fig``.

    Without a path the figure is returned open.
    """
    if path is None:
        return fig
    from vidaffect.errors import OutputError
    from vidaffect.utils.atomic import atomic_path

    path = Path(path)
    fmt = path.suffix.lstrip(".").lower() or "png"
    if fmt not in SAVE_FORMATS:
        raise OutputError(f"{path}: unsupported plot format '.{fmt}'; use one of {', '.join(SAVE_FORMATS)}")
    try:
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format=fmt, dpi=dpi)
    except OSError as exc:
        raise OutputError(f"{path}: cannot write plot ({exc.strerror or exc})") from None
    finally:
        pyplot().close(fig)
    return fig


def face_rows(frames: pd.DataFrame, max_faces: int | None = None) -> list[tuple[int, pd.DataFrame]]:
    """``(face_id, rows sorted by time)`` per face, longest on screen first (at most ``max_faces``)."""
    faces = frames[frames["face_id"] >= 0]
    ids = list(faces.groupby("face_id").size().sort_values(ascending=False, kind="stable").index)
    if max_faces is not None:
        ids = ids[:max_faces]
    return [(int(fid), faces[faces["face_id"] == fid].sort_values("time_s")) for fid in ids]


def frame_step(frames: pd.DataFrame) -> float:
    """Median time between analysed frames (0 for fewer than two frames)."""
    times = np.sort(frames["time_s"].unique())
    return float(np.median(np.diff(times))) if len(times) > 1 else 0.0


def with_gaps(t: np.ndarray, values: np.ndarray, max_gap: float) -> tuple[np.ndarray, np.ndarray]:
    """Insert a NaN sample wherever consecutive times are more than ``max_gap`` apart, so lines break there."""
    if len(t) < 2 or max_gap <= 0:
        return t, values
    cut = np.flatnonzero(np.diff(t) > max_gap) + 1
    if not len(cut):
        return t, values
    t2 = np.insert(t.astype(float), cut, (t[cut - 1] + t[cut]) / 2)
    v2 = np.insert(values.astype(float), cut, np.nan, axis=0)
    return t2, v2


def time_end(frames: pd.DataFrame) -> float:
    """Right end of the time axis."""
    return max(float(frames["time_s"].max()) if len(frames) else 0.0, 1e-3)
