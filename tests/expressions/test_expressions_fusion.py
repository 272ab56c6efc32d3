"""Inference rewrites (Conv+BN folding, channels-last) keep the model's outputs."""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from vidaffect.models.exprnet import ExprNet
from vidaffect.models.fusion import fold_batchnorm, optimize_for_inference
from vidaffect.models.mini_xception import MiniXception
from vidaffect.models.zoo.exprnet import TorchFrameModel
from vidaffect.models.base import CropSpec
from vidaffect.labels import EMOTIONS


def _randomise_bn(net: nn.Module, seed: int = 0) -> None:
    """Non-trivial BN statistics so that a wrong fold shows."""
    g = torch.Generator().manual_seed(seed)
    for m in net.modules():
        if isinstance(m, nn.BatchNorm2d):
            c = m.num_features
            m.running_mean.copy_(torch.randn(c, generator=g) * 0.5)
            m.running_var.copy_(torch.rand(c, generator=g) + 0.5)
            m.weight.data.copy_(torch.randn(c, generator=g))
            m.bias.data.copy_(torch.randn(c, generator=g) * 0.2)


def test_fold_removes_every_sequential_bn_and_keeps_outputs():
    torch.manual_seed(0)
    net = ExprNet(7, 16).eval()
    _randomise_bn(net)
    folded = fold_batchnorm(net)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in folded.modules())
    assert any(isinstance(m, nn.BatchNorm2d) for m in net.modules()), "the original must stay untouched"
    x = torch.rand(5, 1, 48, 48) * 2 - 1
    with torch.inference_mode():
        ref, out = net(x), folded(x)
    assert torch.allclose(ref, out, atol=1e-4), (ref - out).abs().max()


def test_optimized_net_is_channels_last_and_handles_models_without_sequential_pairs():
    torch.manual_seed(1)
    net = MiniXception().eval()  # Conv/BN are attributes, not Sequential pairs: left as they are
    _randomise_bn(net)
    fast = optimize_for_inference(net)
    conv = next(m for m in fast.modules() if isinstance(m, nn.Conv2d) and m.kernel_size == (3, 3) and m.groups == 1)
    assert conv.weight.is_contiguous(memory_format=torch.channels_last)
    x = (torch.rand(3, 1, 64, 64) * 2 - 1)
    with torch.inference_mode():
        ref = net(x)
        out = fast(x.contiguous(memory_format=torch.channels_last))
    assert torch.allclose(ref, out, atol=1e-4)


def test_frame_model_predictions_match_the_unfused_network():
    torch.manual_seed(2)
    net = ExprNet(7, 16).eval()
    _randomise_bn(net, 3)
    model = TorchFrameModel(net, "t", EMOTIONS, CropSpec(48, "gray", "fer"), tta_flip=True)
    crops = np.random.default_rng(0).integers(0, 256, (4, 48, 48), dtype=np.uint8)
    probs, _ = model.predict(crops)
    x = torch.from_numpy(crops).unsqueeze(1).float() * (2 / 255) - 1
    with torch.inference_mode():
        ref = torch.softmax((net(x) + net(torch.flip(x, dims=[3]))) / 2, 1).numpy()
    np.testing.assert_allclose(probs, ref, atol=1e-5)
