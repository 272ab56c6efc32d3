"""Synthetic videos and results for the report tests (no model, no detector)."""
from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pandas as pd

from vidaffect.results.results import Results

CLASSES = ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"]
FACE_COLOR = (220, 40, 40)      # the "face" square is pure red on grey
BACKGROUND = 90


def face_box(i: int, width: int) -> tuple[int, int, int, int]:
    """Box of the synthetic face in frame ``i`` (moves right 2 px per frame)."""
    x = 20 + 2 * i % max(width - 80, 1)
    return x, 30, x + 48, 78


def make_video(path: Path, n: int = 20, fps: int = 10, size: tuple[int, int] = (160, 120), audio: bool = False) -> Path:
    """MPEG-4 video (MKV when ``audio``: 16 kHz PCM, not copyable into MP4) with a red square per frame."""
    w, h = size
    with av.open(str(path), "w") as out:
        vs = out.add_stream("mpeg4", rate=fps)
        vs.width, vs.height, vs.pix_fmt = w, h, "yuv420p"
        vs.time_base = Fraction(1, fps)
        vs.options = {"qscale": "2"}
        astream = None
        if audio:
            astream = out.add_stream("pcm_s16le", rate=16000)
            astream.layout = "mono"
        for i in range(n):
            img = np.full((h, w, 3), BACKGROUND, np.uint8)
            x1, y1, x2, y2 = face_box(i, w)
            img[y1:y2, x1:x2] = FACE_COLOR
            frame = av.VideoFrame.from_ndarray(img, format="rgb24")
            frame.pts, frame.time_base = i, Fraction(1, fps)
            out.mux(vs.encode(frame))
            if astream is not None:
                samples = 16000 // fps
                t = (np.arange(samples) + i * samples) / 16000
                pcm = (3000 * np.sin(2 * np.pi * 440 * t)).astype(np.int16)[None, :]
                af = av.AudioFrame.from_ndarray(pcm, format="s16", layout="mono")
                af.sample_rate, af.pts, af.time_base = 16000, i * samples, Fraction(1, 16000)
                out.mux(astream.encode(af))
        out.mux(vs.encode(None))
        if astream is not None:
            out.mux(astream.encode(None))
    return path


def make_results(video: Path | str, n: int = 20, fps: float = 10, size: tuple[int, int] = (160, 120),
                 step: int = 1, last: int | None = None, faces: int = 1, gap: tuple[int, int] | None = None) -> Results:
    """Results for :func:`make_video`: analysed frames 0, step, ... up to ``last``; face 0 on the square,
    extra faces (ids 1..) at fixed boxes; face 0 absent in frames ``gap`` = (start, stop)."""
    rows = []
    rng = np.random.default_rng(0)
    last = n - 1 if last is None else last
    for i in range(0, last + 1, step):
        present = [f for f in range(faces) if not (f == 0 and gap and gap[0] <= i < gap[1])]
        if not present:
            rows.append({"frame": i, "time_s": i / fps, "face_id": -1, "faces_in_frame": 0})
        for f in present:
            box = face_box(i, size[0]) if f == 0 else (100, 60 + 0 * f, 140, 100)
            p = rng.dirichlet(np.ones(len(CLASSES)))
            p[3] += 1.0 if f == 0 else 0.0           # face 0 mostly happy
            p = p / p.sum()
            rows.append({"frame": i, "time_s": i / fps, "face_id": f, "x1": box[0], "y1": box[1], "x2": box[2],
                         "y2": box[3], "score": 0.9, "faces_in_frame": len(present),
                         **dict(zip(CLASSES, p)), "emotion": CLASSES[int(np.argmax(p))],
                         "valence": 0.8 * np.sin(i / 5) if f == 0 else -0.5, "arousal": 0.3 if f == 0 else 0.6})
    frames = pd.DataFrame(rows)
    meta = {"video": {"path": str(video), "width": size[0], "height": size[1], "fps": fps, "duration_s": n / fps,
                      "frame_count": n, "rotation": 0, "codec": "mpeg4", "has_audio": False},
            "classes": CLASSES, "model": {"name": "synthetic"}, "va_source": "synthetic",
            "frames_analysed": int(frames["frame"].nunique())}
    return Results(frames, CLASSES, meta)


