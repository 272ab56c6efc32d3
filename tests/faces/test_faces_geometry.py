"""Units of the face stage's geometry: SSD anchors, weighted NMS, region warps (synthetic inputs)."""
from __future__ import annotations

import math

import numpy as np
import pytest

from vidaffect.faces.anchors import ssd_anchors
from vidaffect.faces.blazeface import SPECS
from vidaffect.faces.nms import weighted_nms
from vidaffect.faces.roi import Roi, letterbox_roi, normalize_radians, rotation_from_points, square_roi, warp_roi


# ---------------------------------------------------------------- anchors (MediaPipe's SsdAnchorsCalculator)

def _anchors(model: str) -> np.ndarray:
    s = SPECS[model]
    return ssd_anchors(s.input_size, list(s.strides), s.interpolated_scale_aspect_ratio)


def test_anchor_counts():
    # short: 16x16 cells x 2 anchors (stride 8) + 8x8 cells x 6 (three stride-16 layers, 2 each); full: 48x48 x 1
    assert _anchors("short").shape == (16 * 16 * 2 + 8 * 8 * 6, 2) == (896, 2)
    assert _anchors("full").shape == (48 * 48, 2) == (2304, 2)


def test_short_range_anchor_centres():
    a = _anchors("short")
    np.testing.assert_allclose(a[0], [0.5 / 16, 0.5 / 16])
    np.testing.assert_allclose(a[1], a[0])  # two anchors per cell
    np.testing.assert_allclose(a[2], [1.5 / 16, 0.5 / 16])  # x runs fastest
    np.testing.assert_allclose(a[32], [0.5 / 16, 1.5 / 16])  # next row after 16 cells x 2
    np.testing.assert_allclose(a[511], [15.5 / 16, 15.5 / 16])
    np.testing.assert_allclose(a[512:518], np.tile([[0.5 / 8, 0.5 / 8]], (6, 1)))  # stride 16: 6 per cell
    np.testing.assert_allclose(a[518], [1.5 / 8, 0.5 / 8])
    np.testing.assert_allclose(a[-1], [7.5 / 8, 7.5 / 8])


def test_full_range_anchor_centres():
    a = _anchors("full")
    np.testing.assert_allclose(a[0], [0.5 / 48, 0.5 / 48])
    np.testing.assert_allclose(a[1], [1.5 / 48, 0.5 / 48])
    np.testing.assert_allclose(a[48], [0.5 / 48, 1.5 / 48])
    np.testing.assert_allclose(a[-1], [47.5 / 48, 47.5 / 48])
    assert a.dtype == np.float32


# ---------------------------------------------------------------- weighted NMS

def _kps(box: list[float]) -> np.ndarray:
    """6 keypoints derived from a box (so merged keypoints are checkable)."""
    x1, y1, x2, y2 = box
    return np.array([[x1 + (x2 - x1) * f, y1 + (y2 - y1) * g] for f, g in
                     [(0.3, 0.4), (0.7, 0.4), (0.5, 0.6), (0.5, 0.8), (0.1, 0.5), (0.9, 0.5)]])


def test_weighted_nms_averages_overlapping_by_score():
    boxes = np.array([[0.0, 0, 10, 10], [1, 1, 11, 11], [50, 50, 60, 60]])
    scores = np.array([0.6, 0.9, 0.7], dtype=np.float32)
    kps = np.stack([_kps(list(b)) for b in boxes])
    b, s, k = weighted_nms(boxes, scores, kps, 0.3)
    assert len(b) == 2
    # best first: the merged pair (top score 0.9), then the lone box
    np.testing.assert_allclose(s, [0.9, 0.7])
    w = np.array([0.9, 0.6]) / 1.5
    np.testing.assert_allclose(b[0], w[0] * boxes[1] + w[1] * boxes[0], rtol=1e-6)
    np.testing.assert_allclose(k[0], w[0] * kps[1] + w[1] * kps[0], rtol=1e-6)
    np.testing.assert_allclose(b[1], boxes[2])  # not overlapping: kept as it is
    np.testing.assert_allclose(k[1], kps[2])


