"""The in-place clustering (one N x N matrix, constraints as infinity) gives the labels of the textbook
version: average linkage over masked distances, recomputed every merge."""
from __future__ import annotations

import numpy as np

from vidaffect.identity.cluster import cluster_embeddings, cosine_distance


def reference(x: np.ndarray, threshold: float, cannot: list[tuple[int, int]]) -> np.ndarray:
    n = len(x)
    dist = cosine_distance(x, x)
    np.fill_diagonal(dist, np.inf)
    forbidden = np.zeros((n, n), dtype=bool)
    for a, b in cannot:
        forbidden[a, b] = forbidden[b, a] = True
    sizes, members, alive = np.ones(n), [[i] for i in range(n)], np.ones(n, dtype=bool)
    while True:
        d = np.where(forbidden | ~alive[None, :] | ~alive[:, None], np.inf, dist)
        a, b = divmod(int(np.argmin(d)), n)
        if not np.isfinite(d[a, b]) or d[a, b] > threshold:
            break
        dist[a, :] = (sizes[a] * dist[a, :] + sizes[b] * dist[b, :]) / (sizes[a] + sizes[b])
        dist[:, a] = dist[a, :]
        dist[a, a] = np.inf
        forbidden[a, :] |= forbidden[b, :]
        forbidden[:, a] = forbidden[a, :]
        sizes[a] += sizes[b]
        members[a] += members[b]
        alive[b] = False
    labels = np.empty(n, dtype=np.int64)
    for new, (_, i) in enumerate(sorted((min(members[i]), i) for i in np.flatnonzero(alive))):
        labels[members[i]] = new
    return labels


def test_in_place_clustering_equals_the_reference_on_random_cases():
    rng = np.random.default_rng(0)
    for _ in range(120):
        n, k = int(rng.integers(1, 50)), int(rng.integers(1, 6))
        x = rng.normal(size=(k, 16))[rng.integers(0, k, n)] + rng.normal(scale=0.15, size=(n, 16))
        cannot = [(int(a), int(b)) for a, b in rng.integers(0, n, (int(rng.integers(0, n + 1)), 2)) if a != b]
        threshold = float(rng.uniform(0.01, 0.3))
        assert np.array_equal(cluster_embeddings(x, threshold, cannot), reference(x, threshold, cannot))
