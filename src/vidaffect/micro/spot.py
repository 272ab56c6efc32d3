"""Micro-expression spotting on a sequence of aligned face crops (the video-free core).

1. :func:`region_motion`: optical flow between consecutive aligned face crops,
   minus the crop's median flow (residual head motion), is summed into a
   displacement per cell of a 6x6 grid; the displacement's sliding median is the
   face's rest position.  The signal is the magnitude of the displacement from rest
   (or the optical strain of that displacement field), averaged over 9 facial
   regions (a 3x3 grid on the aligned crop: brows/eyes on top, cheeks/nose in the
   middle, mouth/chin at the bottom).  A brief movement that returns to rest peaks
   at its apex; a lasting change gives a long plateau.
2. :func:`spot_intervals`: subtract a sliding-median baseline per region, take the
   largest residual over regions, and keep peaks above ``median + z * 1.4826 * MAD``;
   onset/offset are where the residual falls below ``boundary`` (0.2) of the peak height;
   intervals of ``max_duration_s`` (0.5 s) or longer are dropped, and so are those shorter
   than ``min_duration_s`` (0.06 s: one-frame spikes are alignment glitches, not expressions).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Sequence

import cv2
import numpy as np
from scipy.ndimage import median_filter
from scipy.signal import find_peaks

from vidaffect.errors import VidaffectError
from vidaffect.motion.flow import compute_flow, to_gray
from vidaffect.motion.strain import optical_strain

REGION_NAMES = (
    "brow_eye_left", "brow_center", "brow_eye_right",
    "cheek_left", "nose", "cheek_right",
    "mouth_left", "mouth_center", "mouth_right",
)  # fmt: skip
SIGNALS = ("flow", "strain")


@dataclass
class SpotInterval:
    """A candidate micro-expression: frame positions are indices into the sequence."""

    onset: int
    apex: int
    offset: int
    onset_s: float
    apex_s: float
    offset_s: float
    score: float  # peak height in robust standard deviations above the median residual
    peak: float  # peak residual motion (pixels of the flow crop, or strain)
    region: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Spotting:
    """Intervals plus the curves behind them (for plots)."""

    intervals: list[SpotInterval]
    residual: np.ndarray  # (T,) largest baseline-subtracted region motion
    baseline: np.ndarray  # (T,) baseline of the region that is largest at each frame
    signal: np.ndarray  # (T,) raw motion of that region
    threshold: float
    extra: dict[str, Any] = field(default_factory=dict)


CELLS = 6  # displacement is tracked on a 6x6 grid of cells; each region is 2x2 cells


def cell_means(field_: np.ndarray, cells: int = CELLS) -> np.ndarray:
    """Mean of a (H, W, C) field over a ``cells`` x ``cells`` grid -> (cells, cells, C)."""
    h, w = field_.shape[:2]
    ys = np.linspace(0, h, cells + 1).round().astype(int)
    xs = np.linspace(0, w, cells + 1).round().astype(int)
    return np.array(
        [[field_[ys[r] : ys[r + 1], xs[c] : xs[c + 1]].mean(axis=(0, 1)) for c in range(cells)] for r in range(cells)],
        np.float32,
    )


def cell_flow(prev: np.ndarray, cur: np.ndarray, method: str = "farneback") -> np.ndarray:
    """Mean flow (cells, cells, 2) between two crops after removing the crop's median flow (head motion)."""
    flow = compute_flow(prev, cur, method)
    flow = flow - np.median(flow.reshape(-1, 2), axis=0)
    return cell_means(flow)


def cells_to_regions(values: np.ndarray) -> np.ndarray:
    """(T, 6, 6) cell values -> (T, 9) region means (3x3 regions of 2x2 cells)."""
    t = values.shape[0]
    g = CELLS // 3
    return values.reshape(t, 3, g, 3, g).mean(axis=(2, 4)).reshape(t, 9)


