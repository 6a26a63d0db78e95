"""DeepLabCut tables read and checked: the part analysis output and labels share.

:func:`read_dlc_table` reads an ``.h5`` (key ``df_with_missing``) or ``.csv``
with DeepLabCut's column levels (``scorer / bodyparts / coords``, or with
``individuals`` in multi-animal projects) and checks it; the helpers pick one
individual and turn the columns into position and likelihood arrays.
:mod:`.dlc` (analysis output) and :mod:`.dlc_labels` (labeled frames) read
their files through it.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import FileFormatError, UnsupportedFileError
from ._checks import check_finite, check_is_file, check_last_row_complete

__all__ = ["H5_KEY", "LEVELS_SINGLE", "LEVELS_MULTI", "read_dlc_table"]

H5_KEY = "df_with_missing"
LEVELS_SINGLE = ["scorer", "bodyparts", "coords"]
LEVELS_MULTI = ["scorer", "individuals", "bodyparts", "coords"]


def read_dlc_table(path: str | Path) -> pd.DataFrame:
    """Read a DeepLabCut ``.h5`` or ``.csv`` table, validated.

    Returns
    -------
    pandas.DataFrame
        Float columns with a MultiIndex named ``scorer, bodyparts, coords``
        (or ``scorer, individuals, bodyparts, coords``); the row index as
        stored (integers, path strings, or a 3-level MultiIndex).

    Raises
    ------
    FileFormatError
        Missing or empty file, not HDF5/CSV, no ``df_with_missing`` key,
        wrong header rows, a CSV cut off in its last row, non-numeric or
        infinite values (NaN, a missing point, is fine).
    UnsupportedFileError
        Extension other than ``.h5``/``.hdf5``/``.csv``.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".h5", ".hdf5", ".csv"):
        raise UnsupportedFileError(path, f"DeepLabCut tables are .h5 or .csv, not {suffix or 'no extension'!r}")
    check_is_file(path)
    if path.stat().st_size == 0:
        raise FileFormatError(path, "file is empty")
    table = _read_h5(path) if suffix in (".h5", ".hdf5") else _read_csv(path)
    return _validate_table(table, path)


def _read_h5(path: Path) -> pd.DataFrame:
    try:
        store = pd.HDFStore(path, mode="r")
    except Exception as error:  # tables raises several unrelated types for non-HDF5 input
        raise FileFormatError(path, f"not a readable HDF5 file ({type(error).__name__})") from None
    try:
        keys = [k.lstrip("/") for k in store.keys()]
        if H5_KEY not in keys:
            raise FileFormatError(
                path,
                f"no {H5_KEY!r} table (DeepLabCut's key); the file has "
                f"{', '.join(repr(k) for k in keys) if keys else 'no pandas tables'}",
            )
        try:
            table = store.get(H5_KEY)
        except Exception as error:
            raise FileFormatError(path, f"the {H5_KEY!r} table cannot be read ({error})") from None
    finally:
        store.close()
    if not isinstance(table, pd.DataFrame):
        raise FileFormatError(path, f"{H5_KEY!r} holds a {type(table).__name__}, not a table")
    return table


def _read_csv(path: Path) -> pd.DataFrame:
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            head = [row for _, row in zip(range(5), csv.reader(handle))]
    except (UnicodeDecodeError, csv.Error) as error:
        raise FileFormatError(path, f"not a readable CSV file ({error})") from None
    if len(head) < 4 or not head[0]:
        raise FileFormatError(path, "too few lines for DeepLabCut's header rows (scorer, bodyparts, coords)")
    first_cells = [row[0].strip() if row else "" for row in head]
    n_header = 4 if first_cells[1] == "individuals" else 3
    expected = LEVELS_MULTI if n_header == 4 else LEVELS_SINGLE
    if first_cells[:n_header] != expected:
        raise FileFormatError(
            path,
            f"header rows must start with {', '.join(expected)} (DeepLabCut layout); "
            f"found {', '.join(repr(c) for c in first_cells[:n_header])}",
        )
    # Index columns: the scorer row has the level name in the first cell and
    # one empty cell per further index level ("scorer,,,name" for 3 levels).
    n_index = 1
    for cell in head[0][1:]:
        if cell.strip():
            break
        n_index += 1
    if n_index >= len(head[0]):
        raise FileFormatError(path, "header row 'scorer' names no scorer")
    if len(head) <= n_header:
        raise FileFormatError(path, "header rows but no data rows")
    check_last_row_complete(path, len(head[0]), header_lines=n_header)
    try:
        table = pd.read_csv(path, header=list(range(n_header)), index_col=list(range(n_index)))
    except (pd.errors.ParserError, ValueError, IndexError) as error:
        raise FileFormatError(path, f"cannot parse the table ({error})") from None
    if n_index == 1 and table.index.dtype == object:
        table.index = table.index.astype(str)
    return table


