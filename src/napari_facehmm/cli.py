"""The ``facehmm`` command line.

Each subcommand lives in its own module under :mod:`napari_facehmm.commands`
with two functions: ``add_parser(subparsers)`` and ``run(args) -> int``.
Modules are imported only when listed here, and each keeps its own heavy
imports inside ``run`` so that ``facehmm --help`` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from .errors import FaceHMMError

#: subcommand modules, in the order ``--help`` lists them
COMMAND_MODULES = (
    "run",
    "track",
    "synth",
    "analyze",
    "demo",
    "calibrate",
    "triangulate",
    "view",
    "dlc",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="facehmm",
        description="From face videos to facial-expression states (napari-facehmm).",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(f"napari_facehmm.commands.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"napari_facehmm.commands.{name}":
                continue  # subcommand not built yet
            raise
        module.add_parser(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "run", None):
        parser.print_help()
        return 1
    try:
        return int(args.run(args) or 0)
    except FaceHMMError as exc:
        print(f"facehmm {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"facehmm {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
