"""The reference's square face crop: side sqrt((w + m(w+h)) * (h + m(w+h))) around the box, zero-padded."""
from __future__ import annotations

import math

import cv2
import numpy as np


def square_crop_box(box_xyxy: tuple[float, float, float, float] | np.ndarray,
                    margin: float = 0.5) -> tuple[float, float, float]:
    """Centre ``(cx, cy)`` and side of the square crop of a face box ``(x1, y1, x2, y2)``."""
    x1, y1, x2, y2 = (float(v) for v in box_xyxy)
    w, h = max(x2 - x1, 1.0), max(y2 - y1, 1.0)
    extra = margin * (w + h)
    side = math.sqrt((w + extra) * (h + extra))
    return (x1 + x2) / 2.0, (y1 + y2) / 2.0, side


def square_crop(image: np.ndarray, box_xyxy: tuple[float, float, float, float] | np.ndarray, size: int,
                margin: float = 0.5) -> np.ndarray:
    """Cut the square crop of ``box_xyxy`` from ``image`` (zero outside the image), resized to ``size``."""
    cx, cy, side = square_crop_box(box_xyxy, margin)
    scale = size / side
    # affine map: crop pixel (u, v) <- image pixel (cx - side/2 + u/scale, ...)
    m = np.array([[scale, 0.0, -scale * (cx - side / 2.0)], [0.0, scale, -scale * (cy - side / 2.0)]], np.float64)
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    return cv2.warpAffine(image, m, (size, size), flags=interp, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
