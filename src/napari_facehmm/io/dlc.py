"""DeepLabCut files: analysis output, labeled frames and project config.

Layouts are those DeepLabCut 3 writes:

* Analysis output ``<video>DLC_<scorer>.h5`` (HDF5 key ``df_with_missing``,
  ``format="table"``) and its ``.csv``: one row per frame (integer index),
  columns a MultiIndex ``scorer / bodyparts / coords`` with coords ``x, y,
  likelihood`` (multi-animal: ``scorer / individuals / bodyparts / coords``).
  The CSV carries the column levels as 3 (or 4) header rows.
* Labels ``labeled-data/<video>/CollectedData_<scorer>.h5`` (key
  ``df_with_missing``, fixed format) and ``.csv``: one row per image, coords
  ``x, y``, NaN for an unlabeled point. The row index is a 3-level MultiIndex
  ``("labeled-data", <video>, <image>)`` in DeepLabCut >= 2.2 projects and a
  single ``"labeled-data/<video>/<image>"`` string in older ones.
* ``config.yaml`` of a project.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..data import LandmarkSeries
from ..errors import DataError, FaceHMMError, FileFormatError, UnsupportedFileError
from ._atomic import atomic_write_path
from ._checks import (
    check_finite,
    check_frame_numbers,
    check_is_file,
    check_last_row_complete,
    frame_order,
)
from ._csv import write_numeric_csv

__all__ = [
    "H5_KEY",
    "DLCConfig",
    "LabelData",
    "read_dlc_analysis",
    "write_dlc_analysis",
    "read_labels",
    "write_labels",
    "read_dlc_config",
    "read_dlc_table",
    "labels_to_dataframe",
    "image_frame_index",
]

H5_KEY = "df_with_missing"
LEVELS_SINGLE = ["scorer", "bodyparts", "coords"]
LEVELS_MULTI = ["scorer", "individuals", "bodyparts", "coords"]

#: a hidden temporary of a labels save at least this old is left over from a
#: killed save and is removed when the labels are read
STALE_LABEL_TEMPORARY_S = 60.0


# ------------------------------------------------------------ table reading
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


# ------------------------------------------------------------ predictions
def read_dlc_analysis(
    path: str | Path, individual: str | None = None, fps: float = 30.0
) -> LandmarkSeries:
    """Read DeepLabCut's analysis output of one video.

    Parameters
    ----------
    path
        ``.h5`` (key ``df_with_missing``) or ``.csv`` as ``analyze_videos``
        writes it.
    individual
        For multi-animal files (4 column levels): which individual. Needed
        when the file has more than one.
    fps
        Frame rate of the video (the table does not store it).

    Returns
    -------
    LandmarkSeries
        2D: ``positions (T, K, 2)`` pixels, ``confidence (T, K)`` from
        ``likelihood`` (1 where the file has none), ``frame_indices`` from
        the integer row index, ``attrs["scorer"]`` and, for multi-animal
        files, ``attrs["individual"]``. Rows are in frame order.

    Raises
    ------
    FileFormatError
        Besides what :func:`read_dlc_table` refuses: rows named by images
        (a labels file, not tracking output), frame numbers that are not
        whole or negative, a frame in several rows that differ. Rows out of
        order are sorted and exact copies of a row dropped, with a
        :class:`~napari_facehmm.io._checks.RepairedInputWarning`.
    """
    path = Path(path)
    table = read_dlc_table(path)
    index = table.index
    if isinstance(index, pd.MultiIndex) or not (
        pd.api.types.is_integer_dtype(index.dtype) or pd.api.types.is_float_dtype(index.dtype)
    ):
        # Rows named by images are labeled frames (CollectedData) or machine
        # labels, picked from anywhere in a video: as a time series they would
        # be silently wrong.
        kind = "hand labels" if "likelihood" not in set(table.columns.get_level_values("coords")) else "labels"
        raise FileFormatError(
            path,
            f"its rows are labeled images ({_image_paths(index, path)[0]!r}, ...): a DeepLabCut {kind} file, "
            "not the tracking output of a video (one row per frame, with likelihood). Give the video's "
            "analysis file (<video>DLC_<scorer>.h5), or open labels in the Label landmarks dock",
        )
    frame_indices = check_frame_numbers(index.to_numpy(), path, "the frame column (first column)")
    scorer = str(table.columns.get_level_values("scorer")[0])
    individuals = _individuals(table)
    sub = _select_individual(table, individual, path)
    bodyparts, positions, likelihood = _table_arrays(sub, path)
    attrs: dict[str, Any] = {"scorer": scorer}
    if individuals:
        attrs["individual"] = individual if individual is not None else individuals[0]
    rows = frame_order(frame_indices, sub.to_numpy(dtype=np.float64), path, "the frame column")
    if rows is not None:
        frame_indices, positions = frame_indices[rows], positions[rows]
        likelihood = likelihood[rows] if likelihood is not None else None
    return LandmarkSeries(
        positions=positions,
        keypoints=bodyparts,
        confidence=likelihood,
        fps=fps,
        frame_indices=frame_indices,
        source=path,
        attrs=attrs,
    )


def _prediction_frame(series: LandmarkSeries, scorer: str) -> pd.DataFrame:
    if series.n_dims != 2:
        raise DataError(f"DeepLabCut files hold 2D points; this series is {series.n_dims}D")
    columns = pd.MultiIndex.from_product(
        [[scorer], list(series.keypoints), ["x", "y", "likelihood"]], names=LEVELS_SINGLE
    )
    values = np.concatenate([series.positions, series.confidence[:, :, None]], axis=2)
    return pd.DataFrame(
        values.reshape(series.n_frames, -1).astype(np.float64),
        columns=columns,
        index=pd.Index(series.frame_indices.astype(np.int64)),
    )


def write_dlc_analysis(series: LandmarkSeries, path: str | Path, scorer: str = "DLC_facehmm") -> Path:
    """Write a 2D series as DeepLabCut analysis output.

    Parameters
    ----------
    series
        2D series; ``likelihood`` is ``series.confidence``.
    path
        ``.h5`` (key ``df_with_missing``, table format, as
        ``analyze_videos``) or ``.csv`` (three header rows).
    scorer
        The ``scorer`` column level (DeepLabCut puts the network name there).

    Returns
    -------
    Path
        ``path``.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".h5", ".hdf5", ".csv"):
        raise UnsupportedFileError(path, f"DeepLabCut tables are .h5 or .csv, not {suffix or 'no extension'!r}")
    table = _prediction_frame(series, scorer)
    with atomic_write_path(path, backup=False) as temp:
        if suffix == ".csv":
            write_numeric_csv(table, temp, index=True)
        else:
            table.to_hdf(temp, key=H5_KEY, format="table", mode="w")
    return path


