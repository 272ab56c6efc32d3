"""Cache of decoded data sets as ``.npz`` so repeated training/evaluation runs start fast.

The cache key hashes the loader arguments and a fingerprint of the source:
path, size and modification time of the data file, or of every file below a
data folder.  Editing, adding or removing any source file therefore changes
the key and the data set is decoded again; stale entries are simply unused.
For CSV-indexed data sets (AffectNet, FER+) the fingerprint covers the CSV
files, not the image files they list: replacing images in place without
touching the CSV needs ``--no-cache`` (or deleting the cache folder).
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from vidaffect.data.expressions.affectnet import AFFECTNET_SPLITS
from vidaffect.data.expressions.base import ExpressionData
from vidaffect.data.expressions.dispatch import detect_format, load_expression_dataset, load_npz, save_npz
from vidaffect.utils.atomic import atomic_path


def default_cache_dir() -> Path:
    """``$VIDAFFECT_HOME/cache/datasets`` (default ``~/.cache/vidaffect/datasets``)."""
    home = os.environ.get("VIDAFFECT_HOME")
    base = Path(home) / "cache" if home else Path(os.path.expanduser("~")) / ".cache" / "vidaffect"
    return base / "datasets"


def source_fingerprint(path: str | Path) -> str:
    """Hash of (relative path, size, mtime_ns) of the file or of every file below the folder."""
    path = Path(path).resolve()
    h = hashlib.sha1(str(path).encode())
    if path.is_file():
        st = path.stat()
        h.update(f"{st.st_size}:{st.st_mtime_ns}".encode())
        # FER+ label files read their pixels from the FER2013 CSV beside them.
        sibling = path.with_name("fer2013.csv")
        if sibling.is_file() and sibling != path:
            st = sibling.stat()
            h.update(f"{sibling.name}:{st.st_size}:{st.st_mtime_ns}".encode())
        return h.hexdigest()
    for root, dirs, files in os.walk(path):
        dirs.sort()
        for name in sorted(files):
            p = Path(root) / name
            st = p.stat()
            h.update(f"{p.relative_to(path)}:{st.st_size}:{st.st_mtime_ns}\n".encode())
    return h.hexdigest()


def cache_key(path: str | Path, format: str, split: str, size: int, color: str, options: dict[str, Any]) -> str:
    args = json.dumps({"format": format, "split": split, "size": size, "color": color, "options": options},
                      sort_keys=True, default=str)
    source = Path(path)
    if format == "imagefolder" and (source / split).is_dir():
        source = source / split  # only this split's files matter
    elif format == "affectnet" and source.is_dir():
        source = source / AFFECTNET_SPLITS.get(split.lower(), "training.csv")  # not its ~300k images
    return hashlib.sha1((args + str(Path(path).resolve()) + source_fingerprint(source)).encode()).hexdigest()[:20]


def load_cached(path: str | Path, format: str = "auto", split: str = "train", size: int = 48, color: str = "gray",
                cache_dir: str | Path | None = None, **options: Any) -> tuple[ExpressionData, bool]:
    """Like :func:`load_expression_dataset` through an npz cache; returns ``(data, from_cache)``.

    ``cache_dir=None`` uses :func:`default_cache_dir`.  ``.npz`` inputs are read directly.
    """
    if format == "auto":
        format, path = detect_format(path, split)
    if format == "npz":
        return load_npz(path), False
    cache = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    entry = cache / f"{format}-{split}-{size}-{color}-{cache_key(path, format, split, size, color, options)}.npz"
    if entry.is_file():
        return load_npz(entry), True
    data = load_expression_dataset(path, format, split, size, color, **options)
    entry.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(entry) as tmp:
        save_npz(tmp, data)
    return data, False
