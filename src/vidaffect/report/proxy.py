"""Low-resolution H.264 proxy of a video, for embedding in the report when the source cannot be linked."""
from __future__ import annotations

import base64
import tempfile
from pathlib import Path

import av
import numpy as np

from vidaffect.errors import OutputError
from vidaffect.report.frames_at import rotate
from vidaffect.report.transcode import even, transcode
from vidaffect.video import open_video

# Containers and codecs that browsers play natively (so the report can link the source itself).
BROWSER_CONTAINERS = {".mp4", ".m4v", ".webm", ".mov"}
BROWSER_CODECS = {"h264", "vp8", "vp9", "av1"}


def browser_playable(path: str | Path) -> bool:
    """Whether common browsers play ``path`` as it is (H.264/VP8/VP9/AV1 in MP4/WebM/MOV)."""
    path = Path(path)
    if path.suffix.lower() not in BROWSER_CONTAINERS:
        return False
    try:
        info = open_video(path).info
    except Exception:  # noqa: BLE001 - unreadable: not playable either
        return False
    return info.codec in BROWSER_CODECS and not info.rotation


def encode_proxy(source: str | Path, out_path: str | Path, height: int = 240, crf: int = 30,
                 time_range: tuple[float, float] | None = None, stats: dict | None = None) -> Path:
    """Write an H.264 MP4 of ``source`` scaled to ``height`` pixels (never up), same timestamps, audio kept.

    With ``time_range`` (seconds, as ``Results.frames.time_s``) only that part is encoded, starting at
    time 0; ``stats["offset_s"]`` receives the source time of its first frame (see :func:`transcode`)."""
    if "libx264" not in av.codecs_available:
        raise OutputError(f"{source}: cannot make a browser-playable proxy: this PyAV build has no libx264")
    info = open_video(source).info
    rotation = int(info.rotation or 0)
    h = even(min(height, info.height))
    w = even(round(info.width * h / max(info.height, 1)))

    def shrink(index: int, frame):
        if rotation:
            from PIL import Image

            image = rotate(frame.to_ndarray(format="rgb24"), rotation)
            return np.asarray(Image.fromarray(image).resize((w, h), Image.BILINEAR))
        return frame.reformat(width=w, height=h, format="yuv420p")

    return transcode(source, out_path, shrink, (w, h), codec="libx264", crf=crf, desc="proxy",
                     time_range=time_range, stats=stats)


def proxy_data_uri(source: str | Path, height: int = 240, crf: int = 30,
                   time_range: tuple[float, float] | None = None) -> tuple[str, float]:
    """The proxy of ``source`` (only ``time_range`` when given) as a ``data:video/mp4;base64,...`` URI, and
    the source time its first frame shows (0 for the whole video): add it to the player's ``currentTime``
    to get the analysis time."""
    stats: dict = {}
    with tempfile.TemporaryDirectory(prefix="vidaffect-proxy-") as tmp:
        path = encode_proxy(source, Path(tmp) / "proxy.mp4", height=height, crf=crf, time_range=time_range,
                            stats=stats)
        uri = "data:video/mp4;base64," + base64.b64encode(path.read_bytes()).decode("ascii")
    return uri, float(stats.get("offset_s", 0.0)) if time_range is not None else 0.0
