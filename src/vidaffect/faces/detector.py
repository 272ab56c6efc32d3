"""Face detection (MediaPipe BlazeFace, short or full range) and face-mesh landmarks.

Uses MediaPipe's legacy ``solutions`` API, whose TFLite models ship inside the
``mediapipe==0.10.21`` wheel (no download).  The mesh runs in video mode over
the whole frame, so it tracks its faces between frames instead of
re-detecting them; each detected face is paired with the mesh whose bounding
box overlaps it best (Hungarian match on IoU).  A face the mesh missed keeps
NaN landmarks and is aligned from its BlazeFace keypoints instead.

With ``detect_every=N`` BlazeFace runs on every N-th frame only and the faces
of the frames in between are carried by sparse optical flow
(:mod:`vidaffect.faces.flow`); the mesh then runs on every ``mesh_every``-th
detection frame.
"""
from __future__ import annotations

import os

os.environ.setdefault("GLOG_minloglevel", "2")  # silence MediaPipe's C++ INFO lines
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import cv2  # noqa: E402
import numpy as np  # noqa: E402
from scipy.optimize import linear_sum_assignment  # noqa: E402

from vidaffect.errors import VidaffectError  # noqa: E402
from vidaffect.faces.align import similarity_matrix  # noqa: E402
from vidaffect.faces.detections import Detections, box_iou  # noqa: E402
from vidaffect.faces.flow import propagate  # noqa: E402

DETECTOR_MODELS = {"short": 0, "full": 1}
MESH_MATCH_IOU = 0.3


