"""Synthetic micro-expression data sets: a textured face whose central patch moves; the direction is the class."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

DIRECTIONS = {"right": (1, 0), "left": (-1, 0), "up": (0, -1), "down": (0, 1)}


def texture(size: int, rng: np.random.Generator, sigma: float = 1.5) -> np.ndarray:
    t = cv2.GaussianBlur(rng.random((size, size)).astype(np.float32), (0, 0), sigma)
    return cv2.normalize(t, None, 0, 255, cv2.NORM_MINMAX)


def moved(base: np.ndarray, dx: float, dy: float, box: tuple[int, int, int, int]) -> np.ndarray:
    """``base`` with the region ``box`` (y0, y1, x0, x1) showing the texture shifted by (dx, dy)."""
    h, w = base.shape
    m = np.float32([[1, 0, dx], [0, 1, dy]])
    shifted = cv2.warpAffine(base, m, (w, h), borderMode=cv2.BORDER_REFLECT)
    out = base.copy()
    y0, y1, x0, x1 = box
    out[y0:y1, x0:x1] = shifted[y0:y1, x0:x1]
    return out


def clip_frames(emotion: str, rng: np.random.Generator, size: int = 64, n: int = 7, amp: float = 2.0) -> list[np.ndarray]:
    """``n`` RGB frames: the patch moves ``amp`` px in the class direction until the middle (apex), then back."""
    base = texture(size, rng)
    dx, dy = DIRECTIONS[emotion]
    c = size // 2
    box = (c - size // 4, c + size // 4, c - size // 4, c + size // 4)
    mid = n // 2
    frames = []
    for i in range(n):
        a = amp * (i / mid if i <= mid else (n - 1 - i) / (n - 1 - mid))
        img = moved(base, dx * a, dy * a, box) + rng.normal(0, 1.0, base.shape)
        g = np.clip(img, 0, 255).astype(np.uint8)
        frames.append(np.repeat(g[..., None], 3, axis=2))
    return frames


def write_dataset(root: Path, layout: str, subjects: int = 3, per_class: int = 1, classes=("right", "left", "up", "down"),
                  size: int = 64, seed: int = 0, first_frame: int = 10, n: int = 7) -> Path:
    """Write a tiny data set in ``layout`` (casme2, samm, smic) under ``root``; return its CSV."""
    rng = np.random.default_rng(seed)
    rows = []
    for s in range(1, subjects + 1):
        for k, emo in enumerate(classes * per_class):
            frames = clip_frames(emo, rng, size, n)
            onset, apex, offset = first_frame, first_frame + n // 2, first_frame + n - 1
            if layout == "casme2":
                subj, clip = f"{s:02d}", f"EP0{k}_{s}f"
                folder = root / f"sub{s:02d}" / clip
                names = [f"reg_img{first_frame + i}.jpg" for i in range(n)]
            elif layout == "samm":
                subj, clip = f"{s:03d}", f"{s:03d}_{k}_1"
                folder = root / subj / clip
                names = [f"{subj}_{first_frame + i:05d}.jpg" for i in range(n)]
            elif layout == "smic":
                subj, clip = f"s{s}", f"s{s}_{emo[:2]}_{k:02d}"
                folder = root / subj / "micro" / emo / clip
                names = [f"reg_image{first_frame + i:06d}.bmp" for i in range(n)]
            else:
                raise ValueError(layout)
            folder.mkdir(parents=True, exist_ok=True)
            for name, f in zip(names, frames):
                ext = Path(name).suffix
                params = [cv2.IMWRITE_JPEG_QUALITY, 98] if ext == ".jpg" else []
                cv2.imwrite(str(folder / name), cv2.cvtColor(f, cv2.COLOR_RGB2BGR), params)
            rows.append((subj, clip, onset, apex, offset, emo))
    csv = root / f"{layout}.csv"
    if layout == "casme2":
        header = "Subject,Filename,OnsetFrame,ApexFrame,OffsetFrame,Action Units,Estimated Emotion"
        lines = [f"{s},{c},{o},{a},{f},4,{e}" for s, c, o, a, f, e in rows]
    elif layout == "samm":
        header = "Subject,Filename,Inducement Code,Onset Frame,Apex Frame,Offset Frame,Duration,Type,Action Units,Notes,Estimated Emotion"
        lines = [f"{s},{c},1,{o},{a},{f},{f - o},Micro - 1/2,R12,,{e}" for s, c, o, a, f, e in rows]
    else:  # SMIC has no apex annotation
        header = "Subject,Filename,Onset,Offset,label"
        lines = [f"{s},{c},{o},{f},{e}" for s, c, o, a, f, e in rows]
    csv.write_text("\n".join([header, *lines]) + "\n")
    return csv


def burst_sequence(n: int = 120, burst_onset: int = 40, half: int = 4, amp: float = 2.0, size: int = 96,
                   seed: int = 0, drift: float = 0.0) -> list[np.ndarray]:
    """Grayscale face-like crops, static apart from sensor noise (and optional slow global drift),
    with the mouth region moving ``amp`` px down from ``burst_onset`` to the apex ``burst_onset + half``
    and back by ``burst_onset + 2 * half``."""
    rng = np.random.default_rng(seed)
    big = texture(size + 40, rng)
    crops = []
    for t in range(n):
        a = 0.0
        if burst_onset <= t <= burst_onset + 2 * half:
            a = amp * (1 - abs(t - burst_onset - half) / half)
        g = drift * t
        frame = moved(big, 0, a, (size * 3 // 4 + 20, size * 19 // 20 + 20, size // 3 + 20, size * 2 // 3 + 20))
        m = np.float32([[1, 0, g - 20], [0, 1, -20]])
        crop = cv2.warpAffine(frame, m, (size, size), borderMode=cv2.BORDER_REFLECT)
        crops.append(np.clip(crop + rng.normal(0, 1.5, crop.shape), 0, 255).astype(np.uint8))
    return crops
