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

This module reads and writes the analysis output; the rest lives beside it
and is importable from here:

- :mod:`.dlc_tables`: reading and checking DeepLabCut tables (both kinds).
- :mod:`.dlc_labels`: labeled frames (:class:`LabelData`,
  :func:`read_labels`, :func:`write_labels`) and image names.
- :mod:`.dlc_config`: the project ``config.yaml`` (:class:`DLCConfig`,
  :func:`read_dlc_config`, and :func:`update_dlc_config`, the one writer).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..data import LandmarkSeries
from ..errors import DataError, FileFormatError, UnsupportedFileError
from ._atomic import atomic_write_path
from ._checks import check_frame_numbers, frame_order
from ._csv import write_numeric_csv
from .dlc_config import DLCConfig, read_dlc_config, update_dlc_config
from .dlc_labels import (
    LabelData,
    _image_paths,
    image_frame_index,
    labels_to_dataframe,
    read_labels,
    write_labels,
)
from .dlc_tables import H5_KEY, LEVELS_SINGLE, _individuals, _select_individual, _table_arrays, read_dlc_table

__all__ = [
    "H5_KEY",
    "DLCConfig",
    "LabelData",
    "read_dlc_analysis",
    "write_dlc_analysis",
    "read_labels",
    "write_labels",
    "read_dlc_config",
    "update_dlc_config",
    "read_dlc_table",
    "labels_to_dataframe",
    "image_frame_index",
]


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
