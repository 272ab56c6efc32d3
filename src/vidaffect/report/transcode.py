"""Re-encode a video frame by frame with PyAV, keeping every frame's timestamp and the audio.

Shared by the annotated video and the report's low-resolution proxy: the
caller transforms each decoded frame; the frames are encoded with H.264
(``libx264``) when PyAV has it, else MPEG-4 Part 2, with the source's time base
and timestamps, so the output has the same frame count and timing.  The first
audio stream is copied packet by packet when MP4 can hold its codec, else
transcoded to AAC.

Given a ``time_range``, only the frames (and audio) in that range are written,
with timestamps moved so the first one is at 0 (the report's proxy of a
``--start/--end`` analysis); the shift is reported in ``stats["offset_s"]``.
"""
from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from typing import Callable

import av
import numpy as np

from vidaffect.errors import OutputError, VideoError
from vidaffect.utils.atomic import atomic_path
from vidaffect.video.pyav_backend import open_container

# Audio codecs the MP4 muxer accepts as they are.
MP4_AUDIO_COPY = ("aac", "mp3", "alac", "ac3", "eac3", "opus", "flac")


def _copyable(stream) -> bool:
    """Whether MP4 can hold this audio stream's codec (compared by codec id: decoders have other names)."""
    ids = set()
    for name in MP4_AUDIO_COPY:
        try:
            ids.add(av.Codec(name, "r").id)
        except (av.error.FFmpegError, ValueError):  # pragma: no cover - decoder missing in this build
            pass
    return stream.codec_context.codec.id in ids


def video_codec(preferred: str | None = None) -> str:
    """``preferred`` when given, else ``libx264`` when this PyAV build has it, else ``mpeg4``."""
    if preferred:
        if preferred not in av.codecs_available:
            raise OutputError(f"video codec '{preferred}' is not available in this PyAV build")
        return preferred
    return "libx264" if "libx264" in av.codecs_available else "mpeg4"


class AudioCarrier:
    """Carries one input audio stream into an output container: packet copy, or AAC transcode.

    ``window`` (absolute seconds ``[start, end)`` of the source's timeline, for trimming): packets outside
    it are dropped and the kept ones are moved ``start`` seconds earlier."""

    def __init__(self, out: av.container.OutputContainer, source: av.audio.stream.AudioStream,
                 window: tuple[float, float] | None = None) -> None:
        self.source, self.out = source, out
        self.window = window
        self.shift = 0 if window is None else int(round(window[0] / source.time_base))
        self.copy = _copyable(source)
        if self.copy:
            self.stream = out.add_stream_from_template(source)
        else:
            rate = source.codec_context.sample_rate or 44100
            self.stream = out.add_stream("aac", rate=rate)
            channels = source.codec_context.layout.nb_channels if source.codec_context.layout else 2
            self.stream.layout = "mono" if channels == 1 else "stereo"
            self.stream.bit_rate = 128_000
            self.resampler = av.AudioResampler(format="fltp", layout=self.stream.layout, rate=rate)
            self.next_pts: int | None = None

    def push(self, packet: av.Packet) -> None:
        if packet.dts is None and packet.size == 0:
            return
        if self.window is not None:
            if packet.pts is None:
                return
            t = float(packet.pts * packet.time_base)
            if not self.window[0] - 1e-6 <= t < self.window[1]:
                return
        if self.copy:
            if self.shift:
                packet.pts -= self.shift
                if packet.dts is not None:
                    packet.dts -= self.shift
            packet.stream = self.stream
            self.out.mux(packet)
            return
        for frame in packet.decode():
            self._encode(frame)

    def _encode(self, frame) -> None:
        for rs in self.resampler.resample(frame):
            if self.next_pts is None:
                t = float(frame.pts * frame.time_base) if frame.pts is not None else 0.0
                if self.window is not None:
                    t = max(t - self.window[0], 0.0)
                self.next_pts = int(round(t * rs.sample_rate))
            rs.pts, rs.time_base = self.next_pts, Fraction(1, rs.sample_rate)
            self.next_pts += rs.samples
            self.out.mux(self.stream.encode(rs))

    def flush(self) -> None:
        if not self.copy:
            for rs in self.resampler.resample(None) or []:
                rs.pts, rs.time_base = self.next_pts or 0, Fraction(1, rs.sample_rate)
                self.next_pts = (self.next_pts or 0) + rs.samples
                self.out.mux(self.stream.encode(rs))
            self.out.mux(self.stream.encode(None))


FrameFn = Callable[[int, av.VideoFrame], "av.VideoFrame | np.ndarray"]