def test_weighted_nms_keeps_boxes_at_or_below_the_iou_threshold():
    # IoU of these two = 25 / 175 = 0.143: with threshold 0.3 both stay, order by score
    boxes = np.array([[0.0, 0, 10, 10], [5, 5, 15, 15]])
    scores = np.array([0.55, 0.8], dtype=np.float32)
    kps = np.stack([_kps(list(x)) for x in boxes])
    b, s, _ = weighted_nms(boxes, scores, kps, 0.3)
    np.testing.assert_allclose(s, [0.8, 0.55])
    np.testing.assert_allclose(b, boxes[[1, 0]])
    # with a threshold below their IoU they merge
    b, s, _ = weighted_nms(boxes, scores, kps, 0.1)
    assert len(b) == 1 and s[0] == pytest.approx(0.8)


def test_weighted_nms_greedy_chain():
    """A overlaps B, B overlaps C, A does not overlap C: A (best) absorbs B only; C stays on its own."""
    boxes = np.array([[0.0, 0, 10, 10], [3, 0, 13, 10], [8, 0, 18, 10]])
    scores = np.array([0.9, 0.8, 0.7], dtype=np.float32)
    kps = np.zeros((3, 6, 2))
    b, s, _ = weighted_nms(boxes, scores, kps, 0.3)
    np.testing.assert_allclose(s, [0.9, 0.7])
    np.testing.assert_allclose(b[0], (0.9 * boxes[0] + 0.8 * boxes[1]) / 1.7, rtol=1e-6)
    np.testing.assert_allclose(b[1], boxes[2])


def test_weighted_nms_empty_and_degenerate():
    b, s, k = weighted_nms(np.zeros((0, 4)), np.zeros(0, np.float32), np.zeros((0, 6, 2)))
    assert b.shape == (0, 4) and s.shape == (0,) and k.shape == (0, 6, 2)
    # a zero-area box overlaps nothing (IoU 0 even with itself) but is still output, once
    boxes = np.array([[5.0, 5, 5, 5], [0, 0, 10, 10]])
    b, s, _ = weighted_nms(boxes, np.array([0.9, 0.8], np.float32), np.zeros((2, 6, 2)))
    assert len(b) == 2
    np.testing.assert_allclose(s, [0.9, 0.8])


# ---------------------------------------------------------------- regions and warps

def test_letterbox_roi_grows_the_short_side():
    assert letterbox_roi(0, 0, 640, 360) == Roi(320, 180, 640, 640, 0.0)
    assert letterbox_roi(10, 20, 100, 300) == Roi(60, 170, 300, 300, 0.0)
    r = letterbox_roi(0, 0, 100, 100, aspect=2.0)
    assert (r.width, r.height) == (200, 100)


def test_warp_maps_corners_onto_corners():
    """A marked pixel lands where the corner-aligned mapping puts it (not where half-pixel centres would)."""
    img = np.zeros((40, 40, 3), np.uint8)
    img[12, 15] = 255  # x 15, y 12
    roi = Roi(20, 20, 20, 20)  # covers x, y in [10, 30]: twice magnified into 40 x 40
    out = warp_roi(img, roi, (40, 40), (0.0, 1.0))
    # tensor pixel (u, v) samples image point (10 + u / 2, 10 + v / 2): the mark is at u = 10, v = 4
    assert out[4, 10, 0] == pytest.approx(1.0)
    assert out[4, 11, 0] == pytest.approx(0.5, abs=1 / 255)  # half way to the next pixel
    assert out[4, 9, 0] == pytest.approx(0.5, abs=1 / 255)
    assert np.count_nonzero(out[:, :, 0] > 0.9) == 1
    # and Roi.to_image maps the tensor position back onto the mark
    np.testing.assert_allclose(roi.to_image(np.array([10 / 40, 4 / 40])), [15, 12])


