"""The FastAPI application of ``vidaffect serve``.

Routes: ``POST /jobs`` (multipart: a ``file`` upload or a server-side ``path``
inside the allowed root), ``GET /jobs``, ``GET /jobs/{id}``,
``GET /jobs/{id}/results?format=csv|json|parquet``, ``GET /jobs/{id}/plot.png``,
``GET /health``, ``GET /models``; the OpenAPI schema at ``/openapi.json`` and
``/docs``.  With a token, every route but ``/health`` needs
``Authorization: Bearer <token>``.
"""
from __future__ import annotations

import hmac
import logging
import os
import uuid
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi import FastAPI, File, Form, HTTPException, Query, Request, UploadFile
from fastapi.responses import FileResponse, JSONResponse
from starlette.concurrency import run_in_threadpool

from vidaffect.batch.ledger import Job, Ledger, content_hash, settings_hash
from vidaffect.batch.worker import WorkerConfig
from vidaffect.service.dispatcher import Dispatcher
from vidaffect.video.formats import DEFAULT_EXTS, parse_exts

log = logging.getLogger("vidaffect.service")
UPLOADS_DIR = "uploads"
MEDIA_TYPES = {"csv": "text/csv", "json": "application/json", "parquet": "application/vnd.apache.parquet"}


@dataclass
class ServiceConfig:
    """Settings of one server."""

    out: Path
    options: Any  # AnalyzeOptions
    root: Path | None = None  # server-side paths must lie inside it (None: path jobs disabled)
    token: str | None = None
    max_upload_bytes: int = 2 << 30
    exts: frozenset[str] = field(default_factory=lambda: parse_exts(DEFAULT_EXTS))
    workers: int = 1
    threads: int = 1


def _job_view(job: Job) -> dict[str, Any]:
    return {"id": job.id, "state": job.state, "progress": round(job.progress, 3), "name": job.name,
            "size": job.size, "attempts": job.attempts, "error": job.error, "frames": job.frames,
            "queued_at": job.queued_at, "started_at": job.started_at, "finished_at": job.finished_at,
            "seconds": job.seconds, "content_hash": job.content_hash, "superseded_by": job.superseded_by,
            "links": {"self": f"/jobs/{job.id}", "results": f"/jobs/{job.id}/results?format=csv",
                      "plot": f"/jobs/{job.id}/plot.png"}}


def sniff_video(path: Path) -> str | None:
    """None when ``path`` holds a decodable video stream, else the reason it is not a video."""
    from vidaffect.errors import VidaffectError
    from vidaffect.video import open_video

    try:
        reader = open_video(path, end=0.2)
        for _ in reader:
            return None
        return "no decodable video frame"
    except VidaffectError as exc:
        return str(exc).replace(f"{path}: ", "")
    except Exception as exc:  # any decoder failure means "not a video we can read"
        return f"{type(exc).__name__}"


def confine(root: Path, requested: str) -> Path:
    """Resolve ``requested`` inside ``root``; 403 on ``..`` or a symlink that leads outside."""
    rel = Path(requested)
    if rel.is_absolute():
        try:
            rel = rel.relative_to(root)
        except ValueError:
            raise HTTPException(403, f"path {requested!r} is outside the allowed root") from None
    if ".." in rel.parts:
        raise HTTPException(403, f"path {requested!r}: '..' is not allowed")
    resolved = (root / rel).resolve()
    if resolved != root and root not in resolved.parents:
        raise HTTPException(403, f"path {requested!r} leads outside the allowed root")
    if not resolved.is_file():
        raise HTTPException(404, f"path {requested!r}: no such file under the allowed root")
    return resolved


