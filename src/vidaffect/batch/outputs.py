"""Outputs of one job: written into a staging folder, then renamed into place in one commit step.

Layout of an output directory::

    OUT/vidaffect.sqlite                      the job ledger
    OUT/results/<key>/<stem>.frames.csv ...   what ``Results.save`` writes
    OUT/dataset/video=<key>/part-0.parquet    the corpus data set
    OUT/.staging/                             jobs in flight (removed on commit)

``key`` = ``<video stem>-<content hash[:10]>``.  The ledger row turns ``done``
only after :func:`commit_staged` returned, so a run killed at any moment
leaves either the old complete outputs or the new complete ones.
"""
from __future__ import annotations

import json
import os
import shutil
import uuid
from pathlib import Path

from vidaffect.batch.dataset import PART_NAME, partition_dir, write_part
from vidaffect.results.results import Results

RESULTS_DIR = "results"
STAGING_DIR = ".staging"
MANIFEST = "_SUCCESS.json"


def new_staging_dir(root: str | os.PathLike, key: str) -> Path:
    d = Path(root) / STAGING_DIR / f"{key}.{os.getpid()}.{uuid.uuid4().hex[:8]}"
    d.mkdir(parents=True, exist_ok=False)
    return d


def stage_results(results: Results, staging: str | os.PathLike, video_name: str,
                  formats: tuple[str, ...] | list[str] = ("csv", "parquet"), plot: bool = True) -> dict:
    """Write every output of one job into ``staging`` and a manifest last (its presence = complete)."""
    staging = Path(staging)
    results.save(staging / RESULTS_DIR, formats, plot=plot)
    write_part(results.frames, video_name, staging / PART_NAME)
    manifest = {"frames": int(results.metadata.get("frames_analysed", len(results.frames))),
                "rows": int(len(results.frames)), "video_name": video_name}
    (staging / MANIFEST).write_text(json.dumps(manifest))
    return manifest


def commit_staged(staging: str | os.PathLike, out: str | os.PathLike, key: str) -> dict[str, str]:
    """Rename a complete staging folder's files into place; return the output paths (relative to ``out``)."""
    staging, out = Path(staging), Path(out)
    if not (staging / MANIFEST).is_file():
        raise FileNotFoundError(f"{staging}: incomplete job outputs (no {MANIFEST})")
    final = out / RESULTS_DIR / key
    final.parent.mkdir(parents=True, exist_ok=True)
    if final.exists():  # a previous attempt got this far but was not recorded as done
        shutil.rmtree(final)
    os.replace(staging / RESULTS_DIR, final)
    part = partition_dir(out, key) / PART_NAME
    part.parent.mkdir(parents=True, exist_ok=True)
    os.replace(staging / PART_NAME, part)
    shutil.rmtree(staging, ignore_errors=True)
    paths = {_kind(p.name): str(p.relative_to(out)) for p in sorted(final.iterdir())}
    paths["dataset"] = str(part.relative_to(out))
    return paths


_KINDS = {".frames.csv": "csv", ".frames.parquet": "parquet", ".frames.json": "json", ".summary.csv": "summary",
          ".events.json": "events", ".events.jsonl": "events", ".va_trend.png": "plot", ".metadata.json": "metadata"}


def _kind(name: str) -> str:
    return next((k for end, k in _KINDS.items() if name.endswith(end)), name)


def clean_staging(out: str | os.PathLike, live_pids: set[int] | None = None) -> int:
    """Remove staging folders of dead processes (left by killed runs); return how many."""
    from vidaffect.batch.ledger import pid_alive

    root = Path(out) / STAGING_DIR
    n = 0
    for d in root.glob("*.*.*") if root.is_dir() else []:
        try:
            pid = int(d.name.rsplit(".", 2)[1])
        except ValueError:
            continue
        if (live_pids is None or pid not in live_pids) and not pid_alive(pid):
            shutil.rmtree(d, ignore_errors=True)
            n += 1
    return n
