"""``vidaffect analyze --gallery``: name the persons of each video from a gallery of enrolled people."""
from __future__ import annotations

import argparse
import logging

import numpy as np
import pandas as pd

log = logging.getLogger("vidaffect.identity")


def _gallery_file(value: str) -> str:
    """argparse type: the gallery must exist before any video is analysed."""
    from pathlib import Path

    if not Path(value).is_file():
        raise argparse.ArgumentTypeError(f"{value}: gallery file not found (make it with 'vidaffect people enroll')")
    return value


def _distance(value: str) -> float:
    """argparse type: a cosine distance in (0, 2)."""
    try:
        d = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r}: not a number") from None
    if not 0 < d < 2:
        raise argparse.ArgumentTypeError(f"{value}: a cosine distance is in (0, 2)")
    return d


def add_arguments(parser: argparse.ArgumentParser) -> None:
    g = parser.add_argument_group("people: names")
    g.add_argument("--gallery", metavar="FILE", type=_gallery_file,
                   help="gallery JSON from 'vidaffect people enroll': add person_name, the enrolled person nearest to "
                        "each person's mean embedding within --gallery-threshold, else 'unknown'")
    g.add_argument("--gallery-threshold", type=_distance, default=None, metavar="DIST",
                   help="largest cosine distance between a person and an enrolled name (default: the person linking "
                        "threshold)")


def before_save(args: argparse.Namespace, video_path, results, analyzer) -> None:
    if not getattr(args, "gallery", None):
        return
    from vidaffect.errors import VidaffectError
    from vidaffect.identity.gallery import Gallery
    from vidaffect.identity.naming import name_persons

    if analyzer.embedder is None:
        raise VidaffectError("--gallery needs face embeddings; drop --no-identity")
    gallery = getattr(args, "_gallery", None) or Gallery.load(args.gallery)
    args._gallery = gallery  # loaded once per run
    ident = results.metadata.get("identity") or {}
    threshold = args.gallery_threshold if args.gallery_threshold is not None else ident.get("threshold")
    # each track's person, read in batches (the table may be on disk)
    pairs = [b[b["face_id"] >= 0].drop_duplicates("face_id") for b in results.iter_batches(["face_id", "person_id"])]
    tracks = pd.concat(pairs, ignore_index=True).drop_duplicates("face_id") if pairs else \
        pd.DataFrame({"face_id": [], "person_id": []})
    names = name_persons(tracks, analyzer.last_tracks, gallery, float(threshold))
    results.map_column("person_name", "person_id", {p: n for p, (n, _) in names.items()})
    ident.update(gallery=str(args.gallery), gallery_threshold=threshold,
                 names={str(p): {"name": n, "distance": None if np.isnan(d) else round(d, 4)}
                        for p, (n, d) in names.items()})
    results.metadata["identity"] = ident
    log.info("%s: %d person(s) named from %s", video_path, sum(n != "unknown" for n, _ in names.values()),
             args.gallery)
