"""Outputs of one job: written into a staging folder, then renamed into place in one commit step.

Layout of an output directory::

    OUT/vidaffect.sqlite                      the job ledger
    OUT/results/<key>/<stem>.frames.csv ...   what ``Results.save`` writes
    OUT/dataset/video=<key>/part-0.parquet    the corpus data set
    OUT/.staging/                             jobs in flight (removed on commit)
    OUT/superseded/results/<key>/ ...         older versions of a path whose file changed since
    OUT/superseded/dataset/video=<key>/ ...   (kept for reference; ``results/`` and ``dataset/`` hold
                                              only the current version of each video path)

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
SUPERSEDED_DIR = "superseded"
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
    rows = write_part(results, video_name, staging / PART_NAME)
    # len() would read the frame column of a table on disk; the analyser always records frames_analysed
    frames = results.metadata["frames_analysed"] if "frames_analysed" in results.metadata else len(results)
    manifest = {"frames": int(frames),
                "rows": int(rows), "video_name": video_name}
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


def retire_superseded(ledger, out: str | os.PathLike) -> int:
    """Move the outputs of jobs superseded by a new content at their path out of ``results/`` and ``dataset/``
    into ``superseded/`` (same layout), so that the data set holds one version of each video path.

    Idempotent and safe to call from several processes (a folder another one moved is skipped); runs after
    every :meth:`Ledger.finish` and at the start of every engine (finishes a move a killed run left undone).
    Also drops ``superseded/`` copies of videos that are current again.  Returns how many jobs it moved.
    """
    from vidaffect.batch.dataset import DATASET_DIR

    out = Path(out)
    current = {j.key for j in ledger.jobs("done")}
    moved = 0
    for old, _new in ledger.superseded_by_content():
        paths = old.output_paths
        if old.key in current or not paths or all(v.startswith(SUPERSEDED_DIR + "/") for v in paths.values()):
            continue
        for src_rel in (f"{RESULTS_DIR}/{old.key}", f"{DATASET_DIR}/video={old.key}"):
            src, dst = out / src_rel, out / SUPERSEDED_DIR / src_rel
            if not src.exists():
                continue
            dst.parent.mkdir(parents=True, exist_ok=True)
            if dst.exists():
                shutil.rmtree(dst, ignore_errors=True)
            try:
                os.replace(src, dst)
            except FileNotFoundError:  # moved by another process meanwhile
                pass
        ledger.set_outputs(old.id, {k: v if v.startswith(SUPERSEDED_DIR + "/") else f"{SUPERSEDED_DIR}/{v}"
                                    for k, v in paths.items()})
        moved += 1
    root = out / SUPERSEDED_DIR
    for sub, prefix in ((RESULTS_DIR, ""), (DATASET_DIR, "video=")):
        for d in (root / sub).glob("*") if (root / sub).is_dir() else []:
            if d.name[len(prefix):] in current:
                shutil.rmtree(d, ignore_errors=True)
    return moved
