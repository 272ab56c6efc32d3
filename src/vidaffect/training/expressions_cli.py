"""Glue between the ``train/eval expressions`` commands and the library: data options, loading, splitting."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import numpy as np

from vidaffect.data.expressions.base import DatasetError, ExpressionData
from vidaffect.data.expressions.dispatch import FORMATS, detect_format, load_expression_dataset
from vidaffect.training.data_cache import load_cached


def add_data_arguments(p: argparse.ArgumentParser, split_default: str) -> None:
    """Options shared by training and evaluation for choosing and decoding a data set."""
    g = p.add_argument_group("data set")
    g.add_argument("--data", required=True, metavar="PATH",
                   help="data set: an image folder (<root>/<split>/<class>/*.jpg), fer2013.csv, FER+ fer2013new.csv or "
                        "image root, RAF-DB 'basic' folder, AffectNet folder/CSV, or a cached .npz")
    g.add_argument("--format", default="auto", choices=FORMATS,
                   help="data set format (default: auto-detect from the files)")
    g.add_argument("--split", default=split_default,
                   help=f"split to use (default: {split_default}); FER2013: train/val/test = Training/PublicTest/"
                        "PrivateTest; RAF-DB: train/test")
    g.add_argument("--classes", type=int, choices=(7, 8), default=None,
                   help="FER+/AffectNet: 8 keeps contempt, 7 drops it (default: 8 for those formats)")
    g.add_argument("--ferplus-mode", choices=("majority", "soft"), default="majority",
                   help="FER+ labels: majority vote (hard) or vote distribution (soft labels) (default: majority)")
    g.add_argument("--limit", type=int, default=None, help="AffectNet: read at most N rows per split")
    g.add_argument("--cache-dir", default=None, metavar="DIR",
                   help="where decoded data sets are cached as .npz (default: $VIDAFFECT_HOME/cache/datasets or "
                        "~/.cache/vidaffect/datasets)")
    g.add_argument("--no-cache", action="store_true", help="decode the data set every time, never cache")


def data_options(args: argparse.Namespace, path: str | Path, fmt: str) -> dict[str, Any]:
    """Loader keyword options for the chosen format, from the command-line arguments."""
    opts: dict[str, Any] = {}
    if fmt == "ferplus":
        opts["mode"] = args.ferplus_mode
        if args.classes:
            opts["classes"] = args.classes
    elif fmt == "affectnet":
        if args.classes:
            opts["classes"] = args.classes
        if args.limit:
            opts["limit"] = args.limit
    elif args.classes == 8 and fmt in ("fer2013", "rafdb"):
        raise DatasetError(f"{path}: {fmt} has 7 classes; --classes 8 applies to FER+ and AffectNet only")
    return opts


def load_split(args: argparse.Namespace, path: str | Path, split: str, size: int, color: str = "gray",
               verbose: bool = True) -> ExpressionData:
    """Load one split as chosen on the command line, through the cache unless ``--no-cache``."""
    fmt, resolved = (args.format, Path(path)) if args.format != "auto" else detect_format(path, split)
    opts = data_options(args, path, fmt)
    if args.no_cache:
        data, cached = load_expression_dataset(resolved, fmt, split, size, color, **opts), False
    else:
        data, cached = load_cached(resolved, fmt, split, size, color, cache_dir=args.cache_dir, **opts)
    if verbose:
        counts = ", ".join(f"{k} {v}" for k, v in data.class_counts().items())
        print(f"{fmt} {split}: {len(data)} images{' (from cache)' if cached else ''} [{counts}]", file=sys.stderr)
    return data


def stratified_split(data: ExpressionData, fraction: float, seed: int) -> tuple[ExpressionData, ExpressionData]:
    """Hold out ``fraction`` of every class (at least one image per class with 2+ images) as validation."""
    if not 0 < fraction < 1:
        raise DatasetError(f"--val-fraction must be between 0 and 1, not {fraction}")
    rng = np.random.default_rng(seed)
    val_idx = []
    for c in range(len(data.classes)):
        idx = np.flatnonzero(data.labels == c)
        if len(idx) >= 2:
            rng.shuffle(idx)
            val_idx.extend(idx[: max(1, int(round(fraction * len(idx))))])
    mask = np.zeros(len(data), bool)
    mask[val_idx] = True
    return data.subset(np.flatnonzero(~mask)), data.subset(np.flatnonzero(mask))