# ------------------------------------------------------------------ labels
@dataclass(eq=False)
class LabelData:
    """Hand labels of one ``CollectedData_<scorer>`` file.

    Parameters
    ----------
    scorer
        The labeler's name (``scorer`` in ``config.yaml``).
    keypoints
        ``K`` bodypart names, in column order.
    images
        ``n_images`` image paths relative to the project, with ``/``
        separators: ``"labeled-data/<video>/img0001.png"``.
    positions
        ``(n_images, K, 2)`` pixel coordinates ``(x, y)``; NaN = unlabeled.
    index_style
        ``"multi"`` (3-level row MultiIndex, DeepLabCut >= 2.2) or
        ``"single"`` (one path string per row, older projects): how the file
        that was read stored its rows.
    source
        The file read, if any.
    """

    scorer: str
    keypoints: tuple[str, ...]
    images: list[str]
    positions: np.ndarray
    index_style: str = "multi"
    source: Path | None = None

    def __post_init__(self) -> None:
        self.scorer = str(self.scorer)
        self.keypoints = tuple(str(k) for k in self.keypoints)
        self.images = [str(i).replace("\\", "/") for i in self.images]
        positions = np.asarray(self.positions, dtype=np.float64)
        expected = (len(self.images), len(self.keypoints), 2)
        if positions.shape != expected:
            raise DataError(f"label positions must have shape {expected}; got {positions.shape}")
        if len(set(self.keypoints)) != len(self.keypoints):
            raise DataError(f"keypoint names repeat: {list(self.keypoints)}")
        if len(set(self.images)) != len(self.images):
            repeated = sorted({i for i in self.images if self.images.count(i) > 1})
            raise DataError(f"images repeat: {repeated[:5]}")
        if self.index_style not in ("multi", "single"):
            raise DataError(f"index_style must be 'multi' or 'single'; got {self.index_style!r}")
        self.positions = positions
        self.source = Path(self.source) if self.source is not None else None

    @classmethod
    def empty(cls, scorer: str, keypoints: tuple[str, ...] | list[str], images: list[str]) -> "LabelData":
        """Labels for ``images`` with every point unlabeled (NaN)."""
        return cls(scorer, tuple(keypoints), list(images), np.full((len(images), len(keypoints), 2), np.nan))

    @property
    def n_images(self) -> int:
        return len(self.images)

    @property
    def labeled(self) -> np.ndarray:
        """``(n_images, K)`` True where a point is labeled."""
        return ~np.isnan(self.positions).any(axis=2)

    def image_index(self, image: str) -> int:
        """Row of ``image`` (a relative path); :class:`DataError` if absent."""
        image = str(image).replace("\\", "/")
        try:
            return self.images.index(image)
        except ValueError:
            raise DataError(f"image {image!r} is not among the {self.n_images} labeled images") from None


