"""The face stage's front: find faces (BlazeFace), fit the 468-point mesh, carry both between detection frames.

vidaffect runs MediaPipe's face models itself (:mod:`vidaffect.faces.runtime`:
LiteRT on a CPU, PyTorch on a GPU).  Detector models:

* ``multiscale`` (default): the full-range detector on the whole frame plus
  tiles, so faces from ``min_face`` pixels to the full frame are found at any
  resolution (:mod:`vidaffect.faces.multiscale`);
* ``full``: the full-range detector on the whole frame (MediaPipe's model 1);
* ``short``: the short-range detector (MediaPipe's model 0: large, near faces).

Each detection gets mesh landmarks from its own region: the previous frame's
landmarks of the same face when there are some (tracking), else its eye
keypoints.  The mesh's face flag verifies it: a detection without a fitted
mesh is kept only when its score reaches ``unverified_min_confidence``.  A
face the detector misses on a detection frame but that had landmarks on the
previous frame is followed by the mesh alone while its face flag holds.

With ``detect_every=N`` detection runs on every N-th frame and faces are
carried by sparse optical flow in between (:mod:`vidaffect.faces.flow`), and
a face that flow loses makes the next frame a detection frame; the
mesh runs on every ``mesh_every``-th detection frame, and on the others each
face's last mesh is moved by its keypoints' motion (a face with no mesh to
move, new or lost by flow, gets a fresh one).  The multiscale model
scans every tile on a shot's first detection frame; afterwards every
``TILE_TURN``-th detection frame scans just the next tile (the faces found
so far are carried by flow on that frame, and the tile's new faces added).
"""
from __future__ import annotations

import cv2
import numpy as np
from scipy.optimize import linear_sum_assignment

from vidaffect.errors import VidaffectError
from vidaffect.faces.align import similarity_matrix
from vidaffect.faces.blazeface import BlazeFace
from vidaffect.faces.detections import Detections, box_iou
from vidaffect.faces.flow import move_faces, propagate
from vidaffect.faces.mesh import FaceMesh, roi_from_detection, roi_from_landmarks
from vidaffect.faces.multiscale import MultiScaleFinder

DETECTOR_MODELS = ("multiscale", "full", "short")
DEFAULT_DETECTOR = "multiscale"
MESH_MATCH_IOU = 0.3
# With detect_every > 1 and a frame that needs tiles, every TILE_TURN-th detection frame of a shot scans
# the next tile instead of the whole frame: one full-range call per detection frame either way.
TILE_TURN = 3
DEFAULT_MIN_FACE = 32.0


