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
    # == cv2.warpAffine(image, m, (w, h), INTER_LINEAR) of OpenCV 4.x (and MediaPipe), bit for bit, on any
    # OpenCV: 5.x's warpAffine rounds differently (+-1..3 per channel value, ~2e-3 on BlazeFace scores)
    map_xy, map_frac = _cached_maps(m, w, h)
    patch = cv2.remap(image, map_xy, map_frac, cv2.INTER_LINEAR, borderMode=border, borderValue=0)
    return scale_to_range(patch, value_range, out)


def scale_to_range(pixels: np.ndarray, value_range: tuple[float, float], out: np.ndarray | None = None) -> np.ndarray:
    """uint8 pixels -> float32 in ``value_range`` (0 -> lo, 255 -> hi), the networks' input scaling."""
    lo, hi = (float(v) for v in value_range)
    if out is None:
        out = np.empty(pixels.shape, dtype=np.float32)
    np.multiply(pixels, (hi - lo) / 255.0, out=out, dtype=np.float32)
    out += lo
    return out


_MAP_CACHE: dict[tuple, tuple[np.ndarray, np.ndarray]] = {}
_MAP_CACHE_SIZE = 32  # the letterbox and tile regions of a video repeat every frame; mesh regions do not


def _cached_maps(m: np.ndarray, w: int, h: int) -> tuple[np.ndarray, np.ndarray]:
    key = (m.astype(np.float64).tobytes(), w, h)
    maps = _MAP_CACHE.get(key)
    if maps is None:
        maps = _warp_affine_maps(m, w, h)
        if len(_MAP_CACHE) >= _MAP_CACHE_SIZE:
            _MAP_CACHE.pop(next(iter(_MAP_CACHE)))
        _MAP_CACHE[key] = maps
    return maps


_INTER_BITS, _AB_BITS = 5, 10  # OpenCV's bilinear table resolution (1/32 px) and warpAffine's coordinate bits


def _warp_affine_maps(m: np.ndarray, w: int, h: int) -> tuple[np.ndarray, np.ndarray]:
    """The fixed-point maps OpenCV 4.x's ``warpAffine`` computes for ``m`` (source -> destination) and hands to ``remap``.

    Returns (h, w, 2) int16 integer source pixels and (h, w) uint16 indices of the 1/32-pixel fractions
    (OpenCV's int32 arithmetic, cvRound = round half to even).
    """
    a = [float(v) for v in np.asarray(m, dtype=np.float64).ravel()]  # invert as warpAffine does, in doubles
    d = a[0] * a[4] - a[1] * a[3]
    d = 1.0 / d if d != 0 else 0.0
    i00, i01, i10, i11 = a[4] * d, -a[1] * d, -a[3] * d, a[0] * d
    i02, i12 = -i00 * a[2] - i01 * a[5], -i10 * a[2] - i11 * a[5]
    scale, tab = 1 << _AB_BITS, 1 << _INTER_BITS

    def to_int(v: np.ndarray) -> np.ndarray:  # saturate_cast<int>(double)
        return np.clip(np.rint(v), -2**31, 2**31 - 1).astype(np.int32)

    xs, ys = np.arange(w, dtype=np.float64), np.arange(h, dtype=np.float64)
    x = np.add.outer(to_int((i01 * ys + i02) * scale) + scale // tab // 2, to_int(i00 * xs * scale))
    y = np.add.outer(to_int((i11 * ys + i12) * scale) + scale // tab // 2, to_int(i10 * xs * scale))
    x >>= _AB_BITS - _INTER_BITS
    y >>= _AB_BITS - _INTER_BITS
    frac = y & (tab - 1)
    frac <<= _INTER_BITS
    frac |= x & (tab - 1)
    x >>= _INTER_BITS
    y >>= _INTER_BITS
    xy = np.empty((h, w, 2), np.int16)
    np.clip(x, -32768, 32767, out=xy[..., 0], casting="unsafe")
    np.clip(y, -32768, 32767, out=xy[..., 1], casting="unsafe")
    return xy, frac.astype(np.uint16)


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
