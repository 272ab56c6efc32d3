"""Carry the faces of one frame to the next with sparse optical flow (between detection frames).

Each face contributes its four central BlazeFace keypoints (eyes, nose tip,
mouth centre) and a 3x3 grid over the inner face; pyramidal Lucas-Kanade flow
(OpenCV) moves them to the next frame and a RANSAC similarity fit on the moved
points moves the face's box, keypoints and mesh landmarks.  A face whose
points are lost (too few points followed, too few inliers, or an implausible
jump in scale) is dropped rather than guessed: the next detection frame
finds it again.
"""
from __future__ import annotations

import cv2
import numpy as np

from vidaffect.faces.detections import Detections

GRID = np.array([(x, y) for y in (0.35, 0.55, 0.75) for x in (0.3, 0.5, 0.7)], dtype=np.float32)
MIN_POINTS = 6  # of 13 per face
MAX_SCALE_STEP = 1.25  # per frame
WINDOW_MARGIN = (0.4, 16)  # flow runs on the faces' boxes grown by 0.4 of their size + 16 px on every side
# One window per face when their windows cover less than this share of the window around them all (each
# Lucas-Kanade call builds its own pyramids, so several calls pay only when they skip most of the pixels).
PER_FACE_SHARE = 0.35
LK_PARAMS = dict(winSize=(15, 15), maxLevel=2,
                 criteria=(cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 20, 0.03))


def face_points(dets: Detections) -> np.ndarray:
    """(N, 13, 2) points that flow follows for each face: 4 keypoints + the inner-face grid."""
    x1, y1, x2, y2 = (dets.xyxy[:, i : i + 1] for i in range(4))
    grid = np.stack([x1 + (x2 - x1) * GRID[:, 0], y1 + (y2 - y1) * GRID[:, 1]], axis=-1)
    return np.concatenate([dets.keypoints[:, :4], grid], axis=1).astype(np.float32)


def flow_window(xyxy: np.ndarray, shape: tuple[int, ...]) -> tuple[int, int, int, int]:
    """The part of the frame flow needs: the faces' boxes grown by ``WINDOW_MARGIN``, clipped to the frame.

    Lucas-Kanade only looks at the pixels around its points (a 15-pixel window
    on 3 pyramid levels reaches about 30 pixels), so building the image
    pyramids on this window instead of the whole frame gives the same motion
    at a cost that follows the faces' size, not the frame's.
    """
    share, pixels = WINDOW_MARGIN
    size = np.maximum(xyxy[:, 2] - xyxy[:, 0], xyxy[:, 3] - xyxy[:, 1])[:, None] * share + pixels
    lo = np.floor((xyxy[:, :2] - size).min(axis=0)).astype(int)
    hi = np.ceil((xyxy[:, 2:] + size).max(axis=0)).astype(int)
    h, w = shape[:2]
    x0, y0 = max(0, int(lo[0])), max(0, int(lo[1]))
    x1, y1 = min(w, int(hi[0])), min(h, int(hi[1]))
    if x1 - x0 < 16 or y1 - y0 < 16:  # faces (almost) outside the frame: use it all
        return 0, 0, w, h
    return x0, y0, x1, y1


def _lucas_kanade(src: np.ndarray, window: tuple[int, int, int, int], prev_gray: np.ndarray,
                  gray: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    x0, y0, x1, y1 = window
    offset = np.array([x0, y0], dtype=np.float32)
    dst, status, _ = cv2.calcOpticalFlowPyrLK(prev_gray[y0:y1, x0:x1], gray[y0:y1, x0:x1],
                                              (src - offset).reshape(-1, 1, 2), None, **LK_PARAMS)
    return dst.reshape(src.shape) + offset, status.reshape(src.shape[:-1]).astype(bool)


def _area(window: tuple[int, int, int, int]) -> int:
    return (window[2] - window[0]) * (window[3] - window[1])


def _follow(src: np.ndarray, xyxy: np.ndarray, prev_gray: np.ndarray,
            gray: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Flow of every face's points: one window around all faces, or one per face when the faces are
    spread out (small faces far apart in a large frame), whichever covers fewer pixels."""
    union = flow_window(xyxy, gray.shape)
    own = [flow_window(xyxy[i : i + 1], gray.shape) for i in range(len(xyxy))]
    if len(own) < 2 or sum(_area(w) for w in own) >= PER_FACE_SHARE * _area(union):
        return _lucas_kanade(src, union, prev_gray, gray)
    dst, ok = np.empty_like(src), np.empty(src.shape[:2], dtype=bool)
    for i, window in enumerate(own):
        dst[i], ok[i] = _lucas_kanade(src[i], window, prev_gray, gray)
    return dst, ok


def propagate(dets: Detections, prev_gray: np.ndarray, gray: np.ndarray) -> Detections:
    """Move ``dets`` (found in ``prev_gray``) onto ``gray``; faces that cannot be followed are dropped.

    Scores and face ids are carried over; landmarks (NaN rows included) move with their face.
    """
    if len(dets) == 0:
        return Detections.empty()
    src = face_points(dets)
    n, k = src.shape[:2]
    dst, ok = _follow(src, dets.xyxy, prev_gray, gray)
    keep: list[int] = []
    moves: list[tuple[np.ndarray, float]] = []  # (2x3 similarity, its scale) per kept face
    for i in range(n):
        if ok[i].sum() < MIN_POINTS:
            continue
        width = float(dets.xyxy[i, 2] - dets.xyxy[i, 0])
        m, inliers = cv2.estimateAffinePartial2D(src[i, ok[i]], dst[i, ok[i]], method=cv2.RANSAC, maxIters=200,
                                                 ransacReprojThreshold=max(1.0, 0.03 * width))
        if m is None or int(inliers.sum()) < MIN_POINTS:
            continue
        scale = float(np.sqrt(abs(np.linalg.det(m[:, :2]))))
        if not 1 / MAX_SCALE_STEP <= scale <= MAX_SCALE_STEP:
            continue
        keep.append(i)
        moves.append((m.astype(np.float32), scale))
    if not keep:
        return Detections.empty()
    return move_faces(dets[np.array(keep)], moves)


def move_faces(dets: Detections, moves: list[tuple[np.ndarray, float]]) -> Detections:
    """Apply one (2x3 similarity, its scale) per face to boxes (kept axis-aligned), keypoints and landmarks, in place;
    the moved faces are marked as carried (``detected`` False)."""
    dets.detected[:] = False
    dets.verified[:] = False
    for j, (m, scale) in enumerate(moves):
        a, t = m[:, :2], m[:, 2]
        box = dets.xyxy[j]
        centre = a @ ((box[:2] + box[2:]) / 2) + t
        half = (box[2:] - box[:2]) / 2 * scale
        dets.xyxy[j] = np.concatenate([centre - half, centre + half])
        dets.keypoints[j] = dets.keypoints[j] @ a.T + t
        if dets.landmarks is not None:
            dets.landmarks[j] = dets.landmarks[j] @ a.T + t
    return dets
