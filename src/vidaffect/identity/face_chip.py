"""Aligned 150x150 face chips as dlib's ``get_face_chip(img, shape, size=150, padding=0.25)`` cuts them.

dlib (``get_face_chip_details`` and ``extract_image_chips``,
dlib/image_transforms/interpolation.h), for a 5-point shape:

1. the chip positions of the 5 points are dlib's mean face, padded:
   ``(padding + p) / (1 + 2 * padding) * size``;
2. a least-squares similarity transform (Umeyama's, ``find_similarity_transform``)
   maps those chip points onto the image points; its rotation angle and scale
   define the chip: a rectangle of ``size * scale - 1`` pixels centred on the
   image point of the chip centre ``(size/2, size/2)``, rotated by the angle;
3. the chip's corner pixels (0, 0), (size-1, 0), (0, size-1) map exactly to the
   rotated rectangle's corners, every pixel bilinearly interpolated;
4. when the rectangle is over twice the chip's size, the image is first halved
   with dlib's ``pyramid_down<2>`` (5x5 binomial filter) as often as needed, and
   the chip cut from that level.

Here step 3 is one ``cv2.warpAffine`` (bilinear, in float32 on the chip's
neighbourhood, truncated to uint8 like dlib; pixels whose 2x2 neighbourhood
leaves the image are black, like dlib's) and step 4 a numpy copy of dlib's
integer pyramid, made of the same crop.  On real faces 99.9% of the pixels equal
dlib's and the rest differ by 1 (cv2 places samples on a 1/32-pixel grid); see
tests/identity/test_face_embedding.py.

:func:`five_points_from_mesh` gives dlib's 5 points (outer and inner eye corners
of each eye, the bottom of the nose) from MediaPipe's 468-point face mesh, so
chips can be cut from the face stage's landmarks without dlib's shape predictor.
"""
from __future__ import annotations

import cv2
import numpy as np

CHIP_SIZE = 150
CHIP_PADDING = 0.25

# dlib's mean-face positions of its 5 landmarks (get_face_chip_details; unit square of the face, before
# padding), in the order of FIVE_POINT_NAMES.
MEAN_FACE_5 = np.array([
    [0.8595674595992, 0.2134981538014],
    [0.6460604764104, 0.2289674387677],
    [0.1205750620789, 0.2137274526848],
    [0.3340850613712, 0.2290642403242],
    [0.4901123135679, 0.6277975316475],
])
# dlib's shape_predictor_5_face_landmarks order: points 0-1 are the corners of the eye on the image's right
# (the subject's left eye), 2-3 those of the other eye, 4 the bottom of the nose.
FIVE_POINT_NAMES = ("left_eye_outer", "left_eye_inner", "right_eye_outer", "right_eye_inner", "nose_bottom")
# MediaPipe face-mesh vertices for those points, in the same order.  Each is the vertex nearest to dlib's
# 5-point predictor on 246 real faces of the shared videos (median distance 2.4-3.5% of the eye distance):
# 249 / 155 sit on the lower lid just beside the outer / inner corner (dlib marks corners a little low),
# 362 and 33 are the mesh's corners, 2 the point under the nose tip.  Descriptor cosine of the chips cut
# from these points to the chips cut from dlib's points: mean 0.9973 (min 0.982); the anatomical corners
# (263, 362, 33, 133, 2) give 0.9970, with 94 or 1 for the nose 0.9966 / 0.9950 (benchmarks/face_embedding.py).
MESH_5 = (249, 362, 33, 155, 2)


def five_points_from_mesh(mesh_xy: np.ndarray, indices: tuple[int, ...] = MESH_5) -> np.ndarray:
    """dlib's 5 points ``(5, 2)`` from MediaPipe face-mesh landmarks ``(468, 2)`` (or ``(N, 468, 2)``)."""
    mesh_xy = np.asarray(mesh_xy, dtype=np.float64)
    if mesh_xy.shape[-2:] != (468, 2) and not (mesh_xy.ndim >= 2 and mesh_xy.shape[-2] > max(indices)):
        raise ValueError(f"expected (468, 2) mesh landmarks, got {mesh_xy.shape}")
    return mesh_xy[..., list(indices), :2].copy()


