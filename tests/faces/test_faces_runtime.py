"""Choosing and loading a face runtime: errors a user can cause, and what ``auto`` picks."""
from __future__ import annotations

import contextlib

import pytest
import torch

from vidaffect.errors import VidaffectError
from vidaffect.faces.runtime import litert, load_network, resolve


def test_unknown_runtime_is_a_user_error():
    with pytest.raises(VidaffectError, match="unknown face runtime 'onnx'.*auto, litert, torch"):
        resolve("onnx")
    with pytest.raises(VidaffectError, match="unknown face runtime"):
        load_network("face_landmark", runtime="tensorrt")


@pytest.mark.parametrize("device", ["cuda", "cuda:1"])
def test_litert_on_a_gpu_is_a_user_error(device):
    with pytest.raises(VidaffectError, match="CPU only"):
        resolve("litert", device)


def test_auto_and_explicit_choices(monkeypatch):
    assert resolve("torch", "cpu") == "torch"
    assert resolve("torch", "cuda") == "torch"
    assert resolve("auto", "cuda:0") == "torch"
    assert resolve("auto", "cpu") == ("litert" if litert.available() else "torch")
    # without ai-edge-litert: auto falls back to torch, an explicit litert says what to install
    monkeypatch.setattr(litert, "available", lambda: False)
    assert resolve("auto", "cpu") == "torch"
    with pytest.raises(VidaffectError, match="pip install ai-edge-litert"):
        resolve("litert", "cpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the error without a usable CUDA device")
def test_torch_on_a_missing_gpu_is_a_user_error():
    with pytest.raises(VidaffectError, match="cannot load the face networks on cuda"):
        load_network("face_detection_short_range", runtime="torch", device="cuda")


def test_bad_names():
    from vidaffect.faces.runtime import asset
    from vidaffect.faces.runtime.torch_runtime import TorchNetwork

    with pytest.raises(ValueError, match="unknown face network"):
        asset("face_detection_back", ".tflite")
    with pytest.raises(ValueError, match="unknown precision"):
        TorchNetwork("face_landmark", "cpu", precision="int8")


def test_networks_report_their_runtime():
    net = load_network("face_landmark", runtime="torch", device="cpu", precision="fp32")
    assert (net.runtime, net.name, net.input_size) == ("torch", "face_landmark", 192)
    if litert.available():
        net = load_network("face_landmark", runtime="litert")
        assert net.runtime == "litert"


def test_fp32_on_cuda_turns_tf32_off_for_the_call(monkeypatch):
    """precision fp32 on a GPU runs real float32 convolutions (PyTorch's default lets cuDNN use TF32), and
    leaves the process-wide setting as it was.  Checked on the flag, so it runs without a GPU."""
    from vidaffect.faces.runtime import torch_runtime

    cudnn = torch.backends.cudnn
    new_api = hasattr(getattr(cudnn, "conv", None), "fp32_precision")

    def get():
        return cudnn.conv.fp32_precision if new_api else cudnn.allow_tf32

    def put(value) -> None:
        if new_api:
            cudnn.conv.fp32_precision = value
        else:
            cudnn.allow_tf32 = value

    def tf32_allowed() -> bool:
        return cudnn.conv.fp32_precision == "tf32" if new_api else cudnn.allow_tf32

    original = get()
    put("tf32" if new_api else True)  # start from PyTorch's default: TF32 allowed
    try:
        seen = []
        net = torch_runtime.TorchNetwork("face_detection_short_range", "cpu", precision="fp32")
        net.module = lambda x: seen.append(tf32_allowed()) or [x]
        net.run_tensor(torch.zeros(1, 128, 128, 3))  # on the CPU: left alone
        net.device = torch.device("cuda")  # the flag handling only; the fake module runs anywhere
        net.run_tensor(torch.zeros(1, 128, 128, 3))
        assert seen == [True, False]
        assert tf32_allowed(), "the setting was not restored"
        net.precision = "bf16"
        monkeypatch.setattr(torch, "autocast", lambda *a, **k: contextlib.nullcontext())
        net.run_tensor(torch.zeros(1, 128, 128, 3))
        assert seen[-1] is True  # bf16 is the user's choice of speed over precision: untouched
    finally:
        put(original)
