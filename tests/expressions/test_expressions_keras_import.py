"""Keras mini-Xception import: a Keras-2-layout HDF5 written here, checked against a NumPy forward pass."""
from __future__ import annotations

import h5py
import numpy as np
import pytest
import torch
from numpy.lib.stride_tricks import sliding_window_view

from vidaffect.cli.main import main
from vidaffect.labels import EMOTIONS
from vidaffect.models import create_model, list_models
from vidaffect.models.checkpoint import CheckpointError
from vidaffect.models.keras_import import import_keras_model, mini_xception_from_keras

STEM, WIDTHS, NUM_CLASSES = 8, (16, 32, 64, 128), 7


def keras_layers(rng: np.random.Generator) -> list[tuple[str, dict[str, np.ndarray]]]:
    """Random weights for every layer of Keras' mini_XCEPTION, in creation order, with Keras 2 names.

    Numbering starts at an offset (as in a Keras session that built other models first) and passes 9 -> 10,
    so the importer must order layers by number, not by file order or string order.
    """
    counters = {"conv2d": 4, "batch_normalization": 5, "separable_conv2d": 0}

    def name(kind):
        counters[kind] += 1
        return f"{kind}_{counters[kind]}"

    def conv(cin, cout, k, bias=False):
        w = {"kernel": rng.normal(0, np.sqrt(2 / (k * k * cin)), (k, k, cin, cout)).astype(np.float32)}
        if bias:
            w["bias"] = rng.normal(0, 0.1, cout).astype(np.float32)
        return name("conv2d"), w

    def bn(c):
        return name("batch_normalization"), {
            "gamma": rng.uniform(0.5, 1.5, c).astype(np.float32), "beta": rng.normal(0, 0.2, c).astype(np.float32),
            "moving_mean": rng.normal(0, 0.2, c).astype(np.float32),
            "moving_variance": rng.uniform(0.5, 2.0, c).astype(np.float32)}

    def sep(cin, cout):
        return name("separable_conv2d"), {
            "depthwise_kernel": rng.normal(0, 0.5, (3, 3, cin, 1)).astype(np.float32),
            "pointwise_kernel": rng.normal(0, np.sqrt(2 / cin), (1, 1, cin, cout)).astype(np.float32)}

    layers = [conv(1, STEM, 3), bn(STEM), conv(STEM, STEM, 3), bn(STEM)]
    cin = STEM
    for c in WIDTHS:
        layers += [conv(cin, c, 1), bn(c), sep(cin, c), bn(c), sep(c, c), bn(c)]
        cin = c
    name_, head = conv(cin, NUM_CLASSES, 3, bias=True)
    head["kernel"] *= 0.02  # moderate logits, so probabilities are not saturated
    layers.append((name_, head))
    return layers


def write_keras_h5(path, layers) -> None:
    """Write weights as Keras 2 ``model.save`` does: model_weights/<layer>/<layer>/<weight>:0."""
    order = [n for n, _ in layers]
    # Keras lists layers topologically, not in creation order: move each residual conv after its block's separables
    order = sorted(order, key=lambda n: (n.startswith("conv2d") and n != order[0], order.index(n)))
    with h5py.File(path, "w") as f:
        f.attrs["keras_version"] = b"2.0.5"
        f.attrs["backend"] = b"tensorflow"
        g = f.create_group("model_weights")
        extra = ["input_1", "activation_1", "max_pooling2d_1", "add_1", "global_average_pooling2d_1", "predictions"]
        g.attrs["layer_names"] = [n.encode() for n in ["input_1", *order, *extra[1:]]]
        weights = dict(layers)
        for n in ["input_1", *order, *extra[1:]]:
            lg = g.create_group(n)
            w = weights.get(n, {})
            lg.attrs["weight_names"] = [f"{n}/{k}:0".encode() for k in w]
            for k, v in w.items():
                lg.create_dataset(f"{n}/{k}:0", data=v)


# ---------------------------------------------------------------- NumPy reference in Keras layout (NHWC)
def _same_pads(n, k, s):
    out = -(-n // s)
    total = max((out - 1) * s + k - n, 0)
    return total // 2, total - total // 2


def np_conv(x, kernel, stride=1, same=True, bias=None):
    k = kernel.shape[0]
    if same:
        (t, b), (l, r) = _same_pads(x.shape[1], k, stride), _same_pads(x.shape[2], k, stride)
        x = np.pad(x, ((0, 0), (t, b), (l, r), (0, 0)))
    win = sliding_window_view(x, (k, k), axis=(1, 2))[:, ::stride, ::stride]  # N, H, W, C, kh, kw
    y = np.einsum("nhwcij,ijco->nhwo", win, kernel)
    return y + bias if bias is not None else y


def np_depthwise(x, kernel):
    x = np.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))
    win = sliding_window_view(x, (3, 3), axis=(1, 2))
    return np.einsum("nhwcij,ijc->nhwc", win, kernel[..., 0])


