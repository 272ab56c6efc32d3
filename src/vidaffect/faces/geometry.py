"""Face geometry from the 468-point face mesh: head pose, eye and mouth openness, face size.

Everything here works on mesh landmarks in image pixels, ``(N, 468, 2)`` as
:attr:`vidaffect.faces.Detections.landmarks` holds them (rows of NaN where the
mesh did not fit a face: every output of that face is NaN).

Head pose
---------
The landmarks are fitted with MediaPipe's canonical face model (468 3D points,
``assets/canonical_face_model.obj``, Apache 2.0, see ``assets/NOTICE``) by
``cv2.solvePnP`` (Levenberg-Marquardt, ``SOLVEPNP_ITERATIVE``) through a pinhole
camera with focal length = image width and principal point at the image centre,
started from a closed-form weak-perspective (scaled orthographic) fit.  Only a
rigid subset of the mesh is used (:data:`POSE_POINTS`: the 33 landmarks MediaPipe's
own geometry pipeline fits, around the eyes, nose, cheeks and forehead; no lips,
lids, brows or jaw), so expressions move the pose little.

The rotation ``R`` (head to camera; camera axes x right, y down, z forward) is
split as ``R = Rz(roll) @ Ry(-yaw) @ Rx(-pitch)``, angles in degrees:

* ``yaw`` > 0: the subject turns to *their* left, i.e. the nose points to the
  image's right (in a non-mirrored image);
* ``pitch`` > 0: the subject looks up (chin up, nose up in the image);
* ``roll`` > 0: the head tilts clockwise as the image is displayed (the line from
  the image-left eye to the image-right eye slopes down to the right).

All three are 0 for a face looking along the camera's optical axis, upright.
They are camera-frame angles: a face away from the image centre that looks
straight into the lens has a yaw/pitch of about its viewing angle (up to ~27
degrees at the frame's left or right edge with the assumed focal length).
Roll is outermost, so rotating the image in-plane by ``t`` degrees clockwise adds
``t`` to roll and leaves yaw and pitch unchanged; mirroring the image negates yaw
and roll and keeps pitch.

Openness and size
-----------------
* ``eye_open_right`` / ``eye_open_left``: eye aspect ratio of the subject's right
  eye (image-left in a non-mirrored image; MediaPipe's naming, as
  :data:`vidaffect.faces.KEYPOINT_NAMES`), ``|p159 - p145| / |p33 - p133|`` (upper
  to lower lid at the eye's middle, over the corner-to-corner width), and of the
  subject's left eye, ``|p386 - p374| / |p362 - p263|``.  On the shared videos: 0.27-0.4
  open, 0.12-0.19 closed (the mesh keeps the lids' points a little apart on closed
  eyes, so closed is not 0); foreshortening raises it a little with |yaw| and
  lowers it with |pitch|, and smiling narrows the eyes (0.25-0.3).
* ``mouth_open``: inner-lip gap over mouth width, ``|p13 - p14| / |p78 - p308|``
  (0-0.05 with closed lips; 0.2-0.4 for the open, toothy smiles in the shared
  videos).  A broad smile widens the mouth and so lowers it for the same gap.
* ``face_px``: face height in pixels, pose-invariant: the canonical model's
  forehead-to-chin height (points 10 to 152, 17.7 model units) times the pose fit's
  scale (``focal / depth``), i.e. the height the face would have upright and
  frontal at its distance.

Cost (one CPU core of a shared, loaded 2-core machine, best of repeats): 0.17 ms
per face when a frame's faces are passed together, 0.25 ms for a single face per
call; ``solvePnP`` is 0.1-0.2 ms of it, the openness ratios and the weak-perspective
start are vectorised (microseconds per face).
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np

N_POINTS = 468
MODEL_FILE = Path(__file__).resolve().parent / "assets" / "canonical_face_model.obj"

# The rigid landmarks of MediaPipe's face geometry pipeline (procrustes_landmark_basis of
# mediapipe/modules/face_geometry/data/geometry_pipeline_metadata_landmarks.pbtxt).
POSE_POINTS = (4, 6, 10, 33, 54, 67, 117, 119, 121, 127, 129, 132, 133, 136, 143, 147, 198, 205,
               263, 284, 297, 346, 348, 350, 356, 358, 361, 362, 365, 372, 376, 420, 425)
# (upper lid, lower lid, corner, corner) of the subject's right and left eye; (upper lip, lower lip, corner, corner)
RIGHT_EYE = (159, 145, 33, 133)
LEFT_EYE = (386, 374, 362, 263)
MOUTH = (13, 14, 78, 308)
FACE_HEIGHT_POINTS = (10, 152)  # forehead top, chin

GEOMETRY_KEYS = ("yaw", "pitch", "roll", "eye_open_left", "eye_open_right", "mouth_open", "face_px")


@lru_cache(maxsize=1)
def canonical_face_model() -> np.ndarray:
    """MediaPipe's canonical face model: (468, 3) float64 vertices, in the file's units (about cm).

    Its axes: x towards the subject's left (image right), y up, z out of the face (towards the camera).
    """
    verts = [line.split()[1:4] for line in MODEL_FILE.read_text().splitlines() if line.startswith("v ")]
    model = np.asarray(verts, dtype=np.float64)
    if model.shape != (N_POINTS, 3):
        raise ValueError(f"{MODEL_FILE}: expected {N_POINTS} vertices, found {len(model)}")
    model.setflags(write=False)
    return model


@lru_cache(maxsize=8)
def _object_points(points: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """The model's ``points`` in OpenCV's object frame (x right, y down, z into the head), centred.

    Returns the centred points (K, 3), their centroid (3,) in the model's frame (the same axes), their affine
    pseudo-inverse (4, K) for the weak-perspective start, and the model's face height (points 10-152).
    """
    model = canonical_face_model()
    obj = model[list(points)] * np.array([1.0, -1.0, -1.0])
    centroid = obj.mean(axis=0)
    obj = obj - centroid
    design = np.c_[obj, np.ones(len(obj))]
    height = float(np.linalg.norm(model[FACE_HEIGHT_POINTS[0]] - model[FACE_HEIGHT_POINTS[1]]))
    return np.ascontiguousarray(obj), centroid, np.linalg.pinv(design), height


def camera_matrix(image_size: tuple[int, int], focal: float | None = None) -> np.ndarray:
    """The pinhole camera assumed for an image of ``(width, height)``: focal = width (or ``focal``), centre."""
    w, h = (float(v) for v in image_size)
    f = w if focal is None else float(focal)
    return np.array([[f, 0.0, w / 2], [0.0, f, h / 2], [0.0, 0.0, 1.0]])


def _as_landmarks(landmarks: np.ndarray) -> np.ndarray:
    lm = np.asarray(landmarks, dtype=np.float64)
    if lm.ndim == 2:
        lm = lm[None]
    if lm.ndim != 3 or lm.shape[1] != N_POINTS or lm.shape[2] < 2:
        raise ValueError(f"landmarks must be (N, {N_POINTS}, 2), got {np.shape(landmarks)}")
    return lm[:, :, :2]


def weak_perspective_pose(points_2d: np.ndarray, points: tuple[int, ...] = POSE_POINTS
                          ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Closed-form scaled-orthographic fit of the model to (N, K, 2) image points (K = len(points)), vectorised.

    Returns rotations (N, 3, 3) (head to camera), scales (N,) (pixels per model unit) and the image position
    (N, 2) of the fitted points' centroid.
    """
    _, _, pinv, _ = _object_points(tuple(points))
    affine = np.swapaxes(pinv @ points_2d, 1, 2)  # (N, 2, 4): image = A @ [X, 1] in the least-squares sense
    a, centre = affine[:, :, :3], affine[:, :, 3]
    # the nearest scaled 2x3 with orthonormal rows: (A A^T)^(-1/2) A, the 2x2 square root in closed form
    m = a @ np.swapaxes(a, 1, 2)
    sq_det = np.sqrt(np.maximum(m[:, 0, 0] * m[:, 1, 1] - m[:, 0, 1] * m[:, 1, 0], 0.0))
    sq_det[sq_det <= 1e-12 * (m[:, 0, 0] + m[:, 1, 1] + 1e-300)] = np.nan  # a degenerate (collapsed) fit: NaN
    tr_root = np.sqrt(m[:, 0, 0] + m[:, 1, 1] + 2 * sq_det)  # trace of sqrt(M) = sum of A's singular values
    root = (m + sq_det[:, None, None] * np.eye(2)) / tr_root[:, None, None]  # sqrt(M)
    inv_root = np.stack([np.stack([root[:, 1, 1], -root[:, 0, 1]], -1),
                         np.stack([-root[:, 1, 0], root[:, 0, 0]], -1)], 1) / sq_det[:, None, None]  # det sqrt(M)
    rows = inv_root @ a
    r1, r2 = rows[:, 0], rows[:, 1]
    r3 = np.stack([r1[:, 1] * r2[:, 2] - r1[:, 2] * r2[:, 1], r1[:, 2] * r2[:, 0] - r1[:, 0] * r2[:, 2],
                   r1[:, 0] * r2[:, 1] - r1[:, 1] * r2[:, 0]], axis=1)  # r1 x r2: a proper rotation
    return np.concatenate([rows, r3[:, None]], axis=1), tr_root / 2, centre


