"""SSSN and DSSN (Khor et al., ICIP 2019): shallow AlexNet streams for micro-expressions.

A stream is AlexNet truncated after conv2: conv1 96x11x11/4 pad 4, ReLU, LRN,
maxpool 3/2, conv2 256x5x5 pad 2 in 2 groups, ReLU, LRN, maxpool 3/2, zero-pad 1
-> 256x15x15 = 57,600 features for a 227x227 input.  SSSN: one stream, dropout,
linear.  DSSN: two streams (unshared weights) merged by add, multiply or
concatenate, then dropout, linear.  With 5 classes: SSSN 630,405 parameters
(0.63M), DSSN add/multiply 972,805 (0.972M), DSSN concatenate 1,260,805.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from vidaffect.errors import ModelError

COMBINATIONS = {"add": "add", "multiply": "multiply", "mul": "multiply", "concatenate": "concatenate", "cat": "concatenate"}
ARCHITECTURES = ("SSSN", "DSSN")


def combination_name(mode: str) -> str:
    """Canonical combination mode (``add``, ``multiply``, ``concatenate``; ``mul``/``cat`` accepted)."""
    try:
        return COMBINATIONS[mode.lower()]
    except KeyError:
        raise ModelError(f"unknown combination mode {mode!r} (choose from add, multiply, concatenate)") from None


class ChannelLRN(nn.Module):
    """Local response normalisation across channels, same result as ``nn.LocalResponseNorm``.

    ``x / (k + alpha / size * sum of x^2 over ``size`` neighbouring channels) ** beta``; the
    window sums come from a cumulative sum, about 3x faster on CPU than PyTorch's
    ``avg_pool3d``-based version (LRN was a third of the training time).
    """

    def __init__(self, size: int = 5, alpha: float = 1e-4, beta: float = 0.75, k: float = 2.0) -> None:
        super().__init__()
        self.size, self.alpha, self.beta, self.k = size, alpha, beta, k

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        sq = torch.nn.functional.pad(x * x, (0, 0, 0, 0, self.size // 2 + 1, (self.size - 1) // 2))
        cs = torch.cumsum(sq, dim=1)
        window = cs[:, self.size :] - cs[:, : -self.size]
        return x / (self.k + (self.alpha / self.size) * window).pow(self.beta)


class ShallowAlexStream(nn.Module):
    """AlexNet conv1-conv2 (with LRN and max-pooling) plus a 1-pixel zero border."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 96, kernel_size=11, stride=4, padding=4)
        self.conv2 = nn.Conv2d(96, 256, kernel_size=5, padding=2, groups=2)
        self.lrn = ChannelLRN(5, alpha=1e-4, beta=0.75, k=2.0)
        self.pool = nn.MaxPool2d(3, stride=2)
        self.pad = nn.ZeroPad2d(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool(self.lrn(torch.relu(self.conv1(x))))
        x = self.pool(self.lrn(torch.relu(self.conv2(x))))
        return self.pad(x)

    @staticmethod
    def feature_count(input_size: int) -> int:
        """Number of output features (256 * side^2) for a square input of ``input_size``."""
        side = (input_size + 2 * 4 - 11) // 4 + 1
        side = (side - 3) // 2 + 1
        side = (side - 3) // 2 + 1
        if side < 1:
            raise ModelError(f"input size {input_size} is too small for the DSSN streams (minimum 35)")
        return 256 * (side + 2) ** 2


class SSSN(nn.Module):
    """Single-stream shallow network: one stream, dropout, linear classifier."""

    streams = 1

    def __init__(self, num_classes: int = 5, input_size: int = 227, dropout: float = 0.5) -> None:
        super().__init__()
        self.stream = ShallowAlexStream()
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(ShallowAlexStream.feature_count(input_size), num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.dropout(torch.flatten(self.stream(x), 1)))


class DSSN(nn.Module):
    """Dual-stream shallow network: two unshared streams merged by add, multiply or concatenate."""

    streams = 2

    def __init__(
        self, num_classes: int = 5, combination_mode: str = "add", input_size: int = 227, dropout: float = 0.5
    ) -> None:
        super().__init__()
        self.combination_mode = combination_name(combination_mode)
        self.stream1 = ShallowAlexStream()
        self.stream2 = ShallowAlexStream()
        self.dropout = nn.Dropout(dropout)
        features = ShallowAlexStream.feature_count(input_size)
        if self.combination_mode == "concatenate":
            features *= 2
        self.classifier = nn.Linear(features, num_classes)

    def forward(self, x1: torch.Tensor, x2: torch.Tensor) -> torch.Tensor:
        a, b = self.stream1(x1), self.stream2(x2)
        if self.combination_mode == "add":
            z = a + b
        elif self.combination_mode == "multiply":
            z = a * b
        else:
            z = torch.cat([a, b], dim=1)
        return self.classifier(self.dropout(torch.flatten(z, 1)))


def build_network(
    model: str = "DSSN", num_classes: int = 5, combination_mode: str = "add", input_size: int = 227, dropout: float = 0.5
) -> nn.Module:
    """``SSSN`` or ``DSSN`` by name."""
    name = model.upper()
    if name == "SSSN":
        return SSSN(num_classes, input_size, dropout)
    if name == "DSSN":
        return DSSN(num_classes, combination_mode, input_size, dropout)
    raise ModelError(f"unknown micro-expression network {model!r} (choose from SSSN, DSSN)")


def count_parameters(net: nn.Module) -> int:
    return sum(p.numel() for p in net.parameters())


def _streams(net: nn.Module) -> list[ShallowAlexStream]:
    return [m for m in net.modules() if isinstance(m, ShallowAlexStream)]


def _copy_conv1(dst: torch.Tensor, src: torch.Tensor) -> int:
    n = min(dst.shape[0], src.shape[0])
    dst[:n] = src[:n].to(dst.dtype)
    return n


def _copy_conv2(dst: torch.Tensor, src: torch.Tensor, groups: int = 2) -> int:
    """Copy conv2 weights where defined: ours (256, 48, 5, 5) in 2 groups, source grouped or not.

    Output filter ``o`` of group ``g`` sees our conv1 channels ``g*48 .. g*48+47``; it
    takes the source's weight for the same absolute input channel when the source
    has that filter and channel (``src`` of shape (O, C_in/groups_src, 5, 5)).
    """
    out_ch, in_per_group = dst.shape[:2]
    per_group_out = out_ch // groups
    src_grouped = src.shape[1] == in_per_group  # same grouped layout (e.g. Caffe AlexNet)
    copied = 0
    for o in range(min(out_ch, src.shape[0])):
        g = o // per_group_out
        if src_grouped:
            dst[o] = src[o].to(dst.dtype)
            copied += 1
            continue
        lo = g * in_per_group
        hi = min(lo + in_per_group, src.shape[1])
        if hi > lo:
            dst[o, : hi - lo] = src[o, lo:hi].to(dst.dtype)
            copied += 1
    return copied


def load_alexnet_init(net: nn.Module, source: str | Path | dict[str, torch.Tensor]) -> dict[str, Any]:
    """Initialise every stream's conv1/conv2 from an ImageNet AlexNet state dict.

    ``source``: a ``torch.save``d state dict (read with ``weights_only=True``) or
    safetensors file with torchvision key names (``features.0.weight`` conv1,
    ``features.3.weight`` conv2, and biases).  The original AlexNet shapes
    (96 / 256 filters, grouped conv2) copy exactly; torchvision's 64 / 192-filter
    variant fills the filters it has and leaves the rest at their random init.
    Returns how many filters were copied per layer.
    """
    if isinstance(source, dict):
        state, name = source, "state dict"
    else:
        path, name = Path(source), str(source)
        if not path.is_file():
            raise ModelError(f"{path}: AlexNet weights not found")
        try:
            if path.suffix == ".safetensors":
                from safetensors.torch import load_file

                state = load_file(str(path))
            else:
                state = torch.load(str(path), map_location="cpu", weights_only=True)
        except Exception as exc:
            raise ModelError(f"{path}: not a readable state dict ({exc})") from None
        if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
            state = state["state_dict"]
    if not isinstance(state, dict):
        raise ModelError(f"{name}: expected a state dict (mapping of names to tensors)")
    state = {k.removeprefix("module."): v for k, v in state.items()}
    need = ["features.0.weight", "features.0.bias", "features.3.weight", "features.3.bias"]
    missing = [k for k in need if k not in state]
    if missing:
        raise ModelError(f"{name}: not an AlexNet state dict (missing {', '.join(missing)})")
    w1, b1, w2, b2 = (state[k] for k in need)
    if tuple(w1.shape[1:]) != (3, 11, 11) or tuple(w2.shape[2:]) != (5, 5):
        raise ModelError(f"{name}: AlexNet conv shapes {tuple(w1.shape)} / {tuple(w2.shape)} do not fit (expected 11x11 and 5x5)")
    report = {"conv1_filters": 0, "conv2_filters": 0, "streams": 0}
    with torch.no_grad():
        for stream in _streams(net):
            report["conv1_filters"] = _copy_conv1(stream.conv1.weight, w1)
            _copy_conv1(stream.conv1.bias, b1)
            report["conv2_filters"] = _copy_conv2(stream.conv2.weight, w2)
            _copy_conv1(stream.conv2.bias, b2)
            report["streams"] += 1
    return report
