"""Unit tests of identity clustering and the gallery (synthetic data, no dlib needed)."""
from __future__ import annotations

import json

import numpy as np
import pytest

from vidaffect.errors import VidaffectError
from vidaffect.identity.cluster import cluster_embeddings, co_occurring
from vidaffect.identity.gallery import UNKNOWN, Gallery


def _unit(v):
    v = np.asarray(v, dtype=np.float64)
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def _people(rng, n_people=3, per=4, spread=0.05):
    centres = _unit(rng.normal(size=(n_people, 128)))
    x = np.concatenate([_unit(c + spread * rng.normal(size=(per, 128)) / np.sqrt(128)) for c in centres])
    return x, np.repeat(np.arange(n_people), per)


def test_clusters_recover_people_and_order_by_first_row():
    rng = np.random.default_rng(0)
    x, truth = _people(rng)
    perm = rng.permutation(len(x))
    labels = cluster_embeddings(x[perm], threshold=0.1)
    # same partition as the truth
    for i in range(len(x)):
        for j in range(len(x)):
            assert (labels[i] == labels[j]) == (truth[perm][i] == truth[perm][j])
    assert labels[0] == 0 and set(labels) == {0, 1, 2}


def test_threshold_controls_merging():
    rng = np.random.default_rng(1)
    x, _ = _people(rng, n_people=2, per=3, spread=0.05)
    assert len(set(cluster_embeddings(x, threshold=0.0))) == 6  # nothing within distance 0
    assert len(set(cluster_embeddings(x, threshold=2.0))) == 1  # everything within the maximum distance


def test_cannot_link_keeps_co_occurring_tracks_apart():
    rng = np.random.default_rng(2)
    x, _ = _people(rng, n_people=1, per=3, spread=0.02)
    assert len(set(cluster_embeddings(x, 0.1))) == 1
    labels = cluster_embeddings(x, 0.1, cannot_link=[(0, 1)])
    assert labels[0] != labels[1]
    assert co_occurring([{1, 2}, {3}, {2, 5}]) == [(0, 2)]


def test_gallery_round_trip_and_unknown(tmp_path):
    rng = np.random.default_rng(4)
    a, b, stranger = _unit(rng.normal(size=(3, 128)))
    g = Gallery()
    g.enroll("Ann", [a, _unit(a + 0.01 * rng.normal(size=128))], "ann.jpg")
    g.enroll("Bob", [b], "bob.mp4")
    path = g.save(tmp_path / "g.json")
    g2 = Gallery.load(path)
    assert g2.names == ["Ann", "Bob"] and g2.sources["Bob"] == ["bob.mp4"]
    names = [n for n, _ in g2.match(np.stack([b, a, stranger]), threshold=0.08)]
    assert names == ["Bob", "Ann", UNKNOWN]


def test_gallery_rejects_bad_files(tmp_path):
    with pytest.raises(VidaffectError, match="not found"):
        Gallery.load(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"people": {}}))
    with pytest.raises(VidaffectError, match="not a vidaffect gallery"):
        Gallery.load(bad)


def test_isolated_tracks_never_merge():
    from vidaffect.identity.cluster import isolated

    rng = np.random.default_rng(5)
    x, _ = _people(rng, n_people=1, per=4, spread=0.02)
    labels = cluster_embeddings(x, 0.1, cannot_link=isolated(4, [2]))
    assert len(set(labels)) == 2 and list(labels).count(labels[2]) == 1