def _image_paths(index: pd.Index, path: Path) -> list[str]:
    if isinstance(index, pd.MultiIndex):
        return ["/".join(str(part) for part in row) for row in index]
    if index.dtype != object and not pd.api.types.is_string_dtype(index.dtype):
        raise FileFormatError(
            path, f"rows must be labeled images, as in CollectedData_<scorer>.h5; they are {index.dtype} frame "
            "numbers: this is the tracking output of a video, not a labels file"
        )
    return [str(row).replace("\\", "/") for row in index]


def read_labels(path: str | Path, individual: str | None = None) -> LabelData:
    """Read ``CollectedData_<scorer>.h5`` or ``.csv``.

    Parameters
    ----------
    path
        The labels file; both row index styles are read.
    individual
        For multi-animal label files: which individual (required when there
        are several).

    Returns
    -------
    LabelData
    """
    from ._atomic import finish_interrupted_replacement, remove_stale_temporaries

    path = Path(path)
    # A save killed between its two renames is completed (its files were whole);
    # then temporaries of a save killed earlier are removed (only old ones, in
    # case another process is saving these labels right now).
    finish_interrupted_replacement(path.with_suffix(".h5"))
    for stale_of in (path.with_suffix(".h5"), path.with_suffix(".csv")):
        remove_stale_temporaries(stale_of, min_age_s=STALE_LABEL_TEMPORARY_S)
    table = read_dlc_table(path)
    index_style = "multi" if isinstance(table.index, pd.MultiIndex) else "single"
    images = _image_paths(table.index, path)
    if len(set(images)) != len(images):
        repeated = sorted({i for i in images if images.count(i) > 1})
        raise FileFormatError(path, f"images repeat in the rows: {repeated[:5]}")
    sub = _select_individual(table, individual, path)
    bodyparts, positions, _ = _table_arrays(sub, path)
    return LabelData(
        scorer=str(table.columns.get_level_values("scorer")[0]),
        keypoints=bodyparts,
        images=images,
        positions=positions,
        index_style=index_style,
        source=path,
    )


