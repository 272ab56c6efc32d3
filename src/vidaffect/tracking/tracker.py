"""Face tracking: a stable ``face_id`` per face inside a shot.

The rule (also in docs/pipeline.md, section 3):

1. Every track has a constant-velocity Kalman filter on its box
   (:mod:`vidaffect.tracking.kalman`); each frame all live tracks are predicted
   to the frame's time.
2. Faces carried by optical flow or the mesh from the previous frame keep the
   id they had there (flow follows one face's own pixels).
3. Faces the detector found this frame are matched to the live tracks by a
   Hungarian match on :func:`vidaffect.tracking.association.box_similarity`
   (IoU with the predicted box, or a centre-distance fallback for fast or
   briefly lost faces); carried faces whose track ended are matched in a
   second round (ByteTrack's two stages: trusted boxes first, the others only
   for what is left).
4. Appearance decides the uncertain cases: detected faces matched only
   weakly by motion (similarity below 0.5, no clear overlap) and detected
   faces no track took are embedded and assigned together by a Hungarian
   match on cosine distance, to their own motion track (within
   ``split_distance``) or to any confirmed track of the shot that no other
   face of this frame holds (within ``reid_distance``): a face that owns a
   weakly matched track takes it back from a stranger standing nearby (a cut
   the cut detector missed, faces crossing), and a face that turns away, is
   hidden or leaves and comes back keeps its id.  A weak match that
   appearance gives to nobody starts a new track.
5. A track that started without an embedding (no mesh yet, too small) is
   compared as in 4 when it gets its first one and, if it matches an earlier
   track it never shared the screen with, continues that track's id
   (:attr:`FaceTracker.merged`; the final results use the earlier id).
6. Anything still unmatched starts a *tentative* track with the next id.
7. A track is *confirmed* once the face models found it on ``confirm_hits``
   frames (the detector, or the face mesh following a face the detector
   missed; flow-carried frames do not count); a tentative track that ends
   first (a false detection, a flicker) is discarded
   (:attr:`FaceTracker.discarded`) and its rows are removed from the results.
8. A track not seen for ``max_gap_s`` stops being matched by motion but can
   still be re-identified (4) until the shot ends.  A scene cut ends every
   track; the same person after a cut is found by person linking
   (:mod:`vidaffect.identity.linking`).

Embeddings are asked for through a callback only where needed: detected faces
that match no track, weak matches, and tracks whose last embedding is older
than ``embed_every_s``; each track keeps the running mean of its embeddings,
which person linking uses after the pass.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np
from scipy.optimize import linear_sum_assignment

from vidaffect.faces.detections import Detections
from vidaffect.tracking.association import box_similarity
from vidaffect.tracking.kalman import BoxKalman

# embed(indices into this frame's detections) -> (len(indices), D) unit vectors; rows of NaN where a face
# cannot be embedded reliably (too small, no landmarks)
EmbedFn = Callable[[np.ndarray], np.ndarray]

# Two tracks "share the screen" when their detected stretches overlap by at least this long: one shared
# instant happens when a track's last detection and another's first fall on the frame of a cut the cut
# detector missed (the mesh still finding a face where the old one was).
MIN_OVERLAP_S = 0.1
CARRIED_TRUST = 0.25  # a flow-carried box counts as a measurement 4x noisier than a detection
WEAK_MATCH = 0.5  # a motion match below this similarity (IoU) is checked by appearance


@dataclass
class Track:
    """One face track: its motion filter, appearance and where it was on screen."""

    face_id: int
    kf: BoxKalman
    box: np.ndarray  # last observed box
    first_s: float
    last_s: float
    detector_hits: int = 0  # frames where the face models found it (detector, or the mesh's face flag)
    confirmed: bool = False
    embedding_sum: np.ndarray | None = None
    embeddings: int = 0
    embedded_s: float = -np.inf  # time of the last embedding
    # [first_s, last_s] stretches where the detector found the face (flow-carried frames between two
    # detections are inside; a box flow carries after the last detection, e.g. onto the next shot when a
    # cut goes unnoticed, is not): person linking's "on screen together" test
    spans: list[list[float]] = field(default_factory=list)

    @property
    def embedding(self) -> np.ndarray | None:
        """Unit-length mean of the track's embeddings (None before the first)."""
        if self.embedding_sum is None:
            return None
        return self.embedding_sum / max(float(np.linalg.norm(self.embedding_sum)), 1e-12)

    def add_embedding(self, e: np.ndarray, time_s: float) -> None:
        self.embedding_sum = e.astype(np.float64) if self.embedding_sum is None else self.embedding_sum + e
        self.embeddings += 1
        self.embedded_s = time_s

    def observe(self, box: np.ndarray, time_s: float, detected: bool, verified: bool, merge_gap_s: float) -> None:
        self.kf.update(box, time_s, 1.0 if detected else CARRIED_TRUST)
        self.box = np.asarray(box, dtype=np.float32).copy()
        self.detector_hits += int(verified)
        if detected:
            if self.spans and time_s - self.spans[-1][1] <= merge_gap_s:
                self.spans[-1][1] = time_s
            else:
                self.spans.append([time_s, time_s])
        self.last_s = time_s


