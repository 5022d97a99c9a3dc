"""The ``galfast`` command: one sub-command per capability.

Each capability module exposes ``register(subparsers)`` which adds its sub-command and sets
``func`` on its parser; this file only collects them.
"""
from __future__ import annotations

import argparse
import logging
import sys
from importlib import import_module

from ._version import __version__

#: modules that add a sub-command (order = order in --help)
SUBCOMMAND_MODULES = [
    "galfast.demo",
    "galfast.redshift.cli",
    "galfast.props.cli",
    "galfast.sim.cli",
    "galfast.posterior.cli",
    "galfast.images.cli",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="galfast", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"galfast {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log more")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in SUBCOMMAND_MODULES:
        import_module(name).register(sub)
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    from .errors import GalfastError

    try:
        return int(args.func(args) or 0)
    except (GalfastError, FileNotFoundError, FileExistsError) as exc:
        print(f"galfast {args.command}: error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
