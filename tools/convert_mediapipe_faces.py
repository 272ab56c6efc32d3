#!/usr/bin/env python3
"""Developer tool: re-create vidaffect's shipped face models from the ``mediapipe==0.10.21`` wheel.

Not a runtime dependency.  It reads MediaPipe's three legacy face models
(BlazeFace short range, full range (sparse), the 468-point face landmark
network) straight from the wheel's ``.tflite`` flatbuffers with the ``tflite``
package and writes, into ``src/vidaffect/faces/assets/``:

* ``<model>.tflite``: the file itself, byte for byte (the LiteRT runtime runs it);
* ``<model>.safetensors``: its weights for the PyTorch runtime, float16 exactly as
  stored (sparse tensors densified, DEQUANTIZE folded), with the operator graph,
  the source path, the source file's sha256 and the licence in the metadata.

Usage (any Python with pip and network access to PyPI)::

    python -m venv /tmp/mp && /tmp/mp/bin/pip install mediapipe==0.10.21 tflite
    /tmp/mp/bin/python tools/convert_mediapipe_faces.py            # writes the assets
    /tmp/mp/bin/python tools/convert_mediapipe_faces.py --check    # only verify the shipped files

With ``ai-edge-litert`` installed too, every densified weight is compared with
the tensor LiteRT's own DENSIFY kernel produces.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import sys
from pathlib import Path

import numpy as np

MODELS = {
    "face_detection_short_range": "mediapipe/modules/face_detection/face_detection_short_range.tflite",
    "face_detection_full_range_sparse": "mediapipe/modules/face_detection/face_detection_full_range_sparse.tflite",
    "face_landmark": "mediapipe/modules/face_landmark/face_landmark.tflite",
}
SOURCE = "mediapipe==0.10.21 (PyPI wheel)"
LICENSE = "Apache-2.0"
GRAPH_FORMAT = "vidaffect-tflite-graph/1"
ASSETS = Path(__file__).resolve().parents[1] / "src" / "vidaffect" / "faces" / "assets"

# Operators the PyTorch runtime implements (vidaffect/faces/runtime/torch_graph.py).
COMPUTE_OPS = {"CONV_2D", "DEPTHWISE_CONV_2D", "ADD", "RELU", "PRELU", "PAD", "MAX_POOL_2D", "RESHAPE",
               "CONCATENATION", "RESIZE_BILINEAR", "DEPTH_TO_SPACE"}
ACTIVATIONS = {0: "none", 1: "relu", 2: "relu_n1_to_1", 3: "relu6", 4: "tanh"}


def _tflite():
    try:
        import tflite
    except ImportError:
        sys.exit("this tool needs the 'tflite' package: pip install tflite")
    return tflite


def _enum_names(cls) -> dict[int, str]:
    return {v: k for k, v in vars(cls).items() if not k.startswith("_") and isinstance(v, int)}


def _options(tfl, op, cls):
    table = op.BuiltinOptions()
    opts = getattr(tfl, cls)()
    opts.Init(table.Bytes, table.Pos)
    return opts


def _index_vector(tfl, dim, which: str) -> np.ndarray:
    """A DimensionMetadata's array_segments or array_indices as int64."""
    kind = getattr(dim, f"{which}Type")()
    table = getattr(dim, which)()
    cls = {1: tfl.Int32Vector, 2: tfl.Uint16Vector, 3: tfl.Uint8Vector}[kind]
    vec = cls()
    vec.Init(table.Bytes, table.Pos)
    return vec.ValuesAsNumpy().astype(np.int64)


def densify(tfl, values: np.ndarray, sparsity, dense_shape: list[int]) -> np.ndarray:
    """TFLite's sparse tensor format -> dense array (the FormatConverter algorithm of tensorflow/lite)."""
    rank = len(dense_shape)
    order = sparsity.TraversalOrderAsNumpy().tolist()
    block_map = sparsity.BlockMapAsNumpy().tolist() if not sparsity.BlockMapIsNone() else []
    levels = []
    for i in range(sparsity.DimMetadataLength()):
        dim = sparsity.DimMetadata(i)
        if dim.Format() == 0:  # DENSE
            levels.append(("dense", dim.DenseSize(), None, None))
        else:  # SPARSE_CSR
            levels.append(("csr", None, _index_vector(tfl, dim, "ArraySegments"), _index_vector(tfl, dim, "ArrayIndices")))
    block_size = [levels[rank + k][1] for k in range(len(block_map))]
    out = np.zeros(dense_shape, dtype=values.dtype)
    # Walk the levels breadth-first, vectorised: each entry is (position in the level, index per level so far).
    pos = np.zeros(1, dtype=np.int64)
    idx = np.zeros((1, 0), dtype=np.int64)
    for kind, size, segments, indices in levels:
        if kind == "dense":
            new_pos = (pos[:, None] * size + np.arange(size)[None, :]).reshape(-1)
            new_idx = np.concatenate([np.repeat(idx, size, axis=0), np.tile(np.arange(size), len(pos))[:, None]], 1)
        else:
            starts, ends = segments[pos], segments[pos + 1]
            counts = ends - starts
            new_pos = np.concatenate([np.arange(s, e) for s, e in zip(starts, ends)]) if len(pos) else pos
            new_idx = np.concatenate([np.repeat(idx, counts, axis=0), indices[new_pos][:, None]], 1)
        pos, idx = new_pos, new_idx
    orig = np.zeros((len(idx), rank), dtype=np.int64)
    for level in range(rank):
        orig[:, order[level]] = idx[:, level]
    for level in range(rank, len(order)):
        b = order[level] - rank
        orig[:, block_map[b]] = orig[:, block_map[b]] * block_size[b] + idx[:, level]
    if len(idx) != values.size:
        raise ValueError(f"sparse tensor has {values.size} values but its index lists {len(idx)}")
    out[tuple(orig.T)] = values.reshape(-1)
    return out


