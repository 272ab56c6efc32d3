"""Valence/arousal regression metrics: CCC, Pearson correlation, RMSE per dimension."""
from __future__ import annotations

import numpy as np

VA_DIMS = ("valence", "arousal")


def ccc(pred: np.ndarray, true: np.ndarray) -> float:
    """Lin's concordance correlation coefficient ``2 cov / (var_p + var_t + (mean_p - mean_t)^2)``."""
    p, t = np.asarray(pred, np.float64), np.asarray(true, np.float64)
    mp, mt = p.mean(), t.mean()
    cov = ((p - mp) * (t - mt)).mean()
    den = p.var() + t.var() + (mp - mt) ** 2
    return float(2 * cov / den) if den > 0 else float("nan")


def pcc(pred: np.ndarray, true: np.ndarray) -> float:
    """Pearson correlation (NaN when either series is constant)."""
    p, t = np.asarray(pred, np.float64), np.asarray(true, np.float64)
    sp, st = p.std(), t.std()
    if sp == 0 or st == 0:
        return float("nan")
    return float(((p - p.mean()) * (t - t.mean())).mean() / (sp * st))


def rmse(pred: np.ndarray, true: np.ndarray) -> float:
    p, t = np.asarray(pred, np.float64), np.asarray(true, np.float64)
    return float(np.sqrt(np.mean((p - t) ** 2)))


def va_report(pred: np.ndarray, true: np.ndarray, dims: tuple[str, ...] = VA_DIMS) -> dict[str, dict[str, float]]:
    """``{dim: {ccc, pcc, rmse, n}}`` for predictions and labels ``(N, len(dims))``; rows with NaN are skipped."""
    pred, true = np.asarray(pred, np.float64), np.asarray(true, np.float64)
    if pred.shape != true.shape or pred.ndim != 2 or pred.shape[1] != len(dims):
        raise ValueError(f"predictions {pred.shape} and labels {true.shape} must both be (N, {len(dims)})")
    out = {}
    for k, d in enumerate(dims):
        ok = np.isfinite(pred[:, k]) & np.isfinite(true[:, k])
        p, t = pred[ok, k], true[ok, k]
        out[d] = {"ccc": ccc(p, t), "pcc": pcc(p, t), "rmse": rmse(p, t), "n": int(ok.sum())} if ok.any() else \
            {"ccc": float("nan"), "pcc": float("nan"), "rmse": float("nan"), "n": 0}
    return out


def rescale_predictions(pred: np.ndarray, train_std: np.ndarray) -> np.ndarray:
    """The reference's validation/test correction: ``mean + (pred - mean) * std_train / std_pred`` per
    dimension, ``mean`` being the predictions' own mean (their spread is matched to the training labels')."""
    pred = np.asarray(pred, np.float64)
    mean = np.nanmean(pred, axis=0)
    std = np.nanstd(pred, axis=0)
    scale = np.where(std > 0, np.asarray(train_std, np.float64) / np.where(std > 0, std, 1.0), 1.0)
    return (mean + (pred - mean) * scale).astype(np.float32)
