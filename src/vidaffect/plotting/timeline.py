"""Per-face valence/arousal trend and emotion timeline (like the MIMAMO API's ``_va_trend.png``)."""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from vidaffect.plotting.colors import (AROUSAL_COLOR, AROUSAL_STYLE, EMOTION_COLORS, VALENCE_COLOR,  # noqa: F401
                                       VALENCE_STYLE, emotion_color)
from vidaffect.plotting.common import face_rows, frame_step, new_figure, save_figure, time_span, with_gaps


def plot_results(frames: pd.DataFrame, classes: list[str], title: str = "", path: str | Path | None = None,
                 max_faces: int = 6, time_range: tuple[float, float] | None = None, step: float | None = None,
                 faces: list[int] | None = None):
    """Figure with, per face (at most ``max_faces``, longest on screen first), a VA trend and a
    stacked emotion-probability timeline.  Saves to ``path`` (PNG/SVG/PDF by suffix) when given.

    The time axis covers the analysed times only; lines break where a face is absent.  ``time_range`` and
    ``step`` (time between samples) replace what ``frames`` say when it holds only some rows or time bins
    (:func:`vidaffect.results.plot_data.binned_face_rows`); ``faces`` then names the faces to draw, in order
    (time bins cannot tell which face was on screen longest)."""
    faces = face_rows(frames, max_faces, faces)
    n = max(len(faces), 1)
    fig = new_figure(figsize=(13, 2.6 * n))
    axes = fig.subplots(n, 2, squeeze=False)
    t0, t1 = time_range if time_range is not None else time_span(frames)
    gap = 2.5 * (step if step is not None else frame_step(frames))
    if not faces:
        for ax in axes[0]:
            ax.text(0.5, 0.5, "no face found", ha="center", va="center", transform=ax.transAxes)
            ax.set_xlim(t0, t1)
    present = [c for c in classes if c in frames.columns]
    for row, (fid, g) in enumerate(faces):
        t, va = with_gaps(g["time_s"].to_numpy(dtype=float), g[["valence", "arousal"]].to_numpy(dtype=float), gap)
        ax = axes[row, 0]
        ax.plot(t, va[:, 0], color=VALENCE_COLOR, ls=VALENCE_STYLE, label="valence")
        ax.plot(t, va[:, 1], color=AROUSAL_COLOR, ls=AROUSAL_STYLE, label="arousal")
        ax.axhline(0, color="k", lw=0.5)
        ax.set_ylim(-1, 1), ax.set_xlim(t0, t1), ax.set_ylabel(f"face {fid}")
        ax.grid(alpha=0.3)
        if row == 0:
            ax.set_title("valence / arousal"), ax.legend(loc="upper right", fontsize=8)
        ax = axes[row, 1]
        if present:
            tp, probs = with_gaps(g["time_s"].to_numpy(dtype=float), g[present].to_numpy(dtype=float), gap)
            ax.stackplot(tp, probs.T, labels=present, colors=[emotion_color(c) for c in present], alpha=0.9)
        ax.set_ylim(0, 1), ax.set_xlim(t0, t1)
        if row == 0:
            ax.set_title("emotion probabilities")
            if present:
                ax.legend(loc="upper left", fontsize=7, ncol=4, framealpha=0.8)
    for ax in axes[-1]:
        ax.set_xlabel("time (s)")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return save_figure(fig, path)