def long_results(minutes: float = 10, fps: float = 30, faces: int = 2) -> Results:
    """A large results table (``minutes`` of video at ``fps``, ``faces`` faces always present), no video."""
    n = int(minutes * 60 * fps)
    t = np.arange(n) / fps
    parts = []
    for f in range(faces):
        cols = {"frame": np.arange(n), "time_s": t, "face_id": f, "x1": 10.0, "y1": 10.0, "x2": 50.0, "y2": 50.0,
                "score": 0.9, "faces_in_frame": faces}
        cols.update({c: 1 / len(CLASSES) for c in CLASSES})
        cols.update(emotion="neutral", valence=np.sin(t / 10), arousal=np.cos(t / 7))
        parts.append(pd.DataFrame(cols))
    frames = pd.concat(parts).sort_values(["frame", "face_id"]).reset_index(drop=True)
    meta = {"video": {"path": "/nonexistent/long.mp4", "width": 640, "height": 360, "fps": fps,
                      "duration_s": n / fps, "frame_count": n, "rotation": 0}, "classes": CLASSES}
    return Results(frames, CLASSES, meta)


def people_results(video: Path | str, n: int = 60, fps: float = 10, size: tuple[int, int] = (160, 120),
                   switch: int = 30) -> Results:
    """Results with identity columns: face tracks 0 (frames 0..switch-1) and 2 (frames switch..n-1) are
    person 0 (happy, then sad: two emotion segments meeting at ``switch / fps`` s), track 1 (all frames) is
    person 1 (neutral), and track 3 (frames 10..19) has no person (``person_id`` -1, angry)."""
    rows = []
    for i in range(n):
        present = [(0 if i < switch else 2, 0, "happy" if i < switch else "sad"), (1, 1, "neutral")]
        if 10 <= i < 20:
            present.append((3, -1, "angry"))
        for fid, pid, emo in present:
            p = np.full(len(CLASSES), 0.05)
            p[CLASSES.index(emo)] = 0.7
            p = p / p.sum()
            box = face_box(i, size[0]) if fid in (0, 2) else (100, 60, 140, 100) if fid == 1 else (10, 10, 40, 40)
            va = {"happy": (0.8, 0.5), "sad": (-0.6, -0.4), "neutral": (0.0, -0.1), "angry": (-0.5, 0.7)}[emo]
            rows.append({"frame": i, "time_s": i / fps, "face_id": fid, "x1": box[0], "y1": box[1], "x2": box[2],
                         "y2": box[3], "score": 0.9, "faces_in_frame": len(present), **dict(zip(CLASSES, p)),
                         "emotion": emo, "valence": va[0], "arousal": va[1], "person_id": pid})
    frames = pd.DataFrame(rows)
    meta = {"video": {"path": str(video), "width": size[0], "height": size[1], "fps": fps, "duration_s": n / fps,
                      "frame_count": n, "rotation": 0, "codec": "mpeg4", "has_audio": False},
            "classes": CLASSES, "model": {"name": "synthetic"}, "va_source": "synthetic",
            "frames_analysed": int(frames["frame"].nunique()), "settings": {"start": None, "end": None}}
    return Results(frames, CLASSES, meta)


def restrict(results: Results, start: float | None, end: float | None) -> Results:
    """``results`` as an analysis of ``--start start --end end`` would have made them (rows and settings)."""
    f = results.frames
    keep = np.ones(len(f), dtype=bool)
    if start is not None:
        keep &= f["time_s"].to_numpy() >= start - 1e-9
    if end is not None:
        keep &= f["time_s"].to_numpy() < end - 1e-9
    meta = dict(results.metadata, settings={**(results.metadata.get("settings") or {}), "start": start, "end": end})
    frames = f[keep].reset_index(drop=True)
    meta["frames_analysed"] = int(frames["frame"].nunique())
    return Results(frames, results.classes, meta)


def make_h264(source: Path, path: Path) -> Path:
    """An H.264 MP4 copy of ``source`` (same frames and timestamps) that Chromium plays."""
    from vidaffect.report.proxy import encode_proxy

    info_h = 10_000  # never scaled down
    return encode_proxy(source, path, height=info_h, crf=18)
