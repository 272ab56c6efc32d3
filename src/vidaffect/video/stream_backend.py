"""Network stream backend: ``rtsp://``, ``rtmp://``, ``http(s)://`` URLs read by FFmpeg through PyAV.

The URL goes to ``av.open`` as it is; everything else is the file backend's (:class:`PyAVReader`): real
timestamps, ``fps``/``start``/``end``, damaged data skipped and recorded.  A video file served over HTTP is
read to its end (the server should answer range requests, as every web server does, for MP4 files whose
index is at the end); a live stream is read until it ends, so give ``--end``.  RTSP is read over TCP.
Opening, and each read, give up after :data:`STREAM_TIMEOUT_S` seconds without data.

Messages and metadata never show the URL's password or query string (signed URLs carry their tokens
there): ``rtsp://user:***@cam/live?***``.  The result set's default name is built from host, port and
path (``cam_554_live``).
"""
from __future__ import annotations

import re
from pathlib import PurePosixPath
from urllib.parse import unquote, urlsplit

import av

from vidaffect.errors import VideoError
from vidaffect.video.formats import STREAM_SCHEMES
from vidaffect.video.pyav_backend import PyAVReader, av_open, require_video

STREAM_TIMEOUT_S = 10.0  # seconds without data before opening or reading a stream fails

_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")


def url_scheme(source: object) -> str | None:
    """The lower-case scheme of a ``scheme://...`` string, else None."""
    if not isinstance(source, str):
        return None
    m = _SCHEME.match(source)
    return m.group(1).lower() if m else None


def redact_url(url: str) -> str:
    """``url`` without its password and query string (``user:***@``, ``?***``), for messages and metadata."""
    try:
        u = urlsplit(url)
        host = u.hostname or ""
        port = u.port
    except ValueError:  # a malformed netloc: show the scheme and path only
        u = urlsplit(url.split("@")[-1] if "@" in url else url)
        return f"{url_scheme(url)}://***{u.path}"
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    user = f"{u.username}:***@" if u.password is not None else f"{u.username}@" if u.username else ""
    netloc = f"{user}{host}{f':{port}' if port else ''}"
    return f"{u.scheme}://{netloc}{u.path}{'?***' if u.query else ''}"


def url_name(url: str) -> str:
    """A file-name-safe name for a URL's result set: host, port and path without extension, runs of other
    characters turned into ``_`` (``rtsp://cam.local:554/live/ch1`` -> ``cam.local_554_live_ch1``)."""
    try:
        u = urlsplit(url)
        host, port = u.hostname or "", u.port
    except ValueError:
        u, host, port = urlsplit(url), "", None
    path = PurePosixPath(unquote(u.path))
    path = path.with_suffix("") if path.suffix and path.name != path.suffix else path
    raw = "_".join(str(x) for x in (host, port, str(path).strip("/")) if x)
    name = re.sub(r"[^A-Za-z0-9.-]+", "_", raw).strip("._-")[:80].rstrip("._-")
    return name or "stream"


def _why(exc: Exception) -> str:
    return getattr(exc, "strerror", None) or type(exc).__name__


class StreamReader(PyAVReader):
    """Frames of a network stream (see the module docstring)."""

    def __init__(self, url: str, fps: float | None = None, start: float | None = None, end: float | None = None,
                 threads: bool = True, strict: bool = False, timeout_s: float = STREAM_TIMEOUT_S) -> None:
        scheme = url_scheme(url)
        if scheme not in STREAM_SCHEMES:
            raise VideoError(f"{redact_url(url) if scheme else url}: not a stream URL; vidaffect reads "
                             f"{', '.join(s + '://' for s in STREAM_SCHEMES)}")
        self.url = url
        self.timeout_s = timeout_s
        super().__init__(url, fps=fps, start=start, end=end, threads=threads, strict=strict)

    _as_path = staticmethod(redact_url)
    can_skip = False  # a stream is not the same data twice: --resume starts it again

    @property
    def live(self) -> bool:  # no announced length: a live stream (or one that does not say)
        return not self.info.duration_s

    def _kind_and_name(self) -> tuple[str, str]:
        return "stream", url_name(self.url)

    def _open(self) -> av.container.InputContainer:
        options = {"rtsp_transport": "tcp"} if url_scheme(self.url) in ("rtsp", "rtsps") else {}
        kwargs = dict(options=options, timeout=(self.timeout_s, self.timeout_s))
        try:
            container = av_open(self.url, **kwargs)
        except av.error.FFmpegError as exc:
            why = _why(exc)
            if "exit" in why.lower():  # PyAV's timeout interrupts FFmpeg with "Immediate exit requested"
                why = f"no answer within {self.timeout_s:g} s"
            raise VideoError(f"{self.path}: cannot open the stream ({why})") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise VideoError(f"{self.path}: cannot open the stream ({exc})") from None
        require_video(container, str(self.path), "audio only")
        return container

