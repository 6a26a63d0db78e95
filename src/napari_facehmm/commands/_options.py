"""Range-checked option types for the subcommands' parsers.

An option out of range stops ``facehmm`` before any work, as argparse stops
on a malformed value: exit status 2 and one line naming the option and the
accepted range (``argument --states: must be a whole number (at least 1);
got 0``).
"""

from __future__ import annotations

import argparse
import math
from typing import Callable


def _text(value: float) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _describe(minimum, maximum, min_open: bool = False, max_open: bool = False) -> str:
    low = None if minimum is None else f"{'greater than' if min_open else 'at least'} {_text(minimum)}"
    high = None if maximum is None else f"{'less than' if max_open else 'at most'} {_text(maximum)}"
    if low and high:
        if not min_open and not max_open:
            return f"from {_text(minimum)} to {_text(maximum)}"
        return f"{low} and {high}"
    return low or high or "any value"


def whole_number(minimum: int | None = None, maximum: int | None = None) -> Callable[[str], int]:
    """An argparse ``type``: an integer within ``[minimum, maximum]`` (either end may be open-ended)."""
    accepted = _describe(minimum, maximum)

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be a whole number ({accepted}); got {text!r}") from None
        if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
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
        below = minimum is not None and (value <= minimum if min_open else value < minimum)
        above = maximum is not None and (value >= maximum if max_open else value > maximum)
        if not math.isfinite(value) or below or above:
            raise argparse.ArgumentTypeError(f"must be a number ({accepted}); got {text}")
        return value

    parse.__name__ = "number"
    return parse


#: numpy's random seeds are 0 .. 2**32 - 1
seed = whole_number(0, 2**32 - 1)
#: a frame rate: above 0, at most 10,000 (high-speed cameras)
fps = number(0, 10_000, min_open=True)
