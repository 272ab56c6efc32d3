#!/usr/bin/env python3
"""Developer tool: convert dlib's face-recognition ResNet (``dlib_face_recognition_resnet_model_v1.dat``)
to the safetensors file vidaffect's PyTorch port loads (:mod:`vidaffect.identity.resnet_descriptor`).

Not a runtime dependency, and it needs neither dlib nor torch: it reads dlib's own
binary serialization (dlib/serialize.h, dlib/dnn/core.h, layers.h, input.h,
tensor.h, loss.h) with the small parser below and writes, into
``src/vidaffect/identity/assets/``, ``dlib_face_recognition_resnet_v1.safetensors``
with the weights (float16 by default, the measured parity is in the module's
docstring) and, in the metadata, the source file's name and sha256, the licence,
the input normalisation and the layer list.

dlib's serialization, as read here:

* integers: one control byte (bit 7: negative; low 4 bits: byte count) and that
  many little-endian bytes of the magnitude;
* floats/doubles (layer settings): an int64 mantissa and an int16 exponent, both
  integers as above, value = mantissa * 2**exponent;
* strings: an integer length and the bytes; bools: the characters '1' / '0';
* tensors: int version (2), num_samples, k, nr, nc, then num_samples*k*nr*nc raw
  little-endian float32 values; alias tensors: int version (1) and the 4 sizes.

A network ``loss<L_n<...<L_1<input>>>>`` is written as: int version (1), the
loss details, then the outermost layer, recursively: ``add_layer`` writes its
version (2; 3 for the layer right above the input layer), then its sub-network,
then its own details and state (3 bools, ``110``, and 3 empty tensors; the
version-3 layer also its sample expansion factor, an integer).  ``tag``/``skip`` layers write only
their version (1) and their sub-network.  So the file holds all versions top-down
first, then the input layer, then each layer's details bottom-up.

Usage::

    .venv/bin/python tools/convert_dlib_face_recognition.py            # writes the asset
    .venv/bin/python tools/convert_dlib_face_recognition.py --check    # compares the shipped asset
    .venv/bin/python tools/convert_dlib_face_recognition.py --src PATH/dlib_face_recognition_resnet_model_v1.dat
"""
from __future__ import annotations

import argparse
import hashlib
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

SOURCE_NAME = "dlib_face_recognition_resnet_model_v1.dat"
ASSETS = Path(__file__).resolve().parents[1] / "src" / "vidaffect" / "identity" / "assets"
OUTPUT = "dlib_face_recognition_resnet_v1.safetensors"
FORMAT = "vidaffect-dlib-resnet/1"
LICENSE = "CC0-1.0"
LICENSE_NOTE = ("Model by Davis King (dlib-models README: released into the public domain); distributed in "
                "face_recognition_models 0.3.0 whose licence file is CC0 1.0 Universal")

# Residual levels of dnn_face_recognition_ex.cpp, input side first: (channels, downsampling first block, blocks).
LEVELS = [(32, False, 3), (64, True, 4), (128, True, 3), (256, True, 3), (256, True, 1)]


class DlibFormatError(ValueError):
    pass


class Reader:
    """Sequential reader of dlib's serialization primitives."""

    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def byte(self) -> int:
        if self.pos >= len(self.data):
            raise DlibFormatError("unexpected end of file")
        b = self.data[self.pos]
        self.pos += 1
        return b

    def int(self) -> int:
        ctrl = self.byte()
        size = ctrl & 0x0F
        if size > 8 or ctrl & 0x70:
            raise DlibFormatError(f"bad integer control byte 0x{ctrl:02x} at {self.pos - 1}")
        raw = self.data[self.pos:self.pos + size]
        if len(raw) != size:
            raise DlibFormatError("unexpected end of file in an integer")
        self.pos += size
        value = int.from_bytes(raw, "little")
        return -value if ctrl & 0x80 else value

    def peek_int(self) -> int:
        pos = self.pos
        try:
            return self.int()
        finally:
            self.pos = pos

    def float(self) -> float:
        mantissa = self.int()
        exponent = self.int()
        return float(mantissa) * 2.0 ** exponent

    def string(self) -> str:
        n = self.int()
        raw = self.data[self.pos:self.pos + n]
        if len(raw) != n:
            raise DlibFormatError("unexpected end of file in a string")
        self.pos += n
        return raw.decode("latin-1")

    def bool(self) -> bool:
        ch = self.byte()
        if ch not in (ord("0"), ord("1")):
            raise DlibFormatError(f"bad bool byte {ch!r} at {self.pos - 1}")
        return ch == ord("1")

    def tensor(self) -> np.ndarray:
        version = self.int()
        if version != 2:
            raise DlibFormatError(f"tensor version {version} at {self.pos}")
        shape = tuple(self.int() for _ in range(4))
        n = int(np.prod(shape))
        raw = self.data[self.pos:self.pos + 4 * n]
        if len(raw) != 4 * n:
            raise DlibFormatError("unexpected end of file in a tensor")
        self.pos += 4 * n
        return np.frombuffer(raw, dtype="<f4").reshape(shape).astype(np.float32)

    def alias_tensor(self) -> tuple[int, int, int, int]:
        version = self.int()
        if version != 1:
            raise DlibFormatError(f"alias_tensor version {version} at {self.pos}")
        return tuple(self.int() for _ in range(4))  # type: ignore[return-value]