def create_app(config: ServiceConfig) -> FastAPI:
    """Build the app; the dispatcher (worker pool) starts and stops with it."""
    out = config.out.resolve()
    root = config.root.resolve() if config.root else None
    options = config.options
    shash, described = settings_hash(options)
    worker_config = WorkerConfig.build(out, options, ("csv", "json", "parquet"), True, config.threads)
    dispatcher = Dispatcher(out, worker_config, config.workers)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        ledger = Ledger(out)
        ledger.remember_settings(shash, described)
        ledger.close()
        (out / UPLOADS_DIR).mkdir(parents=True, exist_ok=True)
        dispatcher.start()
        try:
            yield
        finally:
            await run_in_threadpool(dispatcher.stop)

    app = FastAPI(title="vidaffect", summary="Frame-by-frame, face-by-face emotion analysis of videos",
                  version=__import__("vidaffect").__version__, lifespan=lifespan)

    def ledger() -> Ledger:
        return Ledger(out)

    @app.middleware("http")
    async def limits_and_auth(request: Request, call_next):
        if config.token and request.url.path != "/health":
            auth = request.headers.get("authorization", "")
            given = auth[7:] if auth.lower().startswith("bearer ") else ""
            if not hmac.compare_digest(given.encode(), config.token.encode()):
                return JSONResponse({"detail": "missing or wrong bearer token"}, status_code=401,
                                    headers={"WWW-Authenticate": "Bearer"})
        if request.method == "POST" and request.url.path == "/jobs":
            length = request.headers.get("content-length")
            if length and length.isdigit() and int(length) > config.max_upload_bytes + (64 << 10):
                return JSONResponse({"detail": f"upload larger than {config.max_upload_bytes} bytes"}, status_code=413)
        return await call_next(request)

    def _enqueue(path: Path, name: str, uploaded: bool) -> tuple[Job, str]:
        chash = content_hash(path)
        lg = ledger()
        try:
            job, what = lg.enqueue(path, chash, shash, path.stat().st_size, source="service", name=name,
                                   requeue_failed=True)
        finally:
            lg.close()
        if uploaded and what not in ("new", "requeued"):
            path.unlink(missing_ok=True)  # same video already known: keep the first copy only
        dispatcher.wake.set()
        return job, what

    async def _save_upload(file: UploadFile) -> Path:
        suffix = Path(file.filename or "").suffix.lower()
        if suffix not in config.exts:
            raise HTTPException(415, f"{file.filename!r}: extension {suffix or '(none)'} not allowed; "
                                     f"allowed: {', '.join(sorted(config.exts))}")
        dest = out / UPLOADS_DIR / f"{uuid.uuid4().hex}{suffix}"
        tmp = dest.with_name("." + dest.name + ".part")
        size = 0
        try:
            with open(tmp, "wb") as f:
                while chunk := await file.read(1 << 20):
                    size += len(chunk)
                    if size > config.max_upload_bytes:
                        raise HTTPException(413, f"upload larger than {config.max_upload_bytes} bytes")
                    f.write(chunk)
            if size == 0:
                raise HTTPException(422, "empty upload")
            why = await run_in_threadpool(sniff_video, tmp)
            if why is not None:
                raise HTTPException(415, f"{file.filename!r} is not a readable video ({why})")
            os.replace(tmp, dest)
        finally:
            tmp.unlink(missing_ok=True)
        return dest

    @app.post("/jobs", status_code=202, summary="Submit a video: upload it (`file`) or name a file under the server's root (`path`)")
    async def submit(file: UploadFile | None = File(None, description="the video to analyse"),
                     path: str | None = Form(None, description="a video path relative to the server's --root")):
        if (file is None) == (path is None):
            raise HTTPException(400, "give exactly one of the form fields 'file' (upload) or 'path' (server-side)")
        if file is not None:
            saved = await _save_upload(file)
            job, what = await run_in_threadpool(_enqueue, saved, Path(file.filename or saved.name).name, True)
        else:
            if root is None:
                raise HTTPException(403, "server-side paths are disabled (start the server with --root DIR)")
            target = confine(root, path)
            if target.suffix.lower() not in config.exts:
                raise HTTPException(415, f"{path!r}: extension {target.suffix or '(none)'} not allowed")
            why = await run_in_threadpool(sniff_video, target)
            if why is not None:
                raise HTTPException(415, f"{path!r} is not a readable video ({why})")
            job, what = await run_in_threadpool(_enqueue, target, target.name, False)
        view = _job_view(job)
        view["submitted"] = what
        return view

    def _get(job_id: int) -> Job:
        lg = ledger()
        try:
            job = lg.get(job_id)
        finally:
            lg.close()
        if job is None:
            raise HTTPException(404, f"no job {job_id}")
        return job

    @app.get("/jobs", summary="List jobs (newest last)")
    def list_jobs(state: str | None = Query(None, pattern="^(queued|running|done|failed|superseded)$")):
        lg = ledger()
        try:
            return [_job_view(j) for j in lg.jobs(state)]
        finally:
            lg.close()

    @app.get("/jobs/{job_id}", summary="State and progress of a job")
    def get_job(job_id: int):
        return _job_view(_get(job_id))

    def _done_file(job_id: int, kind: str) -> Path:
        job = _get(job_id)
        if job.state != "done":
            raise HTTPException(409, f"job {job_id} is {job.state}" + (f": {job.error}" if job.error else ""))
        rel = job.output_paths.get(kind)
        if not rel or not (out / rel).is_file():
            raise HTTPException(404, f"job {job_id} has no {kind} output")
        return out / rel

    @app.get("/jobs/{job_id}/results", summary="Per-frame, per-face results of a finished job")
    def results(job_id: int, format: str = Query("csv", pattern="^(csv|json|parquet)$")):
        p = _done_file(job_id, format)
        return FileResponse(p, media_type=MEDIA_TYPES[format], filename=p.name)

    @app.get("/jobs/{job_id}/plot.png", summary="VA trend and emotion timeline plot of a finished job")
    def plot(job_id: int):
        return FileResponse(_done_file(job_id, "plot"), media_type="image/png")

    @app.get("/health", summary="Liveness and queue counts (no token needed)")
    def health():
        lg = ledger()
        try:
            counts = lg.counts()
        finally:
            lg.close()
        return {"status": "ok", "workers": config.workers, "jobs": counts}

    @app.get("/models", summary="Registered models and the one this server uses")
    def models():
        from vidaffect.models.registry import model_entries

        return {"serving": options.model, "models": model_entries()}

    return app
