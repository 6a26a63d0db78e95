"""Range-checked option types for the subcommands' parsers.

An option out of range stops ``facehmm`` before any work, as argparse stops
on a malformed value: exit status 2 and one line naming the option and the
accepted range (``argument --states: must be a whole number (at least 1);
got 0``).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Callable

from ..ranges import Setting, describe_range as _describe, in_range


def whole_number(minimum: int | None = None, maximum: int | None = None) -> Callable[[str], int]:
    """An argparse ``type``: an integer within ``[minimum, maximum]`` (either end may be open-ended)."""
    accepted = _describe(minimum, maximum)

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be a whole number ({accepted}); got {text!r}") from None
        if not in_range(value, minimum, maximum):
            raise argparse.ArgumentTypeError(f"must be a whole number ({accepted}); got {value}")
        return value

    parse.__name__ = "whole number"
    return parse


def number(
    minimum: float | None = None,
    maximum: float | None = None,
    min_open: bool = False,
    max_open: bool = False,
) -> Callable[[str], float]:
    """An argparse ``type``: a finite float within the range (``*_open``: the end itself excluded)."""
    accepted = _describe(minimum, maximum, min_open, max_open)

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be a number ({accepted}); got {text!r}") from None
        if not in_range(value, minimum, maximum, min_open, max_open):
            raise argparse.ArgumentTypeError(f"must be a number ({accepted}); got {text}")
        return value

    parse.__name__ = "number"
    return parse


def documented_parser(subparsers, name: str, help: str, doc: str | None) -> argparse.ArgumentParser:
    """A subcommand's parser whose ``--help`` shows ``doc``, its module's docstring, line for line.

    argparse re-wraps a description into one paragraph; the commands whose
    docstring is their manual (tables of steps, examples) keep its layout.
    """
    return subparsers.add_parser(
        name, help=help, description=doc, formatter_class=argparse.RawDescriptionHelpFormatter
    )


def add_anipose_project(parser: argparse.ArgumentParser, holds: str) -> None:
    """The Anipose project folder (``holds``: what the command reads there) and ``--cam-regex``.

    ``facehmm calibrate`` and ``facehmm triangulate`` name a project and its
    cameras the same way.
    """
    from ..errors import DataError
    from ..tracking.anipose.layout import DEFAULT_CAM_REGEX, check_cam_regex

    def cam_regex(text: str) -> str:
        try:
            return check_cam_regex(text, "pattern")
        except DataError as error:
            raise argparse.ArgumentTypeError(str(error)) from None

    parser.add_argument("project", type=Path, help=f"Anipose project folder (holds {holds})")
    parser.add_argument(
        "--cam-regex",
        type=cam_regex,
        help="regular expression whose first group is the camera name in a file name "
        f"(default config.toml [triangulation] cam_regex, else {DEFAULT_CAM_REGEX.replace('%', '%%')})",
    )


def argument(setting: Setting, **overrides) -> dict:
    """``add_argument`` keywords for ``setting``: its type (range-checked), default and help.

    The help says the accepted range and the default, e.g. ``images per step,
    from 1 to 1024 (default 4)``. ``overrides`` replace any keyword
    (``required=True``, ``dest=...``).
    """
    keywords: dict = {"default": setting.default}
    if setting.kind is bool:
        keywords["action"] = "store_true"
    elif setting.choices:
        keywords["choices"] = setting.choices
    elif setting.kind is int:
        keywords["type"] = whole_number(setting.minimum, setting.maximum)
    elif setting.kind is float:
        keywords["type"] = number(setting.minimum, setting.maximum, setting.min_open, setting.max_open)
    elif setting.kind is Path:
        keywords["type"] = Path
    keywords.update(overrides)
    if "help" in overrides:
        return keywords
    text = setting.help + (f", {setting.unit}" if setting.unit else "")
    if setting.kind in (int, float) and not setting.choices:
        text += f", {setting.describe()}"
    if keywords.get("default") is not None and setting.kind is not bool and not keywords.get("required"):
        text += f" (default {keywords['default']})"
    keywords["help"] = text
    return keywords


def add_settings(parser, *settings: Setting) -> None:
    """One option per setting: its flag (``--`` + its name), type, range, default and help (:func:`argument`).

    Every command declares a job's :class:`~napari_facehmm.ranges.Setting`
    this way, so the option is always spelled as the setting's name (the
    name the dock's form field has too). A setting that needs other
    keywords (``nargs``, ``metavar``) is added with :func:`argument` itself.
    """
    for setting in settings:
        parser.add_argument(setting.flag, **argument(setting))


#: numpy's random seeds are 0 .. 2**32 - 1
seed = whole_number(0, 2**32 - 1)
#: a frame rate: above 0, at most 10,000 (high-speed cameras)
fps = number(0, 10_000, min_open=True)
