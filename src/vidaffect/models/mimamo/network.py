"""The two-stream recurrent network of MIMAMO-Net, with the original module (parameter) names.

State-dict layout (what an original ``model_weights.pth.tar`` holds)::

    mlp.mlp.{1,5}            Linear 2048->256, 256->256      (spatial / macro stream)
    mlp.mlp.{2,6}            BatchNorm1d(256)
    phasenet.conv_net.{0,1,2}.{0,3}  Conv3x3 (block k: conv, then conv stride 2)
    phasenet.conv_net.{0,1,2}.{1,4}  BatchNorm2d
    phasenet.fc.{0,4}        Linear 256->256;  phasenet.fc.{2,6}  BatchNorm1d(256)
    phasenet.classifier.0/1  Linear 256->1 + BatchNorm1d(1): unused head kept for strict loading
    transform.0 / transform.2  Linear 512->256, BatchNorm1d(256)
    rnns                     GRU(256, 128, 2 layers, bidirectional)
    classifier.1 / .2        Linear 256->2, BatchNorm1d(2)   -> [valence, arousal]

The original GRU was built without ``batch_first`` but fed ``(batch, time, feature)``,
so it recurred over the batch axis.  ``legacy_gru_axis=True`` reproduces that for
original checkpoints; the default recurs over time.
"""
from __future__ import annotations

import torch
from torch import nn

from vidaffect.models.fusion import fold_batchnorm


class MLP(nn.Module):
    """Macro stream: [Dropout, Linear, BN, ReLU] x 2 on the 2048-d ResNet feature of every frame."""

    def __init__(self, hidden_units: tuple[int, ...] = (2048, 256, 256), dropout: float = 0.3) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        for d_in, d_out in zip(hidden_units[:-1], hidden_units[1:]):
            layers += [nn.Dropout(dropout), nn.Linear(d_in, d_out), nn.BatchNorm1d(d_out), nn.ReLU(inplace=True)]
        self.mlp = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, T, F) -> (B, T, 256)
        b, t, f = x.shape
        return self.mlp(x.reshape(b * t, f)).reshape(b, t, -1)


def _conv_block(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, padding=1), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True),
        nn.Conv2d(c_out, c_out, 3, padding=1, stride=2), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True),
    )


class PhaseNet(nn.Module):
    """Micro stream: CNN on the level-1 phase differences, level-2 ones joined after block 0."""

    def __init__(self, num_channels: int = 24, hidden: int = 256, dropout: float = 0.3) -> None:
        super().__init__()
        self.conv_net = nn.ModuleList([
            _conv_block(num_channels, 64),  # 48 -> 24 px
            _conv_block(num_channels + 64, 128),  # 24 -> 12 px
            _conv_block(128, 256),  # 12 -> 6 px
        ])
        self.dropout = nn.Dropout2d(p=0.2)
        self.avgpool = nn.AvgPool2d(kernel_size=6)
        self.fc = nn.Sequential(
            nn.Linear(256, hidden), nn.ReLU(inplace=True), nn.BatchNorm1d(hidden), nn.Dropout(dropout),
            nn.Linear(hidden, hidden), nn.ReLU(inplace=True), nn.BatchNorm1d(hidden), nn.Dropout(dropout),
        )
        self.classifier = nn.Sequential(nn.Linear(hidden, 1), nn.BatchNorm1d(1, eps=1e-6, momentum=0.1))

    def forward(self, level1: torch.Tensor, level2: torch.Tensor) -> torch.Tensor:
        """``level1`` (B, T, C, 48, 48), ``level2`` (B, T, C, 24, 24) -> features (B*T, 256)."""
        b, t = level1.shape[:2]
        x = self.conv_net[0](level1.reshape(b * t, *level1.shape[2:]))
        x = torch.cat([x, level2.reshape(b * t, *level2.shape[2:])], dim=1)
        for block in self.conv_net[1:]:
            x = self.dropout(block(x))
        return self.fc(self.avgpool(x).flatten(1))


class TwoStreamRNN(nn.Module):
    """MIMAMO-Net: fuse macro and micro features per frame, bidirectional GRU, per-frame [valence, arousal]."""

    def __init__(self, num_phase: int = 12, nbands: int = 2, dropout: float = 0.5,
                 legacy_gru_axis: bool = False) -> None:
        super().__init__()
        self.mlp = MLP((2048, 256, 256))
        self.phasenet = PhaseNet(nbands * num_phase)
        self.transform = nn.Sequential(nn.Linear(512, 256), nn.ReLU(inplace=True), nn.BatchNorm1d(256),
                                       nn.Dropout(dropout))
        self.rnns = nn.GRU(256, 128, num_layers=2, bidirectional=True, dropout=0.3)
        self.classifier = nn.Sequential(nn.Dropout(dropout), nn.Linear(256, 2), nn.BatchNorm1d(2))
        self.legacy_gru_axis = legacy_gru_axis

    def forward(self, level1: torch.Tensor, level2: torch.Tensor, rgb: torch.Tensor) -> torch.Tensor:
        """``level1`` (B,T,24,48,48), ``level2`` (B,T,24,24,24), ``rgb`` (B,T,2048) -> (B,T,2)."""
        b, t = rgb.shape[:2]
        spatial = self.mlp(rgb)
        temporal = self.phasenet(level1, level2).reshape(b, t, -1)
        fused = self.transform(torch.cat([spatial, temporal], dim=-1).reshape(b * t, -1)).reshape(b, t, -1)
        if self.legacy_gru_axis:
            out, _ = self.rnns(fused)  # (B, T, F) read as (seq=B, batch=T): the original's recurrence
        else:
            out, _ = self.rnns(fused.transpose(0, 1))
            out = out.transpose(0, 1)
        return self.classifier(out.reshape(b * t, -1)).reshape(b, t, -1)


def fuse_for_inference(net: TwoStreamRNN) -> TwoStreamRNN:
    """An eval-mode copy with every Conv+BN and Linear+BN pair folded into one layer.

    Same outputs as ``net.eval()`` up to float rounding, about 15% faster on CPU.  Every BatchNorm1d
    of this network that directly follows a Linear sees ``(N, features)`` rows, so folding it is valid.
    """
    return fold_batchnorm(net, linear=True)
