"""SSD anchors of BlazeFace (MediaPipe's SsdAnchorsCalculator with ``fixed_anchor_size``)."""
from __future__ import annotations

import numpy as np


def ssd_anchors(input_size: int, strides: list[int], interpolated_scale_aspect_ratio: float,
                offset: float = 0.5) -> np.ndarray:
    """(N, 2) anchor centres in [0, 1] (x, y), in the order the network's outputs use.

    Consecutive layers with the same stride share one grid; each grid cell gets
    one anchor per aspect ratio (1.0) plus one interpolated anchor per layer
    when ``interpolated_scale_aspect_ratio > 0``.  Anchor width and height are
    fixed at 1, so only the centres matter.
    """
    out = []
    layer = 0
    while layer < len(strides):
        per_cell = 0
        last = layer
        while last < len(strides) and strides[last] == strides[layer]:
            per_cell += 1 + (1 if interpolated_scale_aspect_ratio > 0 else 0)
            last += 1
        n = int(np.ceil(input_size / strides[layer]))
        ys, xs = np.meshgrid((np.arange(n) + offset) / n, (np.arange(n) + offset) / n, indexing="ij")
        centres = np.stack([xs.ravel(), ys.ravel()], axis=1)
        out.append(np.repeat(centres, per_cell, axis=0))
        layer = last
    return np.concatenate(out).astype(np.float32)
