"""Per-modality classifiers and their fusion, scored like MELD.

Each feature modality (``text_*``, ``audio_*``, ``face_*``, ``textemb_*`` columns) gets a logistic
regression fitted on the training table.  A modality that already *is* a classifier (``context``:
the conversation-aware text model's class probabilities, columns ``context_emotion_<class>`` and
``context_sentiment_<class>``) is used as it is, with no refit on the training table (it was
trained there, so its training probabilities are over-confident).

Fusion of the modalities' class probabilities:

- ``mean``: their average (no data needed; what ``meld eval`` does without ``--dev``);
- ``weighted``: a weighted average of the log-probabilities, the weights (a 0.05 grid on the
  simplex) chosen for the best weighted F1 on the dev table (the default with a dev table);
- ``stack``: a logistic regression on the modalities' log-probabilities, fitted on the dev table
  (more parameters: on MELD's 1,109 dev utterances it fits dev better and the test split worse
  than ``weighted`` for the 7 emotions).

The dev table is never used to fit a modality's own classifier, so its probabilities there are
honest.  Scores: weighted F1 (MELD's metric), macro F1 (over all classes of the label), accuracy,
per-class F1 and the confusion matrix (rows = true, columns = predicted, in :data:`EMOTIONS` or
:data:`SENTIMENTS` order).
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from vidaffect.errors import VidaffectError
from vidaffect.meld.data import EMOTIONS, SENTIMENTS
from vidaffect.meld.features import DEFAULT_MODALITIES, modality_columns

LABELS = {"Emotion": EMOTIONS, "Sentiment": SENTIMENTS}
FUSIONS = ("mean", "weighted", "stack")
PROBABILITY_MODALITIES = ("context",)  # modalities whose columns are class probabilities already


def label_classes(label: str) -> tuple[str, ...]:
    """The classes of a MELD label: the 7 emotions or the 3 sentiments."""
    try:
        return LABELS[label]
    except KeyError:
        raise VidaffectError(f"unknown label {label!r}; choose from {', '.join(LABELS)}") from None


def _model(seed: int, class_weight: str | None = "balanced"):
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(SimpleImputer(strategy="median", keep_empty_features=True), StandardScaler(),
                         LogisticRegression(max_iter=2000, class_weight=class_weight, random_state=seed))


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


def _check_labels(df: pd.DataFrame, label: str, classes: tuple[str, ...], what: str) -> np.ndarray:
    if label not in df.columns:
        raise VidaffectError(f"{what} features have no {label} column")
    y = df[label].astype(str).str.strip().str.lower().to_numpy()
    bad = sorted(set(y) - set(classes))
    if bad:
        raise VidaffectError(f"{what} features: unknown {label} label(s) {bad}; MELD has {', '.join(classes)}")
    return y


def probability_columns(modality: str, label: str, classes: tuple[str, ...]) -> list[str]:
    """Columns holding a probability modality's class probabilities for ``label``."""
    return [f"{modality}_{label.lower()}_{c}" for c in classes]


class _Modality:
    """One modality's probabilities over ``classes`` (in that order) for any features table."""

    def __init__(self, name: str, train: pd.DataFrame, y_train: np.ndarray, label: str, classes: tuple[str, ...],
                 seed: int, class_weight: str | None, dev: tuple[pd.DataFrame, np.ndarray] | None):
        self.name, self.classes, self.label = name, classes, label
        self.clf = None
        self.cols: list[str] = []
        self.class_weight = None
        if name in PROBABILITY_MODALITIES:
            cols = probability_columns(name, label, classes)
            if all(c in train.columns for c in cols):
                self.cols = cols
            return
        cols = modality_columns(train, name)
        if not cols or train[cols].isna().all().all():
            return
        self.cols = cols
        x = train[cols].to_numpy(np.float64)
        options = [class_weight] if class_weight != "auto" else ["balanced", None]
        if dev is None and class_weight == "auto":
            options = ["balanced"]
        best = None
        for cw in options:
            clf = _model(seed, cw).fit(x, y_train)
            if len(options) == 1:
                best = (0.0, cw, clf)
                break
            f1 = _wf1(dev[1], self._predict(clf, dev[0]), classes)
            if best is None or f1 > best[0]:
                best = (f1, cw, clf)
        _, self.class_weight, self.clf = best

    @property
    def usable(self) -> bool:
        return bool(self.cols)

    def _predict(self, clf, df: pd.DataFrame) -> np.ndarray:
        p = clf.predict_proba(df.reindex(columns=self.cols).to_numpy(np.float64))
        out = np.full((len(df), len(self.classes)), 1e-6)  # classes absent from the training labels
        for j, c in enumerate(clf.classes_):
            out[:, self.classes.index(c)] = p[:, j]
        return out / out.sum(1, keepdims=True)

    def proba(self, df: pd.DataFrame) -> np.ndarray:
        if self.clf is not None:
            return self._predict(self.clf, df)
        p = df.reindex(columns=self.cols).to_numpy(np.float64, copy=True)
        bad = ~np.isfinite(p).all(1)
        p[bad] = 1.0 / len(self.classes)  # utterances without this modality: uniform
        p = np.clip(p, 1e-6, None)
        return p / p.sum(1, keepdims=True)


