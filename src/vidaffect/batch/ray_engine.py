"""``vidaffect batch --engine ray``: the same per-video work as Ray actors over a cluster.

Design (why not the ledger everywhere): SQLite locking is only safe between
processes of one machine on a local disk; over NFS or between nodes it can
corrupt the database.  So only the driver touches the ledger:

1. the driver enqueues and claims the jobs (owner = driver pid/host, with heartbeats);
2. each actor (models loaded once per actor; ``num_gpus=1`` when the cluster
   has GPUs and the device is ``cuda`` or ``auto``) analyses a video and writes its
   per-task result files under the shared storage URL (any fsspec URL:
   ``file:///nfs/corpus``, ``s3://bucket/prefix``, ``gs://...``; default
   ``OUT_DIR/.ray-staging``), the ``_SUCCESS.json`` manifest last;
3. the driver's commit step copies a finished task's files into the output
   directory, renames them into place (:func:`commit_staged`, same layout and
   Parquet data set as the local engine) and only then marks the row done.

A killed driver leaves its rows ``running`` with a dead owner: the next run
requeues and redoes them (per-task files of a dead run are simply replaced).
"""
from __future__ import annotations

import logging
import os
import shutil
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from vidaffect.batch.ledger import HOST, Ledger
from vidaffect.batch.outputs import (MANIFEST, clean_staging, commit_staged, new_staging_dir, retire_superseded,
                                     stage_results)
from vidaffect.batch.runner import BatchReport, _bar, prepare_jobs
from vidaffect.batch.worker import WorkerConfig, analyze_video
from vidaffect.errors import VidaffectError

log = logging.getLogger(__name__)
RAY_STAGING = ".ray-staging"


def _import_ray():
    try:
        import ray
    except ImportError:
        raise VidaffectError("--engine ray needs Ray: pip install 'vidaffect[ray]'") from None
    return ray


def _quiet_ray() -> None:
    """Silence Ray in this process (before and after ``ray.init``, which sets the ``ray`` logger's level)."""
    import warnings

    os.environ.setdefault("RAY_DEDUP_LOGS", "0")
    for name in ("ray", "ray.data", "ray.tune", "ray.train", "ray.serve"):
        logging.getLogger(name).setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", module=r"ray(\.|$)")


def _fs(url: str):
    import fsspec

    fs, root = fsspec.core.url_to_fs(url)
    return fs, root.rstrip("/")


class VideoActor:
    """Ray actor body: one Analyzer per actor, reused for every video it gets."""

    def __init__(self, config: WorkerConfig) -> None:
        import torch

        from vidaffect.pipeline.analyzer import Analyzer

        if config.threads:
            torch.set_num_threads(config.threads)
        self.config = config
        self.analyzer = Analyzer(config.analyze_options())

    def process(self, job: dict[str, Any], storage: str) -> dict[str, Any]:
        """Analyse one video and upload its result files to ``storage``/<task id>/ (manifest last)."""
        local = Path(tempfile.mkdtemp(prefix="vidaffect-ray-"))
        try:
            res = analyze_video(self.analyzer, job["path"])
            manifest = stage_results(res, local, job["name"], self.config.formats, self.config.plot)
            fs, root = _fs(storage)
            dest = f"{root}/{job['id']}-{uuid.uuid4().hex[:8]}"
            files = [p for p in sorted(local.rglob("*")) if p.is_file() and p.name != MANIFEST]
            for p in files + [local / MANIFEST]:
                target = f"{dest}/{p.relative_to(local).as_posix()}"
                fs.makedirs(target.rsplit("/", 1)[0], exist_ok=True)
                fs.put_file(str(p), target)
            return {"id": job["id"], "state": "done", "url": dest, "frames": manifest["frames"]}
        except Exception as exc:
            why = str(exc) if isinstance(exc, VidaffectError) else f"{type(exc).__name__}: {exc}"
            prefix = f"{job['path']}: "
            return {"id": job["id"], "state": "failed", "error": why[len(prefix):] if why.startswith(prefix) else why}
        finally:
            shutil.rmtree(local, ignore_errors=True)


def _commit(ledger: Ledger, out: Path, storage: str, r: dict[str, Any], key: str) -> dict[str, str]:
    """The commit step: fetch a task's files from storage, rename them into place, mark the job done."""
    fs, _ = _fs(storage)
    staging = new_staging_dir(out, key)
    try:
        for remote in fs.find(r["url"]):
            rel = remote[len(r["url"]):].lstrip("/")
            target = staging / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            fs.get_file(remote, str(target))
        outputs = commit_staged(staging, out, key)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    if ledger.finish(r["id"], outputs, r["frames"]):
        retire_superseded(ledger, out)
    fs.rm(r["url"], recursive=True)
    return outputs


