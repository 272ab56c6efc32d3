"""Cheap quality measures of a face crop, used to pick the few crops of a track worth embedding."""
from __future__ import annotations

import numpy as np
from scipy import ndimage

SHARPNESS_SIZE = 64  # crops are resized to this side before measuring sharpness, so the scale does not dominate


def sharpness(gray: np.ndarray) -> float:
    """Variance of the Laplacian of a grayscale face crop resized to 64x64 (higher = sharper)."""
    g = np.asarray(gray, dtype=np.float32)
    if g.ndim == 3:
        g = g @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    if g.shape[0] < 3 or g.shape[1] < 3:
        return 0.0
    zoom = (SHARPNESS_SIZE / g.shape[0], SHARPNESS_SIZE / g.shape[1])
    g = ndimage.zoom(g, zoom, order=1)
    return float(ndimage.laplace(g).var())


def frontalness(points5: np.ndarray) -> float:
    """1 for a frontal face, towards 0 for a profile, from dlib's 5 landmarks (two eyes' corners, nose bottom).

    The nose is projected on the line between the eye centres; a frontal face has
    it half-way (t = 0.5).  Score = max(0, 1 - 2 |t - 0.5|).
    """
    p = np.asarray(points5, dtype=np.float64)
    eye_a, eye_b, nose = p[0:2].mean(0), p[2:4].mean(0), p[4]
    axis = eye_b - eye_a
    n2 = float(axis @ axis)
    if n2 < 1e-6:
        return 0.0
    t = float((nose - eye_a) @ axis) / n2
    return max(0.0, 1.0 - 2.0 * abs(t - 0.5))


def quality_scores(sharp: np.ndarray, frontal: np.ndarray, side: np.ndarray) -> np.ndarray:
    """Combined score of a track's candidate crops: frontalness + sharpness and size relative to the track's best."""
    sharp = np.asarray(sharp, dtype=np.float64)
    side = np.asarray(side, dtype=np.float64)
    s = sharp / max(float(sharp.max()), 1e-9) if len(sharp) else sharp
    z = side / max(float(side.max()), 1e-9) if len(side) else side
    return np.asarray(frontal, dtype=np.float64) + s + z
