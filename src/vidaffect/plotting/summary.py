"""Per-face summary bars: the share of time each emotion dominates, and mean valence/arousal."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from vidaffect.plotting.colors import AROUSAL_COLOR, VALENCE_COLOR, emotion_color
from vidaffect.plotting.common import new_figure, save_figure


def plot_face_summary(summary: pd.DataFrame, classes: list[str], path: str | Path | None = None,
                      title: str = "", max_faces: int = 20):
    """Left: per face, stacked horizontal bars of ``share_<class>``; right: mean valence and arousal bars.

    ``summary`` is :meth:`Results.summary` (one row per face)."""
    s = summary.sort_values("frames", ascending=False).head(max_faces) if len(summary) else summary
    n = max(len(s), 1)
    height = 0.45 * n + 1.9
    fig = new_figure(figsize=(11, height))
    ax1, ax2 = fig.subplots(1, 2, gridspec_kw={"width_ratios": [3, 2]})
    labels = [f"face {int(f)}" for f in s["face_id"]] if len(s) else []
    y = np.arange(len(s))
    left = np.zeros(len(s))
    for c in classes:
        col = f"share_{c}"
        if col not in s.columns:
            continue
        w = s[col].to_numpy(dtype=float)
        ax1.barh(y, w, left=left, color=emotion_color(c), label=c, height=0.7)
        left += np.nan_to_num(w)
    ax1.set_xlim(0, 1), ax1.set_xlabel("share of frames (dominant emotion)")
    h = 0.38
    ax2.barh(y - h / 2, s["mean_valence"].to_numpy(dtype=float) if len(s) else [], height=h, color=VALENCE_COLOR,
             label="valence")
    ax2.barh(y + h / 2, s["mean_arousal"].to_numpy(dtype=float) if len(s) else [], height=h, color=AROUSAL_COLOR,
             label="arousal", hatch="///", edgecolor="white")
    ax2.axvline(0, color="k", lw=0.6), ax2.set_xlim(-1, 1), ax2.set_xlabel("mean")
    for ax in (ax1, ax2):
        ax.set_yticks(y, labels), ax.set_ylim(n - 0.5, -0.5)
    if not len(s):
        ax1.text(0.5, 0.5, "no face found", ha="center", va="center", transform=ax1.transAxes)
    handles, names = ax1.get_legend_handles_labels()
    h2, n2 = ax2.get_legend_handles_labels()
    if len(s):
        fig.legend(handles + h2, names + n2, loc="upper right", ncol=min(len(names) + 2, 10), fontsize=7,
                   frameon=False)
    fig.suptitle(title or "per-face summary", fontsize=10, x=0.02, y=0.99, ha="left", va="top")
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.45 / height))
    return save_figure(fig, path)