class _DriverHeartbeat:
    """Keeps the driver's claimed rows alive in the ledger (for stale checks from other hosts)."""

    def __init__(self, out: Path, every: float = 5.0) -> None:
        self.out, self.every = out, every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        ledger = Ledger(self.out)
        try:
            while not self._stop.wait(self.every):
                ledger.db.execute("UPDATE jobs SET heartbeat = ? WHERE state = 'running' AND owner_pid = ? "
                                  "AND owner_host IS ?", (time.time(), os.getpid(), HOST))
        finally:
            ledger.close()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)


def run_ray(videos: list[Path], out: str | os.PathLike, options, formats=("csv", "parquet"), plot: bool = True,
            address: str | None = None, storage: str | None = None, workers: int = 2, threads: int = 1,
            progress: bool = True, requeue_failed: bool = False, quiet: bool = False,
            include_queued: bool = True) -> BatchReport:
    """Process ``videos`` into ``out`` with ``workers`` Ray actors; same ledger and outputs as the local engine.

    ``quiet``: Ray's own INFO/WARNING lines are silenced too (its loggers at ERROR, no worker logs on the
    driver), as for ``vidaffect batch -q``.
    """
    if quiet:
        _quiet_ray()
    ray = _import_ray()
    out = Path(out).resolve()
    storage = storage or (out / RAY_STAGING).as_uri()
    report = BatchReport()
    ledger = Ledger(out)
    clean_staging(out)
    retire_superseded(ledger, out)
    jobs = prepare_jobs(ledger, [Path(v).resolve() for v in videos], options, requeue_failed=requeue_failed,
                        report=report, outputs=set(formats) | ({"plot"} if plot else set()),
                        include_queued=include_queued)
    started_here = False
    if jobs and not ray.is_initialized():
        kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False}
        if quiet:
            kwargs["logging_level"] = logging.ERROR
        if address:
            kwargs["address"] = address
        else:
            kwargs["num_cpus"] = max(workers, 1)
        try:
            ray.init(**kwargs)
        except Exception as exc:
            ledger.close()
            raise VidaffectError(f"cannot {'connect to Ray at ' + address if address else 'start Ray'} "
                                 f"({type(exc).__name__}: {exc})") from None
        started_here = True
    claimed = [j for j in (ledger.claim(j.id) for j in jobs) if j is not None]
    beat = _DriverHeartbeat(out)
    config = WorkerConfig.build(out, options, formats, plot, threads)
    t0 = time.perf_counter()
    bar = _bar(len(claimed), progress)
    pending_ids = {j.id for j in claimed}
    try:
        if claimed:
            gpus = ray.cluster_resources().get("GPU", 0)
            use_gpu = (options.device.startswith("cuda") or options.device == "auto") and gpus > 0
            if options.device.startswith("cuda") and not gpus:
                raise VidaffectError(f"--device {options.device}: the Ray cluster has no GPUs")
            actor_cls = ray.remote(num_cpus=1, num_gpus=1 if use_gpu else 0)(VideoActor)
            actors = [actor_cls.remote(config) for _ in range(max(1, min(workers, len(claimed))))]
            pool = ray.util.ActorPool(actors)
            by_id = {j.id: j for j in claimed}
            for j in claimed:
                pool.submit(lambda a, job: a.process.remote(job, storage),
                            {"id": j.id, "path": j.path, "name": j.name})
            while pool.has_next():
                r = pool.get_next_unordered()
                job = by_id[r["id"]]
                if r["state"] == "done":
                    try:
                        _commit(ledger, out, storage, r, job.key)
                        report.done.append(job.path)
                        report.frames += r["frames"]
                    except Exception as exc:
                        ledger.fail(job.id, f"commit failed: {type(exc).__name__}: {exc}")
                        report.failed.append((job.path, f"commit failed: {exc}"))
                else:
                    ledger.fail(job.id, r["error"])
                    report.failed.append((job.path, r["error"]))
                pending_ids.discard(job.id)
                bar.update(1)
                bar.set_postfix(fps=f"{report.frames / max(time.perf_counter() - t0, 1e-9):.1f}",
                                failed=len(report.failed))
            for a in actors:
                ray.kill(a)
    finally:
        for job_id in pending_ids:  # interrupted: give unfinished jobs back
            ledger.requeue(job_id)
        beat.stop()
        bar.close()
        ledger.close()
        report.seconds = time.perf_counter() - t0
        if started_here:
            ray.shutdown()
    return report