def _validate_table(table: pd.DataFrame, path: Path) -> pd.DataFrame:
    columns = table.columns
    if not isinstance(columns, pd.MultiIndex) or columns.nlevels not in (3, 4):
        raise FileFormatError(
            path, "columns must be a 3-level (scorer, bodyparts, coords) or 4-level "
            f"(scorer, individuals, bodyparts, coords) MultiIndex; found {columns.nlevels} level(s)"
        )
    names = LEVELS_MULTI if columns.nlevels == 4 else LEVELS_SINGLE
    if list(columns.names) != names:
        if any(n is not None for n in columns.names):
            raise FileFormatError(path, f"column levels are {list(columns.names)}; expected {names}")
        table = table.copy()
        table.columns = table.columns.set_names(names)
    if len(table) == 0:
        raise FileFormatError(path, "table has no rows")
    coords = set(table.columns.get_level_values("coords"))
    unknown = coords - {"x", "y", "likelihood"}
    if unknown or not {"x", "y"} <= coords:
        raise FileFormatError(
            path, f"coords must be x, y (and likelihood); found {sorted(map(str, coords))}"
        )
    scorers = list(dict.fromkeys(table.columns.get_level_values("scorer")))
    if len(scorers) != 1:
        raise FileFormatError(path, f"one scorer expected; found {scorers}")
    if all(dtype.kind in "fiu" for dtype in table.dtypes):
        numeric = table.astype(np.float64)  # already numeric (every .h5): nothing to coerce or report
    else:
        numeric = table.apply(pd.to_numeric, errors="coerce")
        bad = numeric.isna() & table.notna()
        if bad.to_numpy().any():
            row, col = np.argwhere(bad.to_numpy())[0]
            raise FileFormatError(
                path, f"non-numeric value {table.iat[row, col]!r} in row {table.index[row]!r}, "
                f"column {'/'.join(map(str, table.columns[col]))}"
            )
        numeric = numeric.astype(np.float64)
    check_finite(
        numeric.to_numpy(), path, ["/".join(map(str, c)) for c in numeric.columns], rows=numeric.index.to_numpy()
    )
    return numeric


def _individuals(table: pd.DataFrame) -> list[str]:
    if table.columns.nlevels != 4:
        return []
    return [str(i) for i in dict.fromkeys(table.columns.get_level_values("individuals"))]


def _select_individual(table: pd.DataFrame, individual: str | None, path: Path) -> pd.DataFrame:
    """The 3-level (scorer, bodyparts, coords) table of one individual."""
    individuals = _individuals(table)
    if not individuals:
        if individual is not None:
            raise FileFormatError(path, f"individual {individual!r} asked for, but the file is single-animal")
        return table
    if individual is None:
        if len(individuals) > 1:
            raise FileFormatError(
                path, f"the file holds several individuals ({', '.join(individuals)}); "
                "choose one with individual=..."
            )
        individual = individuals[0]
    if individual not in individuals:
        raise FileFormatError(path, f"no individual {individual!r}; the file has {', '.join(individuals)}")
    mask = table.columns.get_level_values("individuals") == individual
    sub = table.loc[:, mask]
    sub.columns = sub.columns.droplevel("individuals")
    return sub


def _table_arrays(table: pd.DataFrame, path: Path) -> tuple[tuple[str, ...], np.ndarray, np.ndarray | None]:
    """``(bodyparts, positions (N, K, 2), likelihood (N, K) or None)`` of a 3-level table."""
    bodyparts = tuple(str(b) for b in dict.fromkeys(table.columns.get_level_values("bodyparts")))
    n_rows = len(table)
    positions = np.full((n_rows, len(bodyparts), 2), np.nan)
    has_likelihood = "likelihood" in set(table.columns.get_level_values("coords"))
    likelihood = np.full((n_rows, len(bodyparts)), np.nan) if has_likelihood else None
    level_bodyparts = table.columns.get_level_values("bodyparts").astype(str)
    level_coords = table.columns.get_level_values("coords").astype(str)
    values = table.to_numpy(dtype=np.float64)
    for k, bodypart in enumerate(bodyparts):
        for d, coord in enumerate(("x", "y")):
            found = np.flatnonzero((level_bodyparts == bodypart) & (level_coords == coord))
            if len(found) != 1:
                raise FileFormatError(
                    path, f"bodypart {bodypart!r} has {len(found)} {coord!r} columns; expected 1"
                )
            positions[:, k, d] = values[:, found[0]]
        if likelihood is not None:
            found = np.flatnonzero((level_bodyparts == bodypart) & (level_coords == "likelihood"))
            if len(found) == 1:
                likelihood[:, k] = values[:, found[0]]
    return bodyparts, positions, likelihood
