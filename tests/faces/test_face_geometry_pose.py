"""Face geometry (``vidaffect.faces.geometry``): head pose, eye and mouth openness, face size.

The first tests are synthetic (the canonical model projected through a known camera) and pin the shipped model,
the formulas and the sign conventions.  The ``integration`` tests check the pose on real faces of the shared
videos, with meshes from vidaffect's own detector, by checks that fail on a wrong sign, a wrong angle order or a
wrong model: rotating a frame in-plane changes roll by the angle and leaves yaw and pitch; mirroring it negates
yaw and roll; real head turns move yaw monotonically; closed eyes, a blink and an open mouth move the openness
ratios.  Every stretch and frame named below was looked at (crops of the face) before its assertion was written.
"""
from __future__ import annotations

import hashlib
import json
import time

import cv2
import numpy as np
import pytest

from vidaffect.faces import geometry as geo

MODEL = geo.canonical_face_model()
OBJ = MODEL * np.array([1.0, -1.0, -1.0])  # OpenCV's object frame: x right, y down, z into the head


def project(rot: np.ndarray, trans: np.ndarray, size=(640, 480)) -> np.ndarray:
    """The canonical mesh (N, 468, 2) seen through geo.camera_matrix(size) with rotations (N, 3, 3), translations."""
    cam = geo.camera_matrix(size)
    pts = np.einsum("nij,kj->nki", rot, OBJ) + np.asarray(trans)[:, None, :]
    return pts[..., :2] / pts[..., 2:] * cam[0, 0] + cam[:2, 2]


def axis_rotation(axis: int, degrees: float) -> np.ndarray:
    return cv2.Rodrigues(np.eye(3)[axis] * np.radians(degrees))[0]


# ---------------------------------------------------------------- the shipped model

def test_canonical_model_is_the_shipped_mediapipe_file():
    path = geo.MODEL_FILE
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    manifest = json.loads((path.parent / "manifest.json").read_text())
    entry = manifest["face_geometry"]["canonical_face_model"]
    assert digest == entry["sha256"] and entry["license"] == "Apache-2.0"
    assert digest in (path.parent / "NOTICE").read_text()
    lines = path.read_text().splitlines()
    assert sum(line.startswith("v ") for line in lines) == 468
    assert sum(line.startswith("vt ") for line in lines) == 468
    assert sum(line.startswith("f ") for line in lines) == entry["triangles"] == 898
    assert MODEL.shape == (468, 3)


def test_canonical_model_is_mirror_symmetric_with_the_mesh_order():
    # every off-midline vertex has an exact mirror (x negated); the eye corners sit where the mesh puts them
    for x, y, z in MODEL[MODEL[:, 0] != 0]:
        assert np.abs(MODEL - [-x, y, z]).max(axis=1).min() < 1e-6
    assert MODEL[33, 0] < 0 < MODEL[263, 0]  # 33 = subject's right eye (image left), 263 = left eye
    assert MODEL[10, 1] > MODEL[4, 1] > MODEL[152, 1]  # forehead above nose tip above chin: y is up
    assert MODEL[4, 2] > MODEL[234, 2]  # nose tip in front of the cheek contour: z points out of the face


# ---------------------------------------------------------------- conventions and accuracy (synthetic)

def test_angles_round_trip():
    rng = np.random.default_rng(0)
    yaw, pitch, roll = rng.uniform(-80, 80, 100), rng.uniform(-80, 80, 100), rng.uniform(-170, 170, 100)
    back = geo.rotation_to_angles(geo.angles_to_rotation(yaw, pitch, roll))
    np.testing.assert_allclose(np.stack(back), np.stack([yaw, pitch, roll]), atol=1e-9)


def test_sign_conventions_on_the_projected_model():
    """Turn the model itself (not through the angle functions) and read the signs."""
    t = np.array([[0.0, 0.0, 60.0]])
    nose, left_eye, right_eye = 4, 263, 33
    frontal = project(np.eye(3)[None], t)
    pose = geo.head_pose(frontal, (640, 480))
    assert max(abs(pose["yaw"][0]), abs(pose["pitch"][0]), abs(pose["roll"][0])) < 1e-3
    # subject turns to their left: the nose moves to the image's right -> yaw > 0
    turned = project(axis_rotation(1, -20)[None], t)
    assert turned[0, nose, 0] > frontal[0, nose, 0]
    assert geo.head_pose(turned, (640, 480))["yaw"][0] == pytest.approx(20, abs=1e-3)
    # subject looks up: the nose moves up in the image -> pitch > 0
    up = project(axis_rotation(0, -15)[None], t)
    assert up[0, nose, 1] < frontal[0, nose, 1]
    assert geo.head_pose(up, (640, 480))["pitch"][0] == pytest.approx(15, abs=1e-3)
    # the image rotated clockwise (as displayed) by 25 degrees about the face -> roll = 25
    centre = frontal[0].mean(axis=0)
    m = cv2.getRotationMatrix2D(tuple(centre), -25, 1.0)  # OpenCV: positive = counter-clockwise
    rolled = frontal @ m[:, :2].T + m[:, 2]
    assert rolled[0, left_eye, 1] > rolled[0, right_eye, 1]  # image-right eye now lower
    assert geo.head_pose(rolled, (640, 480))["roll"][0] == pytest.approx(25, abs=0.3)


