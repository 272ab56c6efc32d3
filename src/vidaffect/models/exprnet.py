"""ExprNet: the project's small residual CNN for facial expressions on CPU.

Input: grayscale face crops, 48x48, scaled to [-1, 1].  Two stem convolutions
(the second with stride 2), then five residual basic blocks at 24, 12 and 6
pixels, global average pooling, dropout and a linear classifier.  With
``width=32`` it has 0.68M parameters and, with Conv+BN folded and channels-last
layout (:mod:`vidaffect.models.fusion`), runs at 2-3 ms per face at batch 1 and
1,500-1,650 faces/s at batch 64 on a 2-core laptop-class CPU (see
``benchmarks/model_speed.py``).
"""
from __future__ import annotations

import torch
from torch import nn


def _conv_bn_relu(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)
    )


class BasicBlock(nn.Module):
    """ResNet basic block (two 3x3 convolutions) with a projection shortcut when shapes change."""

    def __init__(self, cin: int, cout: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = _conv_bn_relu(cin, cout, stride)
        self.conv2 = nn.Sequential(nn.Conv2d(cout, cout, 3, 1, 1, bias=False), nn.BatchNorm2d(cout))
        if cin == cout and stride == 1:
            self.shortcut: nn.Module = nn.Identity()
        else:
            self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.conv2(self.conv1(x)) + self.shortcut(x))


class ExprNet(nn.Module):
    """Residual CNN classifier; ``forward`` returns logits ``(N, num_classes)``.

    With ``va_head=True`` a second linear head predicts (valence, arousal) in
    [-1, 1] (tanh) and ``forward`` returns ``(logits, va)``.
    """

    def __init__(
        self,
        num_classes: int = 7,
        width: int = 32,
        in_channels: int = 1,
        dropout: float = 0.3,
        va_head: bool = False,
    ) -> None:
        super().__init__()
        w = width
        self.num_classes = num_classes
        self.width = width
        self.in_channels = in_channels
        self.features = nn.Sequential(
            _conv_bn_relu(in_channels, w // 2, 1),
            _conv_bn_relu(w // 2, w, 2),
            BasicBlock(w, w, 1),
            BasicBlock(w, 2 * w, 2),
            BasicBlock(2 * w, 2 * w, 1),
            BasicBlock(2 * w, 4 * w, 2),
            BasicBlock(4 * w, 4 * w, 1),
        )
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(4 * w, num_classes)
        self.va = nn.Linear(4 * w, 2) if va_head else None
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        # Zero-init the last BN of each residual branch: blocks start as identity.
        for m in self.modules():
            if isinstance(m, BasicBlock):
                nn.init.zeros_(m.conv2[1].weight)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """Pooled feature vector ``(N, 4*width)``."""
        return self.pool(self.features(x)).flatten(1)

    def forward(self, x: torch.Tensor):  # type: ignore[override]
        h = self.dropout(self.embed(x))
        logits = self.classifier(h)
        if self.va is None:
            return logits
        return logits, torch.tanh(self.va(h))
