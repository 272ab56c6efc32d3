"""``vidaffect report OUT_DIR``: HTML reports (and annotated videos) from saved results, plus the index page."""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from vidaffect.errors import OutputError, VidaffectError


def find_frames_file(meta_path: Path) -> Path | None:
    """The saved per-frame table beside a ``<stem>.metadata.json`` (Parquet preferred: exact types)."""
    stem = meta_path.name[: -len(".metadata.json")]
    for suffix in (".frames.parquet", ".frames.csv"):
        p = meta_path.with_name(stem + suffix)
        if p.exists():
            return p
    return None


def locate_video(recorded: str | None, videos_root: Path | None) -> Path | None:
    """The analysed video: its recorded path when it still exists, else a file of the same name under
    ``videos_root`` (the one sharing most parent folder names with the recorded path)."""
    if recorded and Path(recorded).is_file():
        return Path(recorded)
    if not recorded or videos_root is None:
        return None
    rec = Path(recorded)
    matches = [p for p in videos_root.rglob(rec.name) if p.is_file()]
    if not matches:
        return None
    parents = set(rec.parent.parts)
    return max(matches, key=lambda p: (len(parents & set(p.parent.parts)), -len(p.parts)))


def run_report(args: argparse.Namespace) -> int:
    from vidaffect.cli.analyze_plugins.report import report_options
    from vidaffect.report import annotate_video, build_index, build_report
    from vidaffect.results.results import Results

    out = Path(args.out_dir)
    if not out.is_dir():
        raise OutputError(f"{out}: not a directory of vidaffect results")
    root = Path(args.videos_root) if args.videos_root else None
    if root is not None and not root.is_dir():
        raise VidaffectError(f"{root}: --videos-root is not a directory")
    metas = sorted(out.rglob("*.metadata.json"))
    if not metas:
        raise OutputError(f"{out}: no results found (no <video>.metadata.json; run `vidaffect analyze` first)")
    failures = 0
    index = out / "index.html"
    for meta in metas:
        frames_file = find_frames_file(meta)
        if frames_file is None:
            print(f"vidaffect: error: {meta}: no .frames.parquet or .frames.csv beside it", file=sys.stderr)
            failures += 1
            continue
        try:
            res = Results.load(frames_file)
            stem = meta.name[: -len(".metadata.json")]
            video = locate_video((res.metadata.get("video") or {}).get("path"), root)
            if video is None:
                print(f"vidaffect: warning: {stem}: source video not found"
                      f"{'' if root else ' (give --videos-root)'}; the report has charts only", file=sys.stderr)
            annotated = None
            if args.annotate and video is not None:
                annotated = annotate_video(video, res, meta.with_name(f"{stem}.annotated.mp4"),
                                           progress=sys.stderr.isatty() and not args.quiet)
            elif not args.annotate and meta.with_name(f"{stem}.annotated.mp4").exists():
                annotated = meta.with_name(f"{stem}.annotated.mp4")
            opts = report_options(args)
            if video is None:
                opts.video_mode = "none"
            page = build_report(res, meta.with_name(f"{stem}.report.html"), video=video, options=opts,
                                annotated=annotated,
                                index_href=Path(os.path.relpath(index, meta.parent)).as_posix())
        except VidaffectError as exc:
            print(f"vidaffect: error: {frames_file}: {exc}", file=sys.stderr)
            failures += 1
            continue
        if not args.quiet:
            print(f"{page}" + (f"\n{annotated}" if annotated is not None and args.annotate else ""))
    build_index(out, index)
    if not args.quiet:
        print(f"{index}  ({len(metas) - failures} video(s))")
    return 1 if failures else 0


def register(cli) -> None:
    from vidaffect.cli.analyze_plugins.report import add_report_arguments

    p = cli.top.add_parser(
        "report", help="build HTML reports and the index page from saved results",
        description="For every analysed video in OUT_DIR (a <video>.metadata.json with its .frames.parquet or "
                    ".frames.csv, searched recursively) write <video>.report.html beside it: a self-contained page "
                    "with the video player, per-face valence/arousal and emotion charts linked to it, face "
                    "thumbnails and the summary; then write OUT_DIR/index.html listing every video.")
    p.add_argument("out_dir", metavar="OUT_DIR", help="directory written by `vidaffect analyze` (or batch)")
    p.add_argument("--videos-root", metavar="DIR",
                   help="where to look for the source videos (by file name) when they are no longer at the path "
                        "recorded in the results")
    add_report_arguments(p, prefix="--")
    p.add_argument("--annotate", action="store_true",
                   help="also write <video>.annotated.mp4 for each video (boxes, ids, emotion, VA gauge; audio kept)")
    p.add_argument("-q", "--quiet", action="store_true", help="print nothing but errors")
    p.set_defaults(func=run_report)