@dataclass
class Layer:
    kind: str  # con, affine, relu, max_pool, avg_pool, add_prev, fc
    version: str  # the serialized version string, e.g. "con_4"
    params: dict = field(default_factory=dict)  # numpy arrays
    settings: dict = field(default_factory=dict)  # ints / floats


def _read_details(r: Reader) -> Layer:
    name = r.string()
    if name == "con_4":
        params = r.tensor()
        s = {k: r.int() for k in ("num_filters", "nr", "nc", "stride_y", "stride_x", "padding_y", "padding_x")}
        filters, biases = r.alias_tensor(), r.alias_tensor()
        for k in ("learning_rate_multiplier", "weight_decay_multiplier", "bias_learning_rate_multiplier",
                  "bias_weight_decay_multiplier"):
            s[k] = r.float()
        flat = params.reshape(-1)
        nf = int(np.prod(filters))
        if (flat.size != nf + int(np.prod(biases)) or filters[0] != s["num_filters"]
                or filters[2:] != (s["nr"], s["nc"])):
            raise DlibFormatError(f"con_ sizes disagree: params {flat.size}, filters {filters}, biases {biases}")
        return Layer("con", name, {"weight": flat[:nf].reshape(filters), "bias": flat[nf:].copy()}, s)
    if name == "affine_":
        params = r.tensor().reshape(-1)
        gamma, beta = r.alias_tensor(), r.alias_tensor()
        mode = r.int()
        n = int(np.prod(gamma))
        if mode != 0 or params.size != n + int(np.prod(beta)):
            raise DlibFormatError(f"affine_: mode {mode}, gamma {gamma}, beta {beta}, params {params.size}")
        return Layer("affine", name, {"scale": params[:n].copy(), "shift": params[n:].copy()}, {"mode": mode})
    if name == "relu_":
        return Layer("relu", name)
    if name in ("max_pool_2", "avg_pool_2"):
        s = {k: r.int() for k in ("nr", "nc", "stride_y", "stride_x", "padding_y", "padding_x")}
        return Layer(name[:-2], name, {}, s)
    if name == "add_prev_":
        return Layer("add_prev", name)
    if name == "fc_2":
        num_outputs, num_inputs = r.int(), r.int()
        params = r.tensor().reshape(-1)
        weights, biases = r.alias_tensor(), r.alias_tensor()
        bias_mode = r.int()
        s = {"num_outputs": num_outputs, "num_inputs": num_inputs, "bias_mode": bias_mode}
        for k in ("learning_rate_multiplier", "weight_decay_multiplier", "bias_learning_rate_multiplier",
                  "bias_weight_decay_multiplier"):
            s[k] = r.float()
        nw = int(np.prod(weights))
        if weights[:2] != (num_inputs, num_outputs) or params.size != nw + int(np.prod(biases)):
            raise DlibFormatError(f"fc_: weights {weights}, biases {biases}, params {params.size}")
        p = {"weight": params[:nw].reshape(num_inputs, num_outputs).T.copy()}  # dlib: x @ W with W (in, out)
        if int(np.prod(biases)):
            p["bias"] = params[nw:].copy()
        return Layer("fc", name, p, s)
    raise DlibFormatError(f"unsupported layer {name!r}")


