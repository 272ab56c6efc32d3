"""Classification metrics: accuracy, macro-F1, per-class precision/recall/F1, confusion matrix.

Conventions: rows of the confusion matrix are true classes, columns predicted
ones.  A class without true samples has undefined recall (NaN) and is left out
of the macro averages; precision of a never-predicted class is 0 (as
scikit-learn's ``zero_division=0``).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, num_classes: int) -> np.ndarray:
    """Counts ``(num_classes, num_classes)``: entry ``[t, p]`` = samples of class t predicted as p."""
    y_true = np.asarray(y_true, dtype=np.int64)
    y_pred = np.asarray(y_pred, dtype=np.int64)
    if y_true.shape != y_pred.shape:
        raise ValueError(f"y_true {y_true.shape} and y_pred {y_pred.shape} differ in shape")
    cm = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(cm, (y_true, y_pred), 1)
    return cm


@dataclass
class ClassificationReport:
    classes: tuple[str, ...]
    confusion: np.ndarray
    accuracy: float
    macro_f1: float
    macro_recall: float  # "balanced accuracy"
    recall: np.ndarray
    precision: np.ndarray
    f1: np.ndarray
    support: np.ndarray

    def to_dict(self) -> dict:
        def clean(a: np.ndarray) -> list:
            return [None if np.isnan(v) else round(float(v), 6) for v in a]

        return {
            "num_samples": int(self.support.sum()),
            "accuracy": self.accuracy,
            "macro_f1": self.macro_f1,
            "macro_recall": self.macro_recall,
            "classes": list(self.classes),
            "per_class": {
                c: {"recall": r, "precision": p, "f1": f, "support": int(s)}
                for c, r, p, f, s in zip(self.classes, clean(self.recall), clean(self.precision), clean(self.f1),
                                         self.support)
            },
            "confusion_matrix": self.confusion.tolist(),
        }

    def format(self) -> str:
        """Human-readable table: summary, per-class recall/precision/F1, confusion matrix."""
        w = max(8, max(len(c) for c in self.classes))
        lines = [f"samples {int(self.support.sum())}  accuracy {self.accuracy:.4f}  macro-F1 {self.macro_f1:.4f}  "
                 f"mean recall {self.macro_recall:.4f}", "",
                 f"{'class':<{w}}  recall  precision      F1  support"]
        for i, c in enumerate(self.classes):
            r = "    -" if np.isnan(self.recall[i]) else f"{self.recall[i]:.4f}"
            lines.append(f"{c:<{w}}  {r:>6}  {self.precision[i]:>9.4f}  {self.f1[i]:>6.4f}  {int(self.support[i]):>7}")
        lines += ["", "confusion matrix (rows: true, columns: predicted)",
                  " " * w + "  " + " ".join(f"{c[:7]:>7}" for c in self.classes)]
        for i, c in enumerate(self.classes):
            lines.append(f"{c:<{w}}  " + " ".join(f"{v:>7d}" for v in self.confusion[i]))
        return "\n".join(lines)


def classification_report(y_true: np.ndarray, y_pred: np.ndarray, classes: tuple[str, ...] | list[str]) -> ClassificationReport:
    """All metrics for integer labels/predictions over ``classes``."""
    classes = tuple(classes)
    cm = confusion_matrix(y_true, y_pred, len(classes))
    support = cm.sum(1)
    predicted = cm.sum(0)
    tp = np.diag(cm).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        recall = np.where(support > 0, tp / np.maximum(support, 1), np.nan)
        precision = np.where(predicted > 0, tp / np.maximum(predicted, 1), 0.0)
        denom = precision + np.nan_to_num(recall)
        f1 = np.where(denom > 0, 2 * precision * np.nan_to_num(recall) / np.where(denom > 0, denom, 1), 0.0)
    present = support > 0
    total = int(support.sum())
    return ClassificationReport(
        classes=classes,
        confusion=cm,
        accuracy=float(tp.sum() / total) if total else float("nan"),
        macro_f1=float(f1[present].mean()) if present.any() else float("nan"),
        macro_recall=float(recall[present].mean()) if present.any() else float("nan"),
        recall=recall,
        precision=precision,
        f1=f1,
        support=support,
    )


@dataclass
class Calibration:
    """Top-label calibration in equal-width confidence bins (Guo et al. 2017)."""

    ece: float  # expected calibration error: sum over bins of |accuracy - confidence| weighted by bin share
    edges: np.ndarray  # (bins + 1,)
    confidence: np.ndarray  # (bins,) mean confidence per bin (NaN when empty)
    accuracy: np.ndarray  # (bins,) accuracy per bin (NaN when empty)
    count: np.ndarray  # (bins,)

    def to_dict(self) -> dict:
        def clean(a: np.ndarray) -> list:
            return [None if np.isnan(v) else round(float(v), 6) for v in a]

        return {"ece": round(self.ece, 6), "bins": len(self.count), "bin_confidence": clean(self.confidence),
                "bin_accuracy": clean(self.accuracy), "bin_count": self.count.tolist()}


def calibration(probs: np.ndarray, correct: np.ndarray, bins: int = 15) -> Calibration:
    """ECE and reliability bins of predictions with top-class probability ``probs.max(1)`` and ``correct`` (bool)."""
    probs = np.asarray(probs, dtype=np.float64)
    correct = np.asarray(correct, dtype=bool)
    if probs.ndim != 2 or len(probs) != len(correct):
        raise ValueError(f"probs {probs.shape} and correct {correct.shape} do not match")
    conf = probs.max(1) if len(probs) else np.zeros(0)
    edges = np.linspace(0.0, 1.0, bins + 1)
    idx = np.clip(np.searchsorted(edges, conf, side="left") - 1, 0, bins - 1)  # bins are (lo, hi], the first [0, hi]
    count = np.bincount(idx, minlength=bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_conf = np.bincount(idx, weights=conf, minlength=bins) / count
        acc = np.bincount(idx, weights=correct.astype(np.float64), minlength=bins) / count
    filled = count > 0
    ece = float((np.abs(acc[filled] - mean_conf[filled]) * count[filled]).sum() / max(len(conf), 1))
    return Calibration(ece, edges, mean_conf, acc, count)
