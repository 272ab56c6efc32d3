"""Confusion-matrix figure (row-normalised colours, counts and recall in each cell)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from vidaffect.utils.atomic import atomic_path


def plot_confusion(path: str | Path, confusion: np.ndarray, classes: tuple[str, ...] | list[str], title: str = "") -> Path:
    """Write the confusion matrix as a PNG atomically; return the path."""
    from matplotlib.figure import Figure  # object API: the caller's matplotlib backend is left alone

    cm = np.asarray(confusion, dtype=np.float64)
    rows = cm.sum(1, keepdims=True)
    norm = np.divide(cm, rows, out=np.zeros_like(cm), where=rows > 0)
    n = len(classes)
    fig = Figure(figsize=(1.1 * n + 2, 1.0 * n + 1.5))
    ax = fig.subplots()
    im = ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(n), classes, rotation=45, ha="right")
    ax.set_yticks(range(n), classes)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    for i in range(n):
        for j in range(n):
            ax.text(j, i, f"{int(cm[i, j])}\n{norm[i, j]:.2f}", ha="center", va="center", fontsize=8,
                    color="white" if norm[i, j] > 0.5 else "black")
    fig.colorbar(im, ax=ax, fraction=0.046, label="fraction of true class")
    if title:
        ax.set_title(title)
    fig.tight_layout()
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100)
    return path
