"""The TFLite-graph replay (vidaffect.faces.runtime.torch_graph) on tiny synthetic graphs against numpy
references written from TensorFlow's NHWC definitions of each operator."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from vidaffect.faces.runtime.torch_graph import TFLiteGraph, load_graph

SAME, VALID = 0, 1
rng = np.random.default_rng(0)


def _run(ops: list[dict], x: np.ndarray, weights: dict[str, np.ndarray] | None = None,
         shapes: dict[int, list[int]] | None = None, outputs: list[int] | None = None) -> list[np.ndarray]:
    """Build a graph whose input is tensor 0 and run NHWC ``x`` through it."""
    graph = {"inputs": [0], "outputs": outputs or [ops[-1]["out"][0]],
             "shapes": {str(k): v for k, v in (shapes or {}).items()}, "ops": ops}
    module = TFLiteGraph(graph, {k: torch.from_numpy(v) for k, v in (weights or {}).items()}).eval()
    with torch.no_grad():
        return [o.numpy() for o in module(torch.from_numpy(x.astype(np.float32)))]


def _tf_same(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """TensorFlow's SAME padding: output ceil(size / stride); the odd pixel of padding goes after."""
    total = max((math.ceil(size / stride) - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def _conv_ref(x, w, b, stride, pads, depthwise=False):
    """NHWC convolution from the definition; w is TFLite's [O, kh, kw, I] (or [1, kh, kw, C] depthwise)."""
    (pt, pb), (pl, pr) = pads
    xp = np.pad(x, ((0, 0), (pt, pb), (pl, pr), (0, 0)))
    n, hp, wp, c = xp.shape
    kh, kw = w.shape[1:3]
    oh, ow = (hp - kh) // stride + 1, (wp - kw) // stride + 1
    out = np.zeros((n, oh, ow, w.shape[3] if depthwise else w.shape[0]), np.float64)
    for i in range(oh):
        for j in range(ow):
            win = xp[:, i * stride:i * stride + kh, j * stride:j * stride + kw, :]  # n, kh, kw, c
            if depthwise:
                out[:, i, j, :] = (win * w[0]).sum(axis=(1, 2))
            else:
                out[:, i, j, :] = np.einsum("nabc,oabc->no", win, w)
    return out + b


@pytest.mark.parametrize("size,kernel,stride", [(8, 3, 2), (8, 5, 2), (7, 3, 2), (6, 3, 1)])
def test_conv2d_same_padding(size, kernel, stride):
    x = rng.normal(size=(2, size, size, 3)).astype(np.float32)
    w = rng.normal(size=(4, kernel, kernel, 3)).astype(np.float32)
    b = rng.normal(size=4).astype(np.float32)
    op = {"op": "CONV_2D", "in": [0, 1, 2], "out": [3],
          "opt": {"padding": SAME, "stride": [stride, stride], "dilation": [1, 1], "act": "none"}}
    got = _run([op], x, {"t1": w, "t2": b})[0]
    pads = (_tf_same(size, kernel, stride),) * 2
    ref = _conv_ref(x.astype(np.float64), w, b, stride, pads)
    assert got.shape == (2, math.ceil(size / stride), math.ceil(size / stride), 4)
    np.testing.assert_allclose(got, ref, atol=1e-4)
    if pads[0][0] != pads[0][1]:  # the asymmetric case really differs from symmetric (PyTorch-style) padding
        sym = _conv_ref(x.astype(np.float64), w, b, stride, ((pads[0][1], pads[0][1]),) * 2)
        assert np.abs(sym[:, :got.shape[1], :got.shape[2]] - got).max() > 0.1


def test_depthwise_same_padding_asymmetric_and_relu6():
    x = rng.normal(size=(1, 8, 8, 5)).astype(np.float32) * 3
    w = rng.normal(size=(1, 3, 3, 5)).astype(np.float32)
    b = rng.normal(size=5).astype(np.float32)
    op = {"op": "DEPTHWISE_CONV_2D", "in": [0, 1, 2], "out": [3],
          "opt": {"padding": SAME, "stride": [2, 2], "dilation": [1, 1], "multiplier": 1, "act": "relu6"}}
    got = _run([op], x, {"t1": w, "t2": b})[0]
    ref = np.clip(_conv_ref(x.astype(np.float64), w, b, 2, ((0, 1), (0, 1)), depthwise=True), 0, 6)
    np.testing.assert_allclose(got, ref, atol=1e-4)


def test_max_pool_same_ignores_padding():
    """TF's SAME max pool takes the max over real pixels only: all-negative inputs stay negative at the edge."""
    x = -1 - rng.random((1, 5, 5, 2)).astype(np.float32)
    op = {"op": "MAX_POOL_2D", "in": [0], "out": [1],
          "opt": {"padding": SAME, "stride": [2, 2], "kernel": [2, 2], "act": "none"}}
    got = _run([op], x)[0]
    assert got.shape == (1, 3, 3, 2)
    ref = np.empty((1, 3, 3, 2), np.float32)
    for i in range(3):
        for j in range(3):  # padding (0, 1): windows start at 2i, clipped to the image
            ref[0, i, j] = x[0, 2 * i:2 * i + 2, 2 * j:2 * j + 2].max(axis=(0, 1))
    np.testing.assert_array_equal(got, ref)


def _depth_to_space_ref(x: np.ndarray, b: int) -> np.ndarray:
    """TF: out[n, h*b + i, w*b + j, c] = in[n, h, w, (i*b + j)*C + c]."""
    n, h, w, cin = x.shape
    c = cin // (b * b)
    out = np.empty((n, h * b, w * b, c), x.dtype)
    for hh in range(h):
        for ww in range(w):
            for i in range(b):
                for j in range(b):
                    out[:, hh * b + i, ww * b + j, :] = x[:, hh, ww, (i * b + j) * c:(i * b + j + 1) * c]
    return out


@pytest.mark.parametrize("block,channels", [(2, 8), (2, 4), (3, 9)])
def test_depth_to_space_channel_order(block, channels):
    x = np.arange(2 * 3 * 4 * channels, dtype=np.float32).reshape(2, 3, 4, channels)
    op = {"op": "DEPTH_TO_SPACE", "in": [0], "out": [1], "opt": {"block": block}}
    got = _run([op], x)[0]
    np.testing.assert_array_equal(got, _depth_to_space_ref(x, block))
    if channels // (block * block) > 1:  # not torch's pixel_shuffle order (channel-major), which differs
        ps = torch.nn.functional.pixel_shuffle(torch.from_numpy(x).permute(0, 3, 1, 2), block).permute(0, 2, 3, 1)
        assert not np.array_equal(got, ps.numpy())


def test_reshape_and_concatenate_follow_nhwc_order():
    """A head's reshape of an NHWC map to (N, anchors, 16) and the concatenation of two heads, as numpy does them."""
    a = rng.normal(size=(2, 4, 4, 32)).astype(np.float32)
    ops = [
        {"op": "RESHAPE", "in": [0], "out": [1], "opt": {}},  # (2, 4, 4, 32) -> (2, 32, 16)
        {"op": "DEPTH_TO_SPACE", "in": [0], "out": [2], "opt": {"block": 2}},  # (2, 8, 8, 8)
        {"op": "RESHAPE", "in": [2], "out": [3], "opt": {}},  # -> (2, 32, 16)
        {"op": "CONCATENATION", "in": [1, 3], "out": [4], "opt": {"axis": 1, "act": "none"}},
        {"op": "CONCATENATION", "in": [0, 0], "out": [5], "opt": {"axis": 3, "act": "none"}},  # channels
        {"op": "RESHAPE", "in": [5], "out": [6], "opt": {}},  # 4-D -> 4-D: (2, 8, 4, 32)
    ]
    shapes = {1: [1, 32, 16], 3: [1, 32, 16], 6: [1, 8, 4, 32]}
    head, chan, re4 = _run(ops, a, shapes=shapes, outputs=[4, 5, 6])
    ref_head = np.concatenate([a.reshape(2, 32, 16), _depth_to_space_ref(a, 2).reshape(2, 32, 16)], axis=1)
    np.testing.assert_array_equal(head, ref_head)
    np.testing.assert_array_equal(chan, np.concatenate([a, a], axis=3))
    np.testing.assert_array_equal(re4, np.concatenate([a, a], axis=3).reshape(2, 8, 4, 32))


def test_pad_prelu_add():
    x = rng.normal(size=(1, 3, 3, 4)).astype(np.float32)
    alpha = rng.random((1, 1, 6)).astype(np.float32)
    ops = [
        {"op": "PAD", "in": [0], "out": [1], "opt": {"paddings": [[0, 0], [1, 0], [0, 2], [0, 2]]}},
        {"op": "PRELU", "in": [1, 2], "out": [3], "opt": {}},
        {"op": "ADD", "in": [3, 3], "out": [4], "opt": {"act": "relu_n1_to_1"}},
    ]
    got = _run(ops, x, {"t2": alpha})[0]
    p = np.pad(x, ((0, 0), (1, 0), (0, 2), (0, 2)))
    ref = np.clip(2 * np.where(p >= 0, p, p * alpha), -1, 1)
    np.testing.assert_allclose(got, ref, rtol=1e-6)


def test_resize_bilinear_half_pixel_centres():
    x = rng.normal(size=(1, 3, 4, 2)).astype(np.float32)
    op = {"op": "RESIZE_BILINEAR", "in": [0], "out": [1], "opt": {"align_corners": False, "half_pixel_centers": True}}
    got = _run([op], x, shapes={1: [1, 6, 8, 2]})[0]

    def coords(n_out, n_in):  # TF half-pixel: src = (dst + 0.5) * in / out - 0.5, clamped to the image
        s = np.clip((np.arange(n_out) + 0.5) * n_in / n_out - 0.5, 0, None)
        lo = np.floor(s).astype(int)
        return lo, np.minimum(lo + 1, n_in - 1), s - lo

    y0, y1, fy = coords(6, 3)
    x0, x1, fx = coords(8, 4)
    img = x[0]
    top = img[y0][:, x0] * (1 - fx)[None, :, None] + img[y0][:, x1] * fx[None, :, None]
    bot = img[y1][:, x0] * (1 - fx)[None, :, None] + img[y1][:, x1] * fx[None, :, None]
    ref = top * (1 - fy)[:, None, None] + bot * fy[:, None, None]
    np.testing.assert_allclose(got[0], ref, atol=1e-5)


def test_unsupported_graphs_fail_loudly(tmp_path):
    with pytest.raises(ValueError, match="unsupported operator"):
        _run([{"op": "SOFTMAX", "in": [0], "out": [1], "opt": {}}], np.zeros((1, 2, 2, 1)))
    with pytest.raises(ValueError, match="half-pixel"):
        _run([{"op": "RESIZE_BILINEAR", "in": [0], "out": [1], "opt": {"align_corners": False,
                                                                          "half_pixel_centers": False}}],
             np.zeros((1, 2, 2, 1)), shapes={1: [1, 4, 4, 1]})
    from safetensors.torch import save_file

    path = tmp_path / "other.safetensors"
    save_file({"w": torch.zeros(2)}, str(path), metadata={"format": "something-else"})
    with pytest.raises(ValueError, match="not a vidaffect face-model file"):
        load_graph(path)
