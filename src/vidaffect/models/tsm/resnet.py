"""ResNet-18 (He et al. 2016) written out, with hooks between stages for the temporal shift.

Layout as the common ImageNet ResNet-18: 7x7/2 stem, 3x3/2 max-pool, four
stages of two basic blocks (64, 128, 256, 512 channels), global average
pooling, one linear layer.  The network is fully convolutional up to the
pooling, so any input size of at least 32 px works (224 is the reference).
"""
from __future__ import annotations

from typing import Callable

import torch
from torch import nn


class BasicBlock(nn.Module):
    """Two 3x3 convolutions with batch norm and an identity (or 1x1 projection) shortcut."""

    def __init__(self, in_ch: int, out_ch: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_ch, out_ch, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_ch)
        self.conv2 = nn.Conv2d(out_ch, out_ch, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_ch)
        self.relu = nn.ReLU(inplace=True)
        self.downsample: nn.Module | None = None
        if stride != 1 or in_ch != out_ch:
            self.downsample = nn.Sequential(nn.Conv2d(in_ch, out_ch, 1, stride, bias=False), nn.BatchNorm2d(out_ch))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


def _stage(in_ch: int, out_ch: int, stride: int) -> nn.Sequential:
    return nn.Sequential(BasicBlock(in_ch, out_ch, stride), BasicBlock(out_ch, out_ch, 1))


class ResNet18(nn.Module):
    """ResNet-18 classifier on ``(N, 3, H, W)`` images (``width`` 64 is the standard network).

    ``forward_features(x, between=fn)`` calls ``fn(stage_index, x)`` on the
    outputs of ``layer1``, ``layer2`` and ``layer3`` (indices 1..3) and uses
    what it returns: this is where the temporal shift goes.
    """

    def __init__(self, num_classes: int = 7, in_channels: int = 3, dropout: float = 0.0, width: int = 64) -> None:
        super().__init__()
        w = width
        self.conv1 = nn.Conv2d(in_channels, w, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(w)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        self.layer1 = _stage(w, w, 1)
        self.layer2 = _stage(w, 2 * w, 2)
        self.layer3 = _stage(2 * w, 4 * w, 2)
        self.layer4 = _stage(4 * w, 8 * w, 2)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.fc = nn.Linear(8 * w, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def forward_features(self, x: torch.Tensor,
                         between: Callable[[int, torch.Tensor], torch.Tensor] | None = None) -> torch.Tensor:
        """Pooled ``8 * width``-d features of ``(N, C, H, W)`` images."""
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        for i, layer in enumerate((self.layer1, self.layer2, self.layer3), start=1):
            x = layer(x)
            if between is not None:
                x = between(i, x)
        x = self.layer4(x)
        return torch.flatten(self.avgpool(x), 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.dropout(self.forward_features(x)))