def region_motion(
    crops: Sequence[np.ndarray] | np.ndarray,
    baseline_frames: int = 61,
    method: str = "farneback",
    signal: str = "flow",
    size: int = 64,
    progress: Any = None,
) -> np.ndarray:
    """Motion (T, 9) of 9 facial regions relative to a sliding baseline, from aligned face crops.

    Consecutive-frame flows (head motion removed) are summed into a displacement
    per cell; its sliding median over ``baseline_frames`` is the rest position;
    the signal is the magnitude of the displacement from rest (``flow``, pixels at
    ``size``) or the optical strain of that displacement field (``strain``),
    averaged per region.  ``progress``: optional callable, called with 1 per frame pair.
    """
    if signal not in SIGNALS:
        raise VidaffectError(f"unknown motion signal {signal!r} (choose from {', '.join(SIGNALS)})")
    n = len(crops)
    if n == 0:
        return np.zeros((0, len(REGION_NAMES)), np.float32)
    gray = [cv2.resize(to_gray(np.asarray(c)), (size, size), interpolation=cv2.INTER_AREA) for c in crops]
    steps = np.zeros((n, CELLS, CELLS, 2), np.float32)
    for t in range(1, n):
        steps[t] = cell_flow(gray[t - 1], gray[t], method)
        if progress is not None:
            progress(1)
    disp = np.cumsum(steps, axis=0)
    w = max(3, int(baseline_frames) | 1)
    rest = median_filter(disp, size=(w, 1, 1, 1), mode="nearest")
    rel = disp - rest
    if signal == "flow":
        values = np.sqrt((rel**2).sum(axis=-1))
    else:
        spacing = size / CELLS  # strain of the displacement field on the cell grid, per pixel
        values = np.stack([optical_strain(r / spacing) for r in rel])
    return cells_to_regions(values).astype(np.float32)


def _odd_window(seconds: float, dt: float) -> int:
    w = max(3, int(round(seconds / dt)))
    return w if w % 2 else w + 1


def spot_intervals(
    signal: np.ndarray,
    times: np.ndarray,
    baseline_s: float = 2.0,
    max_duration_s: float = 0.5,
    min_duration_s: float = 0.06,
    threshold_z: float = 4.0,
    min_motion: float = 0.0,
    boundary: float = 0.2,
    region_names: Sequence[str] = REGION_NAMES,
) -> Spotting:
    """Candidate intervals in a motion ``signal`` (T,) or (T, regions) sampled at ``times`` (T,) seconds."""
    s = np.asarray(signal, np.float64)
    s = s[:, None] if s.ndim == 1 else s
    times = np.asarray(times, np.float64)
    if len(times) != len(s):
        raise VidaffectError(f"signal has {len(s)} frames but times has {len(times)}")
    names = list(region_names) if s.shape[1] == len(region_names) else [f"region_{i}" for i in range(s.shape[1])]
    empty = Spotting([], np.zeros(len(s)), np.zeros(len(s)), np.zeros(len(s)), float("nan"))
    if len(s) < 3 or np.all(np.isnan(s)):
        return empty
    fill = np.nanmedian(s, axis=0)
    s = np.where(np.isnan(s), fill, s)
    dt = float(np.median(np.diff(times))) if len(times) > 1 else 1.0
    base = median_filter(s, size=(_odd_window(baseline_s, dt), 1), mode="nearest")
    res_all = s - base
    which = res_all.argmax(axis=1)
    rows = np.arange(len(s))
    r, b, raw = res_all[rows, which], base[rows, which], s[rows, which]
    med = float(np.median(r))
    noise = 1.4826 * float(np.median(np.abs(r - med))) + 1e-9
    threshold = max(med + threshold_z * noise, med + min_motion)
    peaks, _ = find_peaks(r, height=threshold)
    taken = np.zeros(len(r), bool)
    intervals: list[SpotInterval] = []
    for p in sorted(peaks, key=lambda i: -r[i]):
        if taken[p]:
            continue
        level = med + boundary * (r[p] - med)
        on = p
        while on > 0 and r[on - 1] >= level and not taken[on - 1]:
            on -= 1
        off = p
        while off < len(r) - 1 and r[off + 1] >= level and not taken[off + 1]:
            off += 1
        if not min_duration_s <= times[off] - times[on] < max_duration_s:
            continue  # too long for a micro-expression, or a one-frame glitch (alignment jump)
        taken[on : off + 1] = True
        intervals.append(
            SpotInterval(on, int(p), off, float(times[on]), float(times[p]), float(times[off]),
                         float((r[p] - med) / noise), float(r[p]), names[which[p]])  # fmt: skip
        )
    intervals.sort(key=lambda iv: iv.onset)
    return Spotting(intervals, r, b, raw, float(threshold), {"noise": noise, "median": med})


def classify_intervals(
    crops: Sequence[np.ndarray], intervals: Sequence[SpotInterval], net: Any, config: dict[str, Any]
) -> np.ndarray:
    """Class probabilities (N, C) of each interval from its onset and apex crops with a DSSN/SSSN."""
    import torch

    from vidaffect.micro.datasets import parse_image_modes, stack_features, stream_tensors
    from vidaffect.micro.preprocess import compute_features

    if not intervals:
        return np.zeros((0, len(config["classes"])), np.float32)
    size = int(config["input_size"])
    modes = parse_image_modes(config["image_mode"])
    stacked = np.stack(
        [stack_features(compute_features(crops[iv.onset], crops[iv.apex], size=size), size) for iv in intervals]
    )
    with torch.no_grad():
        net.eval()
        return torch.softmax(net(*stream_tensors(stacked, modes)), dim=1).numpy()
