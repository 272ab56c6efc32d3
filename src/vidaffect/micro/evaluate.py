"""Metrics, confusion matrix, results files and checkpoint evaluation for DSSN/SSSN.

Per fold: accuracy and weighted F1 (averaged over folds as in Khor et al.).
Pooled over all folds' predictions: accuracy, weighted F1, UF1 (unweighted /
macro F1) and UAR (unweighted average recall), as in the MEGC benchmarks.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd
import torch
from sklearn.metrics import confusion_matrix, f1_score, recall_score

from vidaffect.errors import VidaffectError
from vidaffect.micro.datasets import MicroFeatureSet, parse_image_modes
from vidaffect.micro.networks import build_network
from vidaffect.models.checkpoint import load_model_checkpoint, load_state_strict
from vidaffect.utils.atomic import atomic_path, atomic_write_text

CHECKPOINT_FORMAT = "vidaffect-micro/1"


def classification_metrics(y_true: Sequence[int], y_pred: Sequence[int], num_classes: int) -> dict[str, float]:
    """accuracy, weighted F1, UF1 (macro F1) and UAR (macro recall) over ``num_classes`` labels."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if len(y_true) == 0:
        return {"accuracy": float("nan"), "weighted_f1": float("nan"), "uf1": float("nan"), "uar": float("nan")}
    present = np.unique(y_true)  # UF1/UAR average over classes that occur, as in MEGC
    return {
        "accuracy": float((y_true == y_pred).mean()),
        "weighted_f1": float(f1_score(y_true, y_pred, average="weighted", zero_division=0)),
        "uf1": float(f1_score(y_true, y_pred, labels=present, average="macro", zero_division=0)),
        "uar": float(recall_score(y_true, y_pred, labels=present, average="macro", zero_division=0)),
    }


def plot_confusion(cm: np.ndarray, classes: Sequence[str], path: str | Path, title: str = "") -> Path:
    """Confusion matrix (counts, rows = true class) as a PNG, written atomically."""
    from matplotlib.figure import Figure  # object API: the caller's matplotlib backend is left alone

    n = len(classes)
    fig = Figure(figsize=(1.2 * n + 2.5, 1.1 * n + 2))
    ax = fig.subplots()
    ax.imshow(cm, cmap="Blues")
    ax.set_xticks(range(n), classes, rotation=45, ha="right")
    ax.set_yticks(range(n), classes)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    top = cm.max() if cm.size else 0
    for i in range(n):
        for j in range(n):
            ax.text(j, i, str(int(cm[i, j])), ha="center", va="center", color="white" if cm[i, j] > top / 2 else "black")
    ax.set_title(title or "confusion matrix")
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100)
    return Path(path)


def write_results(
    out_dir: str | Path,
    folds: pd.DataFrame,
    predictions: pd.DataFrame,
    classes: Sequence[str],
    config: dict[str, Any],
) -> dict[str, Any]:
    """Write results.csv (per fold + mean + pooled rows), results.json, predictions.csv, confusion_matrix.png."""
    out_dir = Path(out_dir)
    y_true = predictions["true_index"].to_numpy()
    y_pred = predictions["pred_index"].to_numpy()
    pooled = classification_metrics(y_true, y_pred, len(classes))
    fold_mean = {k: float(folds[k].mean()) for k in ("accuracy", "weighted_f1")} if len(folds) else {}
    cm = confusion_matrix(y_true, y_pred, labels=list(range(len(classes))))
    rows = folds.assign(row="fold")
    summary_rows = pd.DataFrame(
        [
            {"row": "mean_over_folds", "subject": "", "n": int(folds["n"].sum()), **fold_mean},
            {"row": "pooled", "subject": "", "n": len(predictions), **pooled},
        ]
    )
    table = pd.concat([rows, summary_rows], ignore_index=True)
    cols = ["row", "subject", "n", "accuracy", "weighted_f1", "uf1", "uar"]
    table = table.reindex(columns=cols)
    with atomic_path(out_dir / "results.csv") as tmp:
        table.to_csv(tmp, index=False)
    with atomic_path(out_dir / "predictions.csv") as tmp:
        predictions.to_csv(tmp, index=False)
    result = {
        "classes": list(classes),
        "pooled": pooled,
        "mean_over_folds": fold_mean,
        "folds": json.loads(folds.to_json(orient="records")),
        "confusion_matrix": cm.tolist(),
        "config": config,
    }
    atomic_write_text(out_dir / "results.json", json.dumps(result, indent=2))
    plot_confusion(cm, classes, out_dir / "confusion_matrix.png", title=f"pooled: acc {pooled['accuracy']:.3f}, UF1 {pooled['uf1']:.3f}")
    return result


