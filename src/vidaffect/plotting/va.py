"""Valence/arousal plots: trend over time and scatter on Russell's circumplex."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from vidaffect.labels import CIRCUMPLEX_VA
from vidaffect.plotting.colors import (AROUSAL_COLOR, AROUSAL_STYLE, VALENCE_COLOR, VALENCE_STYLE, emotion_color,
                                       face_color)
from vidaffect.plotting.common import face_rows, frame_step, new_figure, save_figure, time_span, with_gaps


def plot_va_trend(frames: pd.DataFrame, path: str | Path | None = None, title: str = "", max_faces: int = 6):
    """Per face (longest first), valence and arousal over time in [-1, 1]; lines break where the face is absent."""
    faces = face_rows(frames, max_faces)
    n = max(len(faces), 1)
    fig = new_figure(figsize=(11, 1.9 * n + 0.6))
    axes = fig.subplots(n, 1, squeeze=False, sharex=True)
    (t0, t1), gap = time_span(frames), 2.5 * frame_step(frames)
    if not faces:
        axes[0, 0].text(0.5, 0.5, "no face found", ha="center", va="center", transform=axes[0, 0].transAxes)
    for (fid, g), ax in zip(faces, axes[:, 0]):
        t, va = with_gaps(g["time_s"].to_numpy(dtype=float), g[["valence", "arousal"]].to_numpy(dtype=float), gap)
        ax.plot(t, va[:, 0], color=VALENCE_COLOR, ls=VALENCE_STYLE, label="valence", lw=1.2)
        ax.plot(t, va[:, 1], color=AROUSAL_COLOR, ls=AROUSAL_STYLE, label="arousal", lw=1.2)
        ax.axhline(0, color="k", lw=0.5)
        ax.set_ylim(-1, 1), ax.set_xlim(t0, t1), ax.set_ylabel(f"face {fid}"), ax.grid(alpha=0.3)
    axes[0, 0].legend(loc="upper right", fontsize=8, ncol=2)
    axes[-1, 0].set_xlabel("time (s)")
    fig.suptitle(title or "valence / arousal", y=0.995, fontsize=10, x=0.02, ha="left")
    fig.tight_layout(rect=(0, 0, 1, 0.97))
    return save_figure(fig, path)


CIRCUMPLEX_FACES = 6
CIRCUMPLEX_POINTS = 2000


def circumplex_positions(n: int, max_points: int = CIRCUMPLEX_POINTS) -> np.ndarray:
    """Which of a face's ``n`` samples with finite valence and arousal (in time order) the circumplex draws."""
    return np.arange(n) if n <= max_points else np.linspace(0, n - 1, max_points).astype(int)


class CircumplexSampler:
    """The samples :func:`plot_va_circumplex` draws, taken from batches of the table in time order:
    ``finite`` is each drawn face's number of rows with finite valence and arousal (a first pass).  Holds at
    most ``max_points`` rows per face; :meth:`frame` gives them, to pass with ``faces`` to the plot."""

    def __init__(self, finite: dict[int, int], max_points: int = CIRCUMPLEX_POINTS) -> None:
        self.pick = {f: circumplex_positions(n, max_points) for f, n in finite.items()}
        self.seen = {f: 0 for f in finite}
        self.parts: list[pd.DataFrame] = []

    def update(self, batch: pd.DataFrame) -> None:
        if batch.empty or not self.pick:
            return
        fid = batch["face_id"].to_numpy()
        v = batch["valence"].to_numpy(dtype=float)
        a = batch["arousal"].to_numpy(dtype=float)
        ok = np.isfinite(v) & np.isfinite(a) & np.isin(fid, list(self.pick))
        rows = np.flatnonzero(ok)
        for f in np.unique(fid[rows]):
            f = int(f)
            pos = rows[fid[rows] == f]
            first = self.seen[f]
            self.seen[f] += len(pos)
            take = pos[self.pick[f][(self.pick[f] >= first) & (self.pick[f] < first + len(pos))] - first]
            if len(take):
                self.parts.append(pd.DataFrame({"face_id": f, "time_s": batch["time_s"].to_numpy()[take],
                                                "valence": v[take], "arousal": a[take]}))

    def frame(self) -> pd.DataFrame:
        if not self.parts:
            return pd.DataFrame({"face_id": pd.Series(dtype=np.int64), "time_s": pd.Series(dtype=float),
                                 "valence": pd.Series(dtype=float), "arousal": pd.Series(dtype=float)})
        return pd.concat(self.parts, ignore_index=True)


def plot_va_circumplex(frames: pd.DataFrame, path: str | Path | None = None, title: str = "",
                       classes: list[str] | None = None, max_faces: int = CIRCUMPLEX_FACES,
                       max_points: int = CIRCUMPLEX_POINTS, faces: list[int] | None = None):
    """Every face's (valence, arousal) samples on the circumplex, with the emotion anchors of
    :data:`vidaffect.labels.CIRCUMPLEX_VA` labelled (only ``classes`` when given).

    ``faces``: the face ids to draw, in this order (default: the ``max_faces`` longest on screen in
    ``frames``); given when ``frames`` holds only the samples to draw (:class:`CircumplexSampler`)."""
    fig = new_figure(figsize=(5.6, 5.6))
    ax = fig.subplots()
    theta = np.linspace(0, 2 * np.pi, 200)
    ax.plot(np.cos(theta), np.sin(theta), color="#bbbbbb", lw=0.8)
    ax.axhline(0, color="#888888", lw=0.6), ax.axvline(0, color="#888888", lw=0.6)
    drawn = face_rows(frames, max_faces if faces is None else None, faces)
    for (fid, g) in drawn:
        va = g[["valence", "arousal"]].to_numpy(dtype=float)
        va = va[np.isfinite(va).all(axis=1)]
        if len(va) > max_points:
            va = va[circumplex_positions(len(va), max_points)]
        if len(va):
            ax.scatter(va[:, 0], va[:, 1], s=6, alpha=0.35, color=face_color(fid), label=f"face {fid}", lw=0)
            ax.scatter(*va.mean(axis=0), s=70, color=face_color(fid), edgecolor="k", zorder=5, marker="X")
    for name, (v, a) in CIRCUMPLEX_VA.items():
        if classes is not None and name not in classes:
            continue
        ax.scatter([v], [a], s=30, color=emotion_color(name), edgecolor="k", zorder=4)
        ax.annotate(name, (v, a), xytext=(4, 4), textcoords="offset points", fontsize=8)
    ax.set_xlim(-1.05, 1.05), ax.set_ylim(-1.05, 1.05), ax.set_aspect("equal")
    ax.set_xlabel("valence"), ax.set_ylabel("arousal")
    ax.set_title(title or "valence / arousal circumplex (X: face mean)", fontsize=10)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="lower right", fontsize=7, markerscale=2)
    fig.tight_layout()
    return save_figure(fig, path)
