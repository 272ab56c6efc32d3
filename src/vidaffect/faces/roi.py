"""Regions of interest and the warps that turn them into network input tensors.

One function serves the detector (the whole frame, or a tile, letterboxed to
128/192 px) and the face mesh (a rotated square around a face, 192 px).  It
follows MediaPipe's ImageToTensorCalculator (OpenCV path): the ROI's corners
map onto the tensor's corners and pixels outside the image are zero.  A
half-pixel-centre resize instead would move boxes by several pixels.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class Roi:
    """A rotated rectangle in image pixels: centre, size and rotation (radians, clockwise in image coordinates)."""

    cx: float
    cy: float
    width: float
    height: float
    rotation: float = 0.0

    def corners(self) -> np.ndarray:
        """(4, 2) corners: top-left, top-right, bottom-right, bottom-left of the unrotated rectangle, rotated."""
        c, s = math.cos(self.rotation), math.sin(self.rotation)
        hw, hh = self.width / 2, self.height / 2
        local = np.array([[-hw, -hh], [hw, -hh], [hw, hh], [-hw, hh]], dtype=np.float64)
        rot = np.array([[c, -s], [s, c]])
        return local @ rot.T + [self.cx, self.cy]

    def to_image(self, points: np.ndarray) -> np.ndarray:
        """Map points given in the ROI's normalised frame ([0, 1] x [0, 1]) to image pixels."""
        p = np.asarray(points, dtype=np.float64)
        x, y = (p[..., 0] - 0.5) * self.width, (p[..., 1] - 0.5) * self.height
        c, s = math.cos(self.rotation), math.sin(self.rotation)
        return np.stack([c * x - s * y + self.cx, s * x + c * y + self.cy], axis=-1)


def letterbox_roi(x0: float, y0: float, width: float, height: float, aspect: float = 1.0) -> Roi:
    """The ROI covering the rectangle (x0, y0, width, height), grown on its short side to ``aspect`` (w / h)."""
    if width / height > aspect:
        h, w = width / aspect, width
    else:
        w, h = height * aspect, height
    return Roi(x0 + width / 2, y0 + height / 2, w, h, 0.0)


def warp_roi(image: np.ndarray, roi: Roi, size: tuple[int, int], value_range: tuple[float, float],
             out: np.ndarray | None = None, replicate: bool = False) -> np.ndarray:
    """Crop ``roi`` out of an RGB uint8 ``image`` into a float32 ``(h, w, 3)`` tensor scaled to ``value_range``.

    size: (width, height) of the tensor.  out: an array to write into (for batches).  replicate: outside
    the image repeat the edge pixels (MediaPipe's mesh input) instead of zeros (its detector's letterbox).
    """
    w, h = size
    src = roi.corners()[[0, 1, 3]].astype(np.float32)  # top-left, top-right, bottom-left
    dst = np.array([[0, 0], [w, 0], [0, h]], dtype=np.float32)
    m = cv2.getAffineTransform(src, dst)
    border = cv2.BORDER_REPLICATE if replicate else cv2.BORDER_CONSTANT
    patch = cv2.warpAffine(image, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=border, borderValue=0)
    lo, hi = value_range
    if out is None:
        out = np.empty((h, w, 3), dtype=np.float32)
    np.multiply(patch, (hi - lo) / 255.0, out=out, dtype=np.float32)
    out += lo
    return out


def normalize_radians(angle: float) -> float:
    """``angle`` in [-pi, pi)."""
    return angle - 2 * math.pi * math.floor((angle + math.pi) / (2 * math.pi))


def rotation_from_points(start: np.ndarray, end: np.ndarray, target: float = 0.0) -> float:
    """MediaPipe's ROI rotation: the angle that makes the line start -> end horizontal (pixels in)."""
    return normalize_radians(target - math.atan2(-(float(end[1]) - float(start[1])), float(end[0]) - float(start[0])))


def square_roi(cx: float, cy: float, width: float, height: float, rotation: float, scale: float) -> Roi:
    """MediaPipe's RectTransformation with ``square_long``: a square of the long side, times ``scale``."""
    side = max(width, height) * scale
    return Roi(cx, cy, side, side, rotation)
