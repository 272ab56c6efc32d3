"""BlazeFace and the face mesh on real frames against mediapipe 0.10.21's recorded outputs (tests/fixtures/faces/)."""
from __future__ import annotations

import json

import numpy as np
import pytest
from faces_helpers import (FIXTURES, RUNTIMES, SELECTION, box_centres, mediapipe_detections, mediapipe_meshes,
                           pair_nearest)

PX_TOL = 1.0  # boxes, keypoints and mesh landmarks, image pixels
SCORE_TOL = 1e-3
FRAME_FILES = [f["file"] for f in json.loads((FIXTURES / "reference.json").read_text())["frames"]]


def _entry(reference: dict, file: str) -> dict:
    return next(f for f in reference["frames"] if f["file"] == file)


def _iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    from vidaffect.faces.detections import box_iou

    return box_iou(a, b)


@pytest.mark.parametrize("frame", FRAME_FILES)
@pytest.mark.parametrize("runtime", RUNTIMES)
@pytest.mark.parametrize("model", ["short", "full"])
def test_blazeface_matches_mediapipe(model, runtime, frame, reference, frames, detectors):
    ref_boxes, ref_kps, ref_scores = mediapipe_detections(_entry(reference, frame), SELECTION[model])
    assert len(ref_scores) >= 1, "a fixture frame without faces tests nothing: re-record with faces in it"
    dets = detectors(model, runtime).detect(frames[frame])
    assert len(dets) == len(ref_scores), f"{len(dets)} faces, mediapipe found {len(ref_scores)}"
    assert (np.diff(dets.scores) <= 0).all(), "faces are not best first"
    idx = pair_nearest(box_centres(ref_boxes), box_centres(dets.xyxy))
    box_err = np.abs(dets.xyxy[idx] - ref_boxes).max()
    kp_err = np.abs(dets.keypoints[idx] - ref_kps).max()
    score_err = np.abs(dets.scores[idx] - ref_scores).max()
    assert box_err <= PX_TOL, f"boxes {box_err:.3f} px from mediapipe's"
    assert kp_err <= PX_TOL, f"keypoints {kp_err:.3f} px from mediapipe's"
    assert score_err <= SCORE_TOL, f"scores {score_err:.2e} from mediapipe's"


@pytest.mark.parametrize("frame", FRAME_FILES)
@pytest.mark.parametrize("runtime", RUNTIMES)
def test_mesh_from_detection_matches_mediapipe(runtime, frame, reference, frames, detectors, meshes):
    """The mesh fitted in each short-range detection's region = mediapipe FaceMesh(static_image_mode=True)."""
    from vidaffect.faces.mesh import roi_from_detection

    image = frames[frame]
    ref = mediapipe_meshes(_entry(reference, frame))
    dets = detectors("short", runtime).detect(image)
    rois = [roi_from_detection(dets.xyxy[i], dets.keypoints[i]) for i in range(len(dets))]
    lm, presence = meshes(runtime).run(image, rois)
    assert lm.shape == (len(dets), 468, 3) and presence.shape == (len(dets),)
    found = ~np.isnan(lm[:, :, :2]).any(axis=(1, 2))
    # the face flag gates the landmarks: NaN exactly where it is below the threshold
    np.testing.assert_array_equal(found, presence >= 0.5)
    assert found.sum() == len(ref), f"{found.sum()} meshes, mediapipe fitted {len(ref)}"
    ours = lm[found, :, :2].astype(np.float64)
    idx = pair_nearest(ref.mean(1), ours.mean(1))
    err = np.abs(ours[idx] - ref).max()
    assert err <= PX_TOL, f"landmarks {err:.3f} px from mediapipe's"
    # z is finite where x, y are
    assert np.isfinite(lm[found, :, 2]).all()


def test_some_fixture_mesh_is_rejected(reference, frames, detectors, meshes):
    """The fixtures include a detection whose mesh face flag fails (mediapipe fits fewer meshes than faces)."""
    rejected = sum(len(mediapipe_detections(f, 0)[2]) - len(f["face_mesh"]["landmarks"]) for f in reference["frames"])
    assert rejected >= 1


@pytest.mark.parametrize("runtime", RUNTIMES)
@pytest.mark.parametrize("model", ["short", "full"])
def test_threshold_selects_faces(model, runtime, frames, detectors):
    """threshold 0.9 keeps exactly the 0.5 faces scoring >= 0.9; a low one keeps every 0.5 face and maybe more.

    With weighted NMS the surviving faces' top scores are unchanged by the threshold (their boxes move a
    little: fewer low-score anchors are averaged in), so the subset is checked on scores and box overlap.
    """
    mid, high, low = (detectors(model, runtime, t) for t in (0.5, 0.9, 0.2))
    counts = {"high": 0, "mid": 0, "low": 0}
    for image in frames.values():
        m, h, lo = mid.detect(image), high.detect(image), low.detect(image)
        counts["high"] += len(h)
        counts["mid"] += len(m)
        counts["low"] += len(lo)
        assert (h.scores >= 0.9).all() and (m.scores >= 0.5).all() and (lo.scores >= 0.2).all()
        for sub, sup, t in ((h, m, 0.9), (m, lo, 0.5)):
            expect = sup[np.flatnonzero(sup.scores >= t)]
            assert len(sub) == len(expect)
            np.testing.assert_array_equal(np.sort(sub.scores), np.sort(expect.scores))
            if len(sub):
                iou = _iou(sub.xyxy, expect.xyxy)
                assert (iou.max(1) > 0.5).all(), f"threshold {t}: a face is not among the lower threshold's"
    assert counts["high"] < counts["mid"], "0.9 dropped no face on any fixture frame: the test shows nothing"
    assert counts["low"] >= counts["mid"]


def test_default_thresholds_are_mediapipes(detectors):
    assert detectors("short", "torch").threshold == 0.5
    assert detectors("full", "torch").threshold == 0.6


@pytest.mark.parametrize("model", ["short", "full"])
def test_bf16_finds_the_same_faces(model, frames, detectors):
    """bf16 autocast on the torch runtime: same faces, scores within 0.02, boxes within a few pixels."""
    image = frames["multi_face_400.png"]
    ref = detectors(model, "torch").detect(image)
    got = detectors(model, "torch", precision="bf16").detect(image)
    assert len(ref) >= 2 and len(got) == len(ref)
    idx = pair_nearest(box_centres(ref.xyxy), box_centres(got.xyxy))
    assert np.abs(got.scores[idx] - ref.scores).max() <= 0.02
    assert (_iou(got.xyxy[idx], ref.xyxy).diagonal() > 0.9).all()


def test_detect_rois_batch_equals_single(frames, detectors):
    """Regions run as one batch give what each gives alone (the multi-scale tiles rely on it)."""
    from vidaffect.faces.roi import Roi, letterbox_roi

    image = frames["multi_face_400.png"]
    h, w = image.shape[:2]
    rois = [letterbox_roi(0, 0, w, h), Roi(w * 0.3, h * 0.5, h, h), Roi(w * 0.75, h * 0.5, h, h)]
    det = detectors("full", "torch")
    batch = det.detect_rois(image, rois)
    assert len(batch) == len(rois) and sum(len(b) for b in batch) >= 3
    for roi, b in zip(rois, batch):
        one = det.detect_rois(image, [roi])[0]
        assert len(one) == len(b)
        np.testing.assert_allclose(b.xyxy, one.xyxy, atol=1e-3)
        np.testing.assert_allclose(b.scores, one.scores, atol=1e-5)
    assert det.detect_rois(image, []) == []
