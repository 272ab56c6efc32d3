"""``vidaffect analyze --report / --annotate``: an HTML report and an annotated copy of each video."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from vidaffect.report import VIDEO_MODES


def add_report_arguments(g, prefix: str = "--report-") -> None:
    """Options of the report's content (shared by ``analyze --report`` and ``vidaffect report``, which
    names them without the ``report-`` prefix)."""
    g.add_argument(f"{prefix}video", dest="report_video", choices=VIDEO_MODES, default="auto",
                   help="video in the report: 'link' = relative link to the source file, 'proxy' = embed a 240p "
                        "H.264 copy (self-contained, bigger file), 'none', 'auto' = link when browsers can play the "
                        "source (H.264/VP8/VP9/AV1 in MP4/MOV/WebM), else proxy (default: %(default)s)")
    g.add_argument(f"{prefix}thumbnails", dest="report_thumbnails", type=int, default=10, metavar="N",
                   help="face thumbnails per face track in the report, 0 for none (default: %(default)s)")
    g.add_argument(f"{prefix}max-faces", dest="report_max_faces", type=int, default=12, metavar="N",
                   help="draw charts for the N persons (face tracks linked by identity; a track without a person "
                        "counts as one) longest on screen; the summary table lists all (default: %(default)s)")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    g = parser.add_argument_group("report and annotated video")
    g.add_argument("--report", action="store_true",
                   help="also write <video>.report.html (interactive, self-contained: player with emotion subtitles, "
                        "valence/arousal, emotion and segment charts per person linked to it, thumbnails, summary; "
                        "only the analysed --start/--end range) and refresh OUT_DIR/index.html")
    add_report_arguments(g)
    g.add_argument("--annotate", action="store_true",
                   help="also write <video>.annotated.mp4: the video re-encoded (H.264, else MPEG-4) with boxes, "
                        "face/person ids, dominant emotion and a valence/arousal gauge per face, audio copied")


def report_options(args: argparse.Namespace):
    from vidaffect.report.html import ReportOptions

    return ReportOptions(video_mode=args.report_video, thumbnails=max(0, args.report_thumbnails),
                         max_faces=max(1, args.report_max_faces))


def after_save(args, video_path, results, out_dir, paths) -> dict[str, Path]:
    if not (args.report or args.annotate):
        return {}
    from vidaffect.report import annotate_video, build_index, build_report

    out_dir = Path(out_dir)
    meta_file = paths.get("metadata")  # <name>.metadata.json: the set's name (unique in the run)
    stem = (meta_file.name[: -len(".metadata.json")] if meta_file is not None
            else Path((results.metadata.get("video") or {}).get("path") or video_path).stem)
    progress = not args.quiet and sys.stderr.isatty()
    written: dict[str, Path] = {}
    if args.annotate:
        written["annotated"] = annotate_video(video_path, results, out_dir / f"{stem}.annotated.mp4", progress=progress)
    if args.report:
        written["report"] = build_report(results, out_dir / f"{stem}.report.html", video=video_path,
                                         options=report_options(args), annotated=written.get("annotated"),
                                         index_href="index.html")
        written["index"] = build_index(out_dir)
    return written
