"""Alignment: similarity transform onto the template, crop kinds, masking."""
from __future__ import annotations

import cv2
import pytest
import numpy as np

from vidaffect.faces import Detections
from vidaffect.faces.align import TEMPLATES, align_faces, crop_matrices, face_points, similarity_matrix
from vidaffect.models.base import CropSpec


def face_from_template(kind: str, size: int, angle_deg: float, scale: float, shift) -> Detections:
    """A detection whose keypoints are the template, rotated/scaled/shifted in a 400x400 image."""
    pts = TEMPLATES[kind] * size
    m = cv2.getRotationMatrix2D((size / 2, size / 2), angle_deg, scale)
    m[:, 2] += shift
    img_pts = pts @ m[:, :2].T + m[:, 2]
    kps = np.zeros((1, 6, 2))
    kps[0, :4] = img_pts
    x1, y1 = img_pts.min(0) - 20
    x2, y2 = img_pts.max(0) + 20
    return Detections(np.array([[x1, y1, x2, y2]]), np.ones(1), kps)


def test_similarity_matrix_recovers_known_transform():
    src = np.array([[10, 10], [50, 12], [30, 40], [31, 60]], float)
    m_true = cv2.getRotationMatrix2D((0, 0), 20, 1.7)
    m_true[:, 2] = [5, -3]
    dst = src @ m_true[:, :2].T + m_true[:, 2]
    np.testing.assert_allclose(similarity_matrix(src, dst), m_true, atol=1e-3)


def test_aligned_points_land_on_template():
    d = face_from_template("aligned", 112, angle_deg=25, scale=1.8, shift=(120, 90))
    m = crop_matrices(d, CropSpec(112, "rgb", "aligned"))[0]
    mapped = face_points(d)[0] @ m[:, :2].T + m[:, 2]
    np.testing.assert_allclose(mapped, TEMPLATES["aligned"] * 112, atol=0.05)


def test_fer_crop_of_rotated_image_matches_upright_crop():
    rng = np.random.default_rng(0)
    img = cv2.GaussianBlur(rng.integers(0, 255, (400, 400, 3), dtype=np.uint8), (0, 0), 3)
    upright = face_from_template("fer", 150, 0, 1.0, (120, 120))
    crop_a = align_faces(img, upright, CropSpec(48, "gray", "fer"))[0]
    # rotate the whole image by 30 degrees about its centre and the keypoints with it
    rot = cv2.getRotationMatrix2D((200, 200), 30, 1.0)
    img_r = cv2.warpAffine(img, rot, (400, 400), borderMode=cv2.BORDER_REFLECT)
    kps = upright.keypoints.copy()
    kps[0] = kps[0] @ rot[:, :2].T + rot[:, 2]
    rotated = Detections(upright.xyxy, upright.scores, kps)
    crop_b = align_faces(img_r, rotated, CropSpec(48, "gray", "fer"))[0]
    assert crop_a.shape == (48, 48) and crop_a.dtype == np.uint8
    assert np.abs(crop_a.astype(int) - crop_b.astype(int)).mean() < 6  # same content up to resampling


def test_square_crop_follows_vtt_formula_and_zero_pads():
    img = np.full((100, 100, 3), 200, np.uint8)
    d = Detections(np.array([[10, 20, 50, 80]]), np.ones(1), np.zeros((1, 6, 2)))  # w=40, h=60
    m = crop_matrices(d, CropSpec(224, "rgb", "square", margin=0.5))[0]
    side = np.sqrt((40 + 50) * (60 + 50))
    assert m[0, 0] == pytest.approx(224 / side, rel=1e-6)
    crop = align_faces(img, d, CropSpec(224, "rgb", "square", margin=0.5))[0]
    assert crop[112, 112].tolist() == [200, 200, 200]  # centre of the box is inside the image
    assert crop[0, 0].tolist() == [0, 0, 0]  # the corner falls outside the image: zero padding


def test_mask_keeps_only_the_face_hull():
    img = np.full((200, 200, 3), 255, np.uint8)
    lm = np.full((1, 468, 2), np.nan, np.float32)
    t = np.linspace(0, 2 * np.pi, 468, endpoint=False)
    lm[0, :, 0], lm[0, :, 1] = 100 + 30 * np.cos(t), 100 + 40 * np.sin(t)
    kps = np.zeros((1, 6, 2))
    kps[0, :4] = [[88, 90], [112, 90], [100, 105], [100, 120]]
    d = Detections(np.array([[70, 60, 130, 140]]), np.ones(1), kps, lm)
    masked = align_faces(img, d, CropSpec(112, "rgb", "aligned", mask=True))[0]
    plain = align_faces(img, d, CropSpec(112, "rgb", "aligned", mask=False))[0]
    assert plain.min() == 255
    m = crop_matrices(d, CropSpec(112, "rgb", "aligned"))[0]
    hull = lm[0] @ m[:, :2].T + m[:, 2]
    expected = np.zeros((112, 112), np.uint8)
    cv2.fillConvexPoly(expected, cv2.convexHull(hull.astype(np.int32)), 1)
    kept = masked.sum(-1) > 0
    assert 0.05 < kept.mean() < 0.95
    assert (kept == expected.astype(bool)).mean() > 0.99


def test_empty_detections_give_empty_crops():
    crops = align_faces(np.zeros((10, 10, 3), np.uint8), Detections.empty(), CropSpec(48, "gray", "fer"))
    assert crops.shape == (0, 48, 48)
