"""The video file extensions every command looks for by default (analyze, batch, watch, serve, people)."""
from __future__ import annotations

# One list for every command: containers FFmpeg (PyAV) decodes that cameras, recorders and exports produce.
VIDEO_EXTENSIONS: tuple[str, ...] = ("mp4", "avi", "mov", "mkv", "webm", "wmv", "m4v", "mpg", "mpeg", "flv", "3gp",
                                     "ts", "mts")
# The same as the comma-separated default of the ``--video-exts`` options.
DEFAULT_EXTS = ",".join(VIDEO_EXTENSIONS)


def parse_exts(exts: str) -> frozenset[str]:
    """``"mp4, .MKV"`` -> ``{".mp4", ".mkv"}`` (lower case, with the dot)."""
    return frozenset("." + e.strip().lower().lstrip(".") for e in exts.split(",") if e.strip())

# Names of files still being written (browsers, download tools, rsync's ".name.XXXXXX", editors): never videos yet.
IN_PROGRESS_PATTERNS: tuple[str, ...] = ("*.part", "*.tmp", "*.crdownload", "*.partial", "*.download", ".*")
# Default of `vidaffect watch --settle`: seconds a file must stay unchanged before it is analysed.  30 s is
# longer than the pauses seen in practice: recorders (OBS, ffmpeg, cameras' upload tools) write at least every
# few seconds, SMB/NFS copies stall for several seconds under load, and NFS clients may show attributes up to
# a few seconds old (acregmin 3 s) while a file changes; a local drop folder can use a few seconds.
DEFAULT_SETTLE_S = 30.0

# Still images that `analyze` takes as inputs (decoded with OpenCV): one file is one frame; a folder of them is a
# frame sequence (see docs/pipeline.md, "Inputs").
IMAGE_EXTENSIONS: tuple[str, ...] = ("png", "jpg", "jpeg", "jpe", "bmp", "webp", "tif", "tiff", "ppm", "pgm", "pbm",
                                     "pnm")
DEFAULT_IMAGE_EXTS = ",".join(IMAGE_EXTENSIONS)
# Frame rate given to inputs without timestamps (image folders, NumPy frame stacks) unless --image-fps says
# otherwise: one image a second, so that time_s of the i-th image is i.
DEFAULT_IMAGE_FPS = 1.0
# URL schemes read as network streams through FFmpeg (PyAV).
STREAM_SCHEMES: tuple[str, ...] = ("rtsp", "rtsps", "rtmp", "rtmps", "http", "https")
# `vidaffect analyze webcam:N` (and `analyze(N)` in Python): camera N of OpenCV's VideoCapture.
WEBCAM_PREFIX = "webcam:"