def similarity_transform(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Least-squares similarity (rotation, uniform scale, translation) ``src -> dst`` as a 2x3 matrix
    (Umeyama 1991, dlib's ``find_similarity_transform``)."""
    src = np.asarray(src, dtype=np.float64)
    dst = np.asarray(dst, dtype=np.float64)
    mu_s, mu_d = src.mean(0), dst.mean(0)
    s, d = src - mu_s, dst - mu_d
    var_s = (s ** 2).sum() / len(src)
    cov = d.T @ s / len(src)
    u, sig, vt = np.linalg.svd(cov)
    e = np.eye(2)
    if np.linalg.det(cov) < 0 or (np.linalg.det(cov) == 0 and np.linalg.det(u) * np.linalg.det(vt) < 0):
        e[1, 1] = -1
    r = u @ e @ vt
    c = (sig * np.diag(e)).sum() / var_s if var_s > 0 else 1.0
    t = mu_d - c * r @ mu_s
    return np.hstack([c * r, t[:, None]])


def chip_details(points: np.ndarray, size: int = CHIP_SIZE,
                 padding: float = CHIP_PADDING) -> tuple[np.ndarray, float, float]:
    """dlib's chip rectangle for 5 image points: (centre (2,), angle in radians, rectangle side in pixels)."""
    points = np.asarray(points, dtype=np.float64).reshape(5, 2)
    chip_pts = (padding + MEAN_FACE_5) / (2 * padding + 1) * size
    m = similarity_transform(chip_pts, points)
    p = m[:, :2] @ np.array([1.0, 0.0])
    angle = float(np.arctan2(p[1], p[0]))
    scale = float(np.hypot(p[0], p[1]))
    centre = m[:, :2] @ np.array([size / 2.0, size / 2.0]) + m[:, 2]
    return centre, angle, size * scale - 1.0  # centered_drect(centre, size*scale, size*scale): width-1


def _rect_corners(centre: np.ndarray, angle: float, side: float) -> np.ndarray:
    """Image positions of the rotated rectangle's top-left, top-right and bottom-left corners."""
    h = side / 2.0
    c, s = np.cos(angle), np.sin(angle)
    rot = np.array([[c, -s], [s, c]])
    offsets = np.array([[-h, -h], [h, -h], [-h, h]])
    return centre + offsets @ rot.T


def _pyramid_down_2(img: np.ndarray) -> np.ndarray:
    """dlib's ``pyramid_down<2>`` of an RGB uint8 image: 5x5 binomial filter, every other pixel, integer maths
    (output ``((rows-3)//2, (cols-3)//2)``, pixel (y, x) centred on input (2y+2, 2x+2))."""
    rows, cols = img.shape[:2]
    oc, orow = (cols - 3) // 2, (rows - 3) // 2
    if rows <= 8 or cols <= 8 or oc <= 0 or orow <= 0:
        return img[:0, :0]
    x = img.astype(np.uint32)
    w = (1, 4, 6, 4, 1)
    tmp = sum(w[j] * x[:, j:j + 2 * oc:2] for j in range(5))
    out = sum(w[i] * tmp[i:i + 2 * orow:2] for i in range(5)) // 256
    return out.astype(np.uint8)


def _point_down(p: np.ndarray) -> np.ndarray:
    return p / 2.0 - np.array([1.25, 0.75])


def _area(tl: np.ndarray, br: np.ndarray) -> float:
    """dlib's ``drectangle::area``: (right - left + 1) * (bottom - top + 1), 0 when empty."""
    w, h = br - tl + 1.0
    return float(w * h) if w > 0 and h > 0 else 0.0


def extract_chip(image: np.ndarray, points: np.ndarray, size: int = CHIP_SIZE,
                 padding: float = CHIP_PADDING) -> np.ndarray:
    """One aligned ``(size, size, 3)`` chip of the RGB uint8 ``image`` from dlib's 5 ``points`` (5, 2)."""
    image = np.asarray(image)
    centre, angle, side = chip_details(points, size, padding)
    corners = _rect_corners(centre, angle, side)  # chip (0,0), (size-1,0), (0,size-1) land on these
    tl, br = centre - side / 2.0, centre + side / 2.0
    # dlib: how many pyramid levels, and the crop (rotated rectangle's bounds, grown) the pyramid is made of
    depth, grow = 0, 2.0
    dtl, dbr = _point_down(tl), _point_down(br)
    while _area(dtl, dbr) > size * size:
        dtl, dbr = _point_down(dtl), _point_down(dbr)
        depth += 1
        grow = grow * 2 + 2
    src = image
    if depth:
        c4 = np.vstack([corners, corners[1] + corners[2] - corners[0]])
        lo = np.maximum(np.floor(c4.min(0) - grow + 0.5), 0)
        hi = np.minimum(np.floor(c4.max(0) + grow + 0.5), [image.shape[1] - 1, image.shape[0] - 1])
        x0, y0 = int(lo[0]), int(lo[1])
        src = image[y0:int(hi[1]) + 1, x0:int(hi[0]) + 1]
        corners = corners - lo
        ttl, tbr = tl - lo, br - lo
        while _area(_point_down(ttl), _point_down(tbr)) > size * size and src.shape[0] > 8 and src.shape[1] > 8:
            src = _pyramid_down_2(src)
            ttl, tbr = _point_down(ttl), _point_down(tbr)
            corners = np.stack([_point_down(c) for c in corners])
    chip_corners = np.array([[0.0, 0.0], [size - 1.0, 0.0], [0.0, size - 1.0]])
    m = _affine_from_3(chip_corners, corners)  # chip -> src
    last = size - 1.0
    ends = np.array([[0.0, 0.0, 1.0], [last, 0.0, 1.0], [0.0, last, 1.0], [last, last, 1.0]])
    reach = ends @ m.T  # the chip's corner pixels in src; an affine map reaches its extremes there
    lo, hi = np.floor(reach.min(0)), np.floor(reach.max(0)) + 1
    inside = None  # dlib leaves a pixel black unless all 4 pixels it interpolates lie inside the image
    if lo[0] < 0 or lo[1] < 0 or hi[0] >= src.shape[1] or hi[1] >= src.shape[0]:
        grid = np.arange(size, dtype=np.float64)
        x = m[0, 0] * grid[None, :] + m[0, 1] * grid[:, None] + m[0, 2]
        y = m[1, 0] * grid[None, :] + m[1, 1] * grid[:, None] + m[1, 2]
        inside = (x >= 0) & (y >= 0) & (np.floor(x) + 1 < src.shape[1]) & (np.floor(y) + 1 < src.shape[0])
        if not inside.any():
            return np.zeros((size, size, 3), dtype=np.uint8)
    # interpolate in float32 on the chip's neighbourhood only and truncate, as dlib does (a uint8 warp rounds)
    x0, y0 = max(int(lo[0]), 0), max(int(lo[1]), 0)
    x1, y1 = min(int(hi[0]) + 1, src.shape[1]), min(int(hi[1]) + 1, src.shape[0])
    if x1 <= x0 or y1 <= y0:
        return np.zeros((size, size, 3), dtype=np.uint8)
    crop = src[y0:y1, x0:x1].astype(np.float32)
    m_crop = m - np.array([[0.0, 0.0, x0], [0.0, 0.0, y0]])
    chip = cv2.warpAffine(crop, m_crop, (size, size), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                          borderMode=cv2.BORDER_CONSTANT)
    chip = np.floor(chip + 1e-3).clip(0, 255).astype(np.uint8)
    if inside is not None:
        chip[~inside] = 0
    return chip


def _affine_from_3(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """The 2x3 affine matrix mapping 3 points ``src`` onto ``dst`` exactly (float64)."""
    a = np.hstack([np.asarray(src, dtype=np.float64), np.ones((3, 1))])
    return np.linalg.solve(a, np.asarray(dst, dtype=np.float64)).T


def extract_chips(image: np.ndarray, points: np.ndarray, size: int = CHIP_SIZE,
                  padding: float = CHIP_PADDING) -> np.ndarray:
    """Chips ``(N, size, size, 3)`` for ``points`` ``(N, 5, 2)`` (or one ``(5, 2)``) of one image."""
    points = np.asarray(points, dtype=np.float64)
    if points.ndim == 2:
        points = points[None]
    out = np.zeros((len(points), size, size, 3), dtype=np.uint8)
    for i, p in enumerate(points):
        out[i] = extract_chip(image, p, size, padding)
    return out


def chips_from_mesh(image: np.ndarray, landmarks: np.ndarray, size: int = CHIP_SIZE,
                    padding: float = CHIP_PADDING) -> np.ndarray:
    """Chips of the faces whose 468-point meshes are ``landmarks`` ``(N, 468, 2)`` (rows of NaN: black chips)."""
    landmarks = np.asarray(landmarks, dtype=np.float64)
    if landmarks.ndim == 2:
        landmarks = landmarks[None]
    pts = five_points_from_mesh(landmarks)
    out = np.zeros((len(pts), size, size, 3), dtype=np.uint8)
    for i, p in enumerate(pts):
        if np.isfinite(p).all():
            out[i] = extract_chip(image, p, size, padding)
    return out
