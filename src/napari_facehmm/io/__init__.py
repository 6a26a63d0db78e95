"""Readers and writers: videos, DeepLabCut, Anipose, OpenFace, NWB (ndx-pose) and movement files.

Every landmark reader returns a :class:`~napari_facehmm.data.LandmarkSeries`.
:func:`read_landmarks` picks the reader from the file's extension and, for
CSV files, from its header.

- :mod:`.video`: video frames on demand (PyAV); :mod:`.video_writer`:
  writing H.264 videos; :mod:`.video_blank`: the reader as viewers see
  it, undecodable frames black (both importable from :mod:`.video`).
- :mod:`.dlc`: DeepLabCut analysis output; :mod:`.dlc_tables`: reading and
  checking DeepLabCut tables; :mod:`.dlc_labels`: labeled frames and image
  names; :mod:`.dlc_config`: the project ``config.yaml`` (all importable
  from :mod:`.dlc`).
- :mod:`.anipose`: ``calibration.toml`` and ``pose-3d`` tables (and the one
  rotation-vector conversion, :func:`~.anipose.rodrigues_to_matrix`).
- :mod:`.openface`: OpenFace 2 landmark tables.
- :mod:`.nwb`: ndx-pose tracks in NWB files; :mod:`.movement_netcdf`:
  movement's poses datasets saved as netCDF (SLEAP, Lightning Pose... tracks
  brought through movement).
- :mod:`.groups`: the ``session,group`` CSV of a multi-session analysis.
- :mod:`._atomic`: files and folders written whole or not at all;
  :mod:`._checks`: the checks every reader applies; :mod:`._csv`: fast
  numeric CSV writing.
"""

from __future__ import annotations

import csv
import inspect
from pathlib import Path

from ..data import LandmarkSeries
from ..errors import FileFormatError, UnsupportedFileError
from ._checks import check_is_file

__all__ = ["read_landmarks", "sniff_landmark_format"]


def sniff_landmark_format(path: str | Path) -> str:
    """Which landmark format a file holds: ``"dlc"``, ``"pose3d"``, ``"openface"``, ``"nwb"`` or ``"movement"``.

    ``.h5``/``.hdf5`` files are DeepLabCut tables, ``.nwb`` NWB files with
    ndx-pose tracks, ``.nc`` movement's poses datasets. A ``.csv`` is recognised
    by its first line: DeepLabCut's header rows start with ``scorer``;
    Anipose pose-3d tables have ``<bp>_x, <bp>_y, <bp>_z, <bp>_error`` or
    ``fnum`` columns; OpenFace tables have ``x_0``/``X_0`` and ``frame`` or
    ``timestamp`` columns.

    Raises
    ------
    UnsupportedFileError
        Any other extension or header.
    FileFormatError
        Missing, empty or unreadable file.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    check_is_file(path)
    if suffix in (".h5", ".hdf5"):
        return "dlc"
    if suffix == ".nwb":
        return "nwb"
    if suffix == ".nc":
        return "movement"
    if suffix != ".csv":
        raise UnsupportedFileError(
            path, f"no landmark reader for {suffix or 'files without extension'!r} "
            "(expected DeepLabCut .h5/.csv, Anipose pose-3d .csv, OpenFace .csv, NWB .nwb or movement .nc)"
        )
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            header = next(csv.reader(handle), None)
    except (UnicodeDecodeError, csv.Error) as error:
        raise FileFormatError(path, f"not a readable CSV file ({error})") from None
    if not header:
        raise FileFormatError(path, "file is empty")
    names = [cell.strip() for cell in header]
    name_set = set(names)
    if names[0] == "scorer":
        return "dlc"
    if ("x_0" in name_set or "X_0" in name_set) and name_set & {"frame", "timestamp", "success"}:
        return "openface"
    has_xyz = any(n.endswith("_x") and n[:-2] + "_z" in name_set for n in names)
    if "fnum" in name_set or (has_xyz and any(n.endswith(("_error", "_ncams", "_score")) for n in names)):
        return "pose3d"
    raise UnsupportedFileError(
        path, "CSV header matches no landmark format (DeepLabCut 'scorer' rows, Anipose pose-3d "
        f"'<bp>_x.._error' columns, OpenFace 'x_0' columns); it starts {names[:5]}"
    )


def read_landmarks(path: str | Path, **kwargs) -> LandmarkSeries:
    """Read landmarks from any supported file.

    Parameters
    ----------
    path
        DeepLabCut analysis ``.h5``/``.csv`` (one row per video frame; a
        labels file is refused), Anipose pose-3d ``.csv``, OpenFace ``.csv``,
        NWB ``.nwb`` (ndx-pose) or movement's netCDF ``.nc``.
    **kwargs
        Passed to the reader: ``individual``/``fps`` (DeepLabCut),
        ``fps`` (pose-3d), ``dims``/``fps``/``face_id`` (OpenFace),
        ``camera``/``pose_estimation``/``fps`` (NWB),
        ``individual``/``camera``/``fps`` (movement).

    Returns
    -------
    LandmarkSeries
        ``attrs["format"]`` says which reader was used.
    """
    kind = sniff_landmark_format(path)
    if kind == "dlc":
        from .dlc import read_dlc_analysis as reader
    elif kind == "pose3d":
        from .anipose import read_pose3d as reader
    elif kind == "nwb":
        from .nwb import read_nwb_pose as reader
    elif kind == "movement":
        from .movement_netcdf import read_movement_netcdf as reader
    else:
        from .openface import read_openface as reader
    try:
        inspect.signature(reader).bind(path, **kwargs)
    except TypeError:
        raise UnsupportedFileError(
            path, f"{kind} files do not take the option(s) {', '.join(sorted(kwargs))}"
        ) from None
    series = reader(path, **kwargs)
    series.attrs["format"] = kind
    return series
