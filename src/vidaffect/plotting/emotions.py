"""Stacked emotion-probability timeline, one panel per face."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from vidaffect.plotting.colors import emotion_color
from vidaffect.plotting.common import face_rows, frame_step, new_figure, save_figure, time_span, with_gaps


def plot_emotion_timeline(frames: pd.DataFrame, classes: list[str], path: str | Path | None = None,
                          title: str = "", max_faces: int = 6):
    """Per face (longest first), the class probabilities stacked over time; gaps where the face is absent."""
    from matplotlib.patches import Rectangle

    faces = face_rows(frames, max_faces)
    n = max(len(faces), 1)
    fig = new_figure(figsize=(11, 1.9 * n + 0.6))
    axes = fig.subplots(n, 1, squeeze=False, sharex=True)
    (t0, t1), gap = time_span(frames), 2.5 * frame_step(frames)
    present = [c for c in classes if c in frames.columns]
    if not faces:
        axes[0, 0].text(0.5, 0.5, "no face found", ha="center", va="center", transform=axes[0, 0].transAxes)
    for (fid, g), ax in zip(faces, axes[:, 0]):
        t = g["time_s"].to_numpy(dtype=float)
        probs = g[present].to_numpy(dtype=float)
        t, probs = with_gaps(t, probs, gap)
        ax.stackplot(t, probs.T, labels=present, colors=[emotion_color(c) for c in present], alpha=0.9)
        ax.set_ylim(0, 1), ax.set_xlim(t0, t1), ax.set_ylabel(f"face {fid}")
    if present:
        handles = [Rectangle((0, 0), 1, 1, color=emotion_color(c)) for c in present]
        fig.legend(handles, present, loc="upper center", ncol=len(present), fontsize=8, frameon=False)
    axes[-1, 0].set_xlabel("time (s)")
    fig.suptitle(title or "emotion probabilities", y=0.995, fontsize=10, x=0.02, ha="left")
    fig.tight_layout(rect=(0, 0, 1, 0.95))
    return save_figure(fig, path)


def dominant_shares(frames: pd.DataFrame, classes: list[str]) -> pd.DataFrame:
    """Per face: the share of frames where each class is the dominant emotion (rows: face ids)."""
    faces = frames[frames["face_id"] >= 0]
    shares = pd.crosstab(faces["face_id"], faces["emotion"], normalize="index") if len(faces) else pd.DataFrame()
    return shares.reindex(columns=classes, fill_value=0.0).fillna(0.0).astype(np.float64)
