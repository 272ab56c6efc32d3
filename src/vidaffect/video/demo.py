"""The embedded demo video: scikit-image's ``astronaut`` photograph, animated, encoded with PyAV.

8 seconds at 25 fps, 640x360: the camera pans and zooms over the photograph;
from 3 s a second, mirrored copy of the face slides in from the right and
stays, so the demo has one face, then two simultaneous faces; the last second
is a cut to an empty background (no face).  Deterministic: the same file
content every time.
"""
from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

from vidaffect.utils.atomic import atomic_path

WIDTH, HEIGHT, FPS, SECONDS = 640, 360, 25, 8.0
# The face in skimage.data.astronaut() (512x512), as found by our detector.
FACE_BOX = (170, 20, 290, 170)  # x1, y1, x2, y2 with some margin


def _background(t: float) -> np.ndarray:
    y = np.linspace(0, 1, HEIGHT)[:, None]
    x = np.linspace(0, 1, WIDTH)[None, :]
    r = 40 + 30 * np.sin(2 * np.pi * (x + 0.05 * t))
    g = 50 + 40 * y
    b = 90 + 40 * (1 - y)
    return np.stack(np.broadcast_arrays(r, g, b), -1).astype(np.uint8)


def _paste(canvas: np.ndarray, img: np.ndarray, x: int, y: int) -> None:
    h, w = img.shape[:2]
    x0, y0 = max(x, 0), max(y, 0)
    x1, y1 = min(x + w, canvas.shape[1]), min(y + h, canvas.shape[0])
    if x1 > x0 and y1 > y0:
        canvas[y0:y1, x0:x1] = img[y0 - y : y1 - y, x0 - x : x1 - x]


def demo_frame(t: float, photo: np.ndarray) -> np.ndarray:
    """The RGB frame at time ``t`` seconds."""
    canvas = _background(t)
    if t >= SECONDS - 1.0:  # final cut: background only
        return canvas
    # main face: pan + zoom over the photograph
    zoom = 1.0 + 0.35 * np.sin(np.pi * t / (SECONDS - 1.0))
    side = int(560 * zoom)
    photo_s = cv2.resize(photo, (side, side), interpolation=cv2.INTER_AREA)
    fx = (FACE_BOX[0] + FACE_BOX[2]) / 2 / 512 * side
    fy = (FACE_BOX[1] + FACE_BOX[3]) / 2 / 512 * side
    cx = 210 + 50 * np.sin(2 * np.pi * t / 6.0)
    cy = 150 + 15 * np.cos(2 * np.pi * t / 4.0)
    _paste(canvas, photo_s, int(cx - fx), int(cy - fy))
    # second face: mirrored face crop sliding in from the right after 3 s
    if t >= 3.0:
        x1, y1, x2, y2 = FACE_BOX
        face = np.ascontiguousarray(photo[y1:y2, x1:x2][:, ::-1])
        face = cv2.resize(face, (150, 188), interpolation=cv2.INTER_AREA)
        progress = min(1.0, (t - 3.0) / 1.5)
        x = int(WIDTH - progress * 200)
        _paste(canvas, face, x, 90)
    return canvas


def make_demo_video(path: str | Path, seconds: float = SECONDS) -> Path:
    """Write the demo video to ``path`` (H.264 when available, else MPEG-4) and return the path."""
    from skimage import data

    photo = data.astronaut()
    path = Path(path)
    codec = "libx264" if "libx264" in av.codecs_available else "mpeg4"
    with atomic_path(path) as tmp:
        with av.open(str(tmp), mode="w", format="mp4") as out:
            stream = out.add_stream(codec, rate=FPS)
            stream.width, stream.height, stream.pix_fmt = WIDTH, HEIGHT, "yuv420p"
            if codec == "libx264":
                stream.options = {"crf": "20", "preset": "veryfast"}
            stream.time_base = Fraction(1, FPS)
            for i in range(int(round(seconds * FPS))):
                frame = av.VideoFrame.from_ndarray(demo_frame(i / FPS, photo), format="rgb24")
                frame.pts = i
                for packet in stream.encode(frame):
                    out.mux(packet)
            for packet in stream.encode():
                out.mux(packet)
    return path
