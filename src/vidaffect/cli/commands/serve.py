"""``vidaffect serve``: the HTTP service (FastAPI + uvicorn) with a bounded worker pool on the job ledger."""
from __future__ import annotations

import argparse
import ipaddress
import logging
import os
import sys
from pathlib import Path

from vidaffect.cli.commands.analyze import add_analysis_arguments, check_output_dir, options_from_args, setup_logging
from vidaffect.video.formats import DEFAULT_EXTS, parse_exts
from vidaffect.errors import VidaffectError

TOKEN_ENV = "VIDAFFECT_TOKEN"
LOOPBACK_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"}


def is_loopback(host: str) -> bool:
    """Does ``host`` (as given to --host) listen on the loopback interface only?  Unknown names: no."""
    h = host.strip().strip("[]").lower()
    if h in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(h).is_loopback
    except ValueError:
        return False


def _warn(message: str) -> None:
    print(f"vidaffect: warning: {message}", file=sys.stderr)
    logging.getLogger("vidaffect.service").warning(message)


def resolve_token(args: argparse.Namespace) -> str | None:
    """The bearer token: ``--token``, else ``$VIDAFFECT_TOKEN``; None (no authentication) only on a loopback
    interface or with ``--insecure``.  An empty (or blank) token is a warning, never a silent open server."""
    given = {"--token": args.token, f"${TOKEN_ENV}": os.environ.get(TOKEN_ENV)}
    token = next((v for v in given.values() if v and v.strip()), None)
    blank = [k for k, v in given.items() if v is not None and not v.strip()]
    if blank and token is None:
        _warn(f"{' and '.join(blank)} is empty: the service runs WITHOUT authentication")
    elif "--token" in blank:
        _warn(f"--token is empty: using ${TOKEN_ENV}")
    if token is None and not is_loopback(args.host):
        if not args.insecure:
            raise VidaffectError(f"refusing to listen on {args.host} without a token: anyone who can reach it could "
                                 f"submit jobs and download results; give --token or ${TOKEN_ENV}, listen on "
                                 f"127.0.0.1, or add --insecure to serve it open anyway")
        _warn(f"listening on {args.host} without a token (--insecure): anyone who can reach it can submit jobs "
              f"and download results")
    return token


def run_serve(args: argparse.Namespace) -> int:
    try:
        import uvicorn

        from vidaffect.service.app import ServiceConfig, create_app
    except ImportError as exc:
        raise VidaffectError(f"`vidaffect serve` needs the service extra: pip install 'vidaffect[service]' ({exc})") from None
    setup_logging(args.log_file, quiet=True)
    token = resolve_token(args)
    out = Path(args.output)
    check_output_dir(out)
    root = Path(args.root) if args.root else None
    if root is not None and not root.is_dir():
        raise VidaffectError(f"--root {root}: not a directory")
    if args.max_upload_mb <= 0 or args.workers < 1:
        raise VidaffectError("--max-upload-mb must be > 0 and --workers >= 1")
    exts = parse_exts(args.video_exts)
    config = ServiceConfig(out=out, options=options_from_args(args), root=root,
                           token=token,
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
                    "every route but /health; without one the server listens on a loopback address only, unless "
                    "--insecure.")
    p.add_argument("--host", default="127.0.0.1", help="interface to listen on (default: %(default)s; use 0.0.0.0 only behind a token and TLS proxy)")
    p.add_argument("--port", type=int, default=8000, help="TCP port (default: %(default)s)")
    p.add_argument("-o", "--output", default="vidaffect-service", metavar="OUT_DIR", help="ledger, uploads and results (default: %(default)s)")
    p.add_argument("--root", help="allow jobs naming server-side files, confined to this folder (default: uploads only)")
    p.add_argument("--token", help=f"bearer token required on every route but /health (default: ${TOKEN_ENV}; none: "
                   "open, allowed on a loopback --host only, unless --insecure)")
    p.add_argument("--insecure", action="store_true", help="allow a non-loopback --host without a token (anyone who "
                   "can reach the port can submit jobs and read results)")
    p.add_argument("--max-upload-mb", type=float, default=2048, help="largest accepted upload in MiB (default: %(default)s)")
    p.add_argument("--workers", type=int, default=1, help="videos analysed at the same time, one process and model copy each (default: %(default)s)")
    p.add_argument("--video-exts", default=DEFAULT_EXTS, help="accepted file extensions (default: %(default)s)")
    p.add_argument("--log-file", help="write the service log (INFO level) to this file")
    p.add_argument("-q", "--quiet", action="store_true", help="only warnings from the web server")
    add_analysis_arguments(p)
    p.set_defaults(func=run_serve)
