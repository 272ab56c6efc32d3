"""Descriptors of one person from images or a video, for :class:`~vidaffect.identity.gallery.Gallery` enrolment."""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from vidaffect.errors import VidaffectError
from vidaffect.identity.cluster import DEFAULT_THRESHOLD, cluster_embeddings, co_occurring
from vidaffect.identity.descriptor import FaceDescriptor
from vidaffect.identity.tracks import video_tracks

log = logging.getLogger(__name__)
IMAGE_EXTS = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"}


def embedding_from_image(path: str | Path, embedder: FaceDescriptor) -> np.ndarray:
    """Descriptor of the largest face of an image file."""
    from PIL import Image

    from vidaffect.faces import FaceDetector

    try:
        image = np.asarray(Image.open(path).convert("RGB"))
    except (OSError, ValueError) as exc:
        raise VidaffectError(f"{path}: cannot read image ({exc})") from None
    for model in ("multiscale", "short"):  # short range as well: a close-up may fill the whole image
        det = FaceDetector(model, None, 10, landmarks=True, video_mode=False)
        try:
            dets = det.detect(image)
        finally:
            det.close()
        if len(dets):
            break
    if len(dets):
        emb = embedder.embed_faces(image, dets)
        order = np.argsort(-dets.area)
        for i in order:
            if np.isfinite(emb[i]).all():
                return emb[i]
        raise VidaffectError(f"{path}: the face is too small or turned away for a descriptor "
                             f"(at least {embedder.min_face_px:.0f} px wide, with a fitted face mesh)")
    raise VidaffectError(f"{path}: no face found in the image")


def embeddings_from_video(path: str | Path, embedder: FaceDescriptor, fps: float | None = 5.0,
                          threshold: float = DEFAULT_THRESHOLD, progress: bool = False) -> list[np.ndarray]:
    """Track descriptors of the person seen the longest in a video (other people in it are ignored)."""
    tracks = video_tracks(path, embedder, fps=fps, progress=progress)
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


def embeddings_from_inputs(inputs: list[str | Path], embedder: FaceDescriptor, fps: float | None = 5.0,
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