def test_pose_is_recovered_through_a_perspective_camera():
    rng = np.random.default_rng(1)
    n = 200
    yaw, pitch, roll = rng.uniform(-60, 60, n), rng.uniform(-35, 35, n), rng.uniform(-45, 45, n)
    trans = np.c_[rng.uniform(-10, 10, n), rng.uniform(-8, 8, n), rng.uniform(40, 120, n)]
    lm = project(geo.angles_to_rotation(yaw, pitch, roll), trans) + rng.normal(0, 0.3, (n, 468, 2))
    pose = geo.head_pose(lm, (640, 480))
    err = np.abs(np.stack([pose["yaw"] - yaw, pose["pitch"] - pitch, pose["roll"] - roll]))
    assert err.max() < 1.0, f"max angle error {err.max(axis=1)}"
    np.testing.assert_allclose(pose["translation"], trans, rtol=0.02, atol=0.3)
    # face_px: the model's forehead-to-chin height at the distance of the fitted points, whatever the pose
    height = np.linalg.norm(MODEL[10] - MODEL[152])
    depth = trans[:, 2] + geo.angles_to_rotation(yaw, pitch, roll)[:, 2] @ OBJ[list(geo.POSE_POINTS)].mean(axis=0)
    np.testing.assert_allclose(pose["face_px"], 640 * height / depth, rtol=0.02)
    # the closed-form weak-perspective start alone is biased off-centre but close near the optical axis
    centred = project(geo.angles_to_rotation(yaw, pitch, roll), np.c_[np.zeros((n, 2)), np.full(n, 300.0)])
    weak = geo.head_pose(centred, (640, 480), refine=False)
    assert np.abs(weak["yaw"] - yaw).max() < 2 and np.abs(weak["roll"] - roll).max() < 2


def test_outputs_missing_meshes_and_dtypes():
    lm = project(np.stack([np.eye(3)] * 3), [[0, 0, 60]] * 3)
    lm[1] = np.nan
    out = geo.face_geometry(lm.astype(np.float32), (640, 480))
    assert tuple(out) == geo.GEOMETRY_KEYS
    for key, values in out.items():
        assert values.dtype == np.float32 and values.shape == (3,), key
        assert np.isnan(values[1]) and np.isfinite(values[[0, 2]]).all(), key
    collapsed = geo.head_pose(np.full((1, 468, 2), 100.0), (640, 480))  # every point in one place: no pose
    assert np.isnan(collapsed["yaw"]).all() and np.isnan(collapsed["face_px"]).all()
    empty = geo.face_geometry(np.zeros((0, 468, 2)), (640, 480))
    assert all(v.shape == (0,) for v in empty.values())
    with pytest.raises(ValueError):
        geo.face_geometry(np.zeros((2, 68, 2)), (640, 480))


def test_openness_formulas():
    lm = project(np.eye(3)[None], [[0, 0, 60]])[0]
    right, left = geo.eye_openness(lm[None])
    assert right[0] == pytest.approx(np.linalg.norm(lm[159] - lm[145]) / np.linalg.norm(lm[33] - lm[133]))
    assert left[0] == pytest.approx(np.linalg.norm(lm[386] - lm[374]) / np.linalg.norm(lm[362] - lm[263]))
    assert lm[33, 0] < lm[263, 0]  # the right eye's points are on the image's left in a non-mirrored image
    closed = lm.copy()
    closed[159] = closed[145]
    r, l_ = geo.eye_openness(closed[None])
    assert r[0] == 0 and l_[0] == pytest.approx(left[0])
    opened = lm.copy()
    opened[14] = opened[13] + [0, 0.5 * np.linalg.norm(lm[78] - lm[308])]
    assert geo.mouth_openness(opened[None])[0] == pytest.approx(0.5)


