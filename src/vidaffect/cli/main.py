"""``vidaffect`` command line: discovers its subcommands in :mod:`vidaffect.cli.commands`.

Each module in ``vidaffect/cli/commands/`` defines ``register(cli: CommandTree)``
and adds its parsers there, at top level (``cli.top``) or inside a shared group
(``cli.group("train")`` gives the sub-parsers of ``vidaffect train``).  A parser
sets ``func=handler`` with ``handler(args) -> int`` (exit status).

User errors (:class:`vidaffect.errors.VidaffectError`) print one line
``vidaffect: error: ...`` and exit 1; Ctrl-C exits 130.
"""
from __future__ import annotations

import argparse
import importlib
import logging
import pkgutil
import sys

from vidaffect import __version__
from vidaffect.errors import VidaffectError

GROUP_HELP = {
    "train": "train models (expressions, mimamo, tsm...)",
    "eval": "evaluate models on labelled data",
    "calibrate": "calibrate the probabilities of trained models",
    "models": "list, inspect and import models",
    "micro": "micro-expressions: preprocess, train, eval, spot",
    "people": "person identity: enroll, discover",
    "meld": "MELD multimodal tools",
}


class CommandTree:
    """Holds the top-level sub-parsers and creates shared command groups on demand."""

    def __init__(self, parser: argparse.ArgumentParser) -> None:
        self.parser = parser
        self.top = parser.add_subparsers(dest="command", metavar="COMMAND")
        self._groups: dict[str, argparse._SubParsersAction] = {}

    def group(self, name: str) -> argparse._SubParsersAction:
        if name not in self._groups:
            p = self.top.add_parser(name, help=GROUP_HELP.get(name, name), description=GROUP_HELP.get(name))
            sub = p.add_subparsers(dest=f"{name}_command", metavar="SUBCOMMAND")
            p.set_defaults(func=lambda args, _p=p: (_p.print_help(), 2)[1])
            self._groups[name] = sub
        return self._groups[name]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="vidaffect",
        description="Frame-by-frame, face-by-face emotion analysis of videos.",
    )
    parser.add_argument("--version", action="version", version=f"vidaffect {__version__}")
    tree = CommandTree(parser)
    from vidaffect.cli import commands

    for mod in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{commands.__name__}.{mod.name}")
        module.register(tree)
    return parser


def _check_device_arg(args: argparse.Namespace) -> None:
    """Every command's ``--device`` is checked before it runs: a device torch cannot use (``cuda`` without a
    GPU, ``bogus``) is a one-line error, whichever command got it.  ``auto`` is resolved by the command."""
    device = getattr(args, "device", None)
    if isinstance(device, str) and device != "auto":
        from vidaffect.utils.device import check_device

        check_device(device)


def main(argv: list[str] | None = None) -> int:
    try:
        parser = build_parser()  # imports every command: Ctrl-C may come here too
        args = parser.parse_args(argv)
        if not getattr(args, "func", None):
            parser.print_help()
            return 2
        _check_device_arg(args)
        return int(args.func(args) or 0)
    except VidaffectError as exc:
        print(f"vidaffect: error: {exc}", file=sys.stderr)
        logging.getLogger("vidaffect").debug("error", exc_info=True)
        return 1
    except KeyboardInterrupt:
        print("vidaffect: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