def test_warp_rotation_90_degrees():
    """rotation = +pi/2 (clockwise in image coordinates): the tensor's x axis runs down the image."""
    img = np.zeros((40, 40, 3), np.uint8)
    img[13, 25] = 255  # x 25, y 13
    roi = Roi(20, 20, 20, 20, math.pi / 2)
    out = warp_roi(img, roi, (20, 20), (0.0, 1.0))
    # image point = centre + R(+90 deg) (tensor point - 10): x = 30 - v, y = 10 + u -> u = 3, v = 5
    v, u = np.unravel_index(np.argmax(out[:, :, 0]), out.shape[:2])
    assert (u, v) == (3, 5) and out[v, u, 0] == pytest.approx(1.0, abs=1e-6)
    np.testing.assert_allclose(roi.to_image(np.array([3 / 20, 5 / 20])), [25, 13], atol=1e-9)
    # the unrotated corners: the tensor's top-left corner is the region's top-right in the image
    np.testing.assert_allclose(roi.corners()[0], [30, 10], atol=1e-9)


@pytest.mark.parametrize("rotation", [0.0, 0.4, -2.2])
def test_warp_samples_a_linear_ramp_exactly(rotation):
    """On an image linear in x and y, each tensor pixel is the ramp at its corner-aligned point, to <= 1 level.

    Steep ramps (5 levels per pixel) and a 3x magnification: half-pixel-centre sampling would be 1/3 px,
    ~1.7 levels, off.
    """
    ys, xs = np.mgrid[0:40, 0:40]

    def ramp(x, y):
        return np.stack([5.0 * x + 20, 5.0 * y + 20, 3.0 * x + 2.0 * y + 10], axis=-1)

    img = np.clip(np.rint(ramp(xs, ys)), 0, 255).astype(np.uint8)
    roi = Roi(20.3, 19.7, 16.0, 40 / 3, rotation)  # inside the image whatever the rotation
    size = (48, 40)
    out = warp_roi(img, roi, size, (0.0, 255.0))
    v, u = np.mgrid[0:size[1], 0:size[0]]
    pts = roi.to_image(np.stack([u / size[0], v / size[1]], axis=-1))
    assert np.abs(out - ramp(pts[..., 0], pts[..., 1])).max() <= 1.0


def test_warp_value_range_and_borders():
    img = np.full((10, 10, 3), 255, np.uint8)
    img[:, 0] = 0  # left column black
    roi = Roi(5, 5, 20, 20)  # twice the image: the outside is padding
    zero = warp_roi(img, roi, (20, 20), (-1.0, 1.0))
    assert zero.dtype == np.float32 and zero.shape == (20, 20, 3)
    assert zero.min() == -1.0 and zero.max() == 1.0
    assert (zero[0:2] == -1.0).all() and (zero[:, 18:] == -1.0).all()  # zeros outside the image -> -1
    rep = warp_roi(img, roi, (20, 20), (0.0, 1.0), replicate=True)
    assert (rep[0, 10:18] == 1.0).all()  # top edge repeats the image's (white) top row
    assert (rep[10, :4] == 0.0).all()  # left edge repeats the black column
    out = np.zeros((20, 20, 3), np.float32)
    assert warp_roi(img, roi, (20, 20), (0.0, 1.0), out=out, replicate=True) is out
    np.testing.assert_array_equal(out, rep)


def test_rotation_helpers():
    assert rotation_from_points(np.array([0, 5]), np.array([10, 5])) == pytest.approx(0.0)
    # end lower-right of start (y down): the face leans clockwise, the region turns +45 degrees
    assert rotation_from_points(np.array([0, 0]), np.array([10, 10])) == pytest.approx(math.pi / 4)
    assert rotation_from_points(np.array([0, 0]), np.array([0, -10])) == pytest.approx(-math.pi / 2)  # end straight above
    assert normalize_radians(3 * math.pi / 2) == pytest.approx(-math.pi / 2)
    assert -math.pi <= normalize_radians(math.pi) < math.pi
    r = square_roi(10, 20, 30, 40, 0.5, 1.5)
    assert (r.cx, r.cy, r.width, r.height, r.rotation) == (10, 20, 60, 60, 0.5)
