"""``facehmm export --to movement``: one track and the decoded states as movement's poses dataset, in netCDF.

movement (neuroinformatics-unit) keeps pose tracks in an ``xarray.Dataset``:
``position`` with dims ``(time, space, keypoints, individuals)`` and
``confidence`` with ``(time, keypoints, individuals)``, ``time`` in seconds
when ``fps`` is known, and the attributes ``ds_type="poses"``,
``source_software``, ``fps`` and ``time_unit``. The dataset is built with
movement's own ``load_poses.from_numpy``, so its dim names are those of the
installed movement (they are becoming singular in recent versions).

Added to movement's variables:

- ``state`` ``(time,)``: the decoded state of every frame, -1 where none;
  ``state_probability`` ``(time,)``, NaN where none.
- Attributes: ``state_names`` (name of state 0, 1, ...), ``session``,
  ``track`` (``"3d"`` or the camera), ``source_file`` (the track's file),
  ``skeleton`` (JSON list of keypoint-name pairs) and ``facehmm_analysis``
  (JSON of the analysis's ``summary.json``).

The file opens with ``xarray.open_dataset`` and passes movement's dataset
validator (what movement's napari loader applies to netCDF files);
:func:`napari_facehmm.io.movement_netcdf.read_movement_netcdf` reads it
back as a :class:`~napari_facehmm.data.LandmarkSeries`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Generator

import numpy as np

from ..progress import Progress
from .session_inputs import TRACK_3D, ExportInputs, check_output_file, read_export_inputs

__all__ = ["to_movement_dataset", "write_movement"]


def to_movement_dataset(inputs: ExportInputs, track: str | None = None) -> Any:
    """movement's poses dataset of one track (the primary one when None), with the states.

    Returns
    -------
    xarray.Dataset
        One individual (the session), ``position`` in pixels (2D) or mm
        (3D) on every frame of the session, see the module's docstring.
    """
    from movement.io.load_poses import from_numpy

    name = track or inputs.primary_track
    series = inputs.track(name)
    source_software = "Anipose" if name == TRACK_3D else "DeepLabCut"
    dataset = from_numpy(
        position_array=series.positions.transpose(0, 2, 1)[..., np.newaxis],
        confidence_array=series.confidence[..., np.newaxis],
        individual_names=[inputs.session],
        keypoint_names=list(series.keypoints),
        fps=float(inputs.fps),
        source_software=source_software,
    )
    time_dim = dataset["position"].dims[0]
    dataset["state"] = (time_dim, inputs.states.astype(np.int64))
    dataset["state"].attrs["description"] = "decoded expression state of each frame, -1 where none"
    dataset["state_probability"] = (time_dim, inputs.state_probability.astype(np.float64))
    dataset.attrs.update(
        session=inputs.session,
        track=name,
        space_unit="mm" if name == TRACK_3D else "pixels",
        source_file=str(inputs.sources[name]),
        state_names=list(inputs.state_names),
        skeleton=json.dumps([list(edge) for edge in series.skeleton]),
        facehmm_analysis=json.dumps(inputs.summary, default=str),
    )
    # netCDF attributes cannot be None
    dataset.attrs = {key: value for key, value in dataset.attrs.items() if value is not None}
    return dataset


def write_movement(
    session_dir: str | Path,
    analysis_dir: str | Path,
    out_path: str | Path,
    *,
    track: str | None = None,
    overwrite: bool = False,
) -> Generator[Progress, None, Path]:
    """Write one track and the states as movement's poses dataset (netCDF); a generator of progress.

    Parameters
    ----------
    session_dir, analysis_dir
        The session folder and its analysis folder.
    out_path
        The ``.nc`` file; refused when it exists unless ``overwrite``.
    track
        ``"3d"`` or a camera name; by default the 3D track when the session
        has one, else the first camera's.

    Returns
    -------
    Path
        ``out_path``, written whole or not at all.
    """
    from ..io._atomic import atomic_write_path

    out_path = check_output_file(out_path, ".nc", "a netCDF file", overwrite)
    yield 0, 3, "reading the session and its analysis"
    inputs = read_export_inputs(session_dir, analysis_dir)
    yield 1, 3, "building movement's poses dataset"
    dataset = to_movement_dataset(inputs, track)
    yield 2, 3, f"writing {out_path.name}"
    with atomic_write_path(out_path, backup=False) as temp:
        dataset.to_netcdf(temp)
    yield 3, 3, f"wrote {out_path.name}"
    return out_path