def np_bn(x, w):
    return (x - w["moving_mean"]) / np.sqrt(w["moving_variance"] + 1e-3) * w["gamma"] + w["beta"]


def np_maxpool_same(x):
    (t, b), (l, r) = _same_pads(x.shape[1], 3, 2), _same_pads(x.shape[2], 3, 2)
    x = np.pad(x, ((0, 0), (t, b), (l, r), (0, 0)), constant_values=-np.inf)
    return sliding_window_view(x, (3, 3), axis=(1, 2))[:, ::2, ::2].max(axis=(-2, -1))


def keras_reference(x, layers):
    L = iter(layers)
    relu = lambda v: np.maximum(v, 0)  # noqa: E731
    x = relu(np_bn(np_conv(x, next(L)[1]["kernel"], same=False), next(L)[1]))
    x = relu(np_bn(np_conv(x, next(L)[1]["kernel"], same=False), next(L)[1]))
    for _ in WIDTHS:
        res = np_bn(np_conv(x, next(L)[1]["kernel"], stride=2), next(L)[1])
        s = next(L)[1]
        y = relu(np_bn(np_conv(np_depthwise(x, s["depthwise_kernel"]), s["pointwise_kernel"]), next(L)[1]))
        s = next(L)[1]
        y = np_bn(np_conv(np_depthwise(y, s["depthwise_kernel"]), s["pointwise_kernel"]), next(L)[1])
        x = np_maxpool_same(y) + res
    head = next(L)[1]
    return np_conv(x, head["kernel"], bias=head["bias"]).mean(axis=(1, 2))


def softmax(logits):
    e = np.exp(logits - logits.max(1, keepdims=True))
    return e / e.sum(1, keepdims=True)


@pytest.fixture(scope="module")
def keras_file(tmp_path_factory):
    layers = keras_layers(np.random.default_rng(7))
    path = tmp_path_factory.mktemp("keras") / "emotion_model.hdf5"
    write_keras_h5(path, layers)
    return path, layers


def test_converted_model_reproduces_numpy_keras_forward(keras_file):
    path, layers = keras_file
    ramp = np.linspace(0, 255, 64)
    images = np.stack([np.tile(ramp, (64, 1)), np.tile(ramp[:, None], (1, 64)),  # horizontal / vertical ramps
                       np.random.default_rng(0).integers(0, 256, (64, 64))]).astype(np.uint8)
    x = images[..., None].astype(np.float64) / 255.0 * 2 - 1
    ref = keras_reference(x, layers)
    assert ref.std(1).min() > 0.1 and np.abs(ref[0] - ref[1]).max() > 0.05  # informative logits, not all alike
    net, info = mini_xception_from_keras(path)
    assert info["arch_kwargs"] == {"num_classes": 7, "in_channels": 1, "stem": 8, "widths": [16, 32, 64, 128]}
    with torch.no_grad():
        ours = net(torch.from_numpy(x.transpose(0, 3, 1, 2)).float()).numpy()
    np.testing.assert_allclose(ours, ref, rtol=1e-4, atol=1e-4 * np.abs(ref).max())
    # the registered wrapper (uint8 -> [-1, 1], 64x64 gray) gives the same probabilities
    model = create_model("mini-xception", checkpoint=path)
    assert model.crop.size == 64 and model.classes == EMOTIONS
    assert np.abs(model.predict(images)[0] - softmax(ref)).max() < 1e-4


def test_import_registers_user_model_via_cli(keras_file, capsys):
    path, layers = keras_file
    assert main(["models", "import-keras", str(path), "--arch", "mini_xception", "--name", "fer-mini"]) == 0
    assert "fer-mini" in list_models()
    model = create_model("fer-mini")
    img = np.random.default_rng(1).integers(0, 256, (2, 64, 64)).astype(np.uint8)
    ref = softmax(keras_reference(img[..., None] / 255.0 * 2 - 1, layers))
    assert np.abs(model.predict(img)[0] - ref).max() < 1e-4
    # a second import under the same name needs --force; a built-in name is refused
    assert main(["models", "import-keras", str(path), "--name", "fer-mini"]) == 1
    assert "exists" in capsys.readouterr().err
    assert main(["models", "import-keras", str(path), "--name", "exprnet-s"]) == 1
    assert "taken by a built-in" in capsys.readouterr().err


def test_wrong_layout_and_bad_files_name_the_file(tmp_path, keras_file):
    _, layers = keras_file
    broken = tmp_path / "truncated.hdf5"
    write_keras_h5(broken, layers[:-7])  # drop the last module's separable convs/bns and the head
    with pytest.raises(CheckpointError, match="truncated.hdf5: not a mini-Xception layout"):
        mini_xception_from_keras(broken)
    junk = tmp_path / "junk.hdf5"
    junk.write_bytes(b"not hdf5 at all")
    with pytest.raises(CheckpointError, match="junk.hdf5: not a readable HDF5"):
        import_keras_model(junk, "x")