def parse_network(data: bytes) -> dict:
    """Parse a serialized dlib ``add_loss_layer`` network: loss details, input layer, layers bottom-up."""
    r = Reader(data)
    if r.int() != 1:
        raise DlibFormatError("not a dlib add_loss_layer (version != 1)")
    loss_name = r.string()
    if loss_name != "loss_metric_2":
        raise DlibFormatError(f"expected loss_metric_2, found {loss_name!r}")
    loss = {"name": loss_name, "margin": r.float(), "distance_threshold": r.float()}
    versions = []
    while True:  # versions of the wrappers, outermost first, until the input layer's name
        v = r.peek_int()
        if v not in (1, 2, 3):
            break
        versions.append(r.int())
    input_name = r.string()
    if input_name != "input_rgb_image_sized":
        raise DlibFormatError(f"expected input_rgb_image_sized, found {input_name!r}")
    mean = [r.float(), r.float(), r.float()]
    size = (r.int(), r.int())
    if not versions or versions[-1] != 3 or any(v == 3 for v in versions[:-1]):
        raise DlibFormatError(f"unsupported add_layer versions {sorted(set(versions))} (this reads 2 and 3)")
    layers: list[Layer] = []
    structure: list[str] = []  # bottom-up: layer kinds and "tag_or_skip"
    for v in reversed(versions):
        if v == 1:  # add_tag_layer / add_skip_layer: nothing but the version
            structure.append("tag_or_skip")
            continue
        layer = _read_details(r)
        for _ in range(3):  # setup_called, gradient_input_is_stale, get_output_and_gradient_input_disabled
            r.bool()
        for _ in range(3):  # x_grad, cached_output, params_grad / grad_final: empty in a cleaned net
            if r.tensor().size:
                raise DlibFormatError("unexpected non-empty state tensor")
        if v == 3:
            r.int()  # _sample_expansion_factor of the layer above the input layer
        layers.append(layer)
        structure.append(layer.kind)
    if r.pos != len(data):
        raise DlibFormatError(f"{len(data) - r.pos} bytes left after the network")
    return {"loss": loss, "input": {"name": input_name, "mean_rgb": mean, "size": size, "scale": 1 / 256},
            "layers": layers, "structure": structure}


def expected_structure() -> list[str]:
    """Bottom-up layer kinds of anet_type (dnn_face_recognition_ex.cpp), tags and skips as 'tag_or_skip'."""
    out = ["con", "affine", "relu", "max_pool"]
    block = ["con", "affine", "relu", "con", "affine"]
    for _, down, n in LEVELS:
        for i in range(n):
            if down and i == 0:  # relu<add_prev2<avg_pool<skip1<tag2<block<tag1<x>>>>>>>
                out += ["tag_or_skip", *block, "tag_or_skip", "tag_or_skip", "avg_pool", "add_prev", "relu"]
            else:  # relu<add_prev1<block<tag1<x>>>>
                out += ["tag_or_skip", *block, "add_prev", "relu"]
    return out + ["avg_pool", "fc"]


def to_state_dict(net: dict) -> tuple[dict[str, np.ndarray], list[dict]]:
    """Name the parameters after :class:`vidaffect.identity.resnet_descriptor.DlibResNet`; check every setting."""
    if net["structure"] != expected_structure():
        raise DlibFormatError("the network is not dlib_face_recognition_resnet_model_v1's architecture")
    layers = list(net["layers"])
    state: dict[str, np.ndarray] = {}
    summary: list[dict] = []

    def take(kind: str) -> Layer:
        layer = layers.pop(0)
        if layer.kind != kind:
            raise DlibFormatError(f"expected {kind}, found {layer.kind}")
        return layer

    def conv(prefix: str, cin: int, cout: int, k: int, stride: int, pad: int) -> None:
        c = take("con")
        s = c.settings
        got = (s["num_filters"], s["nr"], s["nc"], s["stride_y"], s["stride_x"], s["padding_y"], s["padding_x"])
        if got != (cout, k, k, stride, stride, pad, pad) or c.params["weight"].shape != (cout, cin, k, k):
            raise DlibFormatError(f"{prefix}: con settings {got}, weights {c.params['weight'].shape}")
        state[f"{prefix}.weight"] = c.params["weight"]
        state[f"{prefix}.bias"] = c.params["bias"]
        summary.append({"name": prefix, "type": "con", "in": cin, "out": cout, "k": k, "stride": stride,
                        "pad": pad})

    def affine(prefix: str, ch: int) -> None:
        a = take("affine")
        if a.params["scale"].shape != (ch,):
            raise DlibFormatError(f"{prefix}: affine size {a.params['scale'].shape}")
        state[f"{prefix}.scale"] = a.params["scale"]
        state[f"{prefix}.shift"] = a.params["shift"]

    def pool(kind: str, k: int, stride: int) -> None:
        p = take(kind)
        s = p.settings
        got = (s["nr"], s["nc"], s["stride_y"], s["stride_x"], s["padding_y"], s["padding_x"])
        if got != (k, k, stride, stride, 0, 0):
            raise DlibFormatError(f"{kind}: settings {got}")

    conv("stem.conv", 3, 32, 7, 2, 0)
    affine("stem.affine", 32)
    take("relu")
    pool("max_pool", 3, 2)
    cin, i = 32, 0
    for ch, down, n in LEVELS:
        for j in range(n):
            stride = 2 if down and j == 0 else 1
            conv(f"blocks.{i}.conv1", cin, ch, 3, stride, 0 if stride == 2 else 1)
            affine(f"blocks.{i}.affine1", ch)
            take("relu")
            conv(f"blocks.{i}.conv2", ch, ch, 3, 1, 1)
            affine(f"blocks.{i}.affine2", ch)
            if stride == 2:
                pool("avg_pool", 2, 2)
            take("add_prev")
            take("relu")
            cin, i = ch, i + 1
    pool("avg_pool", 0, 1)  # avg_pool_everything
    fc = take("fc")
    if fc.settings["bias_mode"] != 1 or fc.params["weight"].shape != (128, 256) or "bias" in fc.params:
        raise DlibFormatError(f"fc_no_bias expected: {fc.settings}")
    state["fc.weight"] = fc.params["weight"]
    state["input.mean"] = np.asarray(net["input"]["mean_rgb"], dtype=np.float32)
    if layers:
        raise DlibFormatError(f"{len(layers)} layers left over")
    return state, summary


