"""A TFLite operator graph re-built as a PyTorch module (weights from the shipped ``.safetensors``).

MediaPipe's face networks are plain convolutional graphs of a dozen operator
kinds.  Rather than transcribe three architectures by hand (and risk a
silent mismatch in one of ~100 layers each), the converter
(``tools/convert_mediapipe_faces.py``) records each model's operator list, and
this module replays it with PyTorch ops: one ``nn.Module`` with real
parameters, so ``.to("cuda")``, bf16 autocast and batches of any size work.
Activations are NCHW inside; the graph's NHWC semantics (TF "SAME" padding,
``DEPTH_TO_SPACE`` channel order, reshape/concat axes) are reproduced exactly.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

GRAPH_FORMAT = "vidaffect-tflite-graph/1"
_SAME, _VALID = 0, 1  # tflite.Padding


def _act(x: torch.Tensor, name: str) -> torch.Tensor:
    if name == "none":
        return x
    if name == "relu":
        return F.relu(x)
    if name == "relu6":
        return F.relu6(x)
    if name == "relu_n1_to_1":
        return x.clamp(-1.0, 1.0)
    if name == "tanh":
        return torch.tanh(x)
    raise ValueError(f"unsupported fused activation {name!r}")


def _same_pad(size: int, kernel: int, stride: int, dilation: int) -> tuple[int, int]:
    """TensorFlow's SAME padding (before, after) for one spatial axis."""
    eff = (kernel - 1) * dilation + 1
    total = max((math.ceil(size / stride) - 1) * stride + eff - size, 0)
    return total // 2, total - total // 2


def _pad_for(x: torch.Tensor, opt: dict, kernel: tuple[int, int], value: float = 0.0) -> torch.Tensor:
    if opt["padding"] != _SAME:
        return x
    dil = opt.get("dilation", [1, 1])
    ph = _same_pad(x.shape[2], kernel[0], opt["stride"][0], dil[0])
    pw = _same_pad(x.shape[3], kernel[1], opt["stride"][1], dil[1])
    if ph == (0, 0) and pw == (0, 0):
        return x
    return F.pad(x, (pw[0], pw[1], ph[0], ph[1]), value=value)