def test_cost_per_face():
    """The brief's budget is 0.5 ms per face; measured 0.2-0.3 ms on a shared 2-core machine.  The bound here only
    catches a gross regression (e.g. a per-point Python loop), not load on the test machine."""
    rng = np.random.default_rng(2)
    n = 300
    rot = geo.angles_to_rotation(rng.uniform(-40, 40, n), rng.uniform(-20, 20, n), rng.uniform(-30, 30, n))
    lm = project(rot, np.c_[np.zeros((n, 2)), np.full(n, 80.0)])
    geo.face_geometry(lm[:5], (640, 480))
    t0 = time.perf_counter()
    geo.face_geometry(lm, (640, 480))
    ms = (time.perf_counter() - t0) / n * 1e3
    assert ms < 2.0, f"{ms:.3f} ms per face"


# ---------------------------------------------------------------- real faces (shared videos)

# Frames whose largest face the rotation and mirror checks use: frontal and turned faces (|yaw| up to 30),
# 60 to 270 px wide, from five videos.
POSE_FRAMES = [("single_face.mp4", 0), ("single_face.mp4", 50), ("WolfgangLanger_Pexels.mp4", 60),
               ("WolfgangLanger_Pexels.mp4", 260), ("WolfgangLanger_Pexels.mp4", 420),
               ("short_hamilton_clip.mp4", 95), ("short_hamilton_clip.mp4", 150), ("short_hamilton_clip.mp4", 196),
               ("short_hamilton_clip.mp4", 210), ("default.wmv", 90), ("default.wmv", 200),
               ("multi_face.avi", 100), ("multi_face.avi", 300)]
ANGLES = (-30, -15, 15, 30)  # clockwise degrees


def _decode(name: str, indices) -> dict[int, np.ndarray]:
    import av
    from video_fixtures import shared_video

    want = set(indices)
    out = {}
    with av.open(str(shared_video(name))) as c:
        for i, frame in enumerate(c.decode(video=0)):
            if i in want:
                out[i] = frame.to_ndarray(format="rgb24")
            if i >= max(want):
                break
    return out


@pytest.fixture(scope="module")
def detector():
    from vidaffect.faces import FaceDetector

    det = FaceDetector("full", landmarks=True, video_mode=True)
    yield det
    det.close()


def _still_mesh(det, rgb: np.ndarray):
    """Faces of a still image with the mesh the detector gives in a video once it tracks: a first pass fits the mesh
    from the detection's keypoints, a second from those landmarks (the region rotated by the eye corners).  The
    single pass leaves the mesh less consistent under rotation (landmarks off by 1% of the face, median, vs 0.65%),
    and the pose with it: roll error under rotation mean 0.57, worst 5.5 degrees, against 0.36 and 2.9."""
    det.reset()
    det.detect(rgb)
    return det.detect(rgb)


def _nearest_face(dets, point) -> int:
    centres = (dets.xyxy[:, :2] + dets.xyxy[:, 2:]) / 2
    return int(np.argmin(np.linalg.norm(centres - np.asarray(point), axis=1)))


def _canvas(rgb: np.ndarray, centre, clockwise: float, mirror: bool = False) -> np.ndarray:
    """The frame rotated clockwise (as displayed) about the face centre, which lands on a square canvas's centre (so
    the camera model's principal point is the face's), optionally mirrored left-right."""
    size = int(1.2 * max(rgb.shape[:2])) // 2 * 2
    m = cv2.getRotationMatrix2D(tuple(float(v) for v in centre), -clockwise, 1.0)
    m[:, 2] += size / 2 - np.asarray(centre, dtype=np.float64)
    out = cv2.warpAffine(rgb, m, (size, size), flags=cv2.INTER_LINEAR)
    return np.ascontiguousarray(out[:, ::-1]) if mirror else out


def _pose_at_centre(det, img: np.ndarray) -> np.ndarray:
    dets = _still_mesh(det, img)
    assert len(dets), "the face was not found on the canvas"
    j = _nearest_face(dets, np.array(img.shape[1::-1]) / 2)
    g = geo.face_geometry(dets.landmarks[j:j + 1], img.shape[1::-1])
    assert np.isfinite(g["yaw"][0]), "no mesh on the face"
    return np.array([g["yaw"][0], g["pitch"][0], g["roll"][0]], dtype=np.float64)