def _wf1(y: np.ndarray, p: np.ndarray, classes: tuple[str, ...]) -> float:
    from sklearn.metrics import f1_score

    return float(f1_score(y, np.asarray(classes)[p.argmax(1)], labels=list(classes), average="weighted",
                          zero_division=0))


def simplex_grid(n: int, step: float = 0.05) -> np.ndarray:
    """All weight vectors of ``n`` non-negative multiples of ``step`` that sum to 1."""
    k = int(round(1 / step))
    if n == 1:
        return np.ones((1, 1))
    rows = [c for c in itertools.product(range(k + 1), repeat=n - 1) if sum(c) <= k]
    return np.array([[*c, k - sum(c)] for c in rows], dtype=np.float64) / k


@dataclass
class Fuser:
    """Fusion of per-modality probabilities: ``mean``, ``weighted`` (weights from dev) or ``stack`` (LR on dev)."""

    method: str
    classes: tuple[str, ...]
    weights: list[float] | None = None
    stacker: object = None
    info: dict = field(default_factory=dict)

    @classmethod
    def fit(cls, method: str, probs: list[np.ndarray], y: np.ndarray | None, classes: tuple[str, ...],
            seed: int = 0) -> "Fuser":
        if method not in FUSIONS:
            raise VidaffectError(f"unknown fusion {method!r}; choose from {', '.join(FUSIONS)}")
        if method == "mean":
            return cls(method, classes, weights=[1.0 / len(probs)] * len(probs))
        if y is None:
            raise VidaffectError(f"fusion {method!r} is learned on a dev table: pass --dev FEATURES")
        logs = [np.log(np.clip(p, 1e-6, None)) for p in probs]
        if method == "weighted":
            grid = simplex_grid(len(probs), 0.05 if len(probs) <= 4 else 0.1)
            order = np.argsort(np.asarray(classes))
            rows = order[np.searchsorted(np.asarray(classes)[order], y)]
            best, best_w = (-1.0, 0.0), None
            for w in grid:
                z = sum(wi * lp for wi, lp in zip(w, logs))
                z = z - z.max(1, keepdims=True)
                nll = float(np.mean(np.log(np.exp(z).sum(1)) - z[np.arange(len(y)), rows]))
                key = (round(_wf1(y, z, classes), 9), -nll)  # best weighted F1; ties: best dev log-loss
                if key > best:
                    best, best_w = key, w
            return cls(method, classes, weights=[float(v) for v in best_w], info={"dev_weighted_f1": best[0]})
        from sklearn.linear_model import LogisticRegression

        x = np.hstack(logs)
        stacker = LogisticRegression(max_iter=3000, C=1.0, random_state=seed).fit(x, y)
        return cls(method, classes, stacker=stacker,
                   info={"dev_weighted_f1": _wf1(y, cls(method, classes, stacker=stacker).proba(probs), classes)})

    def proba(self, probs: list[np.ndarray]) -> np.ndarray:
        if self.method == "mean":
            return np.mean(probs, axis=0)
        logs = [np.log(np.clip(p, 1e-6, None)) for p in probs]
        if self.method == "weighted":
            z = sum(w * lp for w, lp in zip(self.weights, logs))
            z = np.exp(z - z.max(1, keepdims=True))
            return z / z.sum(1, keepdims=True)
        p = self.stacker.predict_proba(np.hstack(logs))
        out = np.full((len(p), len(self.classes)), 1e-6)
        for j, c in enumerate(self.stacker.classes_):
            out[:, self.classes.index(c)] = p[:, j]
        return out / out.sum(1, keepdims=True)


@dataclass
class FusionResult:
    report: dict  # {modality or "fused": scores}
    predictions: pd.DataFrame  # per test utterance: true label, prediction per modality and fused


