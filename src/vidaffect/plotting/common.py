"""Helpers shared by every plot: figures without pyplot, atomic PNG/SVG/PDF saving, gap breaking.

No module of vidaffect imports ``matplotlib.pyplot`` or calls ``matplotlib.use``:
figures are :class:`matplotlib.figure.Figure` objects made directly (object
API), so the caller's backend and pyplot's figure list stay as they were.
``Figure.savefig`` renders with the canvas of the file format (Agg for PNG).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from vidaffect.plotting.colors import (AROUSAL_COLOR, AROUSAL_STYLE, FACE_PALETTE, VALENCE_COLOR,  # noqa: F401
                                       VALENCE_STYLE, face_color)

SAVE_FORMATS = ("png", "svg", "pdf")


def new_figure(**kwargs):
    """A :class:`matplotlib.figure.Figure` (``figsize``, ``dpi``...) that pyplot does not know about."""
    from matplotlib.figure import Figure

    return Figure(**kwargs)


def figure_png(fig, dpi: int = 80) -> bytes:
    """``fig`` rendered as PNG bytes."""
    import io

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()


def save_figure(fig, path: str | Path | None, dpi: int = 90):
    """Save ``fig`` atomically to ``path`` (format from the suffix: .png, .svg, .pdf) and return ``fig``.

    Without a path the figure is only returned.
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
    return fig


def face_rows(frames: pd.DataFrame, max_faces: int | None = None,
              order: list[int] | None = None) -> list[tuple[int, pd.DataFrame]]:
    """``(face_id, rows sorted by time)`` per face, longest on screen first (at most ``max_faces``), or the faces
    ``order`` names, in that order (for ``frames`` that hold only samples or time bins of the faces)."""
    faces = frames[frames["face_id"] >= 0]
    if order is not None:
        ids = list(order)
    else:
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


def time_span(frames: pd.DataFrame) -> tuple[float, float]:
    """Limits of the time axis: the analysed times (first to last analysed frame), never empty.

    An analysis of ``--start 60 --end 90`` is drawn from 60 to 90 s, not from 0."""
    if not len(frames):
        return 0.0, 1e-3
    t0, t1 = float(frames["time_s"].min()), float(frames["time_s"].max())
    return t0, max(t1, t0 + 1e-3)