def rotation_to_angles(rot: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(yaw, pitch, roll) in degrees of rotations (..., 3, 3) as ``R = Rz(roll) @ Ry(-yaw) @ Rx(-pitch)``."""
    rot = np.asarray(rot, dtype=np.float64)
    yaw = np.degrees(np.arcsin(np.clip(rot[..., 2, 0], -1.0, 1.0)))
    pitch = -np.degrees(np.arctan2(rot[..., 2, 1], rot[..., 2, 2]))
    roll = np.degrees(np.arctan2(rot[..., 1, 0], rot[..., 0, 0]))
    return yaw, pitch, roll


def angles_to_rotation(yaw, pitch, roll) -> np.ndarray:
    """The rotation (..., 3, 3) of (yaw, pitch, roll) degrees; the inverse of :func:`rotation_to_angles`."""
    y, p, r = (np.radians(np.asarray(v, dtype=np.float64)) for v in (yaw, pitch, roll))
    b, c = -y, -p
    one, zero = np.ones_like(r), np.zeros_like(r)
    rz = np.stack([np.cos(r), -np.sin(r), zero, np.sin(r), np.cos(r), zero, zero, zero, one], -1)
    ry = np.stack([np.cos(b), zero, np.sin(b), zero, one, zero, -np.sin(b), zero, np.cos(b)], -1)
    rx = np.stack([one, zero, zero, zero, np.cos(c), -np.sin(c), zero, np.sin(c), np.cos(c)], -1)
    shape = np.shape(r) + (3, 3)
    return rz.reshape(shape) @ ry.reshape(shape) @ rx.reshape(shape)


def head_pose(landmarks: np.ndarray, image_size: tuple[int, int], focal: float | None = None,
              points: tuple[int, ...] = POSE_POINTS, refine: bool = True) -> dict[str, np.ndarray]:
    """Head pose of each face from its mesh landmarks (N, 468, 2) in pixels of an image of ``(width, height)``.

    refine: polish the weak-perspective start with ``cv2.solvePnP`` (perspective camera, see
    :func:`camera_matrix`); False keeps the closed-form weak-perspective fit (some 20x cheaper; its angles are
    relative to the line of sight rather than the optical axis, so they differ off the image centre).
    Returns float64 arrays: ``yaw, pitch, roll`` (N,) degrees (conventions in the module docstring),
    ``rotation`` (N, 3, 3) and ``translation`` (N, 3) (model units, about cm) taking the model, in OpenCV's
    object frame (its x, -y, -z), to the camera frame; ``scale`` (N,) pixels per model unit at the fitted points'
    depth; ``face_px`` (N,); ``reprojection_error`` (N,) RMS over the fitted points, as a fraction of ``face_px``.
    NaN for faces whose landmarks hold NaN.
    """
    lm = _as_landmarks(landmarks)
    n = len(lm)
    idx = list(points)
    obj, centroid, _, height = _object_points(tuple(points))
    cam = camera_matrix(image_size, focal)
    f, c = cam[0, 0], cam[:2, 2]
    rot = np.full((n, 3, 3), np.nan)
    trans = np.full((n, 3), np.nan)
    err = np.full(n, np.nan)
    img = np.ascontiguousarray(lm[:, idx])
    ok = np.isfinite(img).all(axis=(1, 2))
    good = np.flatnonzero(ok)
    if len(good):
        sel = slice(None) if len(good) == n else good
        r0, s0, centre = weak_perspective_pose(img[sel], tuple(points))
        depth = f / s0
        t0 = np.concatenate([(centre - c) * (depth / f)[:, None], depth[:, None]], axis=1)
        rot[sel], trans[sel] = r0, t0
        if refine:
            for i, k in enumerate(good):
                if not np.isfinite(s0[i]):
                    continue
                _, rvec, tvec = cv2.solvePnP(obj, img[k], cam, None, cv2.Rodrigues(r0[i])[0], t0[i].reshape(3, 1),
                                             useExtrinsicGuess=True, flags=cv2.SOLVEPNP_ITERATIVE)
                rot[k] = cv2.Rodrigues(rvec)[0]
                trans[k] = tvec[:, 0]
        cam_pts = obj @ np.swapaxes(rot[sel], 1, 2) + trans[sel][:, None, :]
        proj = cam_pts[..., :2] / cam_pts[..., 2:] * f + c
        err[sel] = np.sqrt(((proj - img[sel]) ** 2).sum(-1).mean(-1))
    scale = f / trans[:, 2]  # at the fitted points' centroid (about the cheekbones' depth)
    face_px = scale * height
    yaw, pitch, roll = rotation_to_angles(rot)
    origin = trans - rot @ centroid  # the model's origin (inside the head) in the camera frame
    return {"yaw": yaw, "pitch": pitch, "roll": roll, "rotation": rot, "translation": origin, "scale": scale,
            "face_px": face_px, "reprojection_error": err / face_px}


_RATIO_POINTS = np.array([RIGHT_EYE, LEFT_EYE, MOUTH])  # (3 ratios, 4 points)


def _ratios(lm: np.ndarray) -> np.ndarray:
    """(N, 3): right eye, left eye, mouth; each ``|p0 - p1| / |p2 - p3|`` of its four points (NaN for a 0 width)."""
    pts = lm[:, _RATIO_POINTS]  # (N, 3, 4, 2)
    d = np.sqrt(((pts[:, :, 0::2] - pts[:, :, 1::2]) ** 2).sum(-1))  # (N, 3, 2): opening, width
    width = np.where(d[..., 1] > 0, d[..., 1], np.nan)
    return d[..., 0] / width


def eye_openness(landmarks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(right, left) eye aspect ratios (N,) of the subject's right and left eye (formulas in the module docstring)."""
    r = _ratios(_as_landmarks(landmarks))
    return r[:, 0], r[:, 1]


def mouth_openness(landmarks: np.ndarray) -> np.ndarray:
    """Inner-lip gap over mouth width (N,): ``|p13 - p14| / |p78 - p308|``."""
    return _ratios(_as_landmarks(landmarks))[:, 2]


def face_geometry(landmarks: np.ndarray, image_size: tuple[int, int]) -> dict[str, np.ndarray]:
    """Per-face geometry from mesh landmarks (N, 468, 2) in pixels of an image of ``(width, height)``.

    Returns float32 arrays (N,): ``yaw, pitch, roll`` (degrees), ``eye_open_left, eye_open_right,
    mouth_open`` (ratios) and ``face_px`` (pixels); NaN where a face has no mesh.  Definitions and sign
    conventions: the module docstring.
    """
    lm = _as_landmarks(landmarks)
    pose = head_pose(lm, image_size)
    r = _ratios(lm)
    out = {"yaw": pose["yaw"], "pitch": pose["pitch"], "roll": pose["roll"], "eye_open_left": r[:, 1],
           "eye_open_right": r[:, 0], "mouth_open": r[:, 2], "face_px": pose["face_px"]}
    return {k: out[k].astype(np.float32) for k in GEOMETRY_KEYS}
