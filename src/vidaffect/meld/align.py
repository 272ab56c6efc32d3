"""Put video frames, audio samples and text tokens of one utterance on one time axis.

Every modality becomes a :class:`Stream`: timestamps (seconds from the clip
start) and a value row per timestamp.  :func:`align_streams` pools each stream
into the bins ``[start + k*step, start + (k+1)*step)`` of a common grid (for
example 100 ms) and over the whole utterance ``[start, end)``:

- video: one row per frame at its presentation time (per-frame emotion probabilities, VA...);
- audio: one row per sample at ``i / sample_rate`` (or per feature frame at its centre);
- text: one row per token at the centre of its word timing, or, without timings,
  the tokens spread evenly over the utterance (token i of n at
  ``start + (i + 0.5) * (end - start) / n``).

Pooling per stream: ``mean`` (default), ``rms`` (root mean square, for raw
audio), ``sum`` (counts).  Bins without any sample are NaN for ``mean``/``rms``
and 0 for ``sum``.  The utterance-level value pools all samples of the span (not
the bin values), so it does not depend on the step.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from vidaffect.errors import VidaffectError

POOLS = ("mean", "rms", "sum")


@dataclass
class Stream:
    """Timestamps (N,) in seconds and values (N, D) of one modality."""

    times: np.ndarray
    values: np.ndarray
    pool: str = "mean"
    labels: list | None = None  # optional per-sample labels (text tokens), gathered per bin

    def __post_init__(self) -> None:
        self.times = np.asarray(self.times, dtype=np.float64).reshape(-1)
        v = np.asarray(self.values, dtype=np.float64)
        v = v.reshape(len(v), -1) if v.ndim != 1 else v.reshape(-1, 1)
        if len(v) != len(self.times):
            raise VidaffectError(f"stream has {len(self.times)} timestamps but {len(v)} value rows")
        self.values = v
        if self.pool not in POOLS:
            raise VidaffectError(f"unknown pooling {self.pool!r}; choose from {', '.join(POOLS)}")


def video_stream(times: np.ndarray, values: np.ndarray) -> Stream:
    """Per-frame values at the frames' timestamps."""
    return Stream(times, values, "mean")


def audio_stream(samples: np.ndarray, sample_rate: float, start_s: float = 0.0, pool: str = "rms") -> Stream:
    """Raw audio samples (N,) or (N, channels) at ``start_s + i / sample_rate``."""
    samples = np.asarray(samples)
    return Stream(start_s + np.arange(len(samples)) / float(sample_rate), samples, pool)


def text_stream(tokens: list[str], start_s: float, end_s: float, values: np.ndarray | None = None,
                word_times: list[tuple[float, float]] | None = None) -> Stream:
    """Tokens at the centres of their word timings, or spread evenly over ``[start_s, end_s)``.

    ``values`` (N, D) are per-token features (default: 1 per token, so ``sum`` pooling counts tokens).
    """
    n = len(tokens)
    if word_times is not None:
        if len(word_times) != n:
            raise VidaffectError(f"{n} tokens but {len(word_times)} word timings")
        times = np.array([(a + b) / 2 for a, b in word_times], dtype=np.float64)
    else:
        times = start_s + (np.arange(n) + 0.5) * (end_s - start_s) / max(n, 1)
    vals = np.ones((n, 1)) if values is None else np.asarray(values, dtype=np.float64).reshape(n, -1)
    return Stream(times, vals, "mean" if values is not None else "sum", labels=list(tokens))


@dataclass
class Aligned:
    """Streams pooled on one grid: ``pooled[name]`` (K, D), ``counts[name]`` (K,), ``utterance[name]`` (D,)."""

    grid: np.ndarray  # (K,) bin start times
    step_s: float
    pooled: dict[str, np.ndarray] = field(default_factory=dict)
    counts: dict[str, np.ndarray] = field(default_factory=dict)
    utterance: dict[str, np.ndarray] = field(default_factory=dict)
    labels: dict[str, list[list]] = field(default_factory=dict)


def _pool(values: np.ndarray, how: str) -> np.ndarray:
    if not len(values):
        return np.zeros(values.shape[1]) if how == "sum" else np.full(values.shape[1], np.nan)
    if how == "sum":
        return values.sum(0)
    if how == "rms":
        return np.sqrt((values ** 2).mean(0))
    return values.mean(0)


def align_streams(streams: dict[str, Stream], step_s: float = 0.1, start_s: float = 0.0,
                  end_s: float | None = None) -> Aligned:
    """Pool every stream into ``step_s`` bins from ``start_s`` to ``end_s`` (default: the last timestamp) and overall."""
    if step_s <= 0:
        raise VidaffectError(f"alignment step must be positive, got {step_s}")
    if end_s is None:
        last = [float(s.times.max()) for s in streams.values() if len(s.times)]
        end_s = (max(last) if last else start_s) + 1e-9
    if end_s <= start_s:
        raise VidaffectError(f"alignment span is empty: end {end_s} <= start {start_s}")
    k = int(np.ceil((end_s - start_s) / step_s - 1e-9))
    out = Aligned(grid=start_s + step_s * np.arange(k), step_s=step_s)
    for name, s in streams.items():
        inside = (s.times >= start_s) & (s.times < end_s)
        idx = np.floor((s.times[inside] - start_s) / step_s + 1e-9).astype(np.int64).clip(0, k - 1)
        vals = s.values[inside]
        d = s.values.shape[1]
        pooled = np.empty((k, d))
        counts = np.bincount(idx, minlength=k)
        order = np.argsort(idx, kind="stable")
        bounds = np.concatenate([[0], np.cumsum(counts)])
        sorted_vals = vals[order]
        for b in range(k):
            pooled[b] = _pool(sorted_vals[bounds[b]:bounds[b + 1]], s.pool)
        out.pooled[name], out.counts[name] = pooled, counts
        out.utterance[name] = _pool(vals, s.pool)
        if s.labels is not None:
            labs = [s.labels[i] for i in np.flatnonzero(inside)]
            per_bin: list[list] = [[] for _ in range(k)]
            for b, lab in zip(idx, labs):
                per_bin[b].append(lab)
            out.labels[name] = per_bin
    return out
