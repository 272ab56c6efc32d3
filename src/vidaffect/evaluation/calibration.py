"""Temperature scaling (Guo et al. 2017): one scalar ``T > 0`` that divides a classifier's logits.

``softmax(logits / T)`` keeps every prediction's class (the argmax is unchanged) and only makes the
probabilities softer (``T > 1``) or sharper (``T < 1``).  ``T`` is fitted by minimising the negative
log-likelihood of labelled data the model was neither trained nor selected on, and must be judged on
yet other data: fitting and reporting on the same images flatters the result.

A checkpoint stores the fitted value in its JSON config as ``"calibration": {"temperature": T, ...}``
(:func:`calibration_config`); ExprNet models apply it in ``predict`` (``vidaffect.models.zoo.exprnet``).
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from vidaffect.evaluation.metrics import calibration

# log T is searched in [log 0.05, log 20]: far wider than any useful temperature (0.5-3 in practice).
T_BOUNDS = (0.05, 20.0)


def _check(logits: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    z = np.asarray(logits, dtype=np.float64)
    y = np.asarray(labels)
    if z.ndim != 2 or z.shape[1] < 2:
        raise ValueError(f"logits must have shape (N, C) with C >= 2, got {z.shape}")
    if y.ndim != 1 or len(y) != len(z):
        raise ValueError(f"labels {y.shape} do not match logits {z.shape}")
    if len(z) == 0:
        raise ValueError("no samples to fit a temperature on")
    if not np.issubdtype(y.dtype, np.integer) or y.min() < 0 or y.max() >= z.shape[1]:
        raise ValueError(f"labels must be class indices in [0, {z.shape[1] - 1}]")
    if not np.isfinite(z).all():
        raise ValueError("logits contain NaN or infinite values")
    return z, y.astype(np.int64)


def softmax_t(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """``softmax(logits / temperature)`` along the last axis, in float64."""
    z = np.asarray(logits, dtype=np.float64) / float(temperature)
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def nll(logits: np.ndarray, labels: np.ndarray, temperature: float = 1.0) -> float:
    """Mean negative log-likelihood of ``labels`` under ``softmax(logits / temperature)``."""
    z, y = _check(logits, labels)
    z = z / float(temperature)
    z = z - z.max(axis=1, keepdims=True)
    log_norm = np.log(np.exp(z).sum(axis=1))
    return float((log_norm - z[np.arange(len(y)), y]).mean())


def fit_temperature(logits: np.ndarray, labels: np.ndarray, bounds: tuple[float, float] = T_BOUNDS) -> float:
    """The temperature ``T > 0`` minimising :func:`nll` of ``labels`` (a bounded 1-D search on ``log T``).

    The NLL of temperature-scaled logits is convex in ``1/T``, so the bounded Brent search finds the one
    minimum; a minimum at a bound (hopelessly wrong labels, or logits that carry no information) is
    returned as the bound."""
    from scipy.optimize import minimize_scalar

    z, y = _check(logits, labels)
    lo, hi = bounds
    if not 0 < lo < hi:
        raise ValueError(f"temperature bounds must satisfy 0 < low < high, got {bounds}")
    res = minimize_scalar(lambda log_t: nll(z, y, math.exp(log_t)), bounds=(math.log(lo), math.log(hi)),
                          method="bounded", options={"xatol": 1e-6})
    return float(math.exp(res.x))


@dataclass
class TemperatureFit:
    """A fitted temperature and what it does on the data it was fitted on."""

    temperature: float
    samples: int
    accuracy: float
    nll_before: float
    nll_after: float
    ece_before: float  # 15 bins, T = 1
    ece_after: float

    def to_dict(self) -> dict[str, Any]:
        return {k: (round(v, 6) if isinstance(v, float) else v) for k, v in asdict(self).items()}


def ece_at(logits: np.ndarray, labels: np.ndarray, temperature: float = 1.0, bins: int = 15) -> float:
    """Top-label ECE (``bins`` equal-width bins) of ``softmax(logits / temperature)``."""
    z, y = _check(logits, labels)
    return calibration(softmax_t(z, temperature), z.argmax(1) == y, bins=bins).ece


def score_temperature(logits: np.ndarray, labels: np.ndarray, temperature: float) -> TemperatureFit:
    """What ``temperature`` does on ``logits``/``labels``: their size and accuracy, NLL and ECE (15 bins) before
    (``T = 1``) and after."""
    z, y = _check(logits, labels)
    t = temperature
    return TemperatureFit(t, len(y), float((z.argmax(1) == y).mean()), nll(z, y), nll(z, y, t), ece_at(z, y),
                          ece_at(z, y, t))


def fit_and_score(logits: np.ndarray, labels: np.ndarray) -> TemperatureFit:
    """:func:`fit_temperature`, with NLL and ECE before (``T = 1``) and after on the same data."""
    z, y = _check(logits, labels)
    return score_temperature(z, y, fit_temperature(z, y))


def checked_temperature(value: Any, source: str) -> float:
    """``value`` as a temperature (a finite number > 0), else ``ValueError`` naming ``source``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        raise ValueError(f"{source}: calibration temperature must be a finite number > 0, got {value!r}")
    return float(value)


def calibration_config(fit: TemperatureFit, fitted_on: str, tta_flip: bool, precision: str,
                       report: dict[str, Any] | None = None) -> dict[str, Any]:
    """The ``"calibration"`` entry of a checkpoint's JSON config.

    ``fit``: the fitted data's size, accuracy, NLL and ECE before (``T = 1``) and after; ``report``: the same
    figures on other data (another split), the ones to quote."""
    cfg: dict[str, Any] = {
        "method": "temperature scaling (NLL, Guo et al. 2017)",
        "temperature": round(fit.temperature, 6),
        "fitted_on": fitted_on,
        "fit_inference": {"tta_flip": tta_flip, "precision": precision},
        "fit": fit.to_dict(),
    }
    if report:
        cfg["report"] = report
    return cfg
