"""The annotated speaker's face in an utterance clip, and its emotions aggregated over the clip.

Candidates are the clip's persons (``person_id``: the tracks of one person
linked by their face embeddings), or its face tracks when the analyser runs
without identity.  The speaker is the person matching the speaker's gallery
entry (the person's mean embedding nearest within the threshold) when a
gallery knows the speaker; otherwise the person whose mouth moves most: the
lip opening (face-mesh points 13 and 14, inner upper and lower lip) divided by
the face height (points 10 and 152), its mean absolute change from frame to
frame (per track, averaged over the person's tracks weighted by their frames).
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

UPPER_LIP, LOWER_LIP, FOREHEAD, CHIN = 13, 14, 10, 152


def lip_opening(landmarks: np.ndarray) -> float:
    """Lip opening of one face's mesh (468, 2), relative to the face height; NaN without a mesh."""
    lm = np.asarray(landmarks, dtype=np.float64)
    height = np.linalg.norm(lm[FOREHEAD] - lm[CHIN])
    if not np.isfinite(height) or height < 1e-6:
        return float("nan")
    return float(np.linalg.norm(lm[UPPER_LIP] - lm[LOWER_LIP]) / height)


def mouth_motion(openings: np.ndarray) -> float:
    """Mean absolute frame-to-frame change of a track's lip opening (NaN frames skipped); 0 when too short."""
    o = np.asarray(openings, dtype=np.float64)
    o = o[np.isfinite(o)]
    return float(np.abs(np.diff(o)).mean()) if len(o) >= 3 else 0.0


@dataclass
class SpeakerFace:
    """The chosen track of one clip and its aggregated emotions."""

    face_id: int | None  # the chosen person's longest track
    method: str  # "gallery", "mouth" or "none"
    person_id: int | None = None  # None when the analyser runs without identity (then the track is the unit)
    frames: int = 0
    probabilities: dict[str, float] = field(default_factory=dict)
    emotion: str | None = None
    valence: float = float("nan")
    arousal: float = float("nan")
    motion: dict[int, float] = field(default_factory=dict)
    gallery_distance: float | None = None

    def features(self, classes: list[str]) -> dict[str, float]:
        """Flat features for fusion: ``face_<class>`` probabilities, ``face_valence``, ``face_arousal``."""
        out = {f"face_{c}": float(self.probabilities.get(c, np.nan)) for c in classes}
        out["face_valence"], out["face_arousal"] = float(self.valence), float(self.arousal)
        return out


def choose_track(motion: dict[int, float], gallery_distances: dict[int, float] | None = None,
                 threshold: float | None = None) -> tuple[int | None, str, float | None]:
    """(face id, method, distance): the gallery match within ``threshold`` if any, else the most moving mouth."""
    if gallery_distances:
        fid = min(gallery_distances, key=gallery_distances.get)
        if threshold is None or gallery_distances[fid] <= threshold:
            return fid, "gallery", gallery_distances[fid]
    if not motion:
        return None, "none", None
    return max(motion, key=lambda k: (motion[k], -k)), "mouth", None


def aggregate_track(frames: pd.DataFrame, classes: list[str], face_id: int, column: str = "face_id") -> dict:
    """Mean class probabilities, dominant class, mean valence/arousal of the rows whose ``column`` (``face_id``
    or ``person_id``) is ``face_id``."""
    g = frames[(frames["face_id"] >= 0) & (frames[column] == face_id)]
    probs = {c: float(g[c].mean()) for c in classes}
    return {"frames": int(len(g)), "probabilities": probs,
            "emotion": max(probs, key=probs.get) if len(g) else None,
            "valence": float(g["valence"].mean()), "arousal": float(g["arousal"].mean())}


def speaker_face(clip: str | os.PathLike, analyzer, speaker: str | None = None, gallery=None,
                 threshold: float | None = None) -> tuple[SpeakerFace, pd.DataFrame, list[str]]:
    """Analyse ``clip`` with ``analyzer`` (mesh landmarks on) and pick the speaker's person (or track).

    Returns the :class:`SpeakerFace`, the clip's results table and the model's classes.
    """
    openings: dict[int, list[float]] = {}
    for fr in analyzer.stream(clip):
        d = fr.detections
        for k in range(len(d)):
            lm = d.landmarks[k] if d.landmarks is not None else None
            openings.setdefault(int(d.face_ids[k]), []).append(np.nan if lm is None else lip_opening(lm))
    res = analyzer.last_results
    classes = list(res.classes)
    faces = res.frames[res.frames["face_id"] >= 0]
    merged = getattr(analyzer, "last_merged", {})  # the stream's provisional ids -> final track ids
    lengths = faces.groupby("face_id").size()
    by_person = "person_id" in faces.columns
    unit_of = faces.drop_duplicates("face_id").set_index("face_id")["person_id" if by_person else "face_id"]
    track_motion: dict[int, tuple[float, int]] = {}
    for fid, o in openings.items():
        fid = merged.get(fid, fid)
        if fid in unit_of.index:
            m, n = track_motion.get(fid, (0.0, 0))
            track_motion[fid] = (m + mouth_motion(o) * len(o), n + len(o))
    motion: dict[int, float] = {}
    weight: dict[int, int] = {}
    for fid, (m, n) in track_motion.items():
        u = int(unit_of[fid])
        motion[u] = motion.get(u, 0.0) + m
        weight[u] = weight.get(u, 0) + n
    motion = {u: motion[u] / max(weight[u], 1) for u in motion}
    distances = None
    if gallery is not None and speaker and speaker in gallery.names and by_person and motion:
        from vidaffect.identity.cluster import DEFAULT_THRESHOLD
        from vidaffect.identity.naming import person_embeddings

        threshold = DEFAULT_THRESHOLD if threshold is None else threshold
        emb = person_embeddings(res.frames, analyzer.last_tracks)
        col = gallery.names.index(speaker)
        if emb:
            people = sorted(emb)
            dist = gallery.distances(np.stack([emb[p] for p in people]))[:, col]
            distances = {p: float(x) for p, x in zip(people, dist)}
    unit, method, dist = choose_track(motion, distances, threshold)
    fid = None
    if unit is not None:
        tracks = [f for f in unit_of.index if int(unit_of[f]) == unit]
        fid = int(max(tracks, key=lambda f: int(lengths[f])))
    sf = SpeakerFace(fid, method, person_id=unit if by_person else None, motion=motion, gallery_distance=dist)
    if unit is not None:
        agg = aggregate_track(res.frames, classes, unit, "person_id" if by_person else "face_id")
        sf.frames, sf.probabilities, sf.emotion = agg["frames"], agg["probabilities"], agg["emotion"]
        sf.valence, sf.arousal = agg["valence"], agg["arousal"]
    return sf, res.frames, classes
