"""PyAV decoding backend: streaming, real timestamps, rotation, frame-rate sampling, time range.

Frames are decoded one at a time and never accumulated, so memory does not
grow with the video's length.  ``time_s`` is the frame's presentation
timestamp relative to the stream's start, so variable-frame-rate videos get
true seconds.  ``index`` counts every decoded frame from the start of the
stream (also the ones skipped by ``fps`` sampling or before ``start``), so it
identifies the source frame.
"""
from __future__ import annotations

import logging
import math
import os
from fractions import Fraction
from pathlib import Path
from typing import Iterator

import av
import numpy as np

from vidaffect.errors import VideoError
from vidaffect.video.base import FrameReader, check_time_options
from vidaffect.video.types import VideoFrame, VideoInfo

log = logging.getLogger(__name__)

# A decode that ends this long before the container's stated duration is treated as truncated.
TRUNCATION_TOLERANCE_S = 1.0
# ... or that yields fewer than this share of the container's announced frame count (minus 2).
TRUNCATION_FRAME_SHARE = 0.05


def av_open(target: str | Path, **kwargs) -> av.container.InputContainer:
    """``av.open`` that tolerates undecodable metadata on every PyAV: up to 18 that needs
    ``metadata_errors="ignore"``; 19 dropped the argument.  ``target``: a file path or a URL."""
    try:
        return av.open(str(target), metadata_errors="ignore", **kwargs)
    except TypeError:
        return av.open(str(target), **kwargs)


def require_video(container: av.container.InputContainer, label: str, audio_only: str) -> None:
    """Close ``container`` and raise :class:`VideoError` when it has no video stream (``audio_only``: how an
    audio-only input is called in the message)."""
    if not container.streams.video:
        kind = audio_only if container.streams.audio else "no video stream"
        container.close()
        raise VideoError(f"{label}: {kind}, nothing to analyse")


def _announced_duration(container, stream) -> float:
    """Seconds the header announces: the stream's duration, else the container's, else 0."""
    if stream.duration is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return container.duration / av.time_base
    return 0.0


def open_container(path: str | os.PathLike) -> av.container.InputContainer:
    """Open a video file with PyAV; raise :class:`VideoError` naming the file and the cause when it is
    missing, a directory, empty, not a media file, or has no video stream (e.g. audio-only)."""
    p = Path(path)
    if not p.exists():
        raise VideoError(f"{p}: file not found")
    if p.is_dir():
        raise VideoError(f"{p}: is a directory, not a video file")
    if p.stat().st_size == 0:
        raise VideoError(f"{p}: empty file (0 bytes)")
    try:
        container = av_open(p)
    except av.error.FFmpegError as exc:
        raise VideoError(f"{p}: not a readable video ({exc.strerror or type(exc).__name__})") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise VideoError(f"{p}: cannot open ({exc})") from None
    require_video(container, str(p), "audio-only file")
    return container