def model_config(cfg: Any, classes: Sequence[str], **extra: Any) -> dict[str, Any]:
    """JSON config stored beside a DSSN/SSSN checkpoint's weights."""
    return {
        "format": CHECKPOINT_FORMAT,
        "model": cfg.model.upper(),
        "num_classes": len(classes),
        "classes": list(classes),
        "combination_mode": cfg.combination_mode,
        "image_mode": list(cfg.image_mode),
        "input_size": cfg.input_size,
        "dropout": cfg.dropout,
        **extra,
    }


def load_micro_checkpoint(path: str | Path) -> tuple[torch.nn.Module, dict[str, Any]]:
    """Rebuild a DSSN/SSSN from a checkpoint written by ``vidaffect micro train``."""
    state, cfg = load_model_checkpoint(path)
    if cfg.get("format") != CHECKPOINT_FORMAT:
        raise VidaffectError(f"{path}: not a micro-expression checkpoint (format {cfg.get('format')!r})")
    net = build_network(cfg["model"], cfg["num_classes"], cfg["combination_mode"], cfg["input_size"], cfg["dropout"])
    load_state_strict(net, state, path)
    net.eval()
    return net, cfg


@torch.no_grad()
def predict_probs(net: torch.nn.Module, data: MicroFeatureSet, indices: np.ndarray, modes: Sequence[str], batch_size: int = 32) -> np.ndarray:
    """Softmax probabilities (N, C) for the samples ``indices``."""
    net.eval()
    out = []
    for start in range(0, len(indices), batch_size):
        inputs = data.inputs(indices[start : start + batch_size], modes)
        out.append(torch.softmax(net(*inputs), dim=1).numpy())
    return np.concatenate(out) if out else np.zeros((0, len(data.classes)), np.float32)


def predictions_frame(data: MicroFeatureSet, indices: np.ndarray, probs: np.ndarray, classes: Sequence[str], fold: str) -> pd.DataFrame:
    pred = probs.argmax(1)
    frame = pd.DataFrame(
        {
            "fold": fold,
            "subject": data.subjects[indices],
            "clip": data.table["clip"].to_numpy()[indices],
            "true": [classes[i] for i in data.labels[indices]],
            "pred": [classes[i] for i in pred],
            "true_index": data.labels[indices],
            "pred_index": pred,
        }
    )
    for j, c in enumerate(classes):
        frame[f"p_{c}"] = probs[:, j]
    return frame


def evaluate_checkpoints(source: str | Path, data_dir: str | Path, out_dir: str | Path, batch_size: int = 32, labels_csv: str | Path | None = None) -> dict[str, Any]:
    """Evaluate a checkpoint on all samples of a cache, or a LOSO run folder fold by fold.

    ``source``: a ``.safetensors`` checkpoint, or a training output folder with
    ``folds/fold_<subject>.safetensors`` (each fold's model scored on its held-out subject).
    """
    source = Path(source)
    fold_ckpts = sorted((source / "folds").glob("fold_*.safetensors")) if source.is_dir() else []
    if source.is_dir() and not fold_ckpts:
        single = source / "model.safetensors"
        if not single.is_file():
            raise VidaffectError(f"{source}: no folds/fold_*.safetensors or model.safetensors inside")
        fold_ckpts, source = [], single
    if fold_ckpts:
        _, cfg0 = load_micro_checkpoint(fold_ckpts[0])
    else:
        _, cfg0 = load_micro_checkpoint(source)
    classes = cfg0["classes"]
    data = MicroFeatureSet(data_dir, input_size=cfg0["input_size"], labels_csv=labels_csv, classes=classes)
    modes = parse_image_modes(cfg0["image_mode"])
    fold_rows, preds = [], []
    jobs = []
    if fold_ckpts:
        for ck in fold_ckpts:
            net, cfg = load_micro_checkpoint(ck)
            subject = str(cfg.get("held_out_subject"))
            idx = np.flatnonzero(data.subjects == subject)
            if len(idx):
                jobs.append((net, subject, idx))
    else:
        net, _ = load_micro_checkpoint(source)
        jobs.append((net, "all", np.arange(len(data))))
    if not jobs:
        raise VidaffectError(f"{data_dir}: none of the held-out subjects of {source} are in this cache")
    for net, subject, idx in jobs:
        probs = predict_probs(net, data, idx, modes, batch_size)
        frame = predictions_frame(data, idx, probs, classes, subject)
        m = classification_metrics(frame["true_index"], frame["pred_index"], len(classes))
        fold_rows.append({"subject": subject, "n": len(idx), **m})
        preds.append(frame)
    return write_results(out_dir, pd.DataFrame(fold_rows), pd.concat(preds, ignore_index=True), classes, {"checkpoint": str(source), "data": str(data_dir)})
