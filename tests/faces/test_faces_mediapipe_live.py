"""Live comparison with mediapipe itself on the fixture frames (only where ``import mediapipe`` works).

The project's environment has no mediapipe (the recorded references in tests/fixtures/faces stand in for it);
in the recording environment (see tools/record_face_fixtures.py) this checks vidaffect against the real thing and
that the recorded references are still what mediapipe says.
"""
from __future__ import annotations

import numpy as np
import pytest
from faces_helpers import RUNTIMES, SELECTION, box_centres, mediapipe_detections, mediapipe_meshes, pair_nearest

mp = pytest.importorskip("mediapipe", reason="mediapipe is not installed: the recorded references in "
                                             "tests/fixtures/faces cover the comparison")


def _detect(selection: int, image: np.ndarray):
    h, w = image.shape[:2]
    with mp.solutions.face_detection.FaceDetection(model_selection=selection, min_detection_confidence=0.5) as fd:
        found = fd.process(image).detections or []
    boxes, kps, scores = [], [], []
    for d in found:
        b = d.location_data.relative_bounding_box
        boxes.append([b.xmin * w, b.ymin * h, (b.xmin + b.width) * w, (b.ymin + b.height) * h])
        kps.append([[k.x * w, k.y * h] for k in d.location_data.relative_keypoints])
        scores.append(d.score[0])
    n = len(scores)
    return np.reshape(boxes, (n, 4)), np.reshape(kps, (n, 6, 2)), np.asarray(scores)


@pytest.mark.parametrize("runtime", RUNTIMES)
@pytest.mark.parametrize("model", ["short", "full"])
def test_blazeface_matches_live_mediapipe(model, runtime, reference, frames, detectors):
    for entry in reference["frames"]:
        image = frames[entry["file"]]
        boxes, kps, scores = _detect(SELECTION[model], image)
        # the recorded reference is what this mediapipe says now
        rb, rk, rs = mediapipe_detections(entry, SELECTION[model])
        assert len(rs) == len(scores) and np.abs(rb - boxes).max() < 1e-3 and np.abs(rs - scores).max() < 1e-5
        dets = detectors(model, runtime).detect(image)
        assert len(dets) == len(scores)
        idx = pair_nearest(box_centres(boxes), box_centres(dets.xyxy))
        assert np.abs(dets.xyxy[idx] - boxes).max() <= 1.0
        assert np.abs(dets.keypoints[idx] - kps).max() <= 1.0
        assert np.abs(dets.scores[idx] - scores).max() <= 1e-3


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_mesh_matches_live_mediapipe(runtime, reference, frames, detectors, meshes):
    from vidaffect.faces.mesh import roi_from_detection

    with mp.solutions.face_mesh.FaceMesh(static_image_mode=True, max_num_faces=10, refine_landmarks=False) as fm:
        for entry in reference["frames"]:
            image = frames[entry["file"]]
            h, w = image.shape[:2]
            faces = fm.process(image).multi_face_landmarks or []
            live = np.array([[[p.x * w, p.y * h] for p in f.landmark][:468] for f in faces]).reshape(-1, 468, 2)
            assert len(live) == len(mediapipe_meshes(entry))
            dets = detectors("short", runtime).detect(image)
            lm, _ = meshes(runtime).run(image, [roi_from_detection(dets.xyxy[i], dets.keypoints[i])
                                                for i in range(len(dets))])
            ours = lm[~np.isnan(lm[:, 0, 0]), :, :2]
            assert len(ours) == len(live)
            idx = pair_nearest(live.mean(1), ours.mean(1))
            assert np.abs(ours[idx] - live).max() <= 1.0
