"""Where dlib's own model files are: the ``face_recognition_models`` package (the ``identity`` extra).

vidaffect computes dlib's face descriptor itself (:mod:`vidaffect.identity.resnet_descriptor`, with the
weights converted by ``tools/convert_dlib_face_recognition.py``); dlib and these files are only the
reference that the parity tests, ``benchmarks/face_embedding.py`` and the converter read.  The package's
``__init__`` imports ``pkg_resources`` (deprecated, missing on new setuptools), so the files are located
through the import system without importing it.
"""
from __future__ import annotations

import importlib.util
from pathlib import Path

from vidaffect.errors import VidaffectError

SHAPE_MODEL = "shape_predictor_5_face_landmarks.dat"
RECOGNITION_MODEL = "dlib_face_recognition_resnet_model_v1.dat"
INSTALL_HINT = ("dlib's reference files need the 'identity' extra: pip install 'vidaffect[identity]' "
                "(dlib-bin, face_recognition_models)")


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