class FaceDetector:
    """Find faces (and optionally 468 mesh landmarks) in RGB frames.

    model: ``"multiscale"`` (default; every size from ``min_face`` px up),
    ``"full"`` or ``"short"`` (one BlazeFace pass over the whole frame).
    min_confidence: detection score threshold (applied as given; None: the model's own, MediaPipe's
    0.6 for full range and multiscale, 0.5 for short range).  max_faces:
    keep at most this many (largest first).  landmarks: fit the face mesh.
    unverified_min_confidence: with landmarks on, a detection the mesh could
    not fit is kept only when its score reaches this.  mesh_every: run the mesh
    on every N-th detection frame only (faces in between get their last mesh
    moved by their keypoints).  detect_every: detect on every N-th frame and
    carry faces by optical flow in between.  video_mode: consecutive calls are
    one video (mesh tracking); call :meth:`reset` between videos and at cuts.
    runtime / device: where the networks run (``auto``, ``litert``, ``torch``;
    ``cpu`` or ``cuda[:N]``).  min_face: smallest face width (pixels) the
    multiscale model looks for.  precision: the torch runtime's arithmetic (``auto``: bf16 on CPUs
    with AMX, fp32 elsewhere; ``fp32``, ``bf16``, ``fp16``).
    """

    def __init__(self, model: str = DEFAULT_DETECTOR, min_confidence: float | None = None, max_faces: int = 10,
                 landmarks: bool = True, video_mode: bool = True, unverified_min_confidence: float = 0.75,
                 mesh_every: int = 1, detect_every: int = 1, runtime: str = "auto", device: str = "cpu",
                 min_face: float = DEFAULT_MIN_FACE, precision: str = "auto") -> None:
        if model not in DETECTOR_MODELS:
            raise VidaffectError(f"unknown detector {model!r}; choose one of {', '.join(DETECTOR_MODELS)}")
        if min_confidence is not None and not 0.0 < min_confidence < 1.0:
            raise VidaffectError(f"detection threshold must be in (0, 1), got {min_confidence}")
        if mesh_every < 1:
            raise VidaffectError(f"mesh_every must be >= 1, got {mesh_every}")
        if detect_every < 1:
            raise VidaffectError(f"detect_every must be >= 1, got {detect_every}")
        if max_faces < 1:
            raise VidaffectError(f"max faces must be >= 1, got {max_faces}")
        if min_face < 8:
            raise VidaffectError(f"min face must be >= 8 pixels, got {min_face}")
        self.model, self.max_faces = model, max_faces
        self.landmarks, self.video_mode = landmarks, video_mode
        self.unverified_min_confidence = unverified_min_confidence
        self.mesh_every, self.detect_every = mesh_every, detect_every
        blaze = BlazeFace("short" if model == "short" else "full", min_confidence, runtime, device, precision)
        self._finder = MultiScaleFinder(blaze, min_face) if model == "multiscale" else blaze
        self._mesh = FaceMesh(runtime=runtime, device=device, precision=precision) if landmarks else None
        self.runtime = blaze.runtime
        self.min_confidence = blaze.threshold
        self._last_shape: tuple[int, ...] | None = None
        self.reset()

    def reset(self) -> None:
        """Start a new video (or shot): forget the faces and meshes of earlier frames."""
        self._frame = 0
        self._detections_run = 0
        self._last: Detections | None = None  # the previous frame's output (flow and mesh tracking start here)
        self._prev_gray: np.ndarray | None = None
        self._last_meshed: Detections | None = None
        self._lost = False  # flow lost a face: detect on the next frame, whatever the schedule
        if isinstance(self._finder, MultiScaleFinder):
            self._finder.reset()

    def close(self) -> None:
        self._finder.close()
        if self._mesh is not None:
            self._mesh.close()

    def detect(self, image: np.ndarray, gray: np.ndarray | None = None) -> Detections:
        """Faces in an RGB uint8 image ``(H, W, 3)``: detected, or carried by optical flow between detections.

        gray: the image's grey version if the caller already has it (saves a conversion).
        """
        image = np.ascontiguousarray(image)
        if self._last is not None and self._last_shape != image.shape:
            self.reset()
        self._last_shape = image.shape
        if self.detect_every == 1:
            out = self._detect(image)
        else:
            if gray is None:
                gray = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
            if self._prev_gray is None or self._frame % self.detect_every == 0 or self._lost:
                if self._tile_turn(image):
                    out = self._add_tile_faces(image, self._carry(gray))
                else:
                    out = self._detect(image)
                    self._lost = False
            else:
                self._frame += 1
                out = self._carry(gray)
                if self.landmarks:  # the next detection frame carries the mesh from here
                    self._last_meshed = out[np.flatnonzero(out.has_mesh())]
            self._prev_gray = gray
        if self.video_mode:
            self._last = out
        return out

    def _carry(self, gray: np.ndarray) -> Detections:
        """The previous frame's faces moved by optical flow; a face flow loses makes the next frame detect."""
        out = propagate(self._last, self._prev_gray, gray)
        self._lost = self._lost or len(out) < len(self._last)
        return out

    def _tile_turn(self, image: np.ndarray) -> bool:
        """Whether this detection frame scans the next tile instead of the whole frame (see TILE_TURN)."""
        if not isinstance(self._finder, MultiScaleFinder) or not self.video_mode or self._detections_run == 0:
            return False
        h, w = image.shape[:2]
        return bool(self._finder.tiles(w, h)) and self._detections_run % TILE_TURN == TILE_TURN - 1

    def _add_tile_faces(self, image: np.ndarray, carried: Detections) -> Detections:
        """A tile's turn: the faces carried by flow, plus the tile's faces that none of them covers."""
        self._frame += 1
        self._detections_run += 1
        found = self._finder.detect_next_tile(image)
        if len(found) and len(carried):
            found = found[np.flatnonzero(box_iou(found.xyxy, carried.xyxy).max(axis=1) < MESH_MATCH_IOU)]
        found = found[: max(self.max_faces - len(carried), 0)]
        if self.landmarks:
            found.landmarks = self._fit_mesh(image, found, None, {}) if len(found) else np.zeros((0, 468, 2))
            found = found[np.flatnonzero(found.has_mesh() | (found.scores >= self.unverified_min_confidence))]
        out = _concat(carried, found)
        if self.landmarks:
            self._last_meshed = out[np.flatnonzero(out.has_mesh())]
        return out

    def _detect(self, image: np.ndarray) -> Detections:
        if isinstance(self._finder, MultiScaleFinder):
            # every tile on a shot's first detection frame; then, detecting on every frame, one more tile per
            # frame in turn (with detect_every > 1 the tiles get detection frames of their own, _tile_turn)
            first = self._detections_run == 0 or not self.video_mode
            out = self._finder.detect(image, "all" if first else "next" if self.detect_every == 1 else "none")
        else:
            out = self._finder.detect(image)
        mesh_due = self.landmarks and self._detections_run % self.mesh_every == 0
        self._frame += 1
        self._detections_run += 1
        if len(out) > self.max_faces:
            out = out[np.argsort(-out.area)[: self.max_faces]]
        if not self.landmarks:
            return out
        prev = self._last[np.flatnonzero(self._last.has_mesh())] if self._last is not None else None
        matched, missed = _match(out, prev)
        if mesh_due:
            out.landmarks = self._fit_mesh(image, out, prev, matched)
            self._last_meshed = out[np.flatnonzero(out.has_mesh())]
        else:
            out.landmarks = self._carry_mesh(out)
            fresh = np.flatnonzero(~out.has_mesh())  # faces with no mesh to carry (new, or lost by flow): fit one
            if len(fresh):
                out.landmarks[fresh] = self._fit_mesh(image, out[fresh], prev, {j: matched[i] for j, i in
                                                                                 enumerate(fresh) if i in matched})
        if len(missed) and len(out) < self.max_faces:
            out = _concat(out, self._track(image, prev[missed[: self.max_faces - len(out)]]))
        keep = out.has_mesh() | (out.scores >= self.unverified_min_confidence)
        return out if keep.all() else out[np.flatnonzero(keep)]

    def _fit_mesh(self, image: np.ndarray, dets: Detections, prev: Detections | None,
                  matched: dict[int, int]) -> np.ndarray:
        """Mesh landmarks for each detection, from its previous landmarks when matched, else its keypoints."""
        rois = [roi_from_landmarks(prev.landmarks[matched[i]]) if i in matched
                else roi_from_detection(dets.xyxy[i], dets.keypoints[i]) for i in range(len(dets))]
        lm, _ = self._mesh.run(image, rois)
        return lm[:, :, :2]

    def _track(self, image: np.ndarray, prev: Detections) -> Detections:
        """Follow faces the detector missed with the mesh alone; those whose face flag fails are dropped."""
        lm, _ = self._mesh.run(image, [roi_from_landmarks(p) for p in prev.landmarks])
        found = ~np.isnan(lm[:, 0, 0])
        if not found.any():
            return Detections.empty()
        kept = prev[np.flatnonzero(found)]
        new = lm[found, :, :2]
        moves = []
        for old_pts, new_pts in zip(kept.landmarks, new):
            m = similarity_matrix(old_pts, new_pts)
            moves.append((m, float(np.sqrt(abs(np.linalg.det(m[:, :2]))))))
        moved = move_faces(kept, moves)
        moved.landmarks = new
        moved.face_ids = np.full(len(moved), -1, dtype=np.int64)
        moved.verified[:] = True  # found in this frame's pixels (the mesh's face flag), not carried by flow
        return moved

    def _carry_mesh(self, dets: Detections) -> np.ndarray:
        """Landmarks of the last mesh frame, moved onto each overlapping face by its keypoints' motion."""
        out = np.full((len(dets), 468, 2), np.nan, dtype=np.float32)
        prev = self._last_meshed
        if prev is None or len(prev) == 0 or len(dets) == 0:
            return out
        iou = box_iou(dets.xyxy, prev.xyxy)
        rows, cols = linear_sum_assignment(-iou)
        for r, c in zip(rows, cols):
            if iou[r, c] >= MESH_MATCH_IOU:
                m = similarity_matrix(prev.keypoints[c, :4], dets.keypoints[r, :4])
                out[r] = prev.landmarks[c] @ m[:, :2].T + m[:, 2]
        return out