def spans_overlap(a: list[list[float]], b: list[list[float]], min_s: float = MIN_OVERLAP_S) -> bool:
    """Whether two tracks' detected stretches ([first_s, last_s] lists) overlap for at least ``min_s``."""
    return any(min(e1, e2) - max(s1, s2) >= min_s for s1, e1 in a for s2, e2 in b)


class FaceTracker:
    """Assign stable ids to detections frame after frame (see the module docstring for the rule)."""

    def __init__(self, iou_threshold: float = 0.3, max_center_dist: float = 0.5, max_gap_s: float = 1.0,
                 confirm_hits: int = 2, reid_distance: float = 0.1, split_distance: float = 0.2,
                 embed_every_s: float = 1.0) -> None:
        if max_gap_s < 0:
            raise ValueError(f"max_gap_s must be >= 0, got {max_gap_s}")
        if confirm_hits < 1:
            raise ValueError(f"confirm_hits must be >= 1, got {confirm_hits}")
        self.iou_threshold = iou_threshold
        self.max_center_dist = max_center_dist
        self.max_gap_s = max_gap_s
        self.confirm_hits = confirm_hits
        self.reid_distance = reid_distance
        self.split_distance = split_distance
        self.embed_every_s = embed_every_s
        self.reset()

    @classmethod
    def configured(cls, embedder=None, stills: bool = False, **kwargs) -> "FaceTracker":
        """A tracker for an input: ``embedder``'s measured re-identification and split distances (see
        :class:`vidaffect.identity.descriptor.FaceDescriptor`) when one is given, and for stills (photos: one
        frame to find a face on) ``confirm_hits=1``; ``kwargs`` as for the constructor."""
        if embedder is not None:
            kwargs = {"reid_distance": embedder.reid_distance, "split_distance": embedder.split_distance, **kwargs}
        if stills:
            kwargs.setdefault("confirm_hits", 1)
        return cls(**kwargs)

    def reset(self) -> None:
        """Forget all tracks and restart ids at 0 (new video)."""
        self._live: dict[int, Track] = {}  # on screen, matched by motion
        self._lost: dict[int, Track] = {}  # this shot, off screen: re-identification only
        self.finished: list[Track] = []  # confirmed tracks of earlier shots / ended
        self.discarded: set[int] = set()  # ids of tentative tracks that never got confirmed
        self.merged: dict[int, int] = {}  # id of a track re-identified late -> the id it continues
        self._next_id = 0
        self.embeddings_computed = 0
        self.splits = 0  # weak motion matches that appearance gave to another track or a new one

    def cut(self) -> None:
        """A scene cut: end every track of the shot (ids keep increasing)."""
        for t in [*self._live.values(), *self._lost.values()]:
            self._end(t)
        self._live, self._lost = {}, {}

    def finish(self) -> list[Track]:
        """End the video: every confirmed track, in id order (tentative ones go to :attr:`discarded`)."""
        self.cut()
        return sorted(self.finished, key=lambda t: t.face_id)

    def state(self) -> dict:
        """What the tracker knows between two shots, as plain JSON values (``--resume`` checkpoints): the
        ended tracks (id, times, detected stretches, embedding sum), discarded and merged ids, the next id.
        Only between shots: a live track's motion filter is not part of it."""
        if self._live or self._lost:
            raise RuntimeError("tracker state is saved between shots only (after cut())")
        return {
            "finished": [{"face_id": t.face_id, "box": [float(v) for v in t.box], "first_s": t.first_s,
                          "last_s": t.last_s, "detector_hits": t.detector_hits, "confirmed": t.confirmed,
                          "embedding_sum": None if t.embedding_sum is None else [float(v) for v in t.embedding_sum],
                          "embeddings": t.embeddings, "embedded_s": t.embedded_s if np.isfinite(t.embedded_s) else None,
                          "spans": [[float(a), float(b)] for a, b in t.spans]} for t in self.finished],
            "discarded": sorted(int(i) for i in self.discarded),
            "merged": [[int(a), int(b)] for a, b in self.merged.items()],
            "next_id": self._next_id, "embeddings_computed": self.embeddings_computed, "splits": self.splits,
        }

    def restore(self, state: dict) -> None:
        """Continue from :meth:`state` (a new tracker, between shots)."""
        self.reset()
        for d in state["finished"]:
            box = np.asarray(d["box"], dtype=np.float32)
            t = Track(int(d["face_id"]), BoxKalman(box, d["last_s"]), box, float(d["first_s"]), float(d["last_s"]),
                      int(d["detector_hits"]), bool(d["confirmed"]),
                      None if d["embedding_sum"] is None else np.asarray(d["embedding_sum"], dtype=np.float64),
                      int(d["embeddings"]), -np.inf if d["embedded_s"] is None else float(d["embedded_s"]),
                      [list(span) for span in d["spans"]])
            self.finished.append(t)
        self.discarded = {int(i) for i in state["discarded"]}
        self.merged = {int(a): int(b) for a, b in state["merged"]}
        self._next_id = int(state["next_id"])
        self.embeddings_computed = int(state["embeddings_computed"])
        self.splits = int(state["splits"])

    @property
    def live_ids(self) -> list[int]:
        return sorted(self._live)

    def _end(self, t: Track) -> None:
        if t.confirmed:
            self.finished.append(t)
        else:
            self.discarded.add(t.face_id)

    def _age_out(self, time_s: float) -> None:
        for fid, t in list(self._live.items()):
            if time_s - t.last_s > self.max_gap_s:
                del self._live[fid]
                if t.confirmed and t.embedding is not None:
                    self._lost[fid] = t
                else:
                    self._end(t)

    def update(self, dets: Detections, time_s: float, embed: EmbedFn | None = None) -> Detections:
        """Set ``dets.face_ids`` in place (and return ``dets``).

        embed: computes face embeddings of the detections at the given indices (see :data:`EmbedFn`);
        without it there is no re-identification and tracks carry no embeddings.
        """
        self._age_out(time_s)
        n = len(dets)
        ids = np.full(n, -1, dtype=np.int64)
        weak = np.zeros(n, dtype=bool)  # matched by motion, but not by a clear overlap
        taken: set[int] = set()
        detected = dets.detected
        # carried faces keep their previous frame's id
        for i in np.flatnonzero(~detected):
            fid = int(dets.face_ids[i])
            if fid in self._live and fid not in taken:
                ids[i] = fid
                taken.add(fid)
        # detected faces, then carried faces without a live id, by motion
        for stage in (detected, ~detected):
            rows = np.flatnonzero(stage & (ids < 0))
            cands = [fid for fid in self._live if fid not in taken]
            if len(rows) and cands:
                pred = np.stack([self._live[f].kf.box_at(time_s) for f in cands])
                last = np.stack([self._live[f].box for f in cands])
                sim = np.maximum(box_similarity(dets.xyxy[rows], pred, self.iou_threshold, self.max_center_dist),
                                 box_similarity(dets.xyxy[rows], last, self.iou_threshold, self.max_center_dist))
                r_idx, c_idx = linear_sum_assignment(-sim)
                for r, c in zip(r_idx, c_idx):
                    if sim[r, c] > 0:
                        ids[rows[r]] = cands[c]
                        weak[rows[r]] = sim[r, c] < WEAK_MATCH
                        taken.add(cands[c])
        embs = self._embed(dets, ids, weak, time_s, embed)
        # appearance decides for uncertain motion matches and for detected faces no track took
        self._assign_by_appearance(detected, weak, embs, ids, taken)
        # a track that started without an embedding (no mesh yet, too small) gets its first one: it may be a
        # face that was lost earlier in the shot, which then takes it over (late re-identification)
        fresh = np.array([i for i in embs if ids[i] >= 0 and int(ids[i]) in self._live
                          and self._live[int(ids[i])].embedding is None], dtype=np.int64)
        if len(fresh):
            self._merge_fresh(fresh, embs, ids, taken)
        for i in np.flatnonzero(ids < 0):
            t = Track(self._next_id, BoxKalman(dets.xyxy[i], time_s), dets.xyxy[i].copy(), time_s, time_s)
            self._live[t.face_id] = t
            ids[i] = t.face_id
            self._next_id += 1
        for i in range(n):
            fid = int(ids[i])
            t = self._live.get(fid) or self._lost.pop(fid)
            self._live[fid] = t
            t.observe(dets.xyxy[i], time_s, bool(detected[i]), bool(dets.verified[i]), self.max_gap_s)
            if i in embs:
                t.add_embedding(embs[i], time_s)
            if not t.confirmed and t.detector_hits >= self.confirm_hits:
                t.confirmed = True
        dets.face_ids = ids
        return dets

    def _embed(self, dets: Detections, ids: np.ndarray, weak: np.ndarray, time_s: float,
               embed: EmbedFn | None) -> dict[int, np.ndarray]:
        """Embeddings of the detected faces that need one: unmatched ones, weak matches, and tracks due
        for a refresh."""
        if embed is None:
            return {}
        found = np.flatnonzero(dets.detected)
        age = {int(i): time_s - self._live[int(ids[i])].embedded_s for i in found if ids[i] >= 0}
        want = [i for i in found if ids[i] < 0 or weak[i] or age[int(i)] >= self.embed_every_s]
        if not want:
            return {}
        # refresh the tracks half-way due in the same call: one batch instead of one face per frame
        want += [i for i in found if i not in want and age[int(i)] >= self.embed_every_s / 2]
        e = np.asarray(embed(np.asarray(want, dtype=np.int64)), dtype=np.float64)
        self.embeddings_computed += len(want)
        return {int(i): e[k] for k, i in enumerate(want) if np.isfinite(e[k]).all()}

    def _reid_candidates(self, taken: set[int], exclude: set[int] = frozenset()) -> list[Track]:
        """Confirmed tracks of the shot with an embedding that no face of this frame holds."""
        return [t for t in [*self._lost.values(), *self._live.values()]
                if t.confirmed and t.face_id not in taken and t.face_id not in exclude and t.embedding is not None]

    def _closest(self, rows: np.ndarray, embs: dict[int, np.ndarray], taken: set[int],
                 exclude: set[int] = frozenset()) -> list[tuple[int, Track]]:
        """(row, track) pairs: each row's embedding matched (Hungarian) to a confirmed track of the shot that
        no row of this frame holds, within ``reid_distance``."""
        rows = np.array([r for r in rows if int(r) in embs], dtype=np.int64)
        cands = self._reid_candidates(taken, exclude)
        if not len(rows) or not cands:
            return []
        q = np.stack([embs[int(r)] for r in rows])
        g = np.stack([t.embedding for t in cands])
        dist = 1.0 - q @ g.T
        r_idx, c_idx = linear_sum_assignment(dist)
        return [(int(rows[r]), cands[c]) for r, c in zip(r_idx, c_idx) if dist[r, c] <= self.reid_distance]

    def _assign_by_appearance(self, detected: np.ndarray, weak: np.ndarray, embs: dict[int, np.ndarray],
                              ids: np.ndarray, taken: set[int]) -> None:
        """Steps 4 and 5 of the rule as one assignment.  Rows: embedded detections matched only weakly by
        motion, and embedded detections no track took.  Columns: their motion tracks and every confirmed
        track of the shot no other face of this frame holds.  A row may keep its motion track within
        ``split_distance`` and take any other within ``reid_distance``; the Hungarian match on embedding
        distance gives the most pairs, then the closest (so a face that belongs to a weakly matched track
        takes it back from a stranger that only stood nearby)."""
        rows = [i for i in embs if detected[i] and (ids[i] < 0 or weak[i])]
        if not rows:
            return
        own = {i: int(ids[i]) for i in rows if ids[i] >= 0}
        for fid in own.values():
            taken.discard(fid)
        cands = self._reid_candidates(taken)
        for i in rows:
            ids[i] = -1
        if cands:
            q = np.stack([embs[i] for i in rows])
            g = np.stack([t.embedding for t in cands])
            dist = 1.0 - q @ g.T
            limit = np.full(dist.shape, self.reid_distance)
            for r, i in enumerate(rows):
                for c, t in enumerate(cands):
                    if own.get(i) == t.face_id:
                        limit[r, c] = self.split_distance
            ok = dist <= limit
            r_idx, c_idx = linear_sum_assignment(np.where(ok, dist, 1e3))
            for r, c in zip(r_idx, c_idx):
                if ok[r, c]:
                    ids[rows[r]] = cands[c].face_id
                    taken.add(cands[c].face_id)
        self.splits += sum(1 for i, fid in own.items() if ids[i] != fid)

    def _merge_fresh(self, rows: np.ndarray, embs: dict[int, np.ndarray], ids: np.ndarray, taken: set[int]) -> None:
        """Tracks of ``rows`` (no embedding so far) that match an earlier track of the shot merge into it."""
        for r, old in self._closest(rows, embs, taken, exclude={int(ids[i]) for i in rows}):
            new = self._live.pop(int(ids[r]))
            if spans_overlap(old.spans, new.spans):
                self._live[new.face_id] = new  # on screen together: two people after all
                continue
            self._lost.pop(old.face_id, None)
            old.kf, old.box, old.last_s = new.kf, new.box, new.last_s
            old.detector_hits += new.detector_hits
            old.spans += new.spans
            self._live[old.face_id] = old
            self.merged[new.face_id] = old.face_id
            taken.discard(new.face_id)
            taken.add(old.face_id)
            ids[r] = old.face_id
