"""Descriptors of one person from images or a video, for :class:`~vidaffect.identity.gallery.Gallery` enrolment."""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from vidaffect.errors import VidaffectError
from vidaffect.identity.cluster import DEFAULT_THRESHOLD, cluster_embeddings, co_occurring
from vidaffect.identity.embedder import FaceEmbedder
from vidaffect.identity.tracks import embed_tracks, track_table

log = logging.getLogger(__name__)
IMAGE_EXTS = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"}


def embedding_from_image(path: str | Path, embedder: FaceEmbedder) -> np.ndarray:
    """Descriptor of the largest face of an image file."""
    from PIL import Image

    from vidaffect.faces import FaceDetector

    try:
        image = np.asarray(Image.open(path).convert("RGB"))
    except (OSError, ValueError) as exc:
        raise VidaffectError(f"{path}: cannot read image ({exc})") from None
    for model in ("short", "full"):
        dets = FaceDetector(model, 0.5, 10, landmarks=False, video_mode=False).detect(image)
        if len(dets):
            return embedder.embed_box(image, dets.xyxy[int(np.argmax(dets.area))])
    raise VidaffectError(f"{path}: no face found in the image")


def embeddings_from_video(path: str | Path, embedder: FaceEmbedder, fps: float | None = 5.0,
                          threshold: float = DEFAULT_THRESHOLD, progress: bool = False) -> list[np.ndarray]:
    """Track descriptors of the person seen the longest in a video (other people in it are ignored)."""
    table = track_table(path, fps=fps, progress=progress)
    tracks = [t for t in embed_tracks(path, table, embedder) if t.verified]
    if not tracks:
        raise VidaffectError(f"{path}: no face found in the video")
    labels = cluster_embeddings(np.stack([t.embedding for t in tracks]), threshold,
                                co_occurring([t.times for t in tracks]))
    frames = np.bincount(labels, weights=[t.frames for t in tracks])
    main = int(np.argmax(frames))
    if len(frames) > 1:
        log.warning("%s: %d people seen; enrolling the one on screen the longest (%d of %d face frames)",
                    path, len(frames), int(frames[main]), int(frames.sum()))
    return [t.embedding for t, lab in zip(tracks, labels) if lab == main]


def embeddings_from_inputs(inputs: list[str | Path], embedder: FaceEmbedder, fps: float | None = 5.0,
                           threshold: float = DEFAULT_THRESHOLD, progress: bool = False
                           ) -> list[tuple[str, list[np.ndarray]]]:
    """(source, descriptors) for each image or video file."""
    out = []
    for p in inputs:
        p = Path(p)
        if not p.is_file():
            raise VidaffectError(f"{p}: file not found")
        if p.suffix.lower() in IMAGE_EXTS:
            out.append((str(p), [embedding_from_image(p, embedder)]))
        else:
            out.append((str(p), embeddings_from_video(p, embedder, fps, threshold, progress)))
    return out
