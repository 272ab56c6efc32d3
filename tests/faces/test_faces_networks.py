"""Both face runtimes against LiteRT's recorded raw outputs on real input tensors (tests/fixtures/faces/)."""
from __future__ import annotations

import hashlib

import numpy as np
import pytest
from faces_helpers import FIXTURES, NETWORK_NAMES, RUNTIMES

RAW_TOL = 1e-3  # absolute, on the raw outputs
# batch vs one at a time: 1e-4 absolute, plus 1e-5 relative for the mesh's outputs in crop pixels (up to ~190,
# where float32 spacing is 1.5e-5 and a different convolution algorithm per batch size moves them by ~1e-4)
BATCH_ATOL, BATCH_RTOL = 1e-4, 1e-5


def test_fixtures_match_the_shipped_models(reference):
    """The references were recorded with exactly the shipped .tflite files (else: re-record)."""
    from vidaffect.faces.runtime import asset

    for name in NETWORK_NAMES:
        sha = hashlib.sha256(asset(name, ".tflite").read_bytes()).hexdigest()
        assert reference["models"][name]["sha256"] == sha, (
            f"{name}.tflite changed since tests/fixtures/faces was recorded: run tools/record_face_fixtures.py")


def test_fixture_inputs_are_real_and_distinct(network_data, reference):
    """Each network has several recorded inputs in its value range, not constant and not repeated."""
    from vidaffect.faces.runtime import NETWORKS

    for name in NETWORK_NAMES:
        x = network_data[name]["inputs"]
        size = NETWORKS[name]
        assert x.shape[0] >= 2 and x.shape[1:] == (size, size, 3)
        assert len(reference["networks"][name]["inputs"]) == len(x)
        lo, hi = network_data[name]["value_range"]
        assert x.min() >= lo and x.max() <= hi
        flat = x.reshape(len(x), -1)
        assert (flat.std(1) > 0.05).all()
        assert len({row.tobytes() for row in flat}) == len(x)


@pytest.mark.parametrize("runtime", RUNTIMES)
@pytest.mark.parametrize("name", NETWORK_NAMES)
def test_raw_outputs_match_litert_reference(name, runtime, networks, network_data):
    data = network_data[name]
    outs = networks(name, runtime)(data["inputs"])
    assert len(outs) == len(data["outputs"])
    for k, (got, ref) in enumerate(zip(outs, data["outputs"])):
        assert got.dtype == np.float32
        assert got.shape == ref.shape, f"output {k}: shape {got.shape} != recorded {ref.shape}"
        err = float(np.abs(got - ref).max())
        assert err <= RAW_TOL, f"{name} on {runtime}: output {k} differs from LiteRT's by {err:.2e}"


@pytest.mark.parametrize("runtime", RUNTIMES)
@pytest.mark.parametrize("name", NETWORK_NAMES)
def test_batch_equals_one_at_a_time(name, runtime, networks, network_data):
    net = networks(name, runtime)
    x = network_data[name]["inputs"]
    batch = net(x)
    # reversed order too: an item's result must not depend on its place in the batch
    rev = net(x[::-1].copy())
    for i in range(len(x)):
        single = net(x[i:i + 1])
        for k, (b, r, s) in enumerate(zip(batch, rev, single)):
            assert s.shape[0] == 1
            np.testing.assert_allclose(b[i], s[0], rtol=BATCH_RTOL, atol=BATCH_ATOL,
                                       err_msg=f"{name} on {runtime}: item {i}, output {k}: batch != single")
            np.testing.assert_allclose(r[len(x) - 1 - i], s[0], rtol=BATCH_RTOL, atol=BATCH_ATOL,
                                       err_msg=f"{name} on {runtime}: item {i}, output {k}: depends on batch order")


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_empty_batch(runtime, networks):
    """A batch of zero items is valid (a frame without faces sends no mesh regions)."""
    from vidaffect.faces.runtime import NETWORKS

    name = "face_landmark"
    net = networks(name, runtime)
    size = NETWORKS[name]
    outs = net(np.zeros((0, size, size, 3), np.float32))
    assert len(outs) == 2
    assert all(len(o) == 0 for o in outs)


def test_fixture_files_stay_small():
    total = sum(p.stat().st_size for p in FIXTURES.iterdir() if p.is_file())
    assert total < 1.6e6, f"tests/fixtures/faces is {total / 1e6:.2f} MB; keep it small"


@pytest.mark.integration
def test_recorded_inputs_rebuild_from_the_shared_videos(reference, network_data, detectors):
    """Where the shared videos are: each recorded input is vidaffect's pre-processing of the named frame, bit for
    bit, and the mesh regions are what the short-range detector gives there now."""
    import av
    from video_fixtures import shared_video

    from vidaffect.faces.mesh import roi_from_detection
    from vidaffect.faces.roi import Roi, letterbox_roi, warp_roi
    from vidaffect.faces.runtime import NETWORKS

    for name in NETWORK_NAMES:
        for k, src in enumerate(reference["networks"][name]["inputs"]):
            with av.open(str(shared_video(src["video"]))) as c:
                frame = next(f for i, f in enumerate(c.decode(video=0)) if i == src["frame"]).to_ndarray(format="rgb24")
            h, w = frame.shape[:2]
            roi = Roi(*src["roi"])
            size = NETWORKS[name]
            x = warp_roi(frame, roi, (size, size), network_data[name]["value_range"], replicate=src["replicate_border"])
            np.testing.assert_array_equal(x, network_data[name]["inputs"][k], err_msg=f"{name} input {k}")
            if name == "face_landmark":
                dets = detectors("short", "torch").detect(frame)
                near = [roi_from_detection(dets.xyxy[i], dets.keypoints[i]) for i in range(len(dets))]
                err = min(np.abs(np.subtract(src["roi"][:4], [r.cx, r.cy, r.width, r.height])).max() for r in near)
                assert err < 0.01, f"mesh input {k}: no detection gives its region now ({err:.3f} px off)"
            else:
                assert roi == letterbox_roi(0, 0, w, h)
