"""Person ids for the face tracks of one analysed video (and names from a gallery)."""
from __future__ import annotations

import os
import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from vidaffect.identity.cluster import DEFAULT_THRESHOLD, cluster_embeddings, co_occurring, isolated
from vidaffect.identity.embedder import FaceEmbedder
from vidaffect.identity.gallery import UNKNOWN, Gallery
from vidaffect.identity.tracks import EmbedCost, TrackEmbedding, embed_tracks


@dataclass
class PersonAssignment:
    """Which person (and name) each face track is."""

    track_person: dict[int, int]
    track_name: dict[int, str] = field(default_factory=dict)
    track_distance: dict[int, float] = field(default_factory=dict)
    tracks: list[TrackEmbedding] = field(default_factory=list)
    cost: EmbedCost = field(default_factory=EmbedCost)
    seconds: float = 0.0


def assign_persons(video: str | os.PathLike, frames: pd.DataFrame, embedder: FaceEmbedder,
                   threshold: float = DEFAULT_THRESHOLD, gallery: Gallery | None = None,
                   gallery_threshold: float | None = None, candidates: int = 8, per_track: int = 3
                   ) -> PersonAssignment:
    """Embed the tracks of ``frames`` (a results table of ``video``), cluster them into persons, name them."""
    t0 = time.perf_counter()
    cost = EmbedCost()
    tracks = embed_tracks(video, frames, embedder, candidates=candidates, per_track=per_track, cost=cost)
    emb = np.stack([t.embedding for t in tracks]) if tracks else np.zeros((0, 128), np.float32)
    unverified = [i for i, t in enumerate(tracks) if not t.verified]
    labels = cluster_embeddings(emb, threshold, co_occurring([t.times for t in tracks]) + isolated(len(tracks), unverified))
    res = PersonAssignment({t.face_id: int(lab) for t, lab in zip(tracks, labels)}, tracks=tracks, cost=cost)
    if gallery is not None and len(tracks):
        # name each person from the mean descriptor of its tracks
        gthr = threshold if gallery_threshold is None else gallery_threshold
        for p in np.unique(labels):
            members = [t for t, lab in zip(tracks, labels) if lab == p]
            mean = np.mean([t.embedding for t in members], axis=0)
            name, dist = gallery.match(mean[None], gthr)[0]
            if not any(t.verified for t in members):
                name = UNKNOWN  # no confirmed face: its descriptor is not trusted
            for t in members:
                res.track_name[t.face_id] = name
                res.track_distance[t.face_id] = dist
    res.seconds = time.perf_counter() - t0
    return res


def add_person_columns(frames: pd.DataFrame, assignment: PersonAssignment, with_names: bool = False) -> pd.DataFrame:
    """``frames`` with ``person_id`` (-1 where no face / no descriptor) and optionally ``person_name``."""
    out = frames.copy()
    out["person_id"] = out["face_id"].map(assignment.track_person).fillna(-1).astype(np.int64)
    if with_names:
        names = out["face_id"].map(assignment.track_name)
        out["person_name"] = names.where(out["face_id"] >= 0, None)
        out.loc[(out["face_id"] >= 0) & names.isna(), "person_name"] = UNKNOWN
    return out
