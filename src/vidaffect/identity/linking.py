"""People across the whole video: link the face tracks of one pass into persons.

After the pass every confirmed track has the mean of its face embeddings
(:class:`vidaffect.tracking.Track`).  Tracks are grouped by average-linkage
clustering on cosine distance (:func:`vidaffect.identity.cluster.cluster_embeddings`)
with two constraints: tracks on screen at the same time (their detected
stretches overlap by 0.1 s or more) are different people (cannot-link), and merging stops when the closest pair of groups is farther
apart than ``threshold``.  A track without an embedding (faces too small for
one) is a person of its own.  Person ids are numbered in order of first
appearance.
"""
from __future__ import annotations

import numpy as np

from vidaffect.identity.cluster import cluster_embeddings
from vidaffect.tracking import Track
from vidaffect.tracking.tracker import spans_overlap


def link_tracks(tracks: list[Track], threshold: float) -> dict[int, int]:
    """``{face_id: person_id}`` for ``tracks`` (see the module docstring)."""
    tracks = sorted(tracks, key=lambda t: (t.first_s, t.face_id))
    with_emb = [t for t in tracks if t.embedding is not None]
    labels: dict[int, int] = {}
    if with_emb:
        emb = np.stack([t.embedding for t in with_emb])
        cannot = _on_screen_together(with_emb)
        for t, lab in zip(with_emb, cluster_embeddings(emb, threshold, cannot)):
            labels[t.face_id] = int(lab)
    # persons numbered by first appearance; a track without an embedding is a person of its own
    order: dict[tuple[str, int], int] = {}
    out: dict[int, int] = {}
    for t in tracks:
        key = ("person", labels[t.face_id]) if t.face_id in labels else ("track", t.face_id)
        out[t.face_id] = order.setdefault(key, len(order))
    return out


def _on_screen_together(tracks: list[Track]) -> list[tuple[int, int]]:
    """Index pairs of ``tracks`` whose detected stretches overlap (:func:`spans_overlap`): only tracks whose
    whole time ranges overlap are compared (a sweep over the ranges sorted by start), so an hours-long video's
    thousands of tracks cost about one comparison per track and neighbour, not one per pair."""
    ranges = [(min((s[0] for s in t.spans), default=t.first_s), max((s[1] for s in t.spans), default=t.last_s))
              for t in tracks]
    order = sorted(range(len(tracks)), key=lambda i: ranges[i][0])
    pairs = []
    for k, i in enumerate(order):
        for j in order[k + 1:]:
            if ranges[j][0] > ranges[i][1]:
                break
            if spans_overlap(tracks[i].spans, tracks[j].spans):
                pairs.append((min(i, j), max(i, j)))
    return pairs
