"""ResNet-50 FER+ (``resnet50_ferplus_dag``): the macro-motion feature extractor of MIMAMO-Net.

A converted MatConvNet model (VGGFace2 pre-training, FER+ fine-tuning).  Module
names follow the DAG of the conversion (``conv1_7x7_s2``, ``conv2_1_1x1_reduce``,
``conv2_1_1x1_reduce_bn``, ``conv2_1_1x1_proj``, ..., ``pool5_7x7_s1``,
``classifier``) so that the published ``resnet50_ferplus_dag.pth`` state dict
loads strictly.  Caffe-style bottlenecks: the stride sits on the first 1x1
convolution; max-pool with ``ceil_mode``.

Pre-processing (:func:`preprocess_resnet`): resize to 256, centre crop 224,
pixel values 0..255 minus the mean RGB ``[131.0912, 103.8827, 91.4953]``, std 1.
The MIMAMO feature is the ``pool5_7x7_s1`` output (2048-d) after a ReLU.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn
import torch.nn.functional as F

MEAN_RGB = (131.0912, 103.8827, 91.4953)
STAGES = ((2, 3, 64, 256), (3, 4, 128, 512), (4, 6, 256, 1024), (5, 3, 512, 2048))  # (stage, blocks, mid, out)


def _bn(c: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(c, eps=1e-5, momentum=0.1)


class Resnet50FerplusDag(nn.Module):
    """ResNet-50 with the converted DAG's flat module names; 8 FER+ classes."""

    def __init__(self, num_classes: int = 8) -> None:
        super().__init__()
        self.conv1_7x7_s2 = nn.Conv2d(3, 64, 7, stride=2, padding=3, bias=False)
        self.conv1_7x7_s2_bn = _bn(64)
        self.conv1_relu_7x7_s2 = nn.ReLU()
        self.pool1_3x3_s2 = nn.MaxPool2d(3, stride=2, padding=0, ceil_mode=True)
        self.blocks: list[tuple[str, bool]] = []
        c_in = 64
        for stage, n, mid, out in STAGES:
            for i in range(1, n + 1):
                name = f"conv{stage}_{i}"
                stride = 2 if (i == 1 and stage > 2) else 1
                setattr(self, f"{name}_1x1_reduce", nn.Conv2d(c_in, mid, 1, stride=stride, bias=False))
                setattr(self, f"{name}_1x1_reduce_bn", _bn(mid))
                setattr(self, f"{name}_3x3", nn.Conv2d(mid, mid, 3, padding=1, bias=False))
                setattr(self, f"{name}_3x3_bn", _bn(mid))
                setattr(self, f"{name}_1x1_increase", nn.Conv2d(mid, out, 1, bias=False))
                setattr(self, f"{name}_1x1_increase_bn", _bn(out))
                if i == 1:
                    setattr(self, f"{name}_1x1_proj", nn.Conv2d(c_in, out, 1, stride=stride, bias=False))
                    setattr(self, f"{name}_1x1_proj_bn", _bn(out))
                self.blocks.append((name, i == 1))
                c_in = out
        self.pool5_7x7_s1 = nn.AvgPool2d(kernel_size=7, stride=1, padding=0)
        self.classifier = nn.Conv2d(2048, num_classes, 1)

    def _block(self, x: torch.Tensor, name: str, proj: bool) -> torch.Tensor:
        m = self._modules
        y = F.relu(m[f"{name}_1x1_reduce_bn"](m[f"{name}_1x1_reduce"](x)))
        y = F.relu(m[f"{name}_3x3_bn"](m[f"{name}_3x3"](y)))
        y = m[f"{name}_1x1_increase_bn"](m[f"{name}_1x1_increase"](y))
        short = m[f"{name}_1x1_proj_bn"](m[f"{name}_1x1_proj"](x)) if proj else x
        return F.relu(short + y)

    def pool5(self, x: torch.Tensor) -> torch.Tensor:
        """Output of ``pool5_7x7_s1`` for pre-processed input ``(N, 3, 224, 224)``: ``(N, 2048, 1, 1)``."""
        x = self.pool1_3x3_s2(self.conv1_relu_7x7_s2(self.conv1_7x7_s2_bn(self.conv1_7x7_s2(x))))
        for name, proj in self.blocks:
            x = self._block(x, name, proj)
        return self.pool5_7x7_s1(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """FER+ logits ``(N, 8)``."""
        return self.classifier(self.pool5(x)).flatten(1)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """MIMAMO macro features: ReLU(pool5_7x7_s1) flattened, ``(N, 2048)``."""
        return F.relu(self.pool5(x)).flatten(1)


def preprocess_resnet(crops: np.ndarray, device: str | torch.device = "cpu") -> torch.Tensor:
    """uint8 RGB crops ``(N, H, W, 3)`` -> ``(N, 3, 224, 224)``: resize 256 (bilinear), centre crop 224,
    0..255 minus the mean RGB."""
    x = torch.from_numpy(np.ascontiguousarray(crops)).to(device).permute(0, 3, 1, 2).float()
    h, w = x.shape[-2:]
    scale = 256 / min(h, w)
    size = (max(256, round(h * scale)), max(256, round(w * scale)))
    x = F.interpolate(x, size=size, mode="bilinear", align_corners=False, antialias=min(h, w) > 256)
    top, left = (size[0] - 224) // 2, (size[1] - 224) // 2
    x = x[..., top:top + 224, left:left + 224]
    return x - torch.tensor(MEAN_RGB, device=x.device).view(1, 3, 1, 1)
