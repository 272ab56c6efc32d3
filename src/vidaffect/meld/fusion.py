"""Late-fusion baseline: one logistic regression per modality, fused by averaging their class probabilities.

Scored like MELD: weighted F1 over the 7 emotions, plus per-class F1 and the
confusion matrix (rows = true, columns = predicted, in :data:`EMOTIONS` order).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from vidaffect.errors import VidaffectError
from vidaffect.meld.data import EMOTIONS
from vidaffect.meld.features import DEFAULT_MODALITIES, modality_columns


def _model(seed: int):
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(SimpleImputer(strategy="median", keep_empty_features=True), StandardScaler(),
                         LogisticRegression(max_iter=2000, class_weight="balanced", random_state=seed))


def scores(y_true: list[str], y_pred: list[str], classes: tuple[str, ...] = EMOTIONS) -> dict:
    """Weighted F1 (MELD's metric), macro F1, accuracy, per-class F1 and the confusion matrix."""
    from sklearn.metrics import accuracy_score, confusion_matrix, f1_score

    labels = list(classes)
    per = f1_score(y_true, y_pred, labels=labels, average=None, zero_division=0)
    return {
        "weighted_f1": float(f1_score(y_true, y_pred, labels=labels, average="weighted", zero_division=0)),
        "macro_f1": float(f1_score(y_true, y_pred, labels=labels, average="macro", zero_division=0)),
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "per_class_f1": {c: float(f) for c, f in zip(labels, per)},
        "confusion": confusion_matrix(y_true, y_pred, labels=labels).tolist(),
        "classes": labels, "n": int(len(y_true)),
    }


@dataclass
class FusionResult:
    report: dict  # {modality or "fused": scores}
    predictions: pd.DataFrame  # per test utterance: true label, prediction per modality and fused


def late_fusion(train: pd.DataFrame, test: pd.DataFrame, modalities: tuple[str, ...] = DEFAULT_MODALITIES,
                label: str = "Emotion", seed: int = 0) -> FusionResult:
    """Fit one classifier per modality on ``train``, score each and their probability average on ``test``."""
    y_train = train[label].astype(str).to_numpy()
    if len(set(y_train)) < 2:
        raise VidaffectError(f"training features have only {len(set(y_train))} distinct {label} label(s); need 2+")
    used, probs, report = [], [], {}
    preds = pd.DataFrame({"true": test[label].astype(str).to_numpy()}, index=test.index)
    classes = None
    for m in modalities:
        cols = modality_columns(train, m)
        if not cols or train[cols].isna().all().all():
            continue
        clf = _model(seed).fit(train[cols].to_numpy(np.float64), y_train)
        x = test.reindex(columns=cols).to_numpy(np.float64)
        p = clf.predict_proba(x)
        classes = clf.classes_
        preds[m] = classes[p.argmax(1)]
        report[m] = scores(preds["true"].tolist(), preds[m].tolist())
        report[m]["features"] = len(cols)
        used.append(m)
        probs.append(p)
    if not used:
        raise VidaffectError(f"no features of modalities {', '.join(modalities)} in the training table")
    fused = np.mean(probs, axis=0)
    preds["fused"] = classes[fused.argmax(1)]
    report["fused"] = scores(preds["true"].tolist(), preds["fused"].tolist())
    report["fused"]["modalities"] = used
    return FusionResult(report, preds)


def format_report(report: dict) -> str:
    """Text tables: weighted F1, macro F1, accuracy per modality, per-class F1, and each confusion matrix."""
    lines = [f"{'modality':<10} {'wF1':>6} {'macroF1':>8} {'acc':>6}  n"]
    for m, r in report.items():
        lines.append(f"{m:<10} {r['weighted_f1']:6.3f} {r['macro_f1']:8.3f} {r['accuracy']:6.3f}  {r['n']}")
    classes = report["fused"]["classes"]
    lines.append("\nper-class F1  " + " ".join(f"{c[:8]:>8}" for c in classes))
    for m, r in report.items():
        lines.append(f"{m:<13} " + " ".join(f"{r['per_class_f1'][c]:8.3f}" for c in classes))
    for m, r in report.items():
        lines.append(f"\nconfusion, {m} (rows true, columns predicted)")
        lines.append(" " * 9 + " ".join(f"{c[:7]:>7}" for c in classes))
        for c, row in zip(classes, r["confusion"]):
            lines.append(f"{c[:8]:<8} " + " ".join(f"{v:7d}" for v in row))
    return "\n".join(lines)
