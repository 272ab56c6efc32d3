"""Fixtures of the face-stage tests: the recorded references in tests/fixtures/faces/ and loaded networks.

The references (LiteRT's raw outputs on real input tensors, mediapipe 0.10.21's
detections and meshes on real frames) are recorded by
``tools/record_face_fixtures.py``; nothing here needs mediapipe or the shared videos.
"""
from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
from faces_helpers import FIXTURES, NETWORK_NAMES, input_tensor, skip_unless_runtime


@pytest.fixture(scope="session")
def reference() -> dict:
    path = FIXTURES / "reference.json"
    if not path.exists():
        pytest.fail(f"{path} missing: record it with tools/record_face_fixtures.py")
    return json.loads(path.read_text())


@pytest.fixture(scope="session")
def network_data() -> dict[str, dict]:
    """name -> {"inputs": float32 (N, S, S, 3), "outputs": [float32 (N, ...), ...] (LiteRT's, recorded), "value_range"}."""
    out = {}
    for name in NETWORK_NAMES:
        with np.load(FIXTURES / f"{name}.npz") as z:
            outputs, k = [], 0
            while f"output_{k}" in z.files:
                outputs.append(z[f"output_{k}"])
                k += 1
            out[name] = {"inputs": input_tensor(z["patches"], z["value_range"]), "outputs": outputs,
                         "value_range": tuple(float(v) for v in z["value_range"])}
    return out


@pytest.fixture(scope="session")
def frames(reference) -> dict[str, np.ndarray]:
    """Fixture frame file name -> RGB uint8 image (the PNG's exact pixels)."""
    out = {}
    for entry in reference["frames"]:
        bgr = cv2.imread(str(FIXTURES / entry["file"]), cv2.IMREAD_COLOR)
        assert bgr is not None, f"cannot read {entry['file']}"
        assert bgr.shape[1::-1] == tuple(entry["size"]), f"{entry['file']}: not the recorded size"
        out[entry["file"]] = np.ascontiguousarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
    return out


@pytest.fixture(scope="session")
def networks():
    """get(name, runtime) -> that network on the CPU, loaded once per session."""
    from vidaffect.faces.runtime import load_network

    loaded: dict[tuple[str, str], object] = {}

    def get(name: str, runtime: str):
        skip_unless_runtime(runtime)
        if (name, runtime) not in loaded:
            loaded[name, runtime] = load_network(name, runtime=runtime, device="cpu", precision="fp32")
        return loaded[name, runtime]

    yield get
    for net in loaded.values():
        net.close()


@pytest.fixture(scope="session")
def detectors():
    """get(model, runtime, threshold=None, precision="fp32") -> a BlazeFace on the CPU, built once per session."""
    from vidaffect.faces.blazeface import BlazeFace

    built: dict[tuple, object] = {}

    def get(model: str, runtime: str, threshold: float | None = None, precision: str = "fp32"):
        skip_unless_runtime(runtime)
        key = (model, runtime, threshold, precision)
        if key not in built:
            built[key] = BlazeFace(model, threshold=threshold, runtime=runtime, device="cpu", precision=precision)
        return built[key]

    yield get
    for det in built.values():
        det.close()


@pytest.fixture(scope="session")
def meshes():
    """get(runtime) -> a FaceMesh on the CPU, built once per session."""
    from vidaffect.faces.mesh import FaceMesh

    built: dict[str, object] = {}

    def get(runtime: str):
        skip_unless_runtime(runtime)
        if runtime not in built:
            built[runtime] = FaceMesh(runtime=runtime, device="cpu", precision="fp32")
        return built[runtime]

    yield get
    for m in built.values():
        m.close()
