"""Evaluate a frame emotion model on a labelled expression data set (``vidaffect eval expressions``)."""
from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from vidaffect.data.expressions.base import DatasetError, ExpressionData
from vidaffect.evaluation.confusion_plot import plot_confusion
from vidaffect.evaluation.metrics import Calibration, ClassificationReport, calibration, classification_report
from vidaffect.models.base import FrameEmotionModel
from vidaffect.utils.atomic import atomic_write_text


@dataclass
class EvalResult:
    report: ClassificationReport
    probs: np.ndarray  # (N, C_model) over the model's classes, for the evaluated samples
    y_true: np.ndarray  # index into report.classes
    y_pred: np.ndarray
    paths: list[str] = field(default_factory=list)
    skipped: dict[str, int] = field(default_factory=dict)  # data classes the model does not know -> count

    @property
    def calibration(self) -> Calibration:
        """Top-label calibration of the probabilities (ECE in 15 bins)."""
        return calibration(self.probs, self.y_pred == self.y_true, bins=15)


def match_crops(images: np.ndarray, size: int, color: str) -> np.ndarray:
    """Resize/convert uint8 images to the model's crop size and colour."""
    if images.ndim == 4 and color == "gray":
        images = np.stack([cv2.cvtColor(im, cv2.COLOR_RGB2GRAY) for im in images])
    elif images.ndim == 3 and color == "rgb":
        images = np.repeat(images[..., None], 3, axis=3)
    if images.shape[1] != size or images.shape[2] != size:
        interp = cv2.INTER_AREA if images.shape[1] > size else cv2.INTER_LINEAR
        images = np.stack([cv2.resize(im, (size, size), interpolation=interp) for im in images])
    return np.ascontiguousarray(images)


@contextlib.contextmanager
def model_tta(model: FrameEmotionModel, on: bool) -> Iterator[bool]:
    """Switch a model's own flip TTA (``model.tta_flip``: logits of each crop and its mirror averaged, what
    ``analyze --tta-flip`` and the trainer's validation run) for the duration; yields whether the model has one."""
    if not hasattr(model, "tta_flip"):
        yield False
        return
    before, info_before = model.tta_flip, model.info.get("tta_flip")
    model.tta_flip = on
    model.info["tta_flip"] = on
    try:
        yield True
    finally:
        model.tta_flip = before
        model.info["tta_flip"] = info_before


@contextlib.contextmanager
def uncalibrated(model: FrameEmotionModel) -> Iterator[None]:
    """The model's probabilities without temperature scaling (T = 1) for the duration."""
    temperature = getattr(model, "temperature", 1.0)
    if temperature == 1.0:
        yield
        return
    model.set_temperature(1.0)
    try:
        yield
    finally:
        model.set_temperature(temperature)


def predict_probs(model: FrameEmotionModel, images: np.ndarray, batch_size: int = 256, tta_flip: bool = False,
                  show_progress: bool = False) -> np.ndarray:
    """Class probabilities ``(N, C)``.  ``tta_flip``: a model with its own flip TTA (ExprNet, mini-Xception) averages
    the logits of each face and its mirror image (as ``analyze --tta-flip``), so a temperature never changes the
    predicted class; other models average the two views' probabilities."""
    out = []
    with model_tta(model, tta_flip) as own_tta:
        for i in tqdm(range(0, len(images), batch_size), desc="evaluating", unit="batch", disable=not show_progress):
            x = images[i : i + batch_size]
            p, _ = model.predict(x)
            if tta_flip and not own_tta:
                p = (p + model.predict(np.ascontiguousarray(x[:, :, ::-1]))[0]) / 2
            out.append(np.asarray(p, dtype=np.float32))
    return np.concatenate(out) if out else np.zeros((0, len(model.classes)), np.float32)


def model_logits(model: FrameEmotionModel, images: np.ndarray, batch_size: int = 256, tta_flip: bool = False,
                 show_progress: bool = False) -> np.ndarray:
    """Uncalibrated logits ``(N, C)`` (float64) of a model with a ``logits`` method (ExprNet, mini-Xception);
    ``tta_flip``: averaged with the mirror images' logits (the model's own flip TTA)."""
    if not hasattr(model, "logits") or not hasattr(model, "tta_flip"):
        raise DatasetError(f"model {model.name!r} does not expose logits; temperature scaling needs them")
    out = []
    with model_tta(model, tta_flip):
        for i in tqdm(range(0, len(images), batch_size), desc="logits", unit="batch", disable=not show_progress):
            out.append(model.logits(images[i : i + batch_size]).numpy().astype(np.float64))
    return np.concatenate(out) if out else np.zeros((0, len(model.classes)), np.float64)