def read_graph(path: Path) -> tuple[dict, dict[str, np.ndarray]]:
    """The model's compute graph (JSON-able) and its constant tensors (float16 weights, keyed ``t<id>``)."""
    tfl = _tflite()
    buf = path.read_bytes()
    model = tfl.Model.GetRootAsModel(buf, 0)
    if model.SubgraphsLength() != 1:
        raise ValueError(f"{path.name}: expected one subgraph")
    g = model.Subgraphs(0)
    opnames = _enum_names(tfl.BuiltinOperator)
    tnames = _enum_names(tfl.TensorType)
    np_types = {"FLOAT16": np.float16, "FLOAT32": np.float32, "INT32": np.int32, "INT64": np.int64}

    def raw(t: int) -> np.ndarray | None:
        tensor = g.Tensors(t)
        data = model.Buffers(tensor.Buffer()).DataAsNumpy()
        if isinstance(data, int) or data is None or len(data) == 0:
            return None
        arr = np.frombuffer(data.tobytes(), dtype=np_types[tnames[tensor.Type()]])
        if tensor.Sparsity() is None:
            return arr.reshape(tensor.ShapeAsNumpy().tolist())
        return arr  # flat sparse values; densified by the DENSIFY op below

    consts: dict[int, np.ndarray] = {}
    for t in range(g.TensorsLength()):
        arr = raw(t)
        if arr is not None:
            consts[t] = arr
    ops, shapes = [], {}
    for i in range(g.OperatorsLength()):
        op = g.Operators(i)
        code = model.OperatorCodes(op.OpcodeIndex())
        name = opnames[max(code.BuiltinCode(), code.DeprecatedBuiltinCode())]
        ins = [op.Inputs(j) for j in range(op.InputsLength())]
        outs = [op.Outputs(j) for j in range(op.OutputsLength())]
        if name == "DENSIFY":
            src = g.Tensors(ins[0])
            consts[outs[0]] = densify(tfl, consts[ins[0]], src.Sparsity(), g.Tensors(outs[0]).ShapeAsNumpy().tolist())
            continue
        if name == "DEQUANTIZE":
            consts[outs[0]] = consts[ins[0]].astype(np.float16)  # stays float16 on disk; float32 at load
            continue
        if name not in COMPUTE_OPS:
            raise ValueError(f"{path.name}: operator {name} is not supported by the PyTorch runtime")
        opt: dict = {}
        if name == "CONV_2D":
            o = _options(tfl, op, "Conv2DOptions")
            opt = dict(padding=o.Padding(), stride=[o.StrideH(), o.StrideW()],
                       dilation=[o.DilationHFactor(), o.DilationWFactor()], act=ACTIVATIONS[o.FusedActivationFunction()])
        elif name == "DEPTHWISE_CONV_2D":
            o = _options(tfl, op, "DepthwiseConv2DOptions")
            opt = dict(padding=o.Padding(), stride=[o.StrideH(), o.StrideW()], multiplier=o.DepthMultiplier(),
                       dilation=[o.DilationHFactor(), o.DilationWFactor()], act=ACTIVATIONS[o.FusedActivationFunction()])
        elif name == "MAX_POOL_2D":
            o = _options(tfl, op, "Pool2DOptions")
            opt = dict(padding=o.Padding(), stride=[o.StrideH(), o.StrideW()],
                       kernel=[o.FilterHeight(), o.FilterWidth()], act=ACTIVATIONS[o.FusedActivationFunction()])
        elif name == "ADD":
            opt = dict(act=ACTIVATIONS[_options(tfl, op, "AddOptions").FusedActivationFunction()])
        elif name == "CONCATENATION":
            o = _options(tfl, op, "ConcatenationOptions")
            opt = dict(axis=o.Axis(), act=ACTIVATIONS[o.FusedActivationFunction()])
        elif name == "RESIZE_BILINEAR":
            o = _options(tfl, op, "ResizeBilinearOptions")
            opt = dict(align_corners=bool(o.AlignCorners()), half_pixel_centers=bool(o.HalfPixelCenters()))
            ins = ins[:1]  # the size comes from the output tensor's shape
        elif name == "DEPTH_TO_SPACE":
            opt = dict(block=_options(tfl, op, "DepthToSpaceOptions").BlockSize())
        elif name == "PAD":
            opt = dict(paddings=consts[ins[1]].reshape(-1, 2).astype(int).tolist())
            ins = ins[:1]
        elif name == "RESHAPE":
            ins = ins[:1]  # the new shape is the output tensor's shape
        for t in ins + outs:
            if t >= 0 and t not in consts:
                shapes[t] = g.Tensors(t).ShapeAsNumpy().tolist()
        ops.append({"op": name, "in": ins, "out": outs, "opt": opt})
    used = {t for op in ops for t in op["in"] if t in consts}
    graph = {
        "inputs": [g.Inputs(i) for i in range(g.InputsLength())],
        "outputs": [g.Outputs(i) for i in range(g.OutputsLength())],
        "output_names": [g.Tensors(g.Outputs(i)).Name().decode() for i in range(g.OutputsLength())],
        "shapes": {str(k): v for k, v in shapes.items()},
        "ops": ops,
    }
    weights = {f"t{t}": np.ascontiguousarray(consts[t]) for t in sorted(used)}
    for k, v in weights.items():
        if v.dtype != np.float16:
            raise ValueError(f"{path.name}: constant {k} is {v.dtype}, expected float16 weights")
    return graph, weights


