"""dlib's own face descriptor pipeline (shape predictor + ResNet through the ``dlib`` package): the reference.

vidaffect computes the same descriptors itself (:mod:`vidaffect.identity.descriptor`,
no dlib needed); this module runs dlib for the parity checks of the tests, the
benchmarks and ``tools/convert_dlib_face_recognition.py`` (the ``identity`` extra).
The model files come from the ``face_recognition_models`` package.  Its
``__init__`` imports ``pkg_resources`` (deprecated, missing on new setuptools),
so the files are located through the import system without importing it.
"""
from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vidaffect.errors import VidaffectError

MODEL_NAME = "dlib_face_recognition_resnet_model_v1"
SHAPE_MODEL = "shape_predictor_5_face_landmarks.dat"
RECOGNITION_MODEL = "dlib_face_recognition_resnet_model_v1.dat"
INSTALL_HINT = "dlib's reference pipeline needs the 'identity' extra: pip install 'vidaffect[identity]' (dlib-bin, face_recognition_models)"


def identity_available() -> bool:
    """Whether dlib and the model files are installed."""
    try:
        model_dir()
        import dlib  # noqa: F401
    except (VidaffectError, ImportError):
        return False
    return True


def model_dir() -> Path:
    """Folder holding the dlib model files of ``face_recognition_models`` (its ``__init__`` is not imported)."""
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise VidaffectError(INSTALL_HINT)
    for base in spec.submodule_search_locations:
        folder = Path(base) / "models"
        if (folder / RECOGNITION_MODEL).is_file() and (folder / SHAPE_MODEL).is_file():
            return folder
    raise VidaffectError(f"face_recognition_models is installed but its model files are missing; {INSTALL_HINT}")


@dataclass
class FaceShape:
    """dlib's 5 landmarks of one face: eye corners (2 per eye) and the bottom of the nose, in image pixels."""

    points: np.ndarray  # (5, 2)
    shape: object  # dlib.full_object_detection, reused for the descriptor


class FaceEmbedder:
    """Computes unit-length 128-d face descriptors with dlib's ResNet (about 10-20 ms per face on one CPU core)."""

    dim = 128

    def __init__(self, jitter: int = 0) -> None:
        try:
            import dlib
        except ImportError as exc:
            raise VidaffectError(INSTALL_HINT) from exc
        folder = model_dir()
        self._dlib = dlib
        self._shape = dlib.shape_predictor(str(folder / SHAPE_MODEL))
        self._net = dlib.face_recognition_model_v1(str(folder / RECOGNITION_MODEL))
        self.jitter = int(jitter)
        self._hog = None

    def verify(self, image: np.ndarray, box: np.ndarray) -> bool:
        """Whether dlib's HOG frontal-face detector also finds a face centred inside ``box`` (rejects false
        detections such as printed patterns, and faces too blurred or turned for a reliable descriptor)."""
        if self._hog is None:
            self._hog = self._dlib.get_frontal_face_detector()
        x1, y1, x2, y2 = (float(v) for v in box)
        upsample = 0 if min(x2 - x1, y2 - y1) >= 100 else 1
        for r in self._hog(np.ascontiguousarray(image), upsample):
            cx, cy = (r.left() + r.right()) / 2, (r.top() + r.bottom()) / 2
            if x1 <= cx <= x2 and y1 <= cy <= y2:
                return True
        return False

    def shape(self, image: np.ndarray, box: np.ndarray) -> FaceShape:
        """5-point landmarks of the face in ``box`` (x1, y1, x2, y2) of the RGB ``image``."""
        x1, y1, x2, y2 = (int(round(float(v))) for v in box)
        rect = self._dlib.rectangle(x1, y1, max(x2, x1 + 1), max(y2, y1 + 1))
        sh = self._shape(np.ascontiguousarray(image), rect)
        pts = np.array([[sh.part(i).x, sh.part(i).y] for i in range(sh.num_parts)], dtype=np.float32)
        return FaceShape(pts, sh)

    def embed(self, image: np.ndarray, shape: FaceShape) -> np.ndarray:
        """Unit-length descriptor of one face (``shape`` from :meth:`shape` on the same image)."""
        d = np.asarray(self._net.compute_face_descriptor(np.ascontiguousarray(image), shape.shape, self.jitter),
                       dtype=np.float32)
        return d / max(float(np.linalg.norm(d)), 1e-12)

    def embed_box(self, image: np.ndarray, box: np.ndarray) -> np.ndarray:
        """Descriptor of the face in ``box`` of ``image``."""
        return self.embed(image, self.shape(image, box))

