"""The ``facehmm`` command line.

Each subcommand lives in its own module under :mod:`napari_facehmm.commands`
with two functions: ``add_parser(subparsers)`` and ``run(args) -> int``.
Modules are imported only when listed here, and each keeps its own heavy
imports inside ``run`` so that ``facehmm --help`` stays fast.

Errors end in one line on stderr, no traceback (``--debug`` shows it): the
project's own errors exit with status 2, an OSError (a file or folder that
cannot be read or written) with status 1 and names the path and the cause,
Ctrl+C with 130 and SIGTERM with 143. SIGTERM is turned into an exception
while a command runs, so that writers clean up as they do on Ctrl+C.
"""

from __future__ import annotations

import argparse
import logging
import contextlib
import importlib
import signal
import sys
import threading
import traceback
from collections.abc import Iterator

from .errors import FaceHMMError

#: subcommand modules, in the order ``--help`` lists them
COMMAND_MODULES = (
    "run",
    "track",
    "synth",
    "analyze",
    "batch",
    "export",
    "demo",
    "calibrate",
    "triangulate",
    "view",
    "live",
    "dlc",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="facehmm",
        description="From face videos to facial-expression states (napari-facehmm).",
    )
    debug_help = "on an error, show the full traceback"
    parser.add_argument("--debug", action="store_true", help=debug_help)
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(f"napari_facehmm.commands.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"napari_facehmm.commands.{name}":
                continue  # subcommand not built yet
            raise
        module.add_parser(subparsers)
    # Also after the command (``facehmm analyze ... --debug``); SUPPRESS keeps
    # a --debug given before the command from being reset to False.
    for subparser in subparsers.choices.values():
        subparser.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=debug_help)
    return parser


class Terminated(BaseException):
    """SIGTERM received while a command ran (a BaseException, like KeyboardInterrupt)."""


@contextlib.contextmanager
def sigterm_as_exception() -> Iterator[None]:
    """Raise :class:`Terminated` in the main thread on SIGTERM, for the block's duration."""
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "SIGTERM"):
        yield
        return

    def terminate(signum, frame):
        raise Terminated()

    previous = signal.signal(signal.SIGTERM, terminate)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def describe_os_error(error: OSError) -> str:
    """``<path>: <cause>`` (both paths of a rename), or the error's text when it names none."""
    cause = error.strerror or str(error) or type(error).__name__
    if error.filename is not None and error.filename2 is not None:
        return f"{error.filename} -> {error.filename2}: {cause}"
    if error.filename is not None:
        return f"{error.filename}: {cause}"
    return cause


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:
        # argparse has printed the usage and the error (a malformed or
        # out-of-range option: 2) or the help (0); a status, as for any error
        return int(exit_.code or 0)
    if not getattr(args, "run", None):
        parser.print_help()
        return 1
    debug = bool(getattr(args, "debug", False))
    prefix = f"facehmm {args.command}"
    if not debug:
        # hmmlearn logs "Model is not converging" when an EM step lowers the
        # log-likelihood by rounding (1e-5 of 1e5 at convergence); the fit's own
        # progress and summary say how it went. --debug shows them.
        logging.getLogger("hmmlearn").setLevel(logging.ERROR)
    try:
        with sigterm_as_exception():
            return int(args.run(args) or 0)
    except FaceHMMError as exc:
        if debug:
            traceback.print_exc()
        print(f"{prefix}: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        if debug:
            traceback.print_exc()
        print(f"{prefix}: error: {describe_os_error(exc)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        if debug:
            traceback.print_exc()
        print(f"{prefix}: interrupted", file=sys.stderr)
        return 130
    except Terminated:
        print(f"{prefix}: terminated", file=sys.stderr)
        return 143


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
