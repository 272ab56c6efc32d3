"""The FastAPI application of ``vidaffect serve``.

Routes: ``POST /jobs`` (multipart: a ``file`` upload or a server-side ``path``
inside the allowed root), ``GET /jobs``, ``GET /jobs/{id}``,
``GET /jobs/{id}/results?format=csv|json|parquet``, ``GET /jobs/{id}/plot.png``,
``GET /health``, ``GET /models``; the OpenAPI schema at ``/openapi.json`` and
``/docs``.  With a token, every route but ``/health`` needs
``Authorization: Bearer <token>``.

Limits (:class:`Guard`, a pure ASGI middleware in front of everything): the
upload size is enforced on the bytes as they arrive, whatever the client
announces (``Content-Length`` or ``Transfer-Encoding: chunked``), so an
oversized body gets 413 and a closed connection before more than the limit was
read or spooled.  Names and paths from clients are validated (:func:`check_name`,
:func:`confine`) and job ids are bounded, so hostile values get a 4xx, never a 500.
"""
from __future__ import annotations

import hmac
import logging
import os
import uuid
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

from fastapi import FastAPI, File, Form, HTTPException, Query, UploadFile
from fastapi import Path as PathParam
from fastapi.responses import FileResponse, JSONResponse
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from vidaffect.batch.ledger import Job, Ledger, content_hash, settings_hash
from vidaffect.batch.worker import WorkerConfig
from vidaffect.service.dispatcher import Dispatcher
from vidaffect.video.formats import DEFAULT_EXTS, parse_exts

log = logging.getLogger("vidaffect.service")
UPLOADS_DIR = "uploads"
MEDIA_TYPES = {"csv": "text/csv", "json": "application/json", "parquet": "application/vnd.apache.parquet"}
MAX_JOB_ID = (1 << 63) - 1  # SQLite INTEGER
MAX_PATH_CHARS = 4096  # a server-side `path` (PATH_MAX)
# Longest file name (UTF-8 bytes) of an upload or a server-side video: its stem names the output folder
# (<stem>-<hash10>), the staging folder (<stem>-<hash10>.<pid>.<rand8>) and the result files
# (<stem>.frames.parquet...), which must stay under the file systems' 255 bytes.
MAX_NAME_BYTES = 200
MULTIPART_SLACK = 64 << 10  # multipart boundaries and headers around the file's bytes


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


def _hidden(text: str | None, hide: tuple[tuple[str, str], ...]) -> str | None:
    """``text`` with each (server path, placeholder) pair of ``hide`` replaced."""
    for secret, placeholder in hide:
        if text and secret:
            text = text.replace(secret, placeholder)
    return text