@pytest.fixture(scope="module")
def transformed_poses(detector):
    """(video, frame) -> {(clockwise degrees, mirrored): (yaw, pitch, roll)} of the frame's largest face."""
    by_video: dict[str, list[int]] = {}
    for name, idx in POSE_FRAMES:
        by_video.setdefault(name, []).append(idx)
    out = {}
    for name, idxs in by_video.items():
        frames = _decode(name, idxs)
        for idx in idxs:
            rgb = frames[idx]
            dets = _still_mesh(detector, rgb)
            box = dets.xyxy[int(np.argmax(dets.area))]
            centre = (box[:2] + box[2:]) / 2
            keys = [(0, False), *((t, False) for t in ANGLES), (0, True), (15, True)]
            out[name, idx] = {k: _pose_at_centre(detector, _canvas(rgb, centre, *k)) for k in keys}
    return out


@pytest.mark.integration
def test_in_plane_rotation_changes_roll_by_the_angle(transformed_poses):
    roll_err, yaw_dev, pitch_dev = [], [], []
    for poses in transformed_poses.values():
        base = poses[0, False]
        for t in ANGLES:
            yaw, pitch, roll = poses[t, False]
            roll_err.append(roll - base[2] - t)
            yaw_dev.append(yaw - base[0])
            pitch_dev.append(pitch - base[1])
    roll_err, yaw_dev, pitch_dev = (np.abs(v) for v in (roll_err, yaw_dev, pitch_dev))
    summary = (f"|roll change - angle| mean {roll_err.mean():.2f} max {roll_err.max():.2f}; |yaw change| mean "
               f"{yaw_dev.mean():.2f} max {yaw_dev.max():.2f}; |pitch change| mean {pitch_dev.mean():.2f} max "
               f"{pitch_dev.max():.2f} (degrees, {len(roll_err)} rotations)")
    print(summary)
    assert roll_err.max() <= 2.0 and roll_err.mean() <= 0.8, summary
    assert yaw_dev.max() <= 4.0 and yaw_dev.mean() <= 1.5, summary
    assert pitch_dev.max() <= 7.0 and pitch_dev.mean() <= 2.0, summary


@pytest.mark.integration
def test_mirroring_negates_yaw_and_roll(transformed_poses):
    yaw_sum, roll_sum, pitch_diff, turned, tilted = [], [], [], 0, 0
    for poses in transformed_poses.values():
        for t in (0, 15):
            (y, p, r), (ym, pm, rm) = poses[t, False], poses[t, True]
            yaw_sum.append(y + ym)
            roll_sum.append(r + rm)
            pitch_diff.append(pm - p)
            turned += abs(y) > 10
            tilted += abs(r) > 10
    yaw_sum, roll_sum, pitch_diff = (np.abs(v) for v in (yaw_sum, roll_sum, pitch_diff))
    summary = (f"|yaw + mirrored yaw| mean {yaw_sum.mean():.2f} max {yaw_sum.max():.2f}; |roll + mirrored roll| "
               f"mean {roll_sum.mean():.2f} max {roll_sum.max():.2f}; |pitch change| mean {pitch_diff.mean():.2f} "
               f"max {pitch_diff.max():.2f} (degrees, {len(yaw_sum)} pairs, {turned} with |yaw| > 10, {tilted} with "
               f"|roll| > 10)")
    print(summary)
    assert turned >= 8 and tilted >= 10, "the check needs faces whose yaw and roll are far from 0"
    assert roll_sum.max() <= 3.0 and roll_sum.mean() <= 1.0, summary
    assert yaw_sum.max() <= 5.0 and yaw_sum.mean() <= 2.0, summary
    assert pitch_diff.max() <= 6.0 and pitch_diff.mean() <= 2.0, summary


# Real head turns, seen on crops of every 2nd-3rd frame:
# short_hamilton_clip.mp4 frames 181-210 (6.04-7.01 s): the singer turns to his right (nose to the image's left),
#   from about frontal to about 25-30 degrees; frame 211 is a cut.
# multi_face.avi frames 76-121 (2.53-4.03 s): the man in the middle of the frame (face near x=210, y=85 px at the
#   start) turns to his left (nose to the image's right) from frontal; he also moves left in the frame, which adds
#   some 8 degrees to the camera-frame yaw.
HEAD_TURNS = [("short_hamilton_clip.mp4", 181, 210, (242, 99), -1), ("multi_face.avi", 76, 121, (208, 86), +1)]


