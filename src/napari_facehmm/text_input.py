"""Lists a user types into a dock: frame numbers, keypoint names, skeleton edges.

Validate, then parse: each function raises :class:`~napari_facehmm.errors.DataError`
naming what was typed and the form it should take, so a dock only shows
the message. Qt-free, tested without a viewer.
"""

from __future__ import annotations

from .errors import DataError

__all__ = ["parse_frame_list", "parse_keypoint_list", "parse_skeleton"]


def parse_frame_list(text: str) -> list[int]:
    """Frame numbers separated by commas, semicolons or spaces (``"12, 40 41;300"``), in the order typed.

    Raises
    ------
    DataError
        A part is not a whole number, or a number is negative.
    """
    parts = [part for part in text.replace(";", ",").replace(" ", ",").split(",") if part.strip()]
    try:
        frames = [int(part) for part in parts]
    except ValueError:
        raise DataError(f"Frame numbers must be whole numbers separated by commas; got {text!r}") from None
    negative = [frame for frame in frames if frame < 0]
    if negative:
        raise DataError(f"Frame numbers start at 0; got {negative[0]} in {text!r}")
    return frames


def parse_keypoint_list(text: str) -> list[str]:
    """Keypoint names, one per line or separated by commas; blanks ignored, order kept.

    Raises
    ------
    DataError
        A name is given twice.
    """
    names = [name.strip() for name in text.replace(",", "\n").splitlines() if name.strip()]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise DataError(f"each landmark name once, please; given more than once: {', '.join(repeated)}")
    return names


def parse_skeleton(text: str) -> list[tuple[str, str]]:
    """Skeleton edges ``a-b`` (or ``a - b``), one per line or separated by commas.

    Raises
    ------
    DataError
        A line that is not two names joined by one ``-``.
    """
    edges = []
    for line in text.replace(",", "\n").splitlines():
        line = line.strip()
        if not line:
            continue
        parts = [part.strip() for part in line.replace(" - ", "-").split("-")]
        if len(parts) != 2 or not all(parts):
            raise DataError(f"skeleton line {line!r}: write one edge per line as 'a-b'")
        edges.append((parts[0], parts[1]))
    return edges