def find_source() -> Path:
    """face_recognition_models' copy of the model file (one-line exit without the 'identity' extra)."""
    from vidaffect.errors import VidaffectError
    from vidaffect.identity.dlib_models import RECOGNITION_MODEL, model_dir

    try:
        return model_dir() / RECOGNITION_MODEL
    except VidaffectError as exc:
        sys.exit(f"{exc}; or pass --src")


def build(src: Path, dtype: str) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    data = src.read_bytes()
    net = parse_network(data)
    state, summary = to_state_dict(net)
    np_dtype = {"fp16": np.float16, "fp32": np.float32}[dtype]
    state = {k: np.ascontiguousarray(v.astype(np.float32 if k == "input.mean" else np_dtype))
             for k, v in state.items()}
    meta = {
        "format": FORMAT,
        "source_file": SOURCE_NAME,
        "source_sha256": hashlib.sha256(data).hexdigest(),
        "source_package": f"face_recognition_models==0.3.0 (PyPI); also http://dlib.net/files/{SOURCE_NAME}.bz2",
        "license": LICENSE,
        "license_note": LICENSE_NOTE,
        "weights_dtype": dtype,
        "input": json.dumps({"size": list(net["input"]["size"]), "layout": "RGB",
                             "mean_rgb": net["input"]["mean_rgb"], "scale": net["input"]["scale"]}),
        "loss": json.dumps(net["loss"]),
        "layers": json.dumps(summary),
        "converter": "tools/convert_dlib_face_recognition.py",
    }
    return state, meta


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--src", type=Path, default=None,
                    help=f"path of {SOURCE_NAME} (default: face_recognition_models' copy)")
    ap.add_argument("--out", type=Path, default=ASSETS / OUTPUT)
    ap.add_argument("--dtype", choices=("fp16", "fp32"), default="fp16")
    ap.add_argument("--check", action="store_true", help="compare the existing output with a fresh conversion")
    args = ap.parse_args(argv)
    from safetensors.numpy import load_file, save_file

    src = args.src or find_source()
    state, meta = build(src, args.dtype)
    if args.check:
        from safetensors import safe_open

        with safe_open(str(args.out), "np") as f:
            old_meta = f.metadata()
        old = load_file(str(args.out))
        same = (old_meta == meta and old.keys() == state.keys()
                and all(np.array_equal(old[k], state[k]) for k in state))
        print(("OK: " if same else "DIFFERENT: ") + str(args.out))
        return 0 if same else 1
    args.out.parent.mkdir(parents=True, exist_ok=True)
    save_file(state, str(args.out), metadata=meta)
    n = sum(v.size for k, v in state.items() if k != "input.mean")
    print(f"wrote {args.out} ({args.out.stat().st_size / 1e6:.1f} MB, {n:,} parameters, {args.dtype}); "
          f"source sha256 {meta['source_sha256']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
