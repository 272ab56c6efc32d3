"""``vidaffect serve``: the HTTP service (FastAPI + uvicorn) with a bounded worker pool on the job ledger."""
from __future__ import annotations

import argparse
import os
from pathlib import Path

from vidaffect.cli.commands.analyze import add_analysis_arguments, check_output_dir, options_from_args, setup_logging
from vidaffect.video.formats import DEFAULT_EXTS, parse_exts
from vidaffect.errors import VidaffectError

TOKEN_ENV = "VIDAFFECT_TOKEN"


def run_serve(args: argparse.Namespace) -> int:
    try:
        import uvicorn

        from vidaffect.service.app import ServiceConfig, create_app
    except ImportError as exc:
        raise VidaffectError(f"`vidaffect serve` needs the service extra: pip install 'vidaffect[service]' ({exc})") from None
    setup_logging(args.log_file, quiet=True)
    out = Path(args.output)
    check_output_dir(out)
    root = Path(args.root) if args.root else None
    if root is not None and not root.is_dir():
        raise VidaffectError(f"--root {root}: not a directory")
    if args.max_upload_mb <= 0 or args.workers < 1:
        raise VidaffectError("--max-upload-mb must be > 0 and --workers >= 1")
    exts = parse_exts(args.video_exts)
    config = ServiceConfig(out=out, options=options_from_args(args), root=root,
                           token=args.token or os.environ.get(TOKEN_ENV) or None,
                           max_upload_bytes=int(args.max_upload_mb * (1 << 20)), exts=exts,
                           workers=args.workers, threads=args.threads or 1)
    uvicorn.run(create_app(config), host=args.host, port=args.port, log_level="warning" if args.quiet else "info")
    return 0


def register(cli) -> None:
    p = cli.top.add_parser(
        "serve", help="HTTP service: submit videos, poll jobs, fetch results",
        description="Run the vidaffect HTTP API (OpenAPI schema at /openapi.json, interactive docs at /docs). "
                    "Jobs are kept in OUT_DIR's ledger, so a restarted server keeps its jobs; they run in a "
                    f"pool of --workers processes. Give a bearer token with --token or ${TOKEN_ENV} to require it on "
                    "every route but /health.")
    p.add_argument("--host", default="127.0.0.1", help="interface to listen on (default: %(default)s; use 0.0.0.0 only behind a token and TLS proxy)")
    p.add_argument("--port", type=int, default=8000, help="TCP port (default: %(default)s)")
    p.add_argument("-o", "--output", default="vidaffect-service", metavar="OUT_DIR", help="ledger, uploads and results (default: %(default)s)")
    p.add_argument("--root", help="allow jobs naming server-side files, confined to this folder (default: uploads only)")
    p.add_argument("--token", help=f"bearer token required on every route but /health (default: ${TOKEN_ENV}; none: open)")
    p.add_argument("--max-upload-mb", type=float, default=2048, help="largest accepted upload in MiB (default: %(default)s)")
    p.add_argument("--workers", type=int, default=1, help="videos analysed at the same time, one process and model copy each (default: %(default)s)")
    p.add_argument("--video-exts", default=DEFAULT_EXTS, help="accepted file extensions (default: %(default)s)")
    p.add_argument("--log-file", help="write the service log (INFO level) to this file")
    p.add_argument("-q", "--quiet", action="store_true", help="only warnings from the web server")
    add_analysis_arguments(p)
    p.set_defaults(func=run_serve)
