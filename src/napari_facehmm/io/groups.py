"""Groups of sessions: the ``session,group`` CSV that ``facehmm analyze --groups`` reads, and its writer.

One row per session, a header ``session,group`` (other columns are ignored):

.. code-block:: text

    session,group
    mouse1_day1,control
    mouse2_day1,treated

Names are compared as written, after trimming spaces. A session listed twice
or a row with an empty field is refused (which group is right would be a
guess); whether the names are the sessions of an analysis is checked by the
caller, who knows them.
"""

from __future__ import annotations

import csv
from collections.abc import Mapping
from pathlib import Path

from ..errors import FileFormatError
from ._checks import check_is_file

__all__ = ["GROUP_COLUMNS", "read_groups", "write_groups"]

#: the columns a groups file must have
GROUP_COLUMNS = ("session", "group")


def read_groups(path: str | Path) -> dict[str, str]:
    """The group of each session, by session name, from a ``session,group`` CSV.

    Raises
    ------
    FileFormatError
        Naming the file: missing, not a CSV with ``session`` and ``group``
        columns, an empty session or group, a session listed twice, or no rows.
    """
    path = Path(path)
    check_is_file(path)
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            rows = list(csv.reader(handle))
    except UnicodeDecodeError:
        raise FileFormatError(path, "is not a text CSV file (session,group)") from None
    # line numbers as an editor shows them; blank lines are skipped
    rows = [(line, row) for line, row in enumerate(rows, start=1) if any(cell.strip() for cell in row)]
    if not rows:
        raise FileFormatError(path, "is empty; it needs a header 'session,group' and one row per session")
    header = [cell.strip().lower() for cell in rows[0][1]]
    missing = [name for name in GROUP_COLUMNS if name not in header]
    if missing:
        raise FileFormatError(
            path, f"has no column {' or '.join(repr(m) for m in missing)}; the header must name "
            f"'session' and 'group' (got {rows[0][1]})"
        )
    session_column, group_column = header.index("session"), header.index("group")
    groups: dict[str, str] = {}
    for line, row in rows[1:]:
        cells = [cell.strip() for cell in row] + [""] * len(header)
        session, group = cells[session_column], cells[group_column]
        if not session or not group:
            raise FileFormatError(path, f"line {line} has an empty session or group: {row}")
        if session in groups:
            raise FileFormatError(
                path, f"session {session!r} is listed twice (groups {groups[session]!r} and {group!r})"
            )
        groups[session] = group
    if not groups:
        raise FileFormatError(path, "lists no session (only a header)")
    return groups


def write_groups(groups: Mapping[str, str], path: str | Path) -> Path:
    """Write ``{session: group}`` as a ``session,group`` CSV that :func:`read_groups` reads back."""
    path = Path(path)
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(GROUP_COLUMNS)
        writer.writerows(groups.items())
    return path
