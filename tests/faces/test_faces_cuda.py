"""The face networks on a GPU (``--face-runtime torch --device cuda``) give the CPU's results.

Runs only where torch sees a CUDA device.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch
from faces_helpers import NETWORK_NAMES, box_centres, pair_nearest

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(),
                                reason="no CUDA device (torch.cuda.is_available() is False)")
TOL = 1e-3


@pytest.mark.parametrize("name", NETWORK_NAMES)
def test_raw_outputs_cuda_equal_cpu(name, network_data, networks):
    from vidaffect.faces.runtime import load_network

    x = network_data[name]["inputs"]
    gpu = load_network(name, runtime="torch", device="cuda", precision="fp32")
    assert gpu.runtime == "torch"
    for k, (g, c, ref) in enumerate(zip(gpu(x), networks(name, "torch")(x), network_data[name]["outputs"])):
        assert np.abs(g - c).max() <= TOL, f"{name} output {k}: cuda vs cpu {np.abs(g - c).max():.2e}"
        assert np.abs(g - ref).max() <= TOL, f"{name} output {k}: cuda vs LiteRT {np.abs(g - ref).max():.2e}"


@pytest.mark.parametrize("model", ["short", "full"])
def test_blazeface_cuda_equals_cpu(model, frames, detectors):
    from vidaffect.faces.blazeface import BlazeFace

    gpu = BlazeFace(model, runtime="torch", device="cuda", precision="fp32")
    assert gpu.runtime == "torch"
    cpu = detectors(model, "torch")
    for name, image in frames.items():
        c, g = cpu.detect(image), gpu.detect(image)
        assert len(g) == len(c), name
        idx = pair_nearest(box_centres(c.xyxy), box_centres(g.xyxy))
        assert np.abs(g.scores[idx] - c.scores).max() <= TOL, name
        assert np.abs(g.xyxy[idx] - c.xyxy).max() <= 10 * TOL, name  # pixels
        assert np.abs(g.keypoints[idx] - c.keypoints).max() <= 10 * TOL, name


def test_mesh_cuda_equals_cpu(frames, detectors, meshes):
    from vidaffect.faces.mesh import FaceMesh, roi_from_detection

    gpu = FaceMesh(runtime="torch", device="cuda", precision="fp32")
    for name, image in frames.items():
        d = detectors("short", "torch").detect(image)
        rois = [roi_from_detection(d.xyxy[i], d.keypoints[i]) for i in range(len(d))]
        lc, pc = meshes("torch").run(image, rois)
        lg, pg = gpu.run(image, rois)
        assert np.abs(pg - pc).max() <= TOL, name
        np.testing.assert_array_equal(np.isnan(lg), np.isnan(lc))
        ok = ~np.isnan(lc)
        assert np.abs(lg[ok] - lc[ok]).max() <= 10 * TOL, name  # pixels


def test_analyze_with_device_cuda_runs_the_face_stage_on_the_gpu(frames):
    """`vidaffect analyze --device cuda` (face runtime auto) puts the face networks on the GPU too."""
    from vidaffect.pipeline import Analyzer

    an = Analyzer(device="cuda")
    try:
        det = an.detector
        assert det.runtime == "torch"
        for net in (det._finder.detector.net, det._mesh.net):
            assert next(net.module.parameters()).device.type == "cuda"
        image = next(iter(frames.values()))
        assert len(det.detect(image)) >= 1
    finally:
        an.close()