def transcode(source: str | Path, out_path: str | Path, process: FrameFn, size: tuple[int, int],
              codec: str | None = None, crf: int = 20, audio: bool = True, progress: bool = False,
              desc: str = "encoding", time_range: tuple[float, float] | None = None,
              stats: dict | None = None) -> Path:
    """Decode ``source``, pass each video frame through ``process(index, frame)`` (an RGB array or a
    VideoFrame of ``size`` = (width, height), both even) and write ``out_path`` (MP4) atomically, keeping
    each frame's timestamp; copy the first audio stream when ``audio``.

    ``time_range`` = (start, end) seconds from the video stream's start (the ``time_s`` of the results):
    only frames from ``start`` (within half a frame) to before ``end`` are written, their timestamps moved
    so the first is at 0, and the audio of that span with them; ``stats["offset_s"]`` (when ``stats`` is a
    dict) receives the source time of the first frame written.  ``index`` then counts from the frame the
    decoder was sought to, not from the start of the video."""
    source, out_path = Path(source), Path(out_path)
    inp = open_container(source)
    try:
        vin = inp.streams.video[0]
        vin.thread_type = "AUTO"
        ain = inp.streams.audio[0] if (audio and inp.streams.audio) else None
        codec = video_codec(codec)
        rate = vin.average_rate or vin.guessed_rate or Fraction(25)
        tb = float(vin.time_base)
        half = 0.5 / float(rate)
        base = vin.start_time  # pts of the stream's start (the origin of time_s), else the first frame's
        if time_range is not None:
            if time_range[0] > 2.0:  # skip the part before the range (back to a key frame, then decode forward)
                target = int((time_range[0] - 1.0) / tb) + (base or 0)
                inp.seek(max(target, base or 0), stream=vin, backward=True)
        bar = None
        if progress:
            from tqdm import tqdm

            bar = tqdm(total=vin.frames or None, desc=desc, unit="frame", leave=False)
        try:
            with atomic_path(out_path) as tmp:
                with av.open(str(tmp), mode="w", format="mp4") as out:
                    vout = out.add_stream(codec, rate=rate)
                    vout.width, vout.height = size
                    vout.pix_fmt = "yuv420p"
                    vout.time_base = vin.time_base
                    if codec == "libx264":
                        vout.options = {"crf": str(crf), "preset": "veryfast"}
                    else:
                        vout.bit_rate = int(size[0] * size[1] * float(rate) * 0.2)
                    carrier = AudioCarrier(out, ain) if ain is not None and time_range is None else None
                    pending: list = []  # audio packets seen before the first frame of the range
                    index, last_pts, shift, done = -1, None, None, False
                    streams = [vin] + ([ain] if ain is not None else [])
                    for packet in inp.demux(*streams):
                        if packet.stream is ain:
                            if carrier is not None:
                                carrier.push(packet)
                            elif ain is not None and time_range is not None:
                                pending.append(packet)
                            continue
                        for frame in packet.decode():
                            index += 1
                            pts = frame.pts
                            if pts is None or (last_pts is not None and pts <= last_pts):
                                step = max(int(round(1 / (float(rate) * vin.time_base))), 1)
                                pts = (last_pts + step) if last_pts is not None else 0
                            last_pts = pts
                            if time_range is not None:
                                if base is None:
                                    base = pts
                                t = (pts - base) * tb
                                if t < time_range[0] - half:
                                    continue
                                if t >= time_range[1] - 1e-6:
                                    done = True
                                    break
                                if shift is None:  # the first frame of the range: it goes to time 0
                                    shift = pts
                                    if stats is not None:
                                        stats["offset_s"] = round(t, 6)
                                    if ain is not None:
                                        start_abs = pts * tb
                                        carrier = AudioCarrier(out, ain, window=(
                                            start_abs, start_abs + time_range[1] - t))
                                        for p in pending:
                                            carrier.push(p)
                                        pending.clear()
                                pts -= shift
                            result = process(index, frame)
                            if isinstance(result, np.ndarray):
                                result = av.VideoFrame.from_ndarray(result, format="rgb24")
                            result.pts, result.time_base = pts, vin.time_base
                            out.mux(vout.encode(result))
                            if bar is not None:
                                bar.update(1)
                        if done:
                            break
                    out.mux(vout.encode(None))
                    if carrier is not None:
                        carrier.flush()
        except av.error.FFmpegError as exc:
            raise VideoError(f"{source}: re-encoding failed ({exc.strerror or type(exc).__name__})") from None
        except OSError as exc:
            raise OutputError(f"{out_path}: cannot write video ({exc.strerror or exc})") from None
        finally:
            if bar is not None:
                bar.close()
    finally:
        inp.close()
    return out_path


def even(n: int) -> int:
    """``n`` rounded down to an even number (4:2:0 video needs even sides), at least 2."""
    return max(2, int(n) // 2 * 2)
