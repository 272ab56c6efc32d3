"""``vidaffect models list``: the model registry from the command line."""
from __future__ import annotations

import argparse


def _list(args: argparse.Namespace) -> int:
    from vidaffect.models.registry import DEFAULT_MODEL, model_entries

    rows = model_entries()
    width = max((len(r["name"]) for r in rows), default=4)
    for r in rows:
        flag = " (default)" if r["name"] == DEFAULT_MODEL else ""
        need = " [needs --checkpoint]" if r["needs_checkpoint"] else ""
        print(f"{r['name']:<{width}}  {r['description']}{flag}{need}")
    return 0


def register(cli) -> None:
    p = cli.group("models").add_parser("list", help="list registered models", description="List registered models.")
    p.set_defaults(func=_list)