class TFLiteGraph(nn.Module):
    """Run a converted TFLite graph.  Input: NHWC float ``(N, H, W, C)``; output: the graph's outputs, NHWC-shaped."""

    def __init__(self, graph: dict, weights: dict[str, torch.Tensor]) -> None:
        super().__init__()
        self.graph = graph
        self.shapes = {int(k): v for k, v in graph["shapes"].items()}
        self.params = nn.ParameterDict()
        self.ops: list[tuple[str, list[int], list[int], dict, list[str | None]]] = []
        for op in graph["ops"]:
            keys: list[str | None] = []
            for t in op["in"]:
                key = f"t{t}"
                if key in weights and key not in self.params:
                    self.params[key] = nn.Parameter(self._to_torch_layout(op, t, weights[key]), requires_grad=False)
                keys.append(key if key in weights else None)
            self.ops.append((op["op"], op["in"], op["out"], op["opt"], keys))
        self.inputs, self.outputs = graph["inputs"], graph["outputs"]

    @staticmethod
    def _to_torch_layout(op: dict, t: int, w: torch.Tensor) -> torch.Tensor:
        """Weights in the layout the torch op wants (done once, at load)."""
        w = w.float()
        name, pos = op["op"], op["in"].index(t)
        if name == "CONV_2D" and pos == 1:  # [O, kh, kw, I] -> [O, I, kh, kw]
            return w.permute(0, 3, 1, 2).contiguous()
        if name == "DEPTHWISE_CONV_2D" and pos == 1:  # [1, kh, kw, C*m] -> [C*m, 1, kh, kw]
            return w.permute(3, 0, 1, 2).contiguous()
        if name == "PRELU":  # alpha [1, 1, C] or [C] -> [1, C, 1, 1]
            return w.reshape(1, -1, 1, 1)
        if w.ndim == 4:  # a constant activation operand, NHWC -> NCHW
            return w.permute(0, 3, 1, 2).contiguous()
        return w

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        env: dict[int, torch.Tensor] = {self.inputs[0]: x.permute(0, 3, 1, 2)}
        for name, ins, outs, opt, keys in self.ops:
            args = [self.params[k] if k is not None else env[t] for t, k in zip(ins, keys)]
            env[outs[0]] = self._run(name, args, outs[0], opt)
        return [env[t].permute(0, 2, 3, 1) if env[t].ndim == 4 else env[t] for t in self.outputs]

    def _run(self, name: str, a: list[torch.Tensor], out: int, opt: dict) -> torch.Tensor:
        if name == "CONV_2D":
            w = a[1]
            x = _pad_for(a[0], opt, (w.shape[2], w.shape[3]))
            y = F.conv2d(x, w.to(x.dtype), a[2].to(x.dtype) if len(a) > 2 else None, stride=opt["stride"],
                         dilation=opt["dilation"])
            return _act(y, opt["act"])
        if name == "DEPTHWISE_CONV_2D":
            w = a[1]
            x = _pad_for(a[0], opt, (w.shape[2], w.shape[3]))
            y = F.conv2d(x, w.to(x.dtype), a[2].to(x.dtype) if len(a) > 2 else None, stride=opt["stride"],
                         dilation=opt["dilation"], groups=x.shape[1])
            return _act(y, opt["act"])
        if name == "ADD":
            return _act(a[0] + a[1], opt["act"])
        if name == "RELU":
            return F.relu(a[0])
        if name == "PRELU":
            x = a[0]
            return torch.where(x >= 0, x, x * a[1].to(x.dtype))
        if name == "PAD":
            (n0, n1), (h0, h1), (w0, w1), (c0, c1) = opt["paddings"]
            if n0 or n1:
                raise ValueError("padding the batch axis is not supported")
            return F.pad(a[0], (w0, w1, h0, h1, c0, c1))
        if name == "MAX_POOL_2D":
            k = opt["kernel"]
            x = _pad_for(a[0], opt, (k[0], k[1]), value=-math.inf)
            return _act(F.max_pool2d(x, k, opt["stride"]), opt["act"])
        if name == "RESHAPE":
            x = a[0]
            if x.ndim == 4:
                x = x.permute(0, 2, 3, 1)
            shape = self.shapes[out]
            y = x.reshape(x.shape[0], *shape[1:])
            return y.permute(0, 3, 1, 2) if y.ndim == 4 else y
        if name == "CONCATENATION":
            rank = a[0].ndim
            axis = opt["axis"] % rank
            if rank == 4:
                axis = {0: 0, 1: 2, 2: 3, 3: 1}[axis]
            return _act(torch.cat(a, dim=axis), opt["act"])
        if name == "RESIZE_BILINEAR":
            size = self.shapes[out][1:3]
            if opt["align_corners"]:
                return F.interpolate(a[0], size=size, mode="bilinear", align_corners=True)
            if not opt["half_pixel_centers"]:
                raise ValueError("RESIZE_BILINEAR without half-pixel centres is not supported")
            return F.interpolate(a[0], size=size, mode="bilinear", align_corners=False)
        if name == "DEPTH_TO_SPACE":
            # TF's NHWC order: out[h*b+i, w*b+j, c] = in[h, w, (i*b+j)*C + c] (pixel_shuffle's differs)
            x, b = a[0], opt["block"]
            n, c, h, w = x.shape
            co = c // (b * b)
            return x.reshape(n, b, b, co, h, w).permute(0, 3, 4, 1, 5, 2).reshape(n, co, h * b, w * b)
        raise ValueError(f"unsupported operator {name}")


def load_graph(path: str | Path) -> TFLiteGraph:
    """Build the module from a converted ``.safetensors`` file (graph in its metadata)."""
    from safetensors import safe_open
    from safetensors.torch import load_file

    path = Path(path)
    with safe_open(str(path), framework="pt") as f:
        meta = f.metadata() or {}
    if meta.get("format") != GRAPH_FORMAT:
        raise ValueError(f"{path.name} is not a vidaffect face-model file (format {meta.get('format')!r})")
    module = TFLiteGraph(json.loads(meta["graph"]), load_file(str(path)))
    module.eval()
    module.metadata = {k: v for k, v in meta.items() if k != "graph"}
    return module
