"""Group face tracks into persons: average-linkage agglomerative clustering on cosine distance.

Two tracks seen in the same frame are different people, so such pairs are
never merged (a cannot-link constraint); tracks whose face dlib's HOG detector
never confirmed (false detections, very blurred or profile faces, whose
descriptors are unreliable) stay on their own.  Merging stops when the closest pair
of clusters is farther apart than ``threshold``.

Default threshold 0.07 (cosine distance between unit-length mean descriptors of
dlib's ResNet, run by :mod:`vidaffect.identity.resnet_descriptor`): measured on
real faces (benchmarks/face_embedding.py, benchmarks/people_tracking.py; the
figures are in docs/identity-and-meld.md).
"""
from __future__ import annotations

import numpy as np

DEFAULT_THRESHOLD = 0.07


def cosine_distance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pairwise cosine distances (1 - cos) between the rows of ``a`` and ``b``."""
    a = np.atleast_2d(np.asarray(a, dtype=np.float64))
    b = np.atleast_2d(np.asarray(b, dtype=np.float64))
    a = a / np.clip(np.linalg.norm(a, axis=1, keepdims=True), 1e-12, None)
    b = b / np.clip(np.linalg.norm(b, axis=1, keepdims=True), 1e-12, None)
    return np.clip(1.0 - a @ b.T, 0.0, 2.0)


def cluster_embeddings(embeddings: np.ndarray, threshold: float = DEFAULT_THRESHOLD,
                       cannot_link: list[tuple[int, int]] | None = None) -> np.ndarray:
    """Cluster labels (0..K-1, in order of first row) of ``embeddings`` (N, D).

    One N x N distance matrix, updated in place (no temporary of its size: an hours-long video has
    thousands of tracks): a cannot-link pair, the diagonal and merged-away clusters hold infinity, which the
    average-linkage update carries over (a cluster merged with one that cannot link to ``c`` cannot link to
    ``c`` either)."""
    x = np.asarray(embeddings, dtype=np.float64)
    n = len(x)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    x = x / np.clip(np.linalg.norm(x, axis=1, keepdims=True), 1e-12, None)
    dist = x @ x.T  # cosine_distance(x, x), computed in place: one N x N matrix at any time
    np.subtract(1.0, dist, out=dist)
    np.clip(dist, 0.0, 2.0, out=dist)
    np.fill_diagonal(dist, np.inf)
    for a, b in cannot_link or ():
        dist[a, b] = dist[b, a] = np.inf
    sizes = np.ones(n)
    members = [[i] for i in range(n)]
    alive = np.ones(n, dtype=bool)
    while True:
        k = int(np.argmin(dist))
        a, b = divmod(k, n)
        if not np.isfinite(dist[a, b]) or dist[a, b] > threshold:
            break
        # Lance-Williams update for average linkage: merge b into a
        row = dist[a, :]
        row *= sizes[a]
        row += sizes[b] * dist[b, :]
        row /= sizes[a] + sizes[b]
        dist[:, a] = row
        dist[a, a] = np.inf
        dist[b, :] = np.inf
        dist[:, b] = np.inf
        sizes[a] += sizes[b]
        members[a] += members[b]
        alive[b] = False
    labels = np.empty(n, dtype=np.int64)
    order = sorted((min(members[i]), i) for i in np.flatnonzero(alive))
    for new, (_, i) in enumerate(order):
        labels[members[i]] = new
    return labels


def co_occurring(frame_sets: list[set]) -> list[tuple[int, int]]:
    """Pairs of tracks (indices into ``frame_sets``) that share a frame: they cannot be the same person."""
    pairs = []
    for i in range(len(frame_sets)):
        for j in range(i + 1, len(frame_sets)):
            if frame_sets[i] and frame_sets[j] and not frame_sets[i].isdisjoint(frame_sets[j]):
                pairs.append((i, j))
    return pairs


def isolated(n: int, indices: list[int]) -> list[tuple[int, int]]:
    """Cannot-link pairs that keep each of ``indices`` (of ``n`` rows) in a cluster of its own."""
    return [(i, j) for i in indices for j in range(n) if j != i]