def _known_samples(model: FrameEmotionModel, data: ExpressionData,
                   need_images: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Match ``data``'s classes to the model's by name: the class name of every sample, the mask of the samples
    whose class the model has, and those samples' images at the model's crop size/colour.

    Raises when the model predicts no classes, or when it shares no class name with the data (``need_images``:
    no image of the data)."""
    if not model.classes:
        raise DatasetError(f"model {model.name!r} predicts no classes (valence/arousal only)")
    if not need_images and not any(c in model.classes for c in data.classes):
        raise DatasetError(f"model classes {list(model.classes)} share nothing with data classes {list(data.classes)}")
    names = np.array(data.classes)[data.labels]
    keep = np.isin(names, model.classes)
    if need_images and not keep.any():
        raise DatasetError(f"model classes {list(model.classes)} share no images with data classes "
                           f"{list(data.classes)}")
    return names, keep, match_crops(data.images[keep], model.crop.size, model.crop.color)


def model_labels(model: FrameEmotionModel, data: ExpressionData) -> tuple[np.ndarray, np.ndarray]:
    """Images of ``data`` whose class the model knows, at the model's crop size/colour, with labels as indices
    into ``model.classes`` (classes matched by name)."""
    names, keep, images = _known_samples(model, data, need_images=True)
    labels = np.array([model.classes.index(c) for c in names[keep]], dtype=np.int64)
    return images, labels


def _scored(model: FrameEmotionModel, data: ExpressionData, names: np.ndarray, keep: np.ndarray,
            probs: np.ndarray) -> EvalResult:
    """The :class:`EvalResult` of the model's probabilities ``probs`` for the samples ``keep`` of ``data``."""
    known = [c for c in data.classes if c in model.classes]
    classes = tuple(known) + tuple(c for c in model.classes if c not in known)
    skipped = {c: int((names == c).sum()) for c in data.classes if c not in known and (names == c).any()}
    to_eval = np.array([classes.index(c) for c in model.classes])
    y_pred = to_eval[probs.argmax(1)] if len(probs) else np.zeros(0, np.int64)
    y_true = np.array([classes.index(c) for c in names[keep]], dtype=np.int64)
    paths = [p for p, k in zip(data.paths, keep) if k] if data.paths else []
    return EvalResult(classification_report(y_true, y_pred, classes), probs, y_true, y_pred, paths, skipped)


def evaluate_model(model: FrameEmotionModel, data: ExpressionData, batch_size: int = 256, tta_flip: bool = False,
                   show_progress: bool = False) -> EvalResult:
    """Classify every image of ``data`` with ``model`` and score it.

    Classes are matched by name.  Samples of a data class the model does not
    have (e.g. contempt for a 7-class model) are skipped and counted in
    ``skipped``; model classes absent from the data appear as extra columns
    (predictions of them are errors).
    """
    if not isinstance(model, FrameEmotionModel):
        raise DatasetError(f"model {model.name!r} is not a frame model; evaluation needs per-image predictions")
    names, keep, images = _known_samples(model, data, need_images=False)
    return _scored(model, data, names, keep, predict_probs(model, images, batch_size, tta_flip, show_progress))


def evaluate_calibrated(model: FrameEmotionModel, data: ExpressionData, batch_size: int = 256,
                        tta_flip: bool = False, show_progress: bool = False) -> tuple[EvalResult, EvalResult | None]:
    """:func:`evaluate_model`, and for a temperature-calibrated model (``model.temperature`` != 1) also the same
    evaluation of its uncalibrated probabilities (T = 1), else None.

    An ExprNet / mini-Xception model (``TorchFrameModel``: ``predict`` is ``probabilities(logits(crops))``)
    runs the data once: both probabilities come from the same logits.  Other models are run a second time
    without their temperature."""
    temperature = float(getattr(model, "temperature", 1.0))
    if temperature == 1.0:
        return evaluate_model(model, data, batch_size, tta_flip, show_progress), None
    from vidaffect.models.zoo.exprnet import TorchFrameModel

    if not isinstance(model, TorchFrameModel):
        result = evaluate_model(model, data, batch_size, tta_flip, show_progress)
        with uncalibrated(model):
            return result, evaluate_model(model, data, batch_size, tta_flip)
    names, keep, images = _known_samples(model, data, need_images=False)
    calibrated, plain = [], []
    with model_tta(model, tta_flip):
        for i in tqdm(range(0, len(images), batch_size), desc="evaluating", unit="batch", disable=not show_progress):
            logits = model.logits(images[i : i + batch_size])
            calibrated.append(np.asarray(model.probabilities(logits), dtype=np.float32))
            plain.append(np.asarray(model.probabilities(logits, 1.0), dtype=np.float32))
    empty = np.zeros((0, len(model.classes)), np.float32)
    return (_scored(model, data, names, keep, np.concatenate(calibrated) if calibrated else empty),
            _scored(model, data, names, keep, np.concatenate(plain) if plain else empty))


def plot_reliability(path: str | Path, cal: Calibration, title: str = "") -> Path:
    """Reliability diagram (accuracy against confidence per bin, with the bins' counts) as a PNG, atomically."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from vidaffect.utils.atomic import atomic_path

    fig = Figure(figsize=(4.5, 4.5))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    centres = (cal.edges[:-1] + cal.edges[1:]) / 2
    width = cal.edges[1] - cal.edges[0]
    filled = cal.count > 0
    ax.bar(centres[filled], cal.accuracy[filled], width=width * 0.95, color="#4477aa", label="accuracy")
    ax.plot([0, 1], [0, 1], color="#999999", linestyle="--", label="perfect calibration")
    ax.plot(cal.confidence[filled], cal.accuracy[filled], "o", color="#ee6677", markersize=3, label="bin mean")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel("confidence (top-class probability)")
    ax.set_ylabel("accuracy")
    ax.legend(loc="upper left", fontsize=8)
    if title:
        ax.set_title(title, fontsize=9)
    fig.tight_layout()
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100)
    return path


def write_eval_outputs(out_dir: str | Path, result: EvalResult, meta: dict,
                       uncalibrated: EvalResult | None = None) -> dict[str, Path]:
    """Write ``metrics.json`` (with calibration), ``confusion.png``, ``reliability.png`` and ``predictions.csv``.

    ``uncalibrated``: the same evaluation without the model's temperature (T = 1); its calibration goes into
    ``metrics.json`` as ``calibration_uncalibrated`` and its diagram into ``reliability_uncalibrated.png``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rep = result.report
    cal = result.calibration
    metrics = {**meta, **rep.to_dict(), "calibration": cal.to_dict(), "skipped_samples": result.skipped}
    if uncalibrated is not None:
        metrics["calibration_uncalibrated"] = uncalibrated.calibration.to_dict()
        metrics["accuracy_uncalibrated"] = uncalibrated.report.accuracy
    temperature = meta.get("temperature")
    t_note = f"  T={temperature:.3f}" if temperature not in (None, 1.0) else ""
    files = {
        "metrics": atomic_write_text(out / "metrics.json", json.dumps(metrics, indent=2)),
        "confusion": plot_confusion(out / "confusion.png", rep.confusion, rep.classes,
                                    f"{meta.get('model', '')}  acc {rep.accuracy:.3f}  macro-F1 {rep.macro_f1:.3f}"),
        "reliability": plot_reliability(out / "reliability.png", cal,
                                        f"{meta.get('model', '')}{t_note}  ECE {cal.ece:.3f}"),
    }
    if uncalibrated is not None:
        files["reliability_uncalibrated"] = plot_reliability(
            out / "reliability_uncalibrated.png", uncalibrated.calibration,
            f"{meta.get('model', '')}  uncalibrated (T=1)  ECE {uncalibrated.calibration.ece:.3f}")
    rows = ["path,true,pred,confidence"]
    for i in range(len(result.y_true)):
        path = result.paths[i] if result.paths else str(i)
        rows.append(f"\"{path}\",{rep.classes[result.y_true[i]]},{rep.classes[result.y_pred[i]]},"
                    f"{float(result.probs[i].max()):.4f}")
    files["predictions"] = atomic_write_text(out / "predictions.csv", "\n".join(rows) + "\n")
    return files