class FaceDetector:
    """Find faces (and optionally 468 mesh landmarks) in RGB frames.

    model: ``"short"`` (BlazeFace short range, faces within ~2 m, fastest) or
    ``"full"`` (full range, small/far faces).  min_confidence: detection
    threshold.  max_faces: keep at most this many (largest first).  landmarks:
    run the face mesh.  unverified_min_confidence: with landmarks on, a
    detection the face mesh could not fit is kept only when its score reaches
    this (BlazeFace's false positives on textures score low and never fit a
    mesh, while real faces the mesh misses, such as small far faces, score high).
    mesh_every: run the mesh on every N-th detection frame only; in between, each face
    that overlaps a face meshed on the last mesh frame (IoU >= 0.3) gets that
    mesh moved by the similarity transform of its BlazeFace keypoints (and
    counts as verified).  1 = mesh on every detection frame.  detect_every:
    run BlazeFace on every N-th frame and carry faces by optical flow in
    between (1 = detect on every frame).  video_mode: treat consecutive calls as one video (mesh
    tracking); call :meth:`reset` between videos.
    """

    def __init__(self, model: str = "short", min_confidence: float = 0.5, max_faces: int = 10,
                 landmarks: bool = True, video_mode: bool = True, unverified_min_confidence: float = 0.75,
                 mesh_every: int = 1, detect_every: int = 1) -> None:
        if model not in DETECTOR_MODELS:
            raise VidaffectError(f"unknown detector {model!r}; choose one of {sorted(DETECTOR_MODELS)}")
        if not 0.0 < min_confidence < 1.0:
            raise VidaffectError(f"detection threshold must be in (0, 1), got {min_confidence}")
        if mesh_every < 1:
            raise VidaffectError(f"mesh_every must be >= 1, got {mesh_every}")
        if detect_every < 1:
            raise VidaffectError(f"detect_every must be >= 1, got {detect_every}")
        if max_faces < 1:
            raise VidaffectError(f"max faces must be >= 1, got {max_faces}")
        import mediapipe as mp

        self._mp = mp
        self.model, self.min_confidence, self.max_faces = model, min_confidence, max_faces
        self.landmarks, self.video_mode = landmarks, video_mode
        self.unverified_min_confidence = unverified_min_confidence
        self.mesh_every = mesh_every
        self.detect_every = detect_every
        self._det = mp.solutions.face_detection.FaceDetection(
            model_selection=DETECTOR_MODELS[model], min_detection_confidence=min_confidence)
        self._meshes: dict[int, object] = {}  # one video-mode FaceMesh per face count, made when first needed
        self.reset()

    def reset(self) -> None:
        """Start a new video: drop the mesh's tracking state."""
        self._frame = 0
        self._detections_run = 0
        self._last: Detections | None = None  # the previous frame's output (optical flow carries it)
        self._prev_gray: np.ndarray | None = None
        self._last_meshed: Detections | None = None
        self._close_meshes()

    def close(self) -> None:
        self._det.close()
        self._close_meshes()

    def _close_meshes(self) -> None:
        for mesh in self._meshes.values():
            mesh.close()
        self._meshes.clear()

    def _mesh_for(self, faces: int):
        """The FaceMesh that looks for exactly ``faces`` faces.

        In video mode MediaPipe's mesh re-runs its own face detector on every
        frame until it tracks ``max_num_faces`` faces, so a mesh sized to the
        faces BlazeFace found tracks them and skips that second detection
        (measured 5.1 instead of 8.5 ms per call on a one-face clip).
        """
        faces = min(faces, self.max_faces)
        if faces not in self._meshes:
            self._meshes[faces] = self._mp.solutions.face_mesh.FaceMesh(
                static_image_mode=not self.video_mode, max_num_faces=faces,
                refine_landmarks=False, min_detection_confidence=0.5, min_tracking_confidence=0.5)
        return self._meshes[faces]

    def detect(self, image: np.ndarray, gray: np.ndarray | None = None) -> Detections:
        """Faces in an RGB uint8 image ``(H, W, 3)``: detected, or carried by optical flow between detections.

        gray: the image's grey version if the caller already has it (saves a conversion).
        """
        image = np.ascontiguousarray(image)
        if self.detect_every == 1:
            return self._detect(image)
        if gray is None:
            gray = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
        if (self._prev_gray is None or self._frame % self.detect_every == 0
                or self._prev_gray.shape != gray.shape):
            out = self._detect(image)
        else:
            self._frame += 1
            out = propagate(self._last, self._prev_gray, gray)
            if self.landmarks:  # the next detection frame carries the mesh from here
                self._last_meshed = out[np.flatnonzero(out.has_mesh())]
        self._last, self._prev_gray = out, gray
        return out

    def _detect(self, image: np.ndarray) -> Detections:
        h, w = image.shape[:2]
        result = self._det.process(image)
        dets = result.detections or []
        mesh_due = self.landmarks and self._detections_run % self.mesh_every == 0
        self._frame += 1
        self._detections_run += 1
        if not dets:
            if mesh_due:
                self._last_meshed = None
            return Detections.empty()
        boxes, scores, kps = [], [], []
        for d in dets:
            rb = d.location_data.relative_bounding_box
            boxes.append([rb.xmin * w, rb.ymin * h, (rb.xmin + rb.width) * w, (rb.ymin + rb.height) * h])
            scores.append(d.score[0] if d.score else 0.0)
            kps.append([[k.x * w, k.y * h] for k in d.location_data.relative_keypoints][:6])
        out = Detections(np.array(boxes), np.array(scores), np.array(kps))
        if len(out) > self.max_faces:
            out = out[np.argsort(-out.area)[: self.max_faces]]
        if self.landmarks:
            if mesh_due:
                out.landmarks = self._match_mesh(image, out)
                self._last_meshed = out[np.flatnonzero(out.has_mesh())]
            else:
                out.landmarks = self._carry_mesh(out)
            keep = out.has_mesh() | (out.scores >= self.unverified_min_confidence)
            if not keep.all():
                out = out[np.flatnonzero(keep)]
        return out

    def _carry_mesh(self, dets: Detections) -> np.ndarray:
        """Landmarks of the last mesh frame, moved onto each overlapping face by its keypoints' motion."""
        out = np.full((len(dets), 468, 2), np.nan, dtype=np.float32)
        prev = self._last_meshed
        if prev is None or len(prev) == 0:
            return out
        iou = box_iou(dets.xyxy, prev.xyxy)
        rows, cols = linear_sum_assignment(-iou)
        for r, c in zip(rows, cols):
            if iou[r, c] >= MESH_MATCH_IOU:
                m = similarity_matrix(prev.keypoints[c, :4], dets.keypoints[r, :4])
                out[r] = prev.landmarks[c] @ m[:, :2].T + m[:, 2]
        return out

    def _match_mesh(self, image: np.ndarray, dets: Detections) -> np.ndarray:
        h, w = image.shape[:2]
        res = self._mesh_for(len(dets)).process(image)
        meshes = [np.array([[p.x * w, p.y * h] for p in fl.landmark], dtype=np.float32)
                  for fl in (res.multi_face_landmarks or [])]
        out = np.full((len(dets), 468, 2), np.nan, dtype=np.float32)
        if not meshes:
            return out
        mesh_boxes = np.array([[m[:, 0].min(), m[:, 1].min(), m[:, 0].max(), m[:, 1].max()] for m in meshes])
        iou = box_iou(dets.xyxy, mesh_boxes)
        rows, cols = linear_sum_assignment(-iou)
        for r, c in zip(rows, cols):
            if iou[r, c] >= MESH_MATCH_IOU:
                out[r] = meshes[c][:468]
        return out