def _job_view(job: Job, hide: tuple[tuple[str, str], ...] = ()) -> dict[str, Any]:
    """The public view of a job; ``hide``: (server path, placeholder) pairs replaced in its error text."""
    error = _hidden(job.error, hide)
    return {"id": job.id, "state": job.state, "progress": round(job.progress, 3), "name": job.name,
            "size": job.size, "attempts": job.attempts, "error": error, "frames": job.frames,
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


def _show(value: str, limit: int = 60) -> str:
    """``repr`` of a client's string for an error message, cut to ``limit`` characters."""
    r = repr(value)
    return r if len(r) <= limit else f"{r[:limit - 4]}...{r[-1]}"


def check_name(name: str, what: str = "file name") -> None:
    """400 unless ``name`` is a usable video file name: no control characters (NUL, newline...), valid
    UTF-8, at most :data:`MAX_NAME_BYTES` bytes."""
    if any(ord(c) < 32 or ord(c) == 127 for c in name):
        raise HTTPException(400, f"{what} {_show(name)}: control characters (NUL, newline...) are not allowed")
    try:
        size = len(name.encode("utf-8"))
    except UnicodeEncodeError:
        raise HTTPException(400, f"{what} {_show(name)} is not valid UTF-8") from None
    if size > MAX_NAME_BYTES:
        raise HTTPException(400, f"{what} {_show(name)} is {size} bytes long; at most {MAX_NAME_BYTES} are allowed")


def confine(root: Path, requested: str) -> Path:
    """Resolve ``requested`` inside ``root``; 403 on ``..`` or a symlink that leads outside, 400 on control
    characters or an overlong path, 404 when it names no file."""
    if len(requested) > MAX_PATH_CHARS:
        raise HTTPException(400, f"path of {len(requested)} characters; at most {MAX_PATH_CHARS} are allowed")
    if any(ord(c) < 32 or ord(c) == 127 for c in requested):
        raise HTTPException(400, f"path {_show(requested)}: control characters (NUL, newline...) are not allowed")
    rel = Path(requested)
    if rel.is_absolute():
        try:
            rel = rel.relative_to(root)
        except ValueError:
            raise HTTPException(403, f"path {_show(requested)} is outside the allowed root") from None
    if ".." in rel.parts:
        raise HTTPException(403, f"path {_show(requested)}: '..' is not allowed")
    try:
        resolved = (root / rel).resolve()
        inside = resolved == root or root in resolved.parents
        exists = inside and resolved.is_file()
    except (OSError, ValueError, RuntimeError):  # too long, undecodable, a symlink loop...: no such file here
        raise HTTPException(404, f"path {_show(requested)}: no such file under the allowed root") from None
    if not inside:
        raise HTTPException(403, f"path {_show(requested)} leads outside the allowed root")
    if not exists:
        raise HTTPException(404, f"path {_show(requested)}: no such file under the allowed root")
    return resolved


class UploadTooLarge(StarletteHTTPException):
    """413 raised while the request body arrives; ``Connection: close`` so that the server reads no more."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"upload larger than {limit} bytes", headers={"Connection": "close"})


class Guard:
    """Pure ASGI middleware: the bearer token (every route but ``/health``) and the upload size limit.

    ``POST /jobs`` bodies are counted as they arrive, announced length or not (``Transfer-Encoding:
    chunked``): once more than ``max_body`` bytes came in, :class:`UploadTooLarge` is raised inside the form
    parser (FastAPI turns it into the 413 response), so nothing beyond the limit is read or spooled to a
    temporary file, and the connection is closed.  A ``Content-Length`` over the limit is refused before
    any body byte is read.
    """

    def __init__(self, app, token: str | None, max_body: int) -> None:
        self.app, self.token, self.max_body = app, token, max_body

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        path = scope.get("path", "")
        headers = {k.lower(): v for k, v in scope.get("headers", [])}
        if self.token and path != "/health":
            auth = headers.get(b"authorization", b"")
            given = auth[7:] if auth[:7].lower() == b"bearer " else b""
            if not hmac.compare_digest(given, self.token.encode()):
                return await JSONResponse({"detail": "missing or wrong bearer token"}, status_code=401,
                                          headers={"WWW-Authenticate": "Bearer"})(scope, receive, send)
        if scope.get("method") != "POST" or path != "/jobs":
            return await self.app(scope, receive, send)
        length = headers.get(b"content-length", b"")
        if length.isdigit() and int(length) > self.max_body:
            return await self._too_large(scope, receive, send)
        received = 0
        started = False

        async def counted_receive():
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body:
                    raise UploadTooLarge(self.max_body - MULTIPART_SLACK)
            return message

        async def tracked_send(message):
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted_receive, tracked_send)
        except UploadTooLarge:  # not turned into a response inside (normally it is)
            if not started:
                await self._too_large(scope, receive, send)

    async def _too_large(self, scope, receive, send) -> None:
        limit = self.max_body - MULTIPART_SLACK
        await JSONResponse({"detail": f"upload larger than {limit} bytes"}, status_code=413,
                           headers={"Connection": "close"})(scope, receive, send)


JobId = Annotated[int, PathParam(ge=1, le=MAX_JOB_ID, description="a job id")]


def create_app(config: ServiceConfig) -> FastAPI:
    """Build the app; the dispatcher (worker pool) starts and stops with it."""
    out = config.out.resolve()
    root = config.root.resolve() if config.root else None
    options = config.options
    shash, described = settings_hash(options)
    worker_config = WorkerConfig.build(out, options, ("csv", "json", "parquet"), True, config.threads)
    dispatcher = Dispatcher(out, worker_config, config.workers, settings=shash)

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

    # server paths never reach clients (a job's error may name its staging folder or the video's path)
    hide = tuple((str(p), name) for p, name in ((out, "<out>"), (root, "<root>")) if p is not None)
    hide = tuple(sorted(hide, key=lambda h: -len(h[0])))
    app.add_middleware(Guard, token=config.token, max_body=config.max_upload_bytes + MULTIPART_SLACK)

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
        name = Path(file.filename or "").name
        check_name(name, "upload file name")
        suffix = Path(name).suffix.lower()
        if suffix not in config.exts:
            raise HTTPException(415, f"{_show(name)}: extension {_show(suffix) if suffix else '(none)'} not "
                                     f"allowed; allowed: {', '.join(sorted(config.exts))}")
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
                raise HTTPException(415, f"{_show(name)} is not a readable video ({why})")
            os.replace(tmp, dest)
        finally:
            tmp.unlink(missing_ok=True)
        return dest

    @app.post("/jobs", status_code=202, summary="Submit a video: upload it (`file`) or name a file under the server's root (`path`)")
    async def submit(file: UploadFile | None = File(None, description="the video to analyse (file name: at most "
                                                      f"{MAX_NAME_BYTES} bytes, no control characters)"),
                     path: str | None = Form(None, max_length=MAX_PATH_CHARS,
                                             description="a video path relative to the server's --root")):
        if (file is None) == (path is None):
            raise HTTPException(400, "give exactly one of the form fields 'file' (upload) or 'path' (server-side)")
        if file is not None:
            saved = await _save_upload(file)
            job, what = await run_in_threadpool(_enqueue, saved, Path(file.filename or saved.name).name, True)
        else:
            if root is None:
                raise HTTPException(403, "server-side paths are disabled (start the server with --root DIR)")
            target = confine(root, path)
            check_name(target.name)
            if target.suffix.lower() not in config.exts:
                ext = _show(target.suffix) if target.suffix else "(none)"
                raise HTTPException(415, f"{_show(path)}: extension {ext} not allowed")
            why = await run_in_threadpool(sniff_video, target)
            if why is not None:
                raise HTTPException(415, f"{_show(path)} is not a readable video ({why})")
            job, what = await run_in_threadpool(_enqueue, target, target.name, False)
        view = _job_view(job, hide)
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
            return [_job_view(j, hide) for j in lg.jobs(state)]
        finally:
            lg.close()

    @app.get("/jobs/{job_id}", summary="State and progress of a job")
    def get_job(job_id: JobId):
        return _job_view(_get(job_id), hide)

    def _done_file(job_id: int, kind: str) -> Path:
        job = _get(job_id)
        if job.state != "done":
            why = f": {_hidden(job.error, hide)}" if job.error else ""
            raise HTTPException(409, f"job {job_id} is {job.state}{why}")
        rel = job.output_paths.get(kind)
        if not rel or not (out / rel).is_file():
            raise HTTPException(404, f"job {job_id} has no {kind} output")
        return out / rel

    @app.get("/jobs/{job_id}/results", summary="Per-frame, per-face results of a finished job")
    def results(job_id: JobId, format: str = Query("csv", pattern="^(csv|json|parquet)$")):
        p = _done_file(job_id, format)
        return FileResponse(p, media_type=MEDIA_TYPES[format], filename=p.name)

    @app.get("/jobs/{job_id}/plot.png", summary="VA trend and emotion timeline plot of a finished job")
    def plot(job_id: JobId):
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
