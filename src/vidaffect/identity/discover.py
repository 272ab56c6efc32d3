"""Find the people of many videos: cluster all face tracks, one contact sheet PNG per candidate identity.

Writes into OUT: ``clusters.json`` (per cluster: its tracks with video, face id,
time range, frames), ``cluster_NNN.png`` (thumbnails of its tracks, best crop
each) and ``tracks.npz`` (descriptors, cluster labels, videos, face ids) so a
cluster can later be enrolled under a name.
"""
from __future__ import annotations

import io
import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vidaffect.identity.cluster import DEFAULT_THRESHOLD, cluster_embeddings, co_occurring
from vidaffect.identity.descriptor import FaceDescriptor
from vidaffect.identity.tracks import EmbedCost, TrackEmbedding, video_tracks
from vidaffect.utils.atomic import atomic_path, atomic_write_bytes, atomic_write_text


@dataclass
class Discovery:
    tracks: list[TrackEmbedding]
    labels: np.ndarray
    cost: EmbedCost

    @property
    def n_clusters(self) -> int:
        return int(self.labels.max()) + 1 if len(self.labels) else 0

    def members(self, k: int) -> list[TrackEmbedding]:
        return [t for t, lab in zip(self.tracks, self.labels) if lab == k]


def discover(videos: list[str | os.PathLike], embedder: FaceDescriptor, threshold: float = DEFAULT_THRESHOLD,
             fps: float | None = 5.0, min_frames: int = 3, progress: bool = False) -> Discovery:
    """Track and embed the faces of every video, then cluster all tracks (tracks sharing a frame stay apart;
    tracks never embedded (faces too small, no mesh) are left out)."""
    from tqdm import tqdm

    cost = EmbedCost()
    tracks: list[TrackEmbedding] = []
    for v in tqdm(videos, desc="videos", unit="video", disable=not progress):
        tracks += video_tracks(v, embedder, fps=fps, min_frames=min_frames, cost=cost)
    emb = np.stack([t.embedding for t in tracks]) if tracks else np.zeros((0, 128), np.float32)
    # frame sets are per video: key them by (video, frame) so only same-video tracks can conflict
    keyed = [{(t.video, f) for f in t.times} for t in tracks]
    labels = cluster_embeddings(emb, threshold, co_occurring(keyed))
    return Discovery(tracks, labels, cost)


def contact_sheet(tracks: list[TrackEmbedding], title: str, columns: int = 6, max_faces: int = 36) -> bytes:
    """PNG bytes: a grid of the tracks' best crops, each captioned 'video #face_id'."""
    from PIL import Image, ImageDraw

    tracks = sorted(tracks, key=lambda t: -t.frames)[:max_faces]
    th, cap = tracks[0].thumbnail.shape[0], 14
    cols = min(columns, len(tracks))
    rows = (len(tracks) + cols - 1) // cols
    sheet = Image.new("RGB", (cols * th, 18 + rows * (th + cap)), "white")
    draw = ImageDraw.Draw(sheet)
    draw.text((4, 3), title, fill="black")
    for i, t in enumerate(tracks):
        x, y = (i % cols) * th, 18 + (i // cols) * (th + cap)
        sheet.paste(Image.fromarray(t.thumbnail), (x, y))
        draw.text((x + 2, y + th), f"{Path(t.video).stem[:9]} #{t.face_id}", fill="black")
    buf = io.BytesIO()
    sheet.save(buf, format="PNG")
    return buf.getvalue()


def write_discovery(d: Discovery, out_dir: str | Path, threshold: float) -> dict[str, Path]:
    """Write clusters.json, one contact sheet per cluster and tracks.npz into ``out_dir``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}
    clusters = []
    for k in range(d.n_clusters):
        members = d.members(k)
        sheet = out / f"cluster_{k:03d}.png"
        atomic_write_bytes(sheet, contact_sheet(members, f"cluster {k}: {len(members)} track(s)"))
        paths[f"cluster_{k:03d}"] = sheet
        clusters.append({"cluster": k, "contact_sheet": sheet.name, "frames": int(sum(t.frames for t in members)),
                         "videos": sorted({t.video for t in members}),
                         "tracks": [{"video": t.video, "face_id": t.face_id, "first_s": round(t.first_s, 3),
                                     "last_s": round(t.last_s, 3), "frames": t.frames} for t in members]})
    with atomic_path(out / "tracks.npz") as tmp:
        with open(tmp, "wb") as fh:
            np.savez(fh, embeddings=np.stack([t.embedding for t in d.tracks]) if d.tracks else np.zeros((0, 128)),
                     labels=d.labels, videos=np.array([t.video for t in d.tracks]),
                     face_ids=np.array([t.face_id for t in d.tracks], dtype=np.int64))
    paths["tracks"] = out / "tracks.npz"
    doc = {"threshold": threshold, "distance": "cosine", "linkage": "average", "cost": d.cost.as_dict(),
           "clusters": clusters}
    paths["clusters"] = atomic_write_text(out / "clusters.json", json.dumps(doc, indent=1))
    return paths


def cluster_embeddings_from_discovery(out_dir: str | Path, clusters: list[int]) -> list[np.ndarray]:
    """Track descriptors of the given clusters of a ``discover`` output folder (to enroll them under a name)."""
    from vidaffect.errors import VidaffectError

    path = Path(out_dir) / "tracks.npz"
    if not path.is_file():
        raise VidaffectError(f"{path}: not found (run 'vidaffect people discover' first)")
    with np.load(path, allow_pickle=False) as z:
        emb, labels = z["embeddings"], z["labels"]
    missing = sorted(set(clusters) - set(int(x) for x in labels))
    if missing:
        raise VidaffectError(f"{path}: no cluster(s) {missing}; it has 0..{int(labels.max()) if len(labels) else -1}")
    return [e for e, lab in zip(emb, labels) if int(lab) in set(clusters)]