def labels_to_dataframe(labels: LabelData) -> pd.DataFrame:
    """The table DeepLabCut keeps for ``labels``.

    Columns ``(scorer, bodyparts, coords)`` with ``x, y`` (float64); rows a
    3-level MultiIndex ``("labeled-data", video, image)`` as DeepLabCut 3
    writes (images whose path does not have exactly three parts keep a
    single string index, as older DeepLabCut wrote).
    """
    columns = pd.MultiIndex.from_product([[labels.scorer], list(labels.keypoints), ["x", "y"]], names=LEVELS_SINGLE)
    parts = [tuple(image.split("/")) for image in labels.images]
    if parts and all(len(p) == 3 for p in parts):
        index = pd.MultiIndex.from_tuples(parts)
    else:
        index = pd.Index(labels.images, dtype=object)
    return pd.DataFrame(
        labels.positions.reshape(labels.n_images, -1).astype(np.float64), index=index, columns=columns
    )


def write_labels(labels: LabelData, path_h5: str | Path) -> Path:
    """Write labels as DeepLabCut does: ``.h5`` (key ``df_with_missing``) and ``.csv``.

    The two files change together or not at all: both are written to hidden
    temporaries first, then both renamed into place; if the second rename
    fails, the first file gets its previous version back
    (:func:`~napari_facehmm.io._atomic.atomic_write_paths`). The previous
    versions are kept as ``<name>.bak``, each file keeps its permissions, and
    a file this process may not write is refused as a plain write would
    refuse it (root may write a read-only file, which then stays read-only). Hidden temporaries left beside
    them by a save that was killed are removed first. The CSV goes beside
    the ``.h5`` with the same stem.

    Parameters
    ----------
    labels
        The labels; rows are written with DeepLabCut 3's 3-level index.
    path_h5
        ``.../labeled-data/<video>/CollectedData_<scorer>.h5``.

    Returns
    -------
    Path
        The ``.h5`` path.

    Raises
    ------
    FaceHMMError
        The files could not be written (a file or folder we may not write, full disk,
        ...); the message names the file and the cause, and both files hold
        their previous labels.
    """
    from ._atomic import atomic_write_paths, finish_interrupted_replacement, remove_stale_temporaries

    path_h5 = Path(path_h5)
    if path_h5.suffix.lower() not in (".h5", ".hdf5"):
        raise UnsupportedFileError(path_h5, "labels are written to an .h5 path (the .csv goes beside it)")
    path_csv = path_h5.with_suffix(".csv")
    table = labels_to_dataframe(labels)
    finish_interrupted_replacement(path_h5)
    for path in (path_h5, path_csv):
        remove_stale_temporaries(path)
    writing = path_h5
    try:
        with atomic_write_paths([path_h5, path_csv], backup=True) as (temp_h5, temp_csv):
            table.to_hdf(temp_h5, key=H5_KEY, mode="w")
            writing = path_csv
            table.to_csv(temp_csv)
    # PyTables reports HDF5 write failures (a full disk) as RuntimeErrors.
    except (OSError, RuntimeError) as error:
        filename = getattr(error, "filename", None)
        where = Path(filename) if filename in (str(path_h5), str(path_csv)) else writing
        cause = (error.strerror if isinstance(error, OSError) else None) or str(error)
        raise FaceHMMError(
            f"{where}: could not save the labels: {cause}. "
            f"{path_h5.name} and {path_csv.name} still hold the previous labels."
        ) from error
    return path_h5


# ------------------------------------------------------------------ config
@dataclass(eq=False)
class DLCConfig:
    """The parts of a DeepLabCut ``config.yaml`` this plugin uses.

    ``bodyparts`` are the multi-animal bodyparts followed by the unique ones
    in a multi-animal project; ``skeleton`` is a tuple of name pairs;
    ``project_path`` is the folder of the config file when the stored one
    does not exist (DeepLabCut rewrites it the same way). ``raw`` is the
    whole parsed file.
    """

    path: Path
    task: str
    scorer: str
    date: str
    bodyparts: tuple[str, ...]
    skeleton: tuple[tuple[str, str], ...]
    video_sets: dict[str, Any]
    numframes2pick: int
    project_path: Path
    multianimal: bool = False
    individuals: tuple[str, ...] = ()
    raw: dict[str, Any] = field(default_factory=dict)

    @property
    def labeled_data_dir(self) -> Path:
        return self.project_path / "labeled-data"

    def labels_path(self, video_name: str) -> Path:
        """``labeled-data/<video_name>/CollectedData_<scorer>.h5``."""
        return self.labeled_data_dir / video_name / f"CollectedData_{self.scorer}.h5"


