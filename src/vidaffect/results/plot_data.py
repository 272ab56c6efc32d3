"""What the plots of a long results table draw: the longest-shown faces' rows, binned in time when many.

A 2-hour video has about 180,000 rows per face; drawing each would take more memory than the whole
analysis and more points than the figure has pixels.  :func:`binned_face_rows` reads the table in two
bounded passes (which faces are shown longest; then their rows) and, when the chosen faces have more than
``exact_rows`` rows together, averages each face's values in at most ``max_bins`` equal time bins
(NaN-aware), as the report's series do (:mod:`vidaffect.report.series`).
"""
from __future__ import annotations

from collections import Counter, defaultdict

import numpy as np
import pandas as pd


EXACT_ROWS = 20_000
MAX_BINS = 2_000


def binned_face_rows(results, max_faces: int = 6, exact_rows: int = EXACT_ROWS,
                     max_bins: int = MAX_BINS) -> tuple[pd.DataFrame, tuple[float, float], float, list[int]]:
    """``(rows, (first time, last time), time step, faces)`` to draw ``results``' ``max_faces`` longest-shown
    faces: rows with ``face_id``, ``time_s``, ``valence``, ``arousal`` and the class columns; the step is the
    median time between analysed frames, or the bin width when the rows are binned; ``faces`` the face ids,
    longest shown first (binned rows no longer say it)."""
    from vidaffect.results.segments import TimeScan

    counts: Counter = Counter()
    scan = TimeScan()  # first/last time and the median step, as the report's scan reads them
    for b in results.iter_batches(["time_s", "face_id"]):
        scan.update(b)
        ids = b["face_id"].to_numpy()
        counts.update(ids[ids >= 0].tolist())
    t0, t1 = scan.bounds
    if t0 is None:
        t0, t1 = 0.0, 0.0
    span = (t0, max(t1, t0 + 1e-3))
    step = scan.step
    # longest first, ties by face id (as plotting.common.face_rows)
    chosen = [f for f, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:max_faces]]
    cols = ["face_id", "time_s", "valence", "arousal", *results.classes]
    if sum(counts[f] for f in chosen) <= exact_rows:
        parts = [b[b["face_id"].isin(chosen)] for b in results.iter_batches(cols)]
        rows = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=cols)
        return rows, span, step, chosen
    width = (span[1] - span[0]) / max_bins
    values = cols[2:]
    sums: dict[int, np.ndarray] = defaultdict(lambda: np.zeros((max_bins, 1 + len(values))))
    ns: dict[int, np.ndarray] = defaultdict(lambda: np.zeros((max_bins, 1 + len(values))))
    for b in results.iter_batches(cols):
        b = b[b["face_id"].isin(chosen)]
        if b.empty:
            continue
        t = b["time_s"].to_numpy(dtype=float)
        idx = np.clip(((t - span[0]) / width).astype(int), 0, max_bins - 1)
        v = np.column_stack([t, b[values].to_numpy(dtype=float)])
        ok = np.isfinite(v)
        for f in np.unique(b["face_id"].to_numpy()):
            m = b["face_id"].to_numpy() == f
            np.add.at(sums[int(f)], idx[m], np.where(ok[m], v[m], 0.0))
            np.add.at(ns[int(f)], idx[m], ok[m])
    frames = []
    for f in chosen:
        n, s = ns[f], sums[f]
        keep = n[:, 0] > 0
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = s[keep] / n[keep]
        part = pd.DataFrame(mean, columns=["time_s", *values])
        part.insert(0, "face_id", f)
        frames.append(part)
    return pd.concat(frames, ignore_index=True), span, max(step, width), chosen
