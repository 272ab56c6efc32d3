"""Still-image backend: one image file as a one-frame input, a folder of images as a sequence of stills.

Images are decoded by OpenCV (``cv2.imdecode``: EXIF orientation applied, alpha dropped, grey and 16-bit
images turned into 8-bit RGB).  A single image is frame 0 at 0 s.  A folder's images (the files with an
image extension directly in it, not in subfolders; hidden files left out) are taken in natural name order
(``img2.png`` before ``img10.png``): image ``i`` is frame ``i`` at ``i / image_fps`` seconds (default 1 fps,
so ``time_s`` counts images), and ``fps``, ``start`` and ``end`` choose images on these timestamps as they
choose a video's frames.  The images may differ in size (``info`` gives the first one's).  An image that
cannot be decoded is skipped, recorded in ``damaged`` (its ``file`` and ``error``) and logged as a warning;
``strict=True`` raises instead.

Both readers are *stills* (:attr:`FrameReader.stills`): the analyser searches every image for faces on its
own, as a photo, without the video rules (optical flow between detections, a second sighting to confirm a
face); see docs/pipeline.md, "Inputs".
"""
from __future__ import annotations

import logging
import math
import os
import re
from pathlib import Path
from typing import Iterator

import cv2
import numpy as np

from vidaffect.errors import VideoError
from vidaffect.video.base import FrameReader, TimeSampler, check_time_options
from vidaffect.video.formats import DEFAULT_IMAGE_FPS, IMAGE_EXTENSIONS, VIDEO_EXTENSIONS
from vidaffect.video.types import VideoFrame, VideoInfo

log = logging.getLogger(__name__)

def is_image_path(path: str | os.PathLike, exts: frozenset[str] | None = None) -> bool:
    """True when ``path``'s extension is an image extension (``exts``: with the dot, lower case)."""
    suffix = Path(path).suffix.lower()
    return suffix in exts if exts is not None else suffix.lstrip(".") in IMAGE_EXTENSIONS


def natural_key(name: str) -> list:
    """Sort key that orders the digit runs of a name by value: ``img2`` before ``img10``."""
    return [int(part) if part.isdigit() else part.casefold() for part in re.split(r"(\d+)", name)]


def list_images(folder: str | os.PathLike, exts: frozenset[str] | None = None) -> list[Path]:
    """The image files directly in ``folder`` (hidden files left out), in natural name order."""
    files = [p for p in Path(folder).iterdir() if p.is_file() and not p.name.startswith(".") and is_image_path(p, exts)]
    return sorted(files, key=lambda p: natural_key(p.name))


def read_image(path: str | os.PathLike) -> np.ndarray:
    """Decode one image file to uint8 (H, W, 3) RGB; :class:`VideoError` (one line) when it cannot be read."""
    p = Path(path)
    if not p.exists():
        raise VideoError(f"{p}: file not found")
    if p.is_dir():
        raise VideoError(f"{p}: is a directory, not an image file")
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise VideoError(f"{p}: cannot open ({exc.strerror or exc})") from None
    if not data:
        raise VideoError(f"{p}: empty file (0 bytes)")
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if image is None or image.size == 0:
        raise VideoError(f"{p}: not a readable image")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def _codec(path: Path) -> str:
    ext = path.suffix.lower().lstrip(".")
    return {"jpg": "jpeg", "jpe": "jpeg", "tif": "tiff"}.get(ext, ext or "image")


class ImageReader(FrameReader):
    """One image file as an input of one frame (index 0 at 0 s); ``--start`` after 0 leaves nothing."""

    stills = True

    def __init__(self, path: str | os.PathLike, fps: float | None = None, start: float | None = None,
                 end: float | None = None) -> None:
        super().__init__()
        self.path = Path(path)
        check_time_options(self.path, fps, start, end)
        self.fps, self.start, self.end = fps, start, end
        image = read_image(self.path)
        h, w = image.shape[:2]
        self.info = VideoInfo(str(self.path), w, h, 0.0, 0.0, 1, 0, _codec(self.path), False, "image", self.path.stem)

    def __iter__(self) -> Iterator[VideoFrame]:
        self.damaged = []
        if TimeSampler(self.fps, self.start, self.end)(0.0) == TimeSampler.TAKE:
            yield VideoFrame(0, 0.0, read_image(self.path))


class ImageFolderReader(FrameReader):
    """The images of a folder as a sequence of stills at ``image_fps`` (see the module docstring)."""

    stills = True

    def __init__(self, folder: str | os.PathLike, fps: float | None = None, start: float | None = None,
                 end: float | None = None, image_fps: float | None = None,
                 exts: frozenset[str] | None = None, strict: bool = False) -> None:
        super().__init__()
        self.path = Path(folder)
        check_time_options(self.path, fps, start, end)
        image_fps = DEFAULT_IMAGE_FPS if image_fps is None else image_fps
        if not math.isfinite(image_fps) or image_fps <= 0:
            raise VideoError(f"{self.path}: --image-fps must be a positive number of images a second, got {image_fps}")
        self.fps, self.start, self.end, self.image_fps = fps, start, end, float(image_fps)
        self.strict = strict
        if not self.path.is_dir():
            raise VideoError(f"{self.path}: not a folder")
        try:
            self.files = list_images(self.path, exts)
        except OSError as exc:
            raise VideoError(f"{self.path}: cannot list the folder ({exc.strerror or exc})") from None
        if not self.files:
            shown = ", ".join(sorted(e.lstrip(".") for e in exts)) if exts is not None else ", ".join(IMAGE_EXTENSIONS)
            videos = sum(1 for p in self.path.iterdir() if p.suffix.lower().lstrip(".") in VIDEO_EXTENSIONS)
            hint = (f"; it holds {videos} video file(s): analyse each one (`vidaffect analyze {self.path}` "
                    f"analyses every video below it)") if videos else ""
            raise VideoError(f"{self.path}: no image files ({shown}) in this folder{hint}")
        first, error = None, None
        for p in self.files:  # the first readable image gives the size
            try:
                first = read_image(p)
                break
            except VideoError as exc:
                if strict:
                    raise
                error = exc
        if first is None:
            raise VideoError(f"{self.path}: none of its {len(self.files)} image file(s) can be read ({error})")
        n = len(self.files)
        self.info = VideoInfo(str(self.path), first.shape[1], first.shape[0], self.image_fps, n / self.image_fps, n,
                              0, _codec(self.files[0]), False, "images", self.path.resolve().name or "images")

    def __iter__(self) -> Iterator[VideoFrame]:
        self.damaged = []
        take = TimeSampler(self.fps, self.start, self.end)
        for i, p in enumerate(self.files):
            t = i / self.image_fps
            what = take(t)
            if what == TimeSampler.STOP:
                return
            if what == TimeSampler.SKIP:
                continue
            try:
                image = read_image(p)
            except VideoError as exc:
                if self.strict:
                    raise
                why = str(exc)[len(f"{p}: "):] if str(exc).startswith(f"{p}: ") else str(exc)
                self.damaged.append({"start_s": round(t, 6), "end_s": round(t, 6), "packets": 1, "error": why,
                                     "file": p.name})
                log.warning("%s: %s skipped", p, why)
                continue
            yield VideoFrame(i, round(t, 6), image)
