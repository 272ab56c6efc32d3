"""Optical-flow carrying of faces between detection frames (faces/flow.py) and the detector's schedule."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from vidaffect.faces.detections import Detections, box_iou
from vidaffect.faces.flow import propagate


def _texture(h: int = 240, w: int = 320, seed: int = 0) -> np.ndarray:
    noise = np.random.default_rng(seed).random((h // 4, w // 4)).astype(np.float32)
    return (cv2.resize(noise, (w, h), interpolation=cv2.INTER_CUBIC).clip(0, 1) * 255).astype(np.uint8)


def _face(landmarks: bool = True) -> Detections:
    kps = np.array([[[130, 100], [170, 100], [150, 125], [150, 145], [115, 110], [185, 110]]], np.float32)
    lm = np.random.default_rng(1).uniform(115, 185, (1, 468, 2)).astype(np.float32) if landmarks else None
    return Detections(np.array([[110, 70, 190, 170]]), np.array([0.9]), kps, lm, np.array([7]))


def _warp(img: np.ndarray, m: np.ndarray) -> np.ndarray:
    return cv2.warpAffine(img, m, (img.shape[1], img.shape[0]), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)


def test_translation_moves_box_keypoints_and_landmarks():
    prev = _texture()
    shift = np.array([4.0, -3.0])
    nxt = _warp(prev, np.array([[1, 0, shift[0]], [0, 1, shift[1]]], np.float32))
    face = _face()
    out = propagate(face, prev, nxt)
    assert len(out) == 1
    np.testing.assert_allclose(out.xyxy[0], face.xyxy[0] + np.tile(shift, 2), atol=0.3)
    np.testing.assert_allclose(out.keypoints[0], face.keypoints[0] + shift, atol=0.3)
    np.testing.assert_allclose(out.landmarks[0], face.landmarks[0] + shift, atol=0.3)
    assert out.face_ids[0] == 7 and out.scores[0] == pytest.approx(0.9)
    assert face.xyxy[0, 0] == 110, "the input detections must not be modified"


def test_zoom_scales_the_box_about_the_moved_centre():
    prev = _texture(seed=2)
    m = cv2.getRotationMatrix2D((150, 120), 3.0, 1.06)  # rotate 3 degrees, zoom 6 % about (150, 120)
    nxt = _warp(prev, m)
    face = _face(landmarks=False)
    out = propagate(face, prev, nxt)
    width = out.xyxy[0, 2] - out.xyxy[0, 0]
    assert width == pytest.approx(80 * 1.06, rel=0.02)
    expected_kps = face.keypoints[0] @ m[:, :2].T + m[:, 2]
    np.testing.assert_allclose(out.keypoints[0], expected_kps, atol=0.6)
    assert out.landmarks is None


def test_face_on_a_featureless_frame_is_dropped_not_guessed():
    prev = _texture(seed=3)
    flat = np.full_like(prev, 128)
    assert len(propagate(_face(), prev, flat)) == 0
    assert len(propagate(Detections.empty(), prev, prev)) == 0


def test_detector_runs_blazeface_on_every_nth_frame_and_carries_faces(demo_video):
    from vidaffect.faces.detector import FaceDetector
    from vidaffect.video import open_video

    frames = [f.image for _, f in zip(range(24), open_video(demo_video))]
    exact = FaceDetector(detect_every=1, mesh_every=1)
    sched = FaceDetector(detect_every=3, mesh_every=2)
    calls = []
    real, real_tile = sched._finder.detect, sched._finder.detect_next_tile
    sched._finder.detect = lambda img, *a, **kw: calls.append(1) or real(img, *a, **kw)
    sched._finder.detect_next_tile = lambda img: calls.append(1) or real_tile(img)  # a tile's turn
    try:
        for i, image in enumerate(frames):
            a, b = exact.detect(image), sched.detect(image)
            assert len(b) == len(a) >= 1, f"frame {i}: {len(b)} carried faces vs {len(a)} detected"
            iou = box_iou(a.xyxy, b.xyxy).max(axis=1)
            assert (iou > 0.8).all(), f"frame {i}: carried boxes drift from fresh detections (IoU {iou})"
            assert b.has_mesh().all(), f"frame {i}: carried faces keep their mesh"
        assert len(calls) == 8  # frames 0, 3, ..., 21
        sched.reset()  # a scene cut: the next frame is detected whatever the schedule
        sched.detect(frames[1])
        assert len(calls) == 9
    finally:
        exact.close()
        sched.close()


def test_detect_every_must_be_positive():
    from vidaffect.errors import VidaffectError
    from vidaffect.faces.detector import FaceDetector

    with pytest.raises(VidaffectError, match="detect_every"):
        FaceDetector(detect_every=0)


def test_mesh_tracks_a_face_the_detector_misses(demo_video):
    """A face with landmarks on the previous frame that detection misses is followed by the mesh alone."""
    from vidaffect.faces.detector import FaceDetector
    from vidaffect.faces.detections import Detections
    from vidaffect.video import open_video

    frames = [f.image for _, f in zip(range(6), open_video(demo_video, fps=8, start=1.0))]
    det = FaceDetector(detect_every=1, mesh_every=1)
    try:
        first = det.detect(frames[0])
        assert len(first) == 1 and first.has_mesh().all()
        det._finder.detect = lambda img, *a, **kw: Detections.empty()  # the detector now misses it
        tracked = det.detect(frames[1])
        assert len(tracked) == 1 and tracked.has_mesh().all()
        assert box_iou(first.xyxy, tracked.xyxy)[0, 0] > 0.5
        det.reset()  # after a cut nothing is followed
        assert len(det.detect(frames[2])) == 0
        blank = np.zeros_like(frames[3])
        det.detect(frames[3])  # no previous face: nothing to follow
        assert len(det.detect(blank)) == 0
    finally:
        det.close()


def test_flow_window_covers_faces_with_margin_and_stays_in_frame():
    from vidaffect.faces.flow import flow_window

    boxes = np.array([[100.0, 50.0, 200.0, 150.0], [300.0, 60.0, 340.0, 100.0]])
    x0, y0, x1, y1 = flow_window(boxes, (360, 640))
    assert (x0, y0) == (44, 0)  # 100 - (0.4 * 100 + 16); 50 - 56 clipped at 0
    assert (x1, y1) == (372, 206)  # 340 + the small face's margin 0.4 * 40 + 16; 150 + 56
    assert flow_window(np.array([[-500.0, -500.0, -490.0, -490.0]]), (360, 640)) == (0, 0, 640, 360)


def test_propagate_on_window_matches_whole_frame(monkeypatch):
    from vidaffect.faces import flow

    prev = _texture(seed=5)
    cur = np.roll(prev, (3, -2), axis=(0, 1))
    face = _face()
    windowed = flow.propagate(face, prev, cur)
    monkeypatch.setattr(flow, "flow_window", lambda xyxy, shape: (0, 0, shape[1], shape[0]))
    whole = flow.propagate(face, prev, cur)
    np.testing.assert_allclose(windowed.xyxy, whole.xyxy, atol=0.05)
    np.testing.assert_allclose(windowed.xyxy - face.xyxy, [[-2, 3, -2, 3]], atol=0.3)


def test_far_apart_small_faces_get_a_window_each_with_the_same_motion(monkeypatch):
    from vidaffect.faces import flow

    prev = _texture(h=720, w=1280, seed=6)
    cur = np.roll(prev, (2, 3), axis=(0, 1))
    boxes = np.array([[40.0, 40.0, 80.0, 80.0], [1180.0, 620.0, 1220.0, 660.0]], np.float32)
    kps = np.stack([np.stack([b[:2] + (b[2:] - b[:2]) * f for f in ([.3, .4], [.7, .4], [.5, .6], [.5, .8], [.1, .5], [.9, .5])])
                    for b in boxes])
    faces = Detections(boxes, np.ones(2), kps)
    windows = []
    real = flow._lucas_kanade
    monkeypatch.setattr(flow, "_lucas_kanade", lambda src, w, *a: windows.append(w) or real(src, w, *a))
    moved = flow.propagate(faces, prev, cur)
    assert len(windows) == 2 and all(flow._area(w) < 200 * 200 for w in windows)  # not one frame-wide window
    np.testing.assert_allclose(moved.xyxy - faces.xyxy, [[3, 2, 3, 2]] * 2, atol=0.3)
