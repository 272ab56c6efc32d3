"""ResNet-18 with a temporal shift after layer1, layer2 and layer3 (the VTT Friends model)."""
from __future__ import annotations

import torch
from torch import nn

from vidaffect.models.tsm.resnet import ResNet18
from vidaffect.models.tsm.shift import temporal_shift


class ResNet18TSM(nn.Module):
    """Clip classifier: ``(N, T, 3, H, W)`` RGB in [0, 1] -> ``(N, T, classes)`` logits.

    Frame mode: a 4-D input ``(N, 3, H, W)`` runs the same weights without any
    shift and returns ``(N, classes)``; this is how still images are trained
    and evaluated.  A clip of T copies of one image gives exactly the frame-mode
    logits at every step (shifting identical frames changes nothing).
    ``buffer_length`` is the clip length used at inference; any T works.
    ``width`` scales the channels (64: the standard ResNet-18; smaller for tests and quick runs).
    """

    def __init__(self, num_classes: int = 7, buffer_length: int = 4, fold_div: int = 4, dropout: float = 0.0,
                 width: int = 64) -> None:
        super().__init__()
        if buffer_length < 1:
            raise ValueError("buffer_length must be at least 1")
        self.buffer_length = buffer_length
        self.fold_div = fold_div
        self.width = width
        self.backbone = ResNet18(num_classes, 3, dropout, width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim == 4:
            return self.backbone(x)
        if x.ndim != 5:
            raise ValueError(f"expected (N, T, 3, H, W) or (N, 3, H, W), got shape {tuple(x.shape)}")
        n, t = x.shape[:2]
        flat = x.reshape(n * t, *x.shape[2:])
        feats = self.backbone.forward_features(flat, between=lambda _i, f: temporal_shift(f, t, self.fold_div))
        return self.backbone.fc(self.backbone.dropout(feats)).view(n, t, -1)

    def frame_features(self, x: torch.Tensor) -> torch.Tensor:
        """Stem and layer1 of ``(N, 3, H, W)`` frames: per frame, before any shift (so cacheable per frame)."""
        b = self.backbone
        return b.layer1(b.maxpool(b.relu(b.bn1(b.conv1(x)))))

    def predict_last(self, x: torch.Tensor, last: int = 2) -> torch.Tensor:
        """Mean logits of the last ``last`` steps of clips ``(N, T, 3, H, W)``, computing only what they need.

        Equal to ``clip_prediction_logits(self(x), last)``: layer4 and the
        classifier are per frame, so they run on the last ``last`` steps only,
        and layer3 on those plus the one step its shift reads from.
        """
        n, t = x.shape[:2]
        f = self.frame_features(x.reshape(n * t, *x.shape[2:]))
        return self.predict_last_from_features(f.view(n, t, *f.shape[1:]), last)

    def predict_last_from_features(self, f: torch.Tensor, last: int = 2) -> torch.Tensor:
        """:meth:`predict_last` from the :meth:`frame_features` of the clips, ``(N, T, C, H, W)``."""
        n, t = f.shape[:2]
        last = min(last, t)
        keep = min(t, last + 1)  # steps of layer3 needed: the last ones and the step shifted into them
        b = self.backbone
        f = temporal_shift(f.reshape(n * t, *f.shape[2:]), t, self.fold_div)
        f = temporal_shift(b.layer2(f), t, self.fold_div)
        f = f.view(n, t, *f.shape[1:])[:, t - keep :].reshape(n * keep, *f.shape[1:])
        f = temporal_shift(b.layer3(f), keep, self.fold_div)
        f = f.view(n, keep, *f.shape[1:])[:, keep - last :].reshape(n * last, *f.shape[1:])
        logits = b.fc(b.dropout(torch.flatten(b.avgpool(b.layer4(f)), 1)))
        return logits.view(n, last, -1).mean(dim=1)


def clip_prediction_logits(logits: torch.Tensor, last: int = 2) -> torch.Tensor:
    """Per-clip logits as the reference predicts: mean of the last ``last`` time steps of ``(N, T, C)``."""
    return logits[:, -last:].mean(dim=1)