def late_fusion(train: pd.DataFrame, test: pd.DataFrame, modalities: tuple[str, ...] = DEFAULT_MODALITIES,
                label: str = "Emotion", seed: int = 0, dev: pd.DataFrame | None = None,
                fusion: str | None = None, class_weight: str | None = None) -> FusionResult:
    """Fit one classifier per modality on ``train``, fuse them (learned on ``dev`` if given), score on ``test``.

    ``fusion``: ``mean``, ``weighted`` or ``stack`` (default: ``weighted`` with a dev table, else ``mean``).
    ``class_weight``: ``balanced``, ``none`` or ``auto`` (the better of the two on dev, per modality;
    default: ``auto`` with a dev table, else ``balanced``).
    """
    classes = label_classes(label)
    fusion = fusion or ("weighted" if dev is not None else "mean")
    cw = class_weight or ("auto" if dev is not None else "balanced")
    if cw not in ("balanced", "none", "auto"):
        raise VidaffectError(f"unknown class weight {cw!r}; choose from balanced, none, auto")
    cw_arg = None if cw == "none" else cw
    y_train = _check_labels(train, label, classes, "training")
    y_test = _check_labels(test, label, classes, "test")
    y_dev = _check_labels(dev, label, classes, "dev") if dev is not None else None
    if len(set(y_train)) < 2:
        raise VidaffectError(f"training features have only {len(set(y_train))} distinct {label} label(s); need 2+")
    models = []
    for m in modalities:
        mod = _Modality(m, train, y_train, label, classes, seed, cw_arg, (dev, y_dev) if dev is not None else None)
        if mod.usable:
            models.append(mod)
    if not models:
        raise VidaffectError(f"no features of modalities {', '.join(modalities)} in the training table")
    preds = pd.DataFrame({"true": y_test}, index=test.index)
    report, test_probs = {}, []
    arr = np.asarray(classes)
    for mod in models:
        p = mod.proba(test)
        test_probs.append(p)
        preds[mod.name] = arr[p.argmax(1)]
        report[mod.name] = scores(y_test.tolist(), preds[mod.name].tolist(), classes)
        report[mod.name]["features"] = len(mod.cols)
        report[mod.name]["classifier"] = ("as given" if mod.clf is None else
                                          f"logistic regression, class weight {mod.class_weight or 'none'}")
    dev_probs = [mod.proba(dev) for mod in models] if dev is not None else None
    fuser = Fuser.fit(fusion, dev_probs if dev is not None else test_probs, y_dev, classes, seed)
    fused = fuser.proba(test_probs)
    preds["fused"] = arr[fused.argmax(1)]
    report["fused"] = scores(y_test.tolist(), preds["fused"].tolist(), classes)
    report["fused"]["modalities"] = [mod.name for mod in models]
    report["fused"]["fusion"] = fuser.method
    if fuser.weights is not None:
        report["fused"]["weights"] = dict(zip(report["fused"]["modalities"], fuser.weights))
    report["fused"].update(fuser.info)
    if dev is not None:
        report["fused"]["dev_n"] = int(len(dev))
    return FusionResult(report, preds)


def format_report(report: dict) -> str:
    """Text tables: weighted F1, macro F1, accuracy per modality, per-class F1, and each confusion matrix."""
    lines = [f"{'modality':<10} {'wF1':>6} {'macroF1':>8} {'acc':>6}  n"]
    for m, r in report.items():
        lines.append(f"{m:<10} {r['weighted_f1']:6.3f} {r['macro_f1']:8.3f} {r['accuracy']:6.3f}  {r['n']}")
    fused = report["fused"]
    how = fused.get("fusion", "mean")
    if "weights" in fused:
        how += " (" + ", ".join(f"{m} {w:.2f}" for m, w in fused["weights"].items()) + ")"
    lines.append(f"fusion: {how}" + (f", learned on {fused['dev_n']} dev utterances" if "dev_n" in fused else ""))
    classes = fused["classes"]
    lines.append("\nper-class F1  " + " ".join(f"{c[:8]:>8}" for c in classes))
    for m, r in report.items():
        lines.append(f"{m:<13} " + " ".join(f"{r['per_class_f1'][c]:8.3f}" for c in classes))
    for m, r in report.items():
        lines.append(f"\nconfusion, {m} (rows true, columns predicted)")
        lines.append(" " * 9 + " ".join(f"{c[:7]:>7}" for c in classes))
        for c, row in zip(classes, r["confusion"]):
            lines.append(f"{c[:8]:<8} " + " ".join(f"{v:7d}" for v in row))
    return "\n".join(lines)
