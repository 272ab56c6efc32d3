"""dlib's face-recognition ResNet (``dlib_face_recognition_resnet_model_v1``) in PyTorch: 128-d descriptors in batches.

The network of dlib's ``dnn_face_recognition_ex.cpp`` (``anet_type``), layer for
layer, with the weights converted from dlib's own model file by
``tools/convert_dlib_face_recognition.py`` (``assets/dlib_face_recognition_resnet_v1.safetensors``):

* input 150x150 RGB, ``(pixel - mean_rgb) / 256`` with dlib's stored means
  (122.782, 117.001, 104.298);
* ``con 32 7x7 /2`` (no padding: dlib pads only stride-1 convolutions and
  pools, by half the kernel) -> affine -> relu -> ``max_pool 3x3 /2`` (no padding);
* 16 residual blocks ``relu(x + affine(con3x3(relu(affine(con3x3(x))))))``:
  3 x 32, 4 x 64, 3 x 128, 3 x 256, 1 x 256 channels; the first block of each
  level after the first downsamples (first convolution stride 2, no padding) and
  its shortcut is ``avg_pool 2x2 /2`` of the input.  dlib's ``add_prev`` adds
  tensors of different sizes into the larger one, top-left aligned, the rest
  zero: more channels on the block side, and on the 8->3 / 8->4 and 4->1 / 4->2
  steps a bigger shortcut (the block's output fills only its top-left corner);
* mean over the remaining 2x2 positions, ``fc_no_bias`` 256 -> 128.

dlib's ``affine`` layers (batch norm frozen for inference) are folded into the
convolutions before them when the weights are loaded.

Parity with dlib (``face_recognition_model_v1.compute_face_descriptor`` on the
same 150x150 chip), 247 faces of the shared videos (benchmarks/face_embedding.py):
fp32 cosine >= 0.9999997, raw vectors within 5e-4 (the weights are stored as
float16; with float32 weights, 5e-7); bf16 (autocast) cosine to fp32 >= 0.9999.
Speed at batch 32, one torch thread on a Xeon with AMX: 5.4 ms per face in fp32
and 1.9 ms in bf16 with the machine otherwise idle (7.3 / 4.6 ms with other jobs
on its 2 cores), against ~190 ms for dlib one chip at a time.
"""
from __future__ import annotations

import contextlib
import json
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

ASSET = Path(__file__).resolve().parent / "assets" / "dlib_face_recognition_resnet_v1.safetensors"
CHIP_SIZE = 150
DIM = 128
PRECISIONS = ("fp32", "bf16", "auto")
# (channels, first block downsamples, blocks) per residual level, input side first.
LEVELS = ((32, False, 3), (64, True, 4), (128, True, 3), (256, True, 3), (256, True, 1))