def _rotate(image: np.ndarray, rotation: int) -> np.ndarray:
    """Apply a counter-clockwise display rotation (multiples of 90 degrees)."""
    k = (rotation // 90) % 4
    return np.ascontiguousarray(np.rot90(image, k)) if k else image


def _is_still_image(container: av.container.InputContainer) -> bool:
    """True for FFmpeg's single-image demuxers (``image2``, ``png_pipe``, ``jpeg_pipe``...): a picture file,
    whatever its extension, not a video."""
    return any(n == "image2" or n.endswith("_pipe") for n in container.format.name.split(","))


class PyAVReader(FrameReader):
    """Iterate over the frames of one video file.  Use :func:`open_video` to create it.

    Damaged data (packets the decoder rejects) is skipped: each damaged span of the requested time range
    is recorded in :attr:`damaged` (``start_s``, ``end_s``, ``packets``, ``error``) and logged as a
    warning, and decoding goes on with the next good packet.  ``strict=True`` raises instead.
    """

    def __init__(self, path: str | os.PathLike, fps: float | None = None, start: float | None = None,
                 end: float | None = None, threads: bool = True, strict: bool = False) -> None:
        super().__init__()
        self.path = self._as_path(path)
        check_time_options(self.path, fps, start, end)
        self.fps, self.start, self.end = fps, start, end
        self.strict = strict
        self._threads = threads
        self.info = self._probe()

    can_skip = True
    _as_path = staticmethod(Path)  # what messages name: the file (a stream reader keeps its URL as it is)

    def _open(self) -> av.container.InputContainer:
        return open_container(self.path)

    def _probe(self) -> VideoInfo:
        container = self._open()
        try:
            s = container.streams.video[0]
            ctx = s.codec_context
            if _is_still_image(container):
                hint = "; give it an image extension (.png, .jpg...) to analyse it as one image" if isinstance(
                    self.path, Path) else ""
                raise VideoError(f"{self.path}: a still image ({ctx.name} picture), not a video{hint}")
            rate = s.average_rate or s.guessed_rate or Fraction(0)
            duration = _announced_duration(container, s)
            self._rotation = self._read_rotation(container, s)
            w, h = ctx.width, ctx.height
            if self._rotation % 180:
                w, h = h, w
            return VideoInfo(str(self.path), int(w), int(h), float(rate), duration, int(s.frames or 0),
                             self._rotation, ctx.name, bool(container.streams.audio), *self._kind_and_name())
        finally:
            container.close()

    def _kind_and_name(self) -> tuple[str, str]:
        return "video", Path(self.path).stem

    def _read_rotation(self, container: av.container.InputContainer, stream: av.video.stream.VideoStream) -> int:
        """Rotation from the first decodable frame's display matrix (PyAV >= 13), else the legacy 'rotate' tag."""
        tag = stream.metadata.get("rotate")
        error = None
        try:
            for packet in container.demux(stream):
                try:
                    frames = packet.decode()
                except av.error.FFmpegError as exc:  # a damaged packet: the next one may decode
                    error = exc
                    if self.strict:
                        break
                    continue
                for frame in frames:
                    rot = int(round(getattr(frame, "rotation", 0) or 0))
                    return rot % 360 if rot else (-int(tag)) % 360 if tag else 0
        except av.error.FFmpegError as exc:
            error = exc
        if error is not None:
            raise VideoError(f"{self.path}: corrupt video, no frame could be decoded "
                             f"({error.strerror or type(error).__name__})") from None
        raise VideoError(f"{self.path}: the video stream holds no decodable frame")

    def __iter__(self) -> Iterator[VideoFrame]:
        self.damaged = []
        container = self._open()
        try:
            stream = container.streams.video[0]
            if self._threads:
                stream.thread_type = "AUTO"
            base = stream.start_time if stream.start_time is not None else None
            step = 1.0 / self.fps if self.fps else None
            if step is not None and step < 1e-6:  # a million frames a second or more: every frame
                step = None
            next_sample = self.start or 0.0
            index = -1
            last_time = None
            span = None  # the damaged span being read (no good frame since its first bad packet)
            bad_packets = 0
            reached_end = False
            try:
                for packet in container.demux(stream):
                    try:
                        decoded = packet.decode()
                    except av.error.FFmpegError as exc:
                        if base is None and packet.pts is not None:
                            base = packet.pts
                        span = self._damage(span, packet, base, stream.time_base, last_time, exc)
                        bad_packets += 1
                        continue
                    for frame in decoded:
                        index += 1
                        if frame.pts is None:
                            t = (last_time + 1.0 / max(self.info.fps, 1.0)) if last_time is not None else 0.0
                        else:
                            if base is None:
                                base = frame.pts
                            t = float((frame.pts - base) * stream.time_base)
                        last_time = t
                        if span is not None:
                            self._close_damage(span)
                            span = None
                        if self.start is not None and t < self.start - 1e-6:
                            continue
                        if self.end is not None and t >= self.end:
                            reached_end = True
                            break
                        if step is not None:
                            if t + 1e-6 < next_sample:
                                continue
                            # the first multiple of the step after t (arithmetic: a tiny step never loops long)
                            next_sample += (math.floor((t + 1e-6 - next_sample) / step) + 1) * step
                        if index < self.skip_until:  # already analysed (--resume): the sampling grid moved on
                            continue
                        image = _rotate(frame.to_ndarray(format="rgb24"), self._rotation)
                        yield VideoFrame(index, t, image)
                    if reached_end:
                        break
            except av.error.FFmpegError as exc:  # the container itself (not one packet) cannot be read on
                where = f"after {last_time:.2f} s" if last_time is not None else "before the first frame"
                raise VideoError(f"{self.path}: corrupt video data {where} ({exc.strerror or type(exc).__name__})") from None
            if last_time is None:
                raise VideoError(f"{self.path}: corrupt video, no frame could be decoded")
            if not reached_end:
                self._check_complete(index + 1 + bad_packets, last_time, span)
        finally:
            container.close()

    def _damage(self, span: dict | None, packet, base, time_base, last_time: float | None, exc) -> dict:
        """Add a rejected packet to the open damaged span (a new one when none is open); raise when strict."""
        if packet.pts is not None and base is not None:
            t0 = float((packet.pts - base) * time_base)
            t1 = t0 + float((packet.duration or 0) * time_base)
        else:
            t0 = t1 = last_time if last_time is not None else 0.0
        why = exc.strerror or type(exc).__name__
        if self.strict and self._in_range(t0, t1):
            where = f"after {last_time:.2f} s" if last_time is not None else "before the first frame"
            raise VideoError(f"{self.path}: corrupt video data {where} ({why}); without --strict damaged spans "
                             f"are skipped and recorded")
        if span is None:
            return {"start_s": t0, "end_s": t1, "packets": 1, "error": why}
        span["start_s"], span["end_s"] = min(span["start_s"], t0), max(span["end_s"], t1)
        span["packets"] += 1
        return span

    def _in_range(self, t0: float, t1: float) -> bool:
        return (self.start is None or t1 >= self.start - 1e-6) and (self.end is None or t0 < self.end)

    def _close_damage(self, span: dict) -> None:
        """Record a damaged span that good frames follow (only when it touches the requested range)."""
        if not self._in_range(span["start_s"], span["end_s"]):
            return
        span = {**span, "start_s": round(span["start_s"], 3), "end_s": round(span["end_s"], 3)}
        self.damaged.append(span)
        log.warning("%s: damaged video data from %.2f to %.2f s (%d packet(s), %s) skipped", self.path,
                    span["start_s"], span["end_s"], span["packets"], span["error"])

    def _check_complete(self, decoded: int, last_time: float, open_span: dict | None = None) -> None:
        """Raise if decoding ended well before the requested range's end: the container's stated duration (or
        ``end`` when earlier) or, for a range to the end of the video, its frame count (``decoded`` counts
        the damaged packets too: their data is there, only spoilt)."""
        info = self.info
        frame_dt = 1.0 / info.fps if info.fps else 0.0
        target = info.duration_s if self.end is None or info.duration_s <= 0 else min(self.end, info.duration_s)
        short_in_time = target > 0 and last_time + frame_dt < target - TRUNCATION_TOLERANCE_S
        if frame_dt and self.end is not None and 0 < self.end <= info.duration_s - TRUNCATION_TOLERANCE_S:
            # the range ends well inside the announced video, yet the data ran out before it: every frame
            # of the range up to the last one (at end - 1 frame) must be there
            short_in_time = last_time + frame_dt < self.end - 0.25 * frame_dt
        to_the_end = self.end is None or (info.duration_s > 0 and self.end >= info.duration_s)
        short_in_frames = (to_the_end and info.frame_count > 0
                           and decoded < info.frame_count * (1 - TRUNCATION_FRAME_SHARE) - 2)
        if not (short_in_time or short_in_frames):
            if open_span is not None:
                self._close_damage(open_span)
            return
        wanted = f"up to --end {self.end:g} s, " if self.end is not None and target < info.duration_s else ""
        readable = f"; --end {last_time:.2f} analyses the readable part" if last_time > (self.start or 0) else ""
        if open_span is not None:
            raise VideoError(f"{self.path}: corrupt video data from {open_span['start_s']:.2f} s to the end "
                             f"({open_span['packets']} damaged packet(s), {open_span['error']}; {wanted}the container "
                             f"announces {info.duration_s:.2f} s){readable}")
        raise VideoError(f"{self.path}: truncated video: decoding stopped at {last_time:.2f} s, frame {decoded} "
                         f"({wanted}the container announces {info.duration_s:.2f} s, {info.frame_count or '?'} frames)"
                         f"{readable}")


def open_video(path: str | os.PathLike, fps: float | None = None, start: float | None = None,
               end: float | None = None, strict: bool = False) -> PyAVReader:
    """Open ``path`` for streaming decoding; raises :class:`VideoError` with a one-line cause.

    ``strict``: raise on damaged data instead of skipping it (see :class:`PyAVReader`)."""
    return PyAVReader(path, fps=fps, start=start, end=end, strict=strict)


def incomplete_reason(path: str | os.PathLike) -> str | None:
    """Why ``path`` is not (yet) a whole video, or None when its video stream reaches its announced end.

    Cheap: packets are demuxed (not decoded) up to the end of the file and the
    last one's end time and the packet count are compared with the duration and
    frame count in the container's header, with the same tolerances as the
    truncation check of a full decode (:meth:`PyAVReader._check_complete`).  A
    file whose header is not written yet (MP4 before its ``moov`` box) cannot be
    opened and is incomplete too.  Containers that announce no length
    (a live MKV, MPEG-TS) pass: only the settle rule guards them.  Where FFmpeg
    takes the duration from the data itself (ASF/WMV), the file size in the
    header is compared with the file's (also AVI's RIFF size and Matroska's
    segment size), see :func:`_declared_size`.
    """
    p = Path(path)
    declared, size = _declared_size(p), p.stat().st_size if p.exists() else 0
    if declared is not None and size < declared:
        return f"{size} of the {declared} bytes its header announces"
    try:
        container = open_container(p)
    except VideoError as exc:
        return str(exc)[len(f"{p}: "):] if str(exc).startswith(f"{p}: ") else str(exc)
    try:
        s = container.streams.video[0]
        announced = _announced_duration(container, s)
        rate = float(s.average_rate or s.guessed_rate or 0)
        base, end, packets = s.start_time, None, 0
        try:
            for packet in container.demux(s):
                if packet.size == 0:  # the flush packet at the end of the file
                    continue
                packets += 1
                if packet.pts is not None:
                    base = packet.pts if base is None else base
                    t = float((packet.pts - base + (packet.duration or 0)) * s.time_base)
                    end = t if end is None else max(end, t)
        except av.error.FFmpegError as exc:
            where = f"after {end:.2f} s" if end is not None else "before the first packet"
            return f"unreadable data {where} ({exc.strerror or type(exc).__name__})"
        if packets == 0:
            return "no video packet yet"
        frame_dt = 1.0 / rate if rate else 0.0
        if announced > 0 and end is not None and end + frame_dt < announced - TRUNCATION_TOLERANCE_S:
            return f"the data ends at {end:.2f} s of the {announced:.2f} s its header announces"
        if s.frames and packets < s.frames * (1 - TRUNCATION_FRAME_SHARE) - 2:
            return f"{packets} of the {s.frames} frames its header announces"
        return None
    finally:
        container.close()


_ASF_HEADER = bytes.fromhex("3026b2758e66cf11a6d900aa0062ce6c")
_ASF_FILE_PROPERTIES = bytes.fromhex("a1dcab8c47a9cf118ee400c00c205365")


def _ebml_vint(data: bytes, pos: int, keep_marker: bool) -> tuple[int | None, int]:
    """An EBML variable-size integer at ``pos``: (value, next position); value None for "unknown size"."""
    first = data[pos]
    length = next((i + 1 for i in range(8) if first & (0x80 >> i)), 0)
    if not length or pos + length > len(data):
        raise ValueError("bad EBML integer")
    value = first if keep_marker else first & (0xFF >> length)
    for b in data[pos + 1:pos + length]:
        value = (value << 8) | b
    if not keep_marker and value == (1 << (7 * length)) - 1:
        return None, pos + length
    return value, pos + length


def _declared_size(p: Path) -> int | None:
    """The file size a finished file must have at least, from its header (ASF, RIFF/AVI, Matroska/WebM);
    None when the format does not state it or states "unknown" (a live recording)."""
    try:
        with open(p, "rb") as f:
            head = f.read(1 << 16)
    except OSError:
        return None
    try:
        if head[:16] == _ASF_HEADER:
            i = head.find(_ASF_FILE_PROPERTIES)
            if i < 0 or i + 48 > len(head):
                return None
            declared = int.from_bytes(head[i + 40:i + 48], "little")  # GUID, object size, file id, *file size*
            flags = int.from_bytes(head[i + 88:i + 92], "little") if i + 92 <= len(head) else 0
            return None if flags & 1 or declared == 0 else declared  # broadcast flag: size not valid
        if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
            return int.from_bytes(head[4:8], "little") + 8
        if head[:4] == bytes.fromhex("1a45dfa3"):
            _, pos = _ebml_vint(head, 0, True)
            size, pos = _ebml_vint(head, pos, False)
            pos += size or 0
            ident, pos = _ebml_vint(head, pos, True)
            if ident != 0x18538067:  # Segment
                return None
            size, pos = _ebml_vint(head, pos, False)
            return None if size is None else pos + size
    except (ValueError, IndexError):
        return None
    return None
