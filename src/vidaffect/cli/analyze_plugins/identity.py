"""``vidaffect analyze --identity / --gallery``: a ``person_id`` (and ``person_name``) for every face track."""
from __future__ import annotations

import argparse
import logging

from vidaffect.identity.cluster import DEFAULT_THRESHOLD

log = logging.getLogger("vidaffect.identity")


def _gallery_file(value: str) -> str:
    """argparse type: the gallery must exist before any video is analysed."""
    from pathlib import Path

    if not Path(value).is_file():
        raise argparse.ArgumentTypeError(f"{value}: gallery file not found (make it with 'vidaffect people enroll')")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    g = parser.add_argument_group("identity (needs the 'identity' extra: dlib-bin, face_recognition_models)")
    g.add_argument("--identity", action="store_true",
                   help="group face tracks into persons with dlib face descriptors and add a person_id column "
                        "(the same person re-entering after a cut or gap keeps one id)")
    g.add_argument("--identity-threshold", type=float, default=DEFAULT_THRESHOLD, metavar="DIST",
                   help="largest cosine distance between two tracks (or a track and a gallery person) of the same "
                        "person (default: %(default)s; lower is stricter; dlib's Euclidean 0.6 is about 0.08)")
    g.add_argument("--gallery", metavar="FILE", type=_gallery_file,
                   help="gallery JSON from 'vidaffect people enroll': also add person_name, the nearest enrolled "
                        "person within the threshold, else 'unknown' (implies --identity)")


def before_save(args: argparse.Namespace, video_path, results, analyzer) -> None:
    if not (getattr(args, "identity", False) or getattr(args, "gallery", None)):
        return
    from vidaffect.identity.embedder import FaceEmbedder
    from vidaffect.identity.gallery import Gallery
    from vidaffect.identity.persons import add_person_columns, assign_persons

    gallery = Gallery.load(args.gallery) if args.gallery else None
    embedder = getattr(args, "_identity_embedder", None) or FaceEmbedder()
    args._identity_embedder = embedder  # reused for the next videos of the same run
    a = assign_persons(video_path, results.frames, embedder, threshold=args.identity_threshold, gallery=gallery)
    results.frames = add_person_columns(results.frames, a, with_names=gallery is not None)
    results.metadata["identity"] = {
        "model": "dlib_face_recognition_resnet_model_v1", "distance": "cosine", "linkage": "average",
        "threshold": args.identity_threshold, "gallery": str(args.gallery) if args.gallery else None,
        "persons": len(set(a.track_person.values())), "tracks": len(a.track_person),
        "unverified_tracks": [t.face_id for t in a.tracks if not t.verified],
        "names": {str(k): v for k, v in a.track_name.items()} if gallery is not None else None,
        "seconds": round(a.seconds, 3), "cost": a.cost.as_dict(),
    }
    log.info("%s: %d track(s) -> %d person(s) in %.1f s", video_path, len(a.track_person),
             results.metadata["identity"]["persons"], a.seconds)