@pytest.mark.integration
@pytest.mark.parametrize("name, first, last, start_point, direction", HEAD_TURNS)
def test_real_head_turn_moves_yaw_monotonically(detector, name, first, last, start_point, direction):
    from scipy.ndimage import uniform_filter1d
    from scipy.stats import spearmanr

    frames = _decode(name, range(first, last + 1))
    detector.reset()
    yaws, point = [], np.asarray(start_point, dtype=np.float64)
    for i in range(first, last + 1):  # the detector tracks through the stretch, as in a video
        dets = detector.detect(frames[i])
        j = _nearest_face(dets, point)
        point = (dets.xyxy[j, :2] + dets.xyxy[j, 2:]) / 2
        yaws.append(float(geo.face_geometry(dets.landmarks[j:j + 1], frames[i].shape[1::-1])["yaw"][0]))
    yaws = np.array(yaws)
    smooth = uniform_filter1d(yaws, 5, mode="nearest")
    rho = spearmanr(np.arange(len(yaws)), smooth)[0]
    summary = (f"{name} {first}-{last}: yaw {yaws[:3].mean():.1f} -> {yaws[-3:].mean():.1f}, Spearman rho of the "
               f"smoothed series {rho:.3f} (raw {spearmanr(np.arange(len(yaws)), yaws)[0]:.3f})")
    print(summary)
    assert abs(yaws[:3].mean()) < 6, summary
    assert direction * yaws[-3:].mean() > 20, summary
    assert direction * rho > 0.9, summary


@pytest.mark.integration
def test_eye_openness_drops_on_closed_eyes_and_a_blink():
    """WolfgangLanger_Pexels.mp4: both eyes closed at 1.0-3.0 s (crying, frames 24-72), open at 6.3-9.0 s (frames
    150-216; frame 154 is half a blink and left out, and some frames there have no face detected); single_face.mp4:
    a blink at frames 26-27 (both eyes shut) inside a smile, eyes open in the frames around it."""
    from vidaffect.faces import FaceDetector

    det = FaceDetector("full", landmarks=True, video_mode=False)
    try:
        def openness(name, indices):
            frames = _decode(name, indices)
            rows = []
            for i in indices:
                dets = det.detect(frames[i])
                j = int(np.argmax(dets.area))
                right, left = geo.eye_openness(dets.landmarks[j:j + 1])
                rows.append((right[0], left[0]))
            return np.array(rows)

        closed = openness("WolfgangLanger_Pexels.mp4", [24, 28, 36, 40, 48, 52, 56, 60, 64, 68, 72])
        opened = openness("WolfgangLanger_Pexels.mp4", [150, 176, 178, 180, 184, 198, 199, 204, 210, 216])
        summary = f"closed {closed.min(0).round(2)}-{closed.max(0).round(2)}, open {opened.min(0).round(2)}-" \
                  f"{opened.max(0).round(2)} (right, left eye)"
        print("WolfgangLanger:", summary)
        assert (closed.max(axis=0) < opened.min(axis=0)).all(), summary
        assert (np.median(closed, axis=0) < 0.6 * np.median(opened, axis=0)).all(), summary

        blink = openness("single_face.mp4", [26, 27])
        around = openness("single_face.mp4", [0, 6, 12, 24, 33, 39, 45, 51, 57, 63, 69])
        summary = f"blink {blink.max(0).round(2)} (max), open {around.min(0).round(2)} (min)"
        print("single_face:", summary)
        assert (blink.max(axis=0) < around.min(axis=0) - 0.05).all(), summary
    finally:
        det.close()


@pytest.mark.integration
def test_mouth_openness_larger_on_an_open_mouth():
    """single_face.mp4: lips closed, neutral face at frames 0-15; a broad smile with the lips apart (teeth showing)
    at frames 30-65."""
    from vidaffect.faces import FaceDetector

    det = FaceDetector("full", landmarks=True, video_mode=False)
    try:
        neutral_idx, smile_idx = list(range(0, 16, 3)), list(range(30, 66, 5))
        frames = _decode("single_face.mp4", neutral_idx + smile_idx)

        def mouth(indices):
            out = []
            for i in indices:
                dets = det.detect(frames[i])
                out.append(geo.mouth_openness(dets.landmarks[int(np.argmax(dets.area))][None])[0])
            return np.array(out)

        neutral, smile = mouth(neutral_idx), mouth(smile_idx)
        summary = f"neutral {neutral.min():.3f}-{neutral.max():.3f}, open smile {smile.min():.3f}-{smile.max():.3f}"
        print("single_face mouth:", summary)
        assert neutral.max() < 0.06 and smile.min() > 0.15, summary
    finally:
        det.close()
