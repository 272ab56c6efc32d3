"""Face alignment: similarity transform from 4 landmarks to a canonical template.

The four points are the two eye centres, the nose tip and the mouth centre,
taken from the face mesh when it fitted the face, else from BlazeFace's
keypoints.  ``cv2.estimateAffinePartial2D`` fits rotation + uniform scale +
translation (least squares), and ``cv2.warpAffine`` cuts the crop.

Templates (x, y as fractions of the crop side):

* ``"fer"``: measured on FER2013 itself (median positions of these four points,
  found by our detector, on 600 validation images by
  ``benchmarks/calibrate_fer_template.py``), so that crops fed to models trained
  on FER2013 are framed like their training images.
* ``"aligned"``: the widely used 112x112 five-point ArcFace template (eyes
  at (38.29, 51.70) and (73.53, 51.50), nose (56.03, 71.74), mouth corners
  averaged to (56.14, 92.28)), which keeps the whole face with a little context
  (MIMAMO-style crops; the default for ``--save-crops``).
* ``"square"``: no rotation: the VTT/TSM crop, a square of side
  ``sqrt((w + m(w+h)) * (h + m(w+h)))`` (``m`` = ``margin``) centred on the
  detector box, zero-padded outside the image.
"""
from __future__ import annotations

import cv2
import numpy as np

from vidaffect.faces.detections import Detections
from vidaffect.models.base import CropSpec

# Mesh indices of the 4 alignment points.
MESH_RIGHT_EYE = (33, 133, 159, 145)
MESH_LEFT_EYE = (263, 362, 386, 374)
MESH_NOSE_TIP = (1,)
MESH_MOUTH = (13, 14)

TEMPLATES: dict[str, np.ndarray] = {
    # image-left eye, image-right eye, nose tip, mouth centre
    "aligned": np.array([[38.29, 51.70], [73.53, 51.50], [56.03, 71.74], [56.14, 92.28]], np.float32) / 112.0,
    # measured: benchmarks/calibrate_fer_template.py /tmp/fer --n 600 (576 faces found, 564 with mesh)
    "fer": np.array([[0.3171, 0.3906], [0.6829, 0.3906], [0.5000, 0.6242], [0.5000, 0.7761]], np.float32),
}


def face_points(dets: Detections) -> np.ndarray:
    """(N, 4, 2) alignment points: mesh-derived where available, BlazeFace keypoints otherwise."""
    pts = dets.keypoints[:, :4].copy()
    if dets.landmarks is not None:
        has = dets.has_mesh()
        if has.any():
            lm = dets.landmarks[has]
            pts[has] = np.stack([lm[:, list(MESH_RIGHT_EYE)].mean(1), lm[:, list(MESH_LEFT_EYE)].mean(1),
                                 lm[:, list(MESH_NOSE_TIP)].mean(1), lm[:, list(MESH_MOUTH)].mean(1)], 1)
    return pts


def similarity_matrix(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """2x3 least-squares similarity transform mapping points ``src`` (K, 2) onto ``dst`` (K, 2)."""
    m, _ = cv2.estimateAffinePartial2D(src.astype(np.float32), dst.astype(np.float32), method=cv2.LMEDS)
    if m is None:  # degenerate points: fall back to the eye-to-eye similarity
        (ax, ay), (bx, by) = src[0], src[1]
        (cx, cy), (dx, dy) = dst[0], dst[1]
        s = np.hypot(dx - cx, dy - cy) / max(np.hypot(bx - ax, by - ay), 1e-6)
        ang = np.arctan2(dy - cy, dx - cx) - np.arctan2(by - ay, bx - ax)
        c, sn = s * np.cos(ang), s * np.sin(ang)
        m = np.array([[c, -sn, cx - (c * ax - sn * ay)], [sn, c, cy - (sn * ax + c * ay)]])
    return m.astype(np.float32)


def crop_matrices(dets: Detections, spec: CropSpec) -> np.ndarray:
    """(N, 2, 3) affine matrices from image pixels to crop pixels for ``spec``."""
    n, size = len(dets), spec.size
    out = np.zeros((n, 2, 3), np.float32)
    if spec.kind == "square":
        cx = (dets.xyxy[:, 0] + dets.xyxy[:, 2]) / 2
        cy = (dets.xyxy[:, 1] + dets.xyxy[:, 3]) / 2
        w = dets.xyxy[:, 2] - dets.xyxy[:, 0]
        h = dets.xyxy[:, 3] - dets.xyxy[:, 1]
        m = spec.margin * (w + h)
        side = np.sqrt(np.clip((w + m) * (h + m), 0, None))
        s = size / np.maximum(side, 1e-6)
        out[:, 0, 0] = s
        out[:, 1, 1] = s
        out[:, 0, 2] = size / 2 - s * cx
        out[:, 1, 2] = size / 2 - s * cy
        return out
    if spec.kind not in TEMPLATES:
        raise ValueError(f"unknown crop kind {spec.kind!r}; known: {sorted(TEMPLATES) + ['square']}")
    dst = TEMPLATES[spec.kind] * size
    pts = face_points(dets)
    for i in range(n):
        out[i] = similarity_matrix(pts[i], dst)
    return out


def _mask(crop: np.ndarray, hull_pts: np.ndarray) -> np.ndarray:
    mask = np.zeros(crop.shape[:2], np.uint8)
    cv2.fillConvexPoly(mask, cv2.convexHull(hull_pts.astype(np.int32)), 1)
    return crop * (mask[..., None] if crop.ndim == 3 else mask)


def align_faces(image: np.ndarray, dets: Detections, spec: CropSpec) -> np.ndarray:
    """Cut one aligned crop per face: uint8 ``(N, S, S, 3)`` RGB or ``(N, S, S)`` gray.

    With ``spec.mask`` everything outside the convex hull of the face mesh (or,
    without a mesh, of the box's inscribed ellipse) is set to 0.
    """
    n, size = len(dets), spec.size
    shape = (n, size, size) if spec.color == "gray" else (n, size, size, 3)
    out = np.zeros(shape, np.uint8)
    if n == 0:
        return out
    mats = crop_matrices(dets, spec)
    has_mesh = dets.has_mesh()
    for i in range(n):
        border = cv2.BORDER_CONSTANT if spec.kind == "square" else cv2.BORDER_REPLICATE
        crop = cv2.warpAffine(image, mats[i], (size, size), flags=cv2.INTER_LINEAR, borderMode=border)
        if spec.mask:
            if has_mesh[i]:
                pts = dets.landmarks[i]
            else:
                x1, y1, x2, y2 = dets.xyxy[i]
                t = np.linspace(0, 2 * np.pi, 32)
                pts = np.stack([(x1 + x2) / 2 + (x2 - x1) / 2 * np.cos(t), (y1 + y2) / 2 + (y2 - y1) / 2 * np.sin(t)], 1)
            hull = pts @ mats[i][:, :2].T + mats[i][:, 2]
            crop = _mask(crop, hull)
        out[i] = cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY) if spec.color == "gray" else crop
    return out
