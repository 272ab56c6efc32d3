"""Per-face valence/arousal trend and emotion timeline (like the MIMAMO API's ``_va_trend.png``)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

# One fixed colour per canonical class so every plot and report agrees.
EMOTION_COLORS = {
    "angry": "#d62728", "disgust": "#8c564b", "fear": "#9467bd", "happy": "#f1c40f",
    "sad": "#1f77b4", "surprise": "#ff7f0e", "neutral": "#7f7f7f", "contempt": "#17becf",
}


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_results(frames: pd.DataFrame, classes: list[str], title: str = "", path: str | Path | None = None,
                 max_faces: int = 6):
    """Figure with, per face (at most ``max_faces``, longest on screen first), a VA trend and a
    stacked emotion-probability timeline.  Saves to ``path`` (PNG/SVG by suffix) when given."""
    plt = _pyplot()
    faces = frames[frames["face_id"] >= 0]
    ids = list(faces.groupby("face_id").size().sort_values(ascending=False).index[:max_faces])
    n = max(len(ids), 1)
    fig, axes = plt.subplots(n, 2, figsize=(13, 2.6 * n), squeeze=False)
    t_end = float(frames["time_s"].max()) if len(frames) else 1.0
    if not ids:
        for ax in axes[0]:
            ax.text(0.5, 0.5, "no face found", ha="center", va="center", transform=ax.transAxes)
            ax.set_xlim(0, max(t_end, 1e-3))
    for row, fid in enumerate(ids):
        g = faces[faces["face_id"] == fid].sort_values("time_s")
        t = g["time_s"].to_numpy()
        ax = axes[row, 0]
        ax.plot(t, g["valence"], color="#2ca02c", label="valence")
        ax.plot(t, g["arousal"], color="#d62728", label="arousal")
        ax.axhline(0, color="k", lw=0.5)
        ax.set_ylim(-1, 1), ax.set_xlim(0, max(t_end, 1e-3)), ax.set_ylabel(f"face {fid}")
        ax.grid(alpha=0.3)
        if row == 0:
            ax.set_title("valence / arousal"), ax.legend(loc="upper right", fontsize=8)
        ax = axes[row, 1]
        present = [c for c in classes if c in g.columns]
        if present:
            probs = np.nan_to_num(g[present].to_numpy(dtype=float)).T
            ax.stackplot(t, probs, labels=present, colors=[EMOTION_COLORS.get(c, None) for c in present], alpha=0.9)
        ax.set_ylim(0, 1), ax.set_xlim(0, max(t_end, 1e-3))
        if row == 0:
            ax.set_title("emotion probabilities")
            if present:
                ax.legend(loc="upper left", fontsize=7, ncol=4, framealpha=0.8)
    for ax in axes[-1]:
        ax.set_xlabel("time (s)")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    if path is not None:
        from vidaffect.utils.atomic import atomic_path

        path = Path(path)
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format=path.suffix.lstrip(".") or "png", dpi=90)
        plt.close(fig)
    return fig
