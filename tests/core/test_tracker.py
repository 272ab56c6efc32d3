"""Tracker: stable ids, gap tolerance, new ids after long gaps and cuts."""
from __future__ import annotations

import numpy as np

from vidaffect.faces import Detections, FaceTracker, box_iou


def dets(*boxes) -> Detections:
    n = len(boxes)
    return Detections(np.array(boxes, dtype=float).reshape(n, 4), np.ones(n), np.zeros((n, 6, 2)))


def test_box_iou_values():
    iou = box_iou(np.array([[0, 0, 10, 10]]), np.array([[0, 0, 10, 10], [5, 0, 15, 10], [20, 20, 30, 30]]))
    np.testing.assert_allclose(iou[0], [1.0, 50 / 150, 0.0], atol=1e-6)


def test_two_faces_keep_their_ids_while_moving_and_swapping_order():
    tr = FaceTracker()
    a, b = [0, 0, 50, 50], [200, 0, 250, 50]
    first = tr.update(dets(a, b), 0.0).face_ids.tolist()
    assert first == [0, 1]
    for k in range(1, 20):  # both move 5 px per frame; detector order swaps every frame
        a2 = [a[0] + 5 * k, 0, a[2] + 5 * k, 50]
        b2 = [b[0] - 5 * k, 0, b[2] - 5 * k, 50]
        order = (b2, a2) if k % 2 else (a2, b2)
        ids = tr.update(dets(*order), k / 25).face_ids.tolist()
        assert ids == ([1, 0] if k % 2 else [0, 1])


def test_short_gap_keeps_id_long_gap_gets_new_id():
    tr = FaceTracker(max_gap_s=1.0)
    box = [100, 100, 160, 160]
    assert tr.update(dets(box), 0.0).face_ids.tolist() == [0]
    tr.update(Detections.empty(), 0.4)
    assert tr.update(dets([110, 100, 170, 160]), 0.8).face_ids.tolist() == [0]  # 0.8 s gap: same face
    assert tr.update(dets(box), 2.5).face_ids.tolist() == [1]  # 1.7 s gap: new id


def test_fast_motion_matched_by_centre_distance():
    tr = FaceTracker()
    tr.update(dets([0, 0, 100, 100]), 0.0)
    # moved by 60 px: IoU 0.25 < 0.3, centre distance 60/141 = 0.42 diagonal -> still the same face
    assert tr.update(dets([60, 0, 160, 100]), 0.04).face_ids.tolist() == [0]
    # a far-away face is someone else
    assert tr.update(dets([60, 0, 160, 100], [500, 0, 600, 100]), 0.08).face_ids.tolist() == [0, 1]


def test_cut_ends_tracks():
    tr = FaceTracker()
    tr.update(dets([0, 0, 50, 50]), 0.0)
    tr.cut()
    assert tr.update(dets([0, 0, 50, 50]), 0.04).face_ids.tolist() == [1]


def test_scene_cut_detector_flags_hard_cuts_only():
    from vidaffect.video.scene_cut import SceneCutDetector

    rng = np.random.default_rng(0)
    dark = rng.integers(0, 60, (90, 160, 3), dtype=np.uint8)
    bright = rng.integers(180, 255, (90, 160, 3), dtype=np.uint8)
    det = SceneCutDetector()
    assert det.update(dark) is False
    assert det.update(np.clip(dark.astype(int) + 5, 0, 255).astype(np.uint8)) is False  # small change
    assert det.update(bright) is True


def test_carried_mesh_follows_keypoint_motion():
    """Between mesh frames, a face's last mesh is moved by its keypoints' similarity transform."""
    from vidaffect.faces.detector import FaceDetector

    det = FaceDetector.__new__(FaceDetector)  # no networks needed for this step
    kps = np.zeros((1, 6, 2), np.float32)
    kps[0, :4] = [[40, 50], [80, 50], [60, 70], [60, 90]]
    lm = np.random.default_rng(0).uniform(30, 100, (1, 468, 2)).astype(np.float32)
    det._last_meshed = Detections(np.array([[20, 20, 100, 110]]), np.ones(1), kps, lm)
    moved = kps.copy()
    moved[0, :4] += [7, -3]
    out = det._carry_mesh(Detections(np.array([[27, 17, 107, 107]]), np.ones(1), moved))
    np.testing.assert_allclose(out[0], lm[0] + [7, -3], atol=1e-3)
    far = det._carry_mesh(Detections(np.array([[300, 300, 380, 390]]), np.ones(1), moved + 280))
    assert np.isnan(far).all()  # no overlapping meshed face: not verified