def _match(dets: Detections, prev: Detections | None) -> tuple[dict[int, int], np.ndarray]:
    """Pair detections with the previous frame's meshed faces (IoU >= MESH_MATCH_IOU).

    Returns {detection: previous face} and the previous faces left unpaired.
    """
    if prev is None or len(prev) == 0:
        return {}, np.zeros(0, dtype=np.int64)
    if len(dets) == 0:
        return {}, np.arange(len(prev))
    iou = box_iou(dets.xyxy, prev.xyxy)
    rows, cols = linear_sum_assignment(-iou)
    matched = {int(r): int(c) for r, c in zip(rows, cols) if iou[r, c] >= MESH_MATCH_IOU}
    # a previous face that overlaps any detection is not "missed", even if another face took the pairing
    covered = (iou >= MESH_MATCH_IOU).any(axis=0)
    return matched, np.flatnonzero(~covered)


def _concat(a: Detections, b: Detections) -> Detections:
    if len(b) == 0:
        return a
    if len(a) == 0:
        return b
    lm = np.concatenate([a.landmarks, b.landmarks]) if a.landmarks is not None and b.landmarks is not None else None
    return Detections(np.concatenate([a.xyxy, b.xyxy]), np.concatenate([a.scores, b.scores]),
                      np.concatenate([a.keypoints, b.keypoints]), lm,
                      np.concatenate([a.face_ids, b.face_ids]), np.concatenate([a.detected, b.detected]),
                      np.concatenate([a.verified, b.verified]))