def _name_list(value: Any, key: str, path: Path) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, (str, int)) for v in value):
        raise FileFormatError(path, f"{key} must be a list of names; got {value!r}")
    return tuple(str(v) for v in value)


def read_dlc_config(path: str | Path) -> DLCConfig:
    """Read and validate a DeepLabCut project ``config.yaml``.

    Raises
    ------
    FileFormatError
        Missing or empty file, YAML errors, or missing/malformed
        ``Task``, ``scorer``, ``bodyparts`` (``multianimalbodyparts``),
        ``video_sets``, ``skeleton`` or ``numframes2pick``.
    """
    import yaml

    path = Path(path)
    check_is_file(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as error:
        raise FileFormatError(path, f"not valid YAML ({error})") from None
    if not isinstance(raw, dict):
        raise FileFormatError(path, "empty, or not a mapping of settings")
    missing = [k for k in ("Task", "scorer", "bodyparts") if raw.get(k) in (None, "")]
    if missing:
        raise FileFormatError(path, f"missing required settings: {', '.join(missing)}")
    multianimal = bool(raw.get("multianimalproject") or False)
    if multianimal:
        bodyparts = _name_list(raw.get("multianimalbodyparts"), "multianimalbodyparts", path)
        bodyparts += _name_list(raw.get("uniquebodyparts"), "uniquebodyparts", path)
        individuals = _name_list(raw.get("individuals"), "individuals", path)
    else:
        bodyparts = _name_list(raw.get("bodyparts"), "bodyparts", path)
        individuals = ()
    if not bodyparts:
        raise FileFormatError(path, "no bodyparts listed")
    if len(set(bodyparts)) != len(bodyparts):
        raise FileFormatError(path, f"bodyparts repeat: {list(bodyparts)}")
    skeleton_raw = raw.get("skeleton") or []
    if not isinstance(skeleton_raw, list):
        raise FileFormatError(path, f"skeleton must be a list of [a, b] pairs; got {skeleton_raw!r}")
    edges = []
    for entry in skeleton_raw:
        if not isinstance(entry, (list, tuple)) or len(entry) < 2:
            raise FileFormatError(path, f"skeleton entries must be [a, b] pairs; got {entry!r}")
        # A longer entry is a chain a-b-c: consecutive pairs.
        edges.extend((str(a), str(b)) for a, b in zip(entry[:-1], entry[1:]))
    video_sets = raw.get("video_sets") or {}
    if not isinstance(video_sets, dict):
        raise FileFormatError(path, f"video_sets must be a mapping of video path to settings; got {video_sets!r}")
    numframes = raw.get("numframes2pick", 20)
    if isinstance(numframes, bool) or not isinstance(numframes, int) or numframes < 1:
        raise FileFormatError(path, f"numframes2pick must be a positive whole number; got {numframes!r}")
    stored = raw.get("project_path")
    project_path = Path(stored) if stored and Path(str(stored)).is_dir() else path.parent
    return DLCConfig(
        path=path,
        task=str(raw["Task"]),
        scorer=str(raw["scorer"]),
        date=str(raw.get("date") or ""),
        bodyparts=bodyparts,
        skeleton=tuple(edges),
        video_sets={str(k): v for k, v in video_sets.items()},
        numframes2pick=int(numframes),
        project_path=project_path,
        multianimal=multianimal,
        individuals=individuals,
        raw=raw,
    )


_DIGITS = re.compile(r"(\d+)(?!.*\d)")


def image_frame_index(image: str) -> int | None:
    """Frame number in an image name (``img0042.png`` -> 42), or None."""
    match = _DIGITS.search(Path(image).stem)
    return int(match.group(1)) if match else None
