"""``vidaffect watch DIR -o OUT``: analyse videos dropped into a folder (a long-lived daemon)."""
from __future__ import annotations

import argparse
from pathlib import Path

from vidaffect.cli.commands.analyze import (add_analysis_arguments, check_output_dir, options_from_args, parse_formats,
                                            setup_logging)
from vidaffect.errors import VidaffectError

WATCH_EXTS = "mp4,avi,mov,mkv,webm,wmv,m4v"


def run_watch(args: argparse.Namespace) -> int:
    from vidaffect.batch.watch import Watcher

    setup_logging(args.log_file, quiet=True)
    directory = Path(args.directory)
    if not directory.is_dir():
        raise VidaffectError(f"{directory}: not a directory")
    if args.interval <= 0:
        raise VidaffectError(f"--interval must be > 0 seconds, got {args.interval}")
    out = Path(args.output)
    check_output_dir(out)
    watcher = Watcher(directory, out, options_from_args(args), interval=args.interval, exts=args.video_exts,
                      formats=parse_formats(args.format), plot=not args.no_plot, threads=args.threads or 1)
    watcher.install_signal_handlers()
    watcher.run()
    return 0


def register(cli) -> None:
    p = cli.top.add_parser(
        "watch", help="watch a folder and analyse each new video once it is completely written",
        description="Poll DIR (recursively) every --interval seconds; a video whose size and modification time "
                    "stayed the same over two checks is analysed into OUT_DIR (same ledger and layout as "
                    "`vidaffect batch`: finished videos are never redone). SIGINT/SIGTERM: finish the current "
                    "video and stop; a second signal requeues it and stops at once. Meant to run as a daemon "
                    "(systemd, supervisord) with --log-file.")
    p.add_argument("directory", metavar="DIR", help="folder to watch")
    p.add_argument("-o", "--output", required=True, metavar="OUT_DIR", help="output directory (ledger, results, data set)")
    p.add_argument("--interval", type=float, default=5.0, help="seconds between two checks of the folder (default: %(default)s)")
    p.add_argument("--video-exts", default=WATCH_EXTS, help="comma-separated extensions to pick up (default: %(default)s)")
    p.add_argument("--format", default="csv,parquet", help="per-video result formats: csv, parquet, json (default: %(default)s)")
    p.add_argument("--no-plot", action="store_true", help="do not write the VA trend PNG of each video")
    p.add_argument("--log-file", help="log every event (INFO level) to this file")
    add_analysis_arguments(p)
    p.set_defaults(func=run_watch)
