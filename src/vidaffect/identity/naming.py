"""Names for the persons of one analysed video, from a gallery of enrolled people."""
from __future__ import annotations

import numpy as np
import pandas as pd

from vidaffect.identity.gallery import UNKNOWN, Gallery
from vidaffect.tracking import Track


def person_embeddings(frames: pd.DataFrame, tracks: list[Track]) -> dict[int, np.ndarray]:
    """``{person_id: unit mean embedding}``: each person's tracks, weighted by their number of embeddings."""
    person_of = frames.loc[frames["face_id"] >= 0].drop_duplicates("face_id").set_index("face_id")["person_id"]
    sums: dict[int, np.ndarray] = {}
    for t in tracks:
        if t.embedding_sum is None or t.face_id not in person_of.index:
            continue
        p = int(person_of[t.face_id])
        sums[p] = sums.get(p, 0) + t.embedding_sum
    return {p: s / max(float(np.linalg.norm(s)), 1e-12) for p, s in sums.items()}


def name_persons(frames: pd.DataFrame, tracks: list[Track], gallery: Gallery, threshold: float
                 ) -> dict[int, tuple[str, float]]:
    """``{person_id: (name or "unknown", distance to the nearest enrolled person)}`` for every person of
    ``frames`` (each person's mean embedding against the gallery's)."""
    emb = person_embeddings(frames, tracks)
    persons = sorted(int(p) for p in frames.loc[frames["face_id"] >= 0, "person_id"].unique())
    out: dict[int, tuple[str, float]] = {p: (UNKNOWN, float("nan")) for p in persons}
    with_emb = [p for p in persons if p in emb]
    if not with_emb or not gallery.people:
        return out
    for p, (name, dist) in zip(with_emb, gallery.match(np.stack([emb[p] for p in with_emb]), threshold)):
        out[p] = (name, dist)
    return out