def _add_prev(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """dlib's ``add_prev``: the sum in a tensor as large as the larger of the two in every dimension,
    each operand top-left aligned and zero outside itself."""
    if a.shape == b.shape:
        return a + b
    c, h, w = (max(a.shape[i], b.shape[i]) for i in (1, 2, 3))

    def grow(t: torch.Tensor) -> torch.Tensor:
        return F.pad(t, (0, w - t.shape[3], 0, h - t.shape[2], 0, c - t.shape[1]))

    return grow(a) + grow(b)


class ResidualBlock(nn.Module):
    """``relu(add_prev(shortcut, affine(con(relu(affine(con(x)))))))``, affines folded into the convolutions."""

    def __init__(self, cin: int, cout: int, down: bool) -> None:
        super().__init__()
        self.down = down
        self.conv1 = nn.Conv2d(cin, cout, 3, stride=2 if down else 1, padding=0 if down else 1)
        self.conv2 = nn.Conv2d(cout, cout, 3, stride=1, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv2(F.relu(self.conv1(x)))
        return F.relu(_add_prev(F.avg_pool2d(x, 2, 2) if self.down else x, y))


class DlibResNet(nn.Module):
    """The network on ``(N, 3, 150, 150)`` float input already normalised (see :meth:`normalise`)."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Conv2d(3, 32, 7, stride=2, padding=0)
        blocks, cin = [], 32
        for ch, down, n in LEVELS:
            for i in range(n):
                blocks.append(ResidualBlock(cin, ch, down and i == 0))
                cin = ch
        self.blocks = nn.Sequential(*blocks)
        self.fc = nn.Linear(256, DIM, bias=False)
        self.register_buffer("mean", torch.zeros(1, 3, 1, 1))

    def normalise(self, chips: torch.Tensor) -> torch.Tensor:
        """uint8 (or float 0-255) NCHW RGB -> the network's input, ``(x - mean) / 256``."""
        return (chips.float() - self.mean) * (1.0 / 256.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.max_pool2d(F.relu(self.stem(x)), 3, 2)
        x = self.blocks(x).float().mean(dim=(2, 3))  # avg_pool_everything
        with torch.autocast(x.device.type, enabled=False):
            return self.fc(x)

    @classmethod
    def from_safetensors(cls, path: str | Path = ASSET) -> "DlibResNet":
        """Build the network from the converted weights, folding each affine layer into its convolution."""
        from safetensors.torch import load_file

        raw = {k: v.float() for k, v in load_file(str(path)).items()}
        net = cls()

        def fold(conv: nn.Conv2d, prefix: str, affine: str) -> None:
            scale, shift = raw[f"{affine}.scale"], raw[f"{affine}.shift"]
            w, b = raw[f"{prefix}.weight"], raw[f"{prefix}.bias"]
            if w.shape != conv.weight.shape:
                raise ValueError(f"{prefix}: weights {tuple(w.shape)}, expected {tuple(conv.weight.shape)}")
            conv.weight.copy_(w * scale.view(-1, 1, 1, 1))
            conv.bias.copy_(b * scale + shift)

        with torch.no_grad():
            fold(net.stem, "stem.conv", "stem.affine")
            for i, block in enumerate(net.blocks):
                fold(block.conv1, f"blocks.{i}.conv1", f"blocks.{i}.affine1")
                fold(block.conv2, f"blocks.{i}.conv2", f"blocks.{i}.affine2")
            net.fc.weight.copy_(raw["fc.weight"])
            net.mean.copy_(raw["input.mean"].view(1, 3, 1, 1))
        return net.eval()


def asset_metadata(path: str | Path = ASSET) -> dict[str, str]:
    """The converted file's metadata: source file name and sha256, licence, input normalisation, layers."""
    from safetensors import safe_open

    with safe_open(str(path), "pt") as f:
        return dict(f.metadata() or {})


def _auto_precision(device: torch.device) -> str:
    from vidaffect.faces.runtime.torch_runtime import auto_precision

    return auto_precision(device)


class ResnetDescriptor:
    """Batched 128-d face descriptors of aligned 150x150 RGB chips (:mod:`vidaffect.identity.face_chip`).

    precision: ``fp32``; ``bf16`` (autocast: convolutions in bfloat16, the pooling and the last layer in
    float32); ``auto``: bf16 on a CPU with AMX, else fp32.  channels_last: NHWC convolutions (faster on
    CPUs).  Torch's thread settings are left as they are.
    """

    dim = DIM
    chip_size = CHIP_SIZE

    def __init__(self, device: str | torch.device = "cpu", precision: str = "auto", channels_last: bool = True,
                 path: str | Path = ASSET) -> None:
        if precision not in PRECISIONS:
            raise ValueError(f"unknown precision {precision!r}; choose one of {', '.join(PRECISIONS)}")
        self.device = torch.device(device)
        self.precision = _auto_precision(self.device) if precision == "auto" else precision
        self.channels_last = channels_last
        self.net = DlibResNet.from_safetensors(path).to(self.device)
        if channels_last:
            self.net = self.net.to(memory_format=torch.channels_last)

    def _context(self):
        if self.precision == "bf16":
            return torch.autocast(self.device.type, dtype=torch.bfloat16)
        return contextlib.nullcontext()

    @torch.inference_mode()
    def run(self, chips: torch.Tensor) -> torch.Tensor:
        """Raw (not normalised) descriptors of a uint8 NHWC tensor of chips, as dlib computes them (float32)."""
        x = chips.to(self.device).permute(0, 3, 1, 2)  # NCHW view of NHWC memory: channels_last already
        x = self.net.normalise(x)
        x = x.contiguous(memory_format=torch.channels_last if self.channels_last else torch.contiguous_format)
        with self._context():
            return self.net(x).float()

    def embed_chips(self, chips: np.ndarray, batch_size: int = 32, normalize: bool = True) -> np.ndarray:
        """Descriptors of ``chips`` (N, 150, 150, 3) uint8 RGB: (N, 128) float32, unit length unless
        ``normalize`` is False (dlib's raw vectors, whose Euclidean distances dlib thresholds at 0.6)."""
        chips = np.asarray(chips)
        if chips.ndim == 3:
            chips = chips[None]
        if chips.ndim != 4 or chips.shape[1:] != (CHIP_SIZE, CHIP_SIZE, 3):
            raise ValueError(f"chips must be (N, {CHIP_SIZE}, {CHIP_SIZE}, 3) RGB, got {chips.shape}")
        if chips.dtype != np.uint8:
            chips = np.clip(np.rint(chips), 0, 255).astype(np.uint8)
        out = np.zeros((len(chips), DIM), dtype=np.float32)
        for i in range(0, len(chips), max(1, int(batch_size))):
            part = torch.from_numpy(np.ascontiguousarray(chips[i:i + batch_size]))
            out[i:i + len(part)] = self.run(part).cpu().numpy()
        if normalize:
            out /= np.clip(np.linalg.norm(out, axis=1, keepdims=True), 1e-12, None)
        return out


_SHARED: dict[tuple[str, str], ResnetDescriptor] = {}


def embed_chips(chips: np.ndarray, precision: str = "auto", device: str = "cpu", batch_size: int = 32) -> np.ndarray:
    """Unit-length descriptors of aligned chips with a shared :class:`ResnetDescriptor` (loaded once)."""
    key = (str(torch.device(device)), precision)
    if key not in _SHARED:
        _SHARED[key] = ResnetDescriptor(device=device, precision=precision)
    return _SHARED[key].embed_chips(chips, batch_size=batch_size)


def layer_summary(path: str | Path = ASSET) -> list[dict]:
    """The converted layer list stored in the asset's metadata."""
    return json.loads(asset_metadata(path).get("layers", "[]"))
