"""Drawing of one face's annotation on an RGB frame (OpenCV): box, label, valence/arousal gauge."""
from __future__ import annotations

import math

import cv2
import numpy as np

from vidaffect.plotting.colors import EMOTION_COLORS, UNKNOWN_COLOR

DEFAULT_COLOR = (int(UNKNOWN_COLOR[1:3], 16), int(UNKNOWN_COLOR[3:5], 16), int(UNKNOWN_COLOR[5:7], 16))


def hex_rgb(color: str) -> tuple[int, int, int]:
    """``"#rrggbb"`` -> (r, g, b)."""
    c = color.lstrip("#")
    return int(c[0:2], 16), int(c[2:4], 16), int(c[4:6], 16)


def emotion_rgb(emotion: str | None) -> tuple[int, int, int]:
    """The report colour of an emotion (grey when unknown or missing)."""
    return hex_rgb(EMOTION_COLORS[emotion]) if isinstance(emotion, str) and emotion in EMOTION_COLORS else DEFAULT_COLOR


def _blend_rect(img: np.ndarray, x0: int, y0: int, x1: int, y1: int, color, alpha: float) -> None:
    h, w = img.shape[:2]
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
    if x1 > x0 and y1 > y0:
        roi = img[y0:y1, x0:x1]
        roi[:] = (roi * (1 - alpha) + np.array(color, dtype=np.float32) * alpha).astype(np.uint8)


def draw_label(img: np.ndarray, text: str, x: int, y: int, color, scale: float) -> None:
    """Text on a filled box whose bottom-left corner is (x, y) (moved inside the image when needed)."""
    thick = max(1, int(round(scale * 2)))
    (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, thick)
    pad = max(2, int(th * 0.3))
    x = int(min(max(x, 0), max(img.shape[1] - tw - 2 * pad, 0)))
    y = int(min(max(y, th + base + 2 * pad), img.shape[0]))
    cv2.rectangle(img, (x, y - th - base - 2 * pad), (x + tw + 2 * pad, y), color, -1)
    dark = sum(color) / 3 > 140
    cv2.putText(img, text, (x + pad, y - base - pad), cv2.FONT_HERSHEY_SIMPLEX, scale,
                (20, 20, 20) if dark else (255, 255, 255), thick, cv2.LINE_AA)


def draw_va_gauge(img: np.ndarray, cx: int, cy: int, radius: int, valence: float, arousal: float, color) -> None:
    """A small circumplex: dark disc, axes, and a dot at (valence, arousal) (x right = positive valence,
    up = high arousal)."""
    _blend_rect(img, cx - radius - 2, cy - radius - 2, cx + radius + 3, cy + radius + 3, (0, 0, 0), 0.55)
    cv2.circle(img, (cx, cy), radius, (235, 235, 235), 1, cv2.LINE_AA)
    cv2.line(img, (cx - radius, cy), (cx + radius, cy), (160, 160, 160), 1, cv2.LINE_AA)
    cv2.line(img, (cx, cy - radius), (cx, cy + radius), (160, 160, 160), 1, cv2.LINE_AA)
    if math.isfinite(valence) and math.isfinite(arousal):
        v, a = max(-1.0, min(1.0, valence)), max(-1.0, min(1.0, arousal))
        px, py = int(round(cx + v * radius)), int(round(cy - a * radius))
        cv2.line(img, (cx, cy), (px, py), color, 1, cv2.LINE_AA)
        cv2.circle(img, (px, py), max(2, radius // 6), color, -1, cv2.LINE_AA)
        cv2.circle(img, (px, py), max(2, radius // 6), (255, 255, 255), 1, cv2.LINE_AA)


def face_label(face_id: int, emotion, prob: float | None, person: str | None = None) -> str:
    """``"face 3  happy 62%"``, or ``"alice (face 3)  happy 62%"`` when the person is known."""
    who = f"{person} (face {face_id})" if person else f"face {face_id}"
    if isinstance(emotion, str) and emotion:
        return f"{who}  {emotion} {prob * 100:.0f}%" if prob is not None and math.isfinite(prob) else f"{who}  {emotion}"
    return who


def draw_face(img: np.ndarray, box, face_id: int, emotion, prob, valence: float, arousal: float,
              person: str | None = None) -> None:
    """Annotate one face in place: box coloured by the dominant emotion, label above, VA gauge at its side."""
    h, w = img.shape[:2]
    x1, y1, x2, y2 = (int(round(v)) for v in box)
    color = emotion_rgb(emotion)
    thick = max(2, int(round(min(h, w) / 240)))
    cv2.rectangle(img, (x1, y1), (x2, y2), color, thick, cv2.LINE_AA)
    scale = max(0.4, min(h, w) / 720 * 0.75)
    draw_label(img, face_label(face_id, emotion, prob, person), x1 - thick // 2, y1 - thick, color, scale)
    radius = int(max(14, min(45, (x2 - x1) * 0.2)))
    gx = x2 + radius + 6 if x2 + 2 * radius + 8 < w else x1 - radius - 6
    gx = int(min(max(gx, radius + 3), w - radius - 4))
    gy = int(min(max(y1 + radius, radius + 3), h - radius - 4))
    draw_va_gauge(img, gx, gy, radius, valence, arousal, color)
