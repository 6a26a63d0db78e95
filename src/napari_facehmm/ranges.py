"""Settings with a default and an accepted range, read by the core, the CLI and the docks' forms.

A :class:`Setting` is written once beside the job it configures
(:mod:`napari_facehmm.tracking.dlc.settings`, :mod:`napari_facehmm.labeling.settings`,
:mod:`napari_facehmm.tracking.facemesh_jobs`); three readers use it:

- the core checks an argument with :meth:`Setting.check` before any work,
  raising :class:`~napari_facehmm.errors.DataError` that names it;
- ``facehmm`` builds the option's argparse ``type``, default and help from it
  (:func:`napari_facehmm.commands._options.argument`);
- the docks build a magicgui field from it (:mod:`napari_facehmm.widgets.forms`):
  the same name, default, range and tooltip.

So a range changed here changes everywhere, and ``tests/test_settings.py``
checks that the CLI and the forms agree with it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from .errors import DataError

__all__ = ["Setting", "describe_range", "in_range"]


def _text(value: float) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def describe_range(minimum=None, maximum=None, min_open: bool = False, max_open: bool = False) -> str:
    """``"from 1 to 1024"``, ``"greater than 0 and less than 1"``, ``"at least 1"``, ``"any value"``."""
    low = None if minimum is None else f"{'greater than' if min_open else 'at least'} {_text(minimum)}"
    high = None if maximum is None else f"{'less than' if max_open else 'at most'} {_text(maximum)}"
    if low and high:
        if not min_open and not max_open:
            return f"from {_text(minimum)} to {_text(maximum)}"
        return f"{low} and {high}"
    return low or high or "any value"


def in_range(value: float, minimum=None, maximum=None, min_open: bool = False, max_open: bool = False) -> bool:
    """Whether ``value`` is finite and within the bounds (None: open-ended; ``*_open``: the bound excluded)."""
    if not math.isfinite(value):
        return False
    if minimum is not None and (value <= minimum if min_open else value < minimum):
        return False
    return maximum is None or (value < maximum if max_open else value <= maximum)


@dataclass(frozen=True)
class Setting:
    """One option of a job: its name, type, default, accepted values and one line of help.

    Parameters
    ----------
    name
        The job's argument name; the CLI option is ``--`` + ``name`` with
        dashes, and the form field has this name.
    kind
        ``int``, ``float``, ``str`` or ``bool``.
    default
        The value used when none is given (None: the job decides, e.g. from
        the project's config).
    minimum, maximum
        Bounds of a number (None: open-ended); ``min_open`` / ``max_open``
        exclude the bound itself.
    choices
        The accepted values of a ``str`` setting (empty: any text).
    help
        What the setting does, in a few words (CLI help and form tooltip).
    unit
        Shown after the number in forms and help, e.g. ``"px"``.
    """

    name: str
    kind: type
    default: Any = None
    minimum: float | None = None
    maximum: float | None = None
    min_open: bool = False
    max_open: bool = False
    choices: tuple = ()
    help: str = ""
    unit: str = ""

    @property
    def flag(self) -> str:
        """The CLI option: ``--batch-size`` for ``batch_size``."""
        return "--" + self.name.replace("_", "-")

    def describe(self) -> str:
        """The accepted values in words, as the CLI and the core's errors say them."""
        if self.choices:
            return "one of " + ", ".join(map(str, self.choices))
        return describe_range(self.minimum, self.maximum, self.min_open, self.max_open)

    def accepts(self, value) -> bool:
        """Whether ``value`` (already of :attr:`kind`) is allowed."""
        if self.choices:
            return value in self.choices
        if self.kind not in (int, float):
            return True
        return in_range(value, self.minimum, self.maximum, self.min_open, self.max_open)

    def check(self, value, label: str | None = None):
        """``value`` converted to :attr:`kind`; raises :class:`DataError` naming the setting if not accepted."""
        label = label or self.name.replace("_", " ")
        try:
            if self.kind is int and float(value) != int(value):
                raise ValueError(value)
            converted = self.kind(value)
        except (TypeError, ValueError):
            raise DataError(f"{label} must be a {self._noun()} ({self.describe()}); got {value!r}") from None
        if not self.accepts(converted):
            accepted = self.describe() if self.choices else f"a {self._noun()} ({self.describe()})"
            raise DataError(f"{label} must be {accepted}; got {value!r}")
        return converted

    def _noun(self) -> str:
        return {int: "whole number", float: "number"}.get(self.kind, "value")
