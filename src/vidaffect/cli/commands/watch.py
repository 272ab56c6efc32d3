"""``vidaffect watch DIR -o OUT``: analyse videos dropped into a folder (a long-lived daemon)."""
from __future__ import annotations

import argparse
from pathlib import Path

from vidaffect.cli.commands.analyze import (add_analysis_arguments, check_output_dir, options_from_args, parse_formats,
                                            setup_logging)
from vidaffect.errors import VidaffectError
from vidaffect.video.formats import DEFAULT_EXTS, DEFAULT_SETTLE_S, IN_PROGRESS_PATTERNS


def _patterns(values: list[str] | None) -> list[str]:
    return [p.strip() for v in values or [] for p in v.split(",") if p.strip()]


def run_watch(args: argparse.Namespace) -> int:
    from vidaffect.batch.watch import Watcher

    setup_logging(args.log_file, quiet=True)
    directory = Path(args.directory)
    if not directory.is_dir():
        raise VidaffectError(f"{directory}: not a directory")
    if not args.interval > 0:
        raise VidaffectError(f"--interval must be > 0 seconds, got {args.interval}")
    if not args.settle >= 0:
        raise VidaffectError(f"--settle must be >= 0 seconds, got {args.settle}")
    marker = args.ready_marker
    if marker is not None and (not marker.strip() or "/" in marker or marker.strip() in (".", "..")):
        raise VidaffectError(f"--ready-marker must be a file name suffix such as .done, got {marker!r}")
    out = Path(args.output)
    check_output_dir(out)
    watcher = Watcher(directory, out, options_from_args(args), interval=args.interval, exts=args.video_exts,
                      formats=parse_formats(args.format), plot=not args.no_plot, threads=args.threads or 1,
                      settle=args.settle, ignore=_patterns(args.ignore), ready_marker=marker)
    watcher.install_signal_handlers()
    watcher.run()
    return 0


def register(cli) -> None:
    p = cli.top.add_parser(
        "watch", help="watch a folder and analyse each new video once it is completely written",
        description="Watch DIR (recursively; inotify where available, else a check every --interval seconds) and "
                    "analyse each video into OUT_DIR once it is whole: (1) its size, modification time and change "
                    "time stayed the same for --settle seconds, (2) its data reaches the end its header announces "
                    "(duration, frame count, file size: a partial WMV/AVI/MKV/MP4 copy is not taken), (3) its name "
                    "does not mean \"in progress\" (" + ", ".join(IN_PROGRESS_PATTERNS) + ", files in dot-folders, "
                    "--ignore patterns). With --ready-marker SUFFIX, a video is taken only once VIDEO+SUFFIX exists. "
                    "Same ledger and layout as `vidaffect batch`: finished videos are never redone, and a file "
                    "whose content changes gets a new result that supersedes the old one (one current result per "
                    "path; `vidaffect status` lists superseded versions). SIGINT/SIGTERM: finish the current "
                    "video and stop; a second signal requeues it and stops at once. Meant to run as a daemon "
                    "(systemd, supervisord) with --log-file.")
    p.add_argument("directory", metavar="DIR", help="folder to watch")
    p.add_argument("-o", "--output", required=True, metavar="OUT_DIR", help="output directory (ledger, results, data set)")
    p.add_argument("--interval", type=float, default=5.0, help="seconds between two checks of the folder when no file event wakes the watcher (default: %(default)s)")
    p.add_argument("--settle", type=float, default=DEFAULT_SETTLE_S, metavar="SECONDS",
                   help="a video must stay unchanged (size, mtime, ctime) this long before it is analysed "
                        "(default: %(default)s: longer than the pauses of recorders, which write at least every "
                        "few seconds, and of network copies (SMB/NFS stalls, NFS attribute caching); use a few "
                        "seconds where files are moved into DIR in one rename, 0 = two equal checks)")
    p.add_argument("--ignore", action="append", metavar="PATTERN",
                   help="file name pattern (fnmatch, e.g. 'rec_*' or '*.writing.mp4') of files still being written, "
                        "on top of the built-in ones; repeat or separate with commas")
    p.add_argument("--ready-marker", metavar="SUFFIX",
                   help="analyse a video only once a marker file VIDEO+SUFFIX exists (e.g. .done: video.mp4.done), "
                        "for pipelines that write one after the video; replaces the --settle wait")
    p.add_argument("--video-exts", default=DEFAULT_EXTS, help="comma-separated extensions to pick up (default: %(default)s)")
    p.add_argument("--format", default="csv,parquet", help="per-video result formats: csv, parquet, json (default: %(default)s)")
    p.add_argument("--no-plot", action="store_true", help="do not write the VA trend PNG of each video")
    p.add_argument("--log-file", help="log every event (INFO level) to this file")
    add_analysis_arguments(p)
    p.set_defaults(func=run_watch)
