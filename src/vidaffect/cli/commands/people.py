"""``vidaffect people enroll`` / ``people discover``: a gallery of named people, candidate identities across videos."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from vidaffect.errors import VidaffectError
from vidaffect.identity.cluster import DEFAULT_THRESHOLD


def _enroll(args: argparse.Namespace) -> int:
    from vidaffect.identity.descriptor import FaceDescriptor
    from vidaffect.identity.enroll import embeddings_from_inputs
    from vidaffect.identity.gallery import Gallery

    gallery_path = Path(args.gallery)
    gallery = Gallery.load(gallery_path) if gallery_path.exists() else Gallery()
    if not args.inputs and not args.discovered:
        raise VidaffectError("give IMAGE_OR_VIDEO files and/or --discovered DIR --cluster K")
    if bool(args.discovered) != bool(args.cluster):
        raise VidaffectError("--discovered and --cluster go together")
    found = []
    if args.inputs:
        found = embeddings_from_inputs(args.inputs, FaceDescriptor(), fps=args.fps, threshold=args.threshold,
                                       progress=not args.quiet and sys.stderr.isatty())
    if args.discovered:
        from vidaffect.identity.discover import cluster_embeddings_from_discovery

        found.append((f"{args.discovered}#clusters={','.join(map(str, args.cluster))}",
                      cluster_embeddings_from_discovery(args.discovered, args.cluster)))
    for source, embs in found:
        gallery.enroll(args.name, embs, source)
    gallery.save(gallery_path)
    if not args.quiet:
        n = sum(len(e) for _, e in found)
        print(f"enrolled {args.name!r}: {n} descriptor(s) from {len(found)} file(s) -> {gallery_path} "
              f"({len(gallery.names)} person(s))")
    return 0


def _discover(args: argparse.Namespace) -> int:
    from vidaffect.cli.commands.analyze import collect_videos
    from vidaffect.identity.descriptor import FaceDescriptor
    from vidaffect.identity.discover import discover, write_discovery

    videos, failures = collect_videos(args.inputs, args.video_exts)
    for p, why in failures:
        print(f"vidaffect: error: {p}: {why}", file=sys.stderr)
    if not videos:
        return 1
    d = discover(videos, FaceDescriptor(), threshold=args.threshold, fps=args.fps, min_frames=args.min_frames,
                 progress=not args.quiet and sys.stderr.isatty())
    paths = write_discovery(d, args.output, args.threshold)
    if not args.quiet:
        print(f"{len(d.tracks)} track(s) in {len(videos)} video(s) -> {d.n_clusters} candidate person(s); "
              f"contact sheets and {paths['clusters'].name} in {args.output}")
    return 1 if failures else 0


def register(cli) -> None:
    from vidaffect.video.formats import DEFAULT_EXTS

    people = cli.group("people")
    p = people.add_parser(
        "enroll", help="add a named person to a gallery from images or videos",
        description="Compute face descriptors (dlib's ResNet, run by vidaffect) of NAME from image files (largest face of each) or videos (the "
                    "person on screen the longest), or take them from clusters found by 'people discover', and add "
                    "them to the gallery JSON (created if missing). "
                    "Use the gallery with 'vidaffect analyze --gallery FILE'.")
    p.add_argument("name", metavar="NAME", help="the person's name")
    p.add_argument("inputs", nargs="*", metavar="IMAGE_OR_VIDEO", help="image or video files showing the person")
    p.add_argument("--gallery", required=True, metavar="FILE", help="gallery JSON file to create or extend")
    p.add_argument("--discovered", metavar="DIR", help="output folder of 'vidaffect people discover': enroll the "
                                                     "tracks of the clusters given with --cluster")
    p.add_argument("--cluster", type=int, nargs="+", metavar="K", help="cluster number(s) of the contact sheets "
                                                                     "cluster_K.png showing this person")
    p.add_argument("--fps", type=float, default=5.0, help="frames per second analysed in videos (default: %(default)s)")
    p.add_argument("--threshold", type=float, default=DEFAULT_THRESHOLD, metavar="DIST",
                   help="cosine distance under which tracks of a video are the same person (default: %(default)s)")
    p.add_argument("-q", "--quiet", action="store_true", help="print nothing on success")
    p.set_defaults(func=_enroll)

    p = people.add_parser(
        "discover", help="cluster the faces of many videos into candidate people, with contact sheets",
        description="Track and embed the faces of every video, cluster the tracks into candidate identities and "
                    "write OUT/clusters.json, OUT/cluster_NNN.png (one contact sheet per cluster, for a person to "
                    "name) and OUT/tracks.npz (descriptors and cluster labels).")
    p.add_argument("inputs", nargs="+", metavar="VIDEO_OR_DIR", help="video files and/or directories")
    p.add_argument("-o", "--output", required=True, metavar="OUT_DIR", help="output directory")
    p.add_argument("--threshold", type=float, default=DEFAULT_THRESHOLD, metavar="DIST",
                   help="cosine distance (average linkage) under which tracks join one cluster (default: %(default)s)")
    p.add_argument("--fps", type=float, default=5.0, help="frames per second analysed (default: %(default)s)")
    p.add_argument("--min-frames", type=int, default=3, help="ignore tracks seen in fewer analysed frames (default: %(default)s)")
    p.add_argument("--video-exts", default=DEFAULT_EXTS, help="extensions of videos looked for in directories")
    p.add_argument("-q", "--quiet", action="store_true", help="print nothing on success")
    p.set_defaults(func=_discover)