def check_densify_with_litert(path: Path, weights: dict[str, np.ndarray], graph: dict) -> int:
    """Compare densified weights with LiteRT's own DENSIFY output; returns how many were compared."""
    try:
        from ai_edge_litert.interpreter import Interpreter, OpResolverType
    except ImportError:
        return 0
    import warnings

    with warnings.catch_warnings():  # preserve_all_tensors warns that it is a debugging aid: that is the point here
        warnings.simplefilter("ignore")
        # without XNNPACK, which would pack (and zero) the weight tensors it takes over
        interp = Interpreter(model_path=str(path), experimental_preserve_all_tensors=True,
                             experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    interp.allocate_tensors()
    inp = interp.get_input_details()[0]
    interp.set_tensor(inp["index"], np.zeros(inp["shape"], np.float32))
    interp.invoke()
    n = 0
    for key, w in weights.items():
        try:
            ref = interp.get_tensor(int(key[1:]))
        except ValueError:
            continue
        if ref.shape == w.shape and ref.size:
            np.testing.assert_array_equal(ref.astype(np.float16), w, err_msg=f"{path.name} {key}")
            n += 1
    return n


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--wheel-root", type=Path, default=None,
                    help="site-packages folder holding mediapipe/ (default: where 'import mediapipe' finds it)")
    ap.add_argument("--out", type=Path, default=ASSETS, help="output folder (default: %(default)s)")
    ap.add_argument("--check", action="store_true", help="verify the shipped files against the wheel; write nothing")
    args = ap.parse_args(argv)
    root = args.wheel_root
    if root is None:
        try:
            import mediapipe
        except ImportError:
            sys.exit("mediapipe==0.10.21 is not installed; pip install mediapipe==0.10.21 (or pass --wheel-root)")
        root = Path(mediapipe.__file__).resolve().parents[1]
    from safetensors.numpy import load_file, save_file

    args.out.mkdir(parents=True, exist_ok=True)
    manifest = {}
    for name, rel in MODELS.items():
        src = root / rel
        if not src.is_file():
            sys.exit(f"{src} not found: is this the mediapipe 0.10.21 wheel?")
        digest = sha256(src)
        graph, weights = read_graph(src)
        compared = check_densify_with_litert(src, weights, graph)
        meta = {"format": GRAPH_FORMAT, "graph": json.dumps(graph, separators=(",", ":")), "source": SOURCE,
                "source_file": rel, "source_sha256": digest, "license": LICENSE}
        tfl_out, st_out = args.out / f"{name}.tflite", args.out / f"{name}.safetensors"
        if args.check:
            assert sha256(tfl_out) == digest, f"{tfl_out} differs from the wheel's file"
            shipped = load_file(str(st_out))
            assert shipped.keys() == weights.keys(), f"{st_out}: other tensors"
            for k in weights:
                np.testing.assert_array_equal(shipped[k], weights[k])
        else:
            shutil.copyfile(src, tfl_out)
            save_file(weights, str(st_out), metadata=meta)
        n_params = sum(w.size for w in weights.values())
        manifest[name] = {"source_file": rel, "source_sha256": digest, "parameters": int(n_params),
                          "operators": len(graph["ops"])}
        print(f"{name}: {len(graph['ops'])} operators, {n_params:,} weights, sha256 {digest[:12]}..., "
              f"{compared} densified/dequantized tensors checked against LiteRT")
    if not args.check:
        path = args.out / "manifest.json"
        doc = json.loads(path.read_text()) if path.is_file() else {}  # keep entries this tool does not make
        doc.update({"source": SOURCE, "license": LICENSE, "models": manifest})
        path.write_text(json.dumps(doc, indent=2) + "\n")
    print("ok" if args.check else f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
