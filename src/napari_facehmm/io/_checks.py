"""Checks every landmark reader applies to what it read, after parsing.

Parsing proves a file has the right layout; these checks look at the values:
non-finite numbers and frame numbers that are not whole, negative, repeated
or out of order (likelihoods are kept as given, as
:class:`~napari_facehmm.data.LandmarkSeries` keeps them: other trackers'
scores written in DeepLabCut's layout may exceed 1). Each reader refuses what
cannot be trusted with :class:`~napari_facehmm.errors.FileFormatError`
naming the file, and repairs what can be repaired without guessing, with a
:class:`RepairedInputWarning` that says what it did:

=====================================  ========================================
found                                  done
=====================================  ========================================
``inf`` / ``-inf`` in a value          refused (NaN is a missing point; ``inf``
                                       is a broken tracker or a broken file)
frame number not whole, NaN, negative  refused
frame repeated, rows identical         later copies dropped, warned (a table
                                       written twice into one file)
frame repeated, rows different         refused (which row is right is a guess)
frames out of order (unique)           rows sorted by frame, warned
last CSV row shorter than the header   refused (the file was cut while being
                                       written; its last number may be cut too)
=====================================  ========================================
"""

from __future__ import annotations

import csv
import io
import warnings
from pathlib import Path

import numpy as np

from ..errors import FileFormatError

__all__ = [
    "RepairedInputWarning",
    "check_is_file",
    "check_finite",
    "check_frame_numbers",
    "frame_order",
    "check_last_row_complete",
]

#: how far from the end of a CSV file the last row is looked for
_TAIL_BYTES = 1 << 20


class RepairedInputWarning(UserWarning):
    """A reader repaired what it read; the message names the file and the repair."""


def check_is_file(path: Path) -> None:
    """:class:`FileFormatError` when ``path`` is missing or a folder (the message says which)."""
    if path.is_dir():
        raise FileFormatError(path, "is a folder, not a file")
    if not path.is_file():
        raise FileFormatError(path, "file does not exist")


def check_finite(values: np.ndarray, path: Path, names: list[str], rows: np.ndarray | None = None) -> None:
    """Refuse ``inf``/``-inf`` in ``values (n_rows, n_columns)``; NaN (missing) passes.

    ``names`` label the columns and ``rows`` the rows (frame numbers) in the message.
    """
    infinite = np.isinf(values)
    if infinite.any():
        row, column = np.argwhere(infinite)[0]
        label = rows[row] if rows is not None else row + 1
        raise FileFormatError(
            path,
            f"non-finite value {values[row, column]} in column {names[column]} at row {label} "
            f"({int(infinite.sum())} such value(s)); a missing point must be empty or NaN",
        )


def check_frame_numbers(frames: np.ndarray, path: Path, column: str, first: int = 0) -> np.ndarray:
    """Whole frame numbers ``>= first`` as int64, or :class:`FileFormatError` naming the first bad one."""
    frames = np.asarray(frames, dtype=np.float64)
    whole = np.isfinite(frames) & (frames == np.round(frames))
    if not whole.all():
        row = int(np.flatnonzero(~whole)[0])
        raise FileFormatError(
            path, f"{column} must hold whole frame numbers; row {row + 1} has {float(frames[row]):g}"
        )
    if frames.size and frames.min() < first:
        row = int(np.argmin(frames))
        raise FileFormatError(
            path, f"{column} must be at least {first}; row {row + 1} has {int(frames[row])}"
        )
    return frames.astype(np.int64)


def frame_order(frames: np.ndarray, values: np.ndarray, path: Path, column: str) -> np.ndarray | None:
    """Rows to keep, in frame order, when frames repeat or are out of order; else None.

    Parameters
    ----------
    frames
        ``(n_rows,)`` whole frame numbers as read.
    values
        ``(n_rows, n_values)`` everything else a row holds: two rows of one
        frame are copies when these are equal (NaN equal to NaN).
    path, column
        The file and the name of its frame column, for the messages.

    Returns
    -------
    np.ndarray or None
        Row indices: the first row of each frame, sorted by frame. None when
        the frames already increase from row to row.

    Raises
    ------
    FileFormatError
        A frame appears in rows that differ.
    """
    frames = np.asarray(frames, dtype=np.int64)
    if frames.size < 2 or np.all(np.diff(frames) > 0):
        return None
    order = np.argsort(frames, kind="stable")
    ordered = frames[order]
    _, first_position, counts = np.unique(ordered, return_index=True, return_counts=True)
    group_first = np.repeat(first_position, counts)  # per position in `ordered`: its frame's first
    repeated = np.flatnonzero(np.arange(len(ordered)) != group_first)  # positions of later copies
    if repeated.size:
        flat = np.asarray(values, dtype=np.float64).reshape(len(frames), -1)
        first_of = order[group_first[repeated]]
        copies = flat[order[repeated]]
        originals = flat[first_of]
        same = (copies == originals) | (np.isnan(copies) & np.isnan(originals))
        differ = ~same.all(axis=1)
        if differ.any():
            frame = int(ordered[repeated[np.flatnonzero(differ)[0]]])
            n_frames = len(np.unique(ordered[repeated[differ]]))
            raise FileFormatError(
                path,
                f"frame {frame} appears in several rows with different values ({n_frames} such frame(s) "
                f"in {column}); which row is right cannot be told",
            )
    keep = np.ones(len(order), dtype=bool)
    keep[repeated] = False
    rows = order[keep]
    done = []
    if repeated.size:
        done.append(f"dropped {repeated.size} repeated row(s) (exact copies of an earlier row of the same "
                    f"frame, first frame {int(ordered[repeated[0]])})")
    unique_rows = np.sort(rows)
    if np.any(np.diff(frames[unique_rows]) < 0):
        step = int(np.flatnonzero(np.diff(frames[unique_rows]) < 0)[0])
        done.append(f"sorted the rows by {column} (row {int(unique_rows[step + 1]) + 1}, frame "
                    f"{int(frames[unique_rows[step + 1]])}, came after frame {int(frames[unique_rows[step]])})")
    warnings.warn(RepairedInputWarning(f"{path}: repaired: {'; '.join(done)}"), stacklevel=3)
    return rows


def check_last_row_complete(path: Path, n_fields: int, header_lines: int = 1) -> None:
    """Refuse a CSV whose last row has fewer fields than ``n_fields`` (a file cut while written).

    Only the file's tail is read. Blank trailing lines are ignored; a last
    line without a newline is fine when it is complete (OpenFace writes none).
    """
    size = path.stat().st_size
    with path.open("rb") as handle:
        handle.seek(max(0, size - _TAIL_BYTES))
        tail = handle.read()
    lines = [line for line in tail.decode("utf-8", errors="replace").splitlines() if line.strip()]
    if len(lines) <= header_lines and size <= _TAIL_BYTES:
        return  # header only; the readers say so themselves
    last = lines[-1]
    fields = next(csv.reader(io.StringIO(last), skipinitialspace=True), [])
    if len(fields) < n_fields:
        raise FileFormatError(
            path,
            f"the last row has {len(fields)} of the header's {n_fields} fields: the file was cut off "
            "(an interrupted write or copy?); its last value may be cut too. Restore the full file, "
            "or delete the incomplete last line",
        )
