"""``facehmm export --to nwb``: a session's tracks and decoded states as one NWB file (ndx-pose).

The file, for archives and data sharing (DANDI), holds:

- ``processing/behavior``: a ``Skeletons`` container with the face
  ``Skeleton`` (``face``: the landmark names and the skeleton's edges), one
  ndx-pose ``PoseEstimation`` per track with a ``PoseEstimationSeries`` per
  landmark (position, confidence, ``rate`` = the video's fps, one row per
  video frame, NaN where the tracker has no point), the per-frame state
  (``expression_state``, a TimeSeries of integers, -1 where a frame has no
  state; ``expression_state_probability`` beside it) and the state names
  (``expression_state_names``, a table with one row per state).
- The primary track (3D when the session has ``pose-3d/``, else the first
  camera's) is the ``PoseEstimation`` named ``PoseEstimation``, the name
  movement's loader reads by default; the others are
  ``PoseEstimation_<camera>`` (and ``PoseEstimation_3d``). Each 2D track
  links its camera: a ndx-pose ``CalibratedCamera`` (intrinsics, rotation,
  translation, distortion) when the session has a calibration, else a plain
  ``Device``.
- ``intervals/expression_states``: a ``TimeIntervals`` table, one row per
  bout (``start_time``, ``stop_time`` in seconds, ``state``, ``state_name``).
- The analysis's settings: ``notes`` holds ``{"summary": summary.json,
  "model": model.json}`` as JSON (the fitted arrays stay in ``model.npz``).

The file passes ``pynwb.validate`` and opens with
``movement.io.load_dataset(path, source_software="NWB")`` (add
``pose_estimation_key="PoseEstimation_camA"`` for another track).
:func:`napari_facehmm.io.nwb.read_nwb_pose` reads any track back.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any, Generator

import numpy as np

from ..data import LandmarkSeries
from ..progress import Progress
from .session_inputs import TRACK_3D, ExportInputs, check_output_file, read_export_inputs

__all__ = ["build_nwbfile", "write_nwb", "pose_estimation_name", "PRIMARY_NAME", "STATES_TABLE"]

#: name of the primary track's PoseEstimation (movement's default key)
PRIMARY_NAME = "PoseEstimation"
#: name of the TimeIntervals table of the state bouts
STATES_TABLE = "expression_states"
#: name of the per-frame state TimeSeries in the processing module
STATE_SERIES = "expression_state"
PROCESSING_MODULE = "behavior"


def pose_estimation_name(track: str, primary: str) -> str:
    """Name of a track's ``PoseEstimation``: ``PoseEstimation`` for the primary one, else ``PoseEstimation_<track>``."""
    return PRIMARY_NAME if track == primary else f"{PRIMARY_NAME}_{track}"


def _software_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("napari-facehmm")
    except PackageNotFoundError:
        return "unknown"


def _start_time(inputs: ExportInputs) -> dt.datetime:
    """The modification time of the session's oldest track file: the files carry no recording time."""
    oldest = min(path.stat().st_mtime for path in inputs.sources.values())
    return dt.datetime.fromtimestamp(oldest, tz=dt.timezone.utc).replace(microsecond=0)


def _device(nwbfile: Any, camera: str, calibration: Any) -> Any:
    from ndx_pose import CalibratedCamera
    from pynwb.device import Device

    params = None
    if calibration is not None and camera in calibration.camera_names:
        params = calibration.camera(camera)
    if params is None:
        device = Device(name=camera, description=f"camera {camera} (no calibration in the session)")
    else:
        device = CalibratedCamera(
            name=camera,
            description=f"camera {camera}, {params.size[0]}x{params.size[1]} px, from calibration/calibration.toml",
            intrinsic_matrix=params.matrix,
            rotation_matrix=params.rotation_matrix,
            translation_vector=params.translation,
            distortion_coefficients=params.distortions,
        )
    nwbfile.add_device(device)
    return device


def _skeleton(series: LandmarkSeries, name: str, subject: Any) -> Any:
    from ndx_pose import Skeleton

    edges = series.skeleton_indices
    dtype = np.uint8 if series.n_keypoints <= 256 else np.uint16
    return Skeleton(name=name, nodes=list(series.keypoints), edges=edges.astype(dtype).reshape(-1, 2), subject=subject)


def _pose_estimation(track: str, series: LandmarkSeries, name: str, skeleton: Any, device: Any, source: Path) -> Any:
    from ndx_pose import PoseEstimation, PoseEstimationSeries

    is_3d = track == TRACK_3D
    unit = "mm" if is_3d else "pixels"
    reference = (
        "the calibration's world frame (Anipose pose-3d output), millimetres"
        if is_3d
        else f"(0, 0) is the top-left corner of camera {track}'s video frame; x right, y down, pixels"
    )
    confidence_definition = "Anipose triangulation score" if is_3d else "tracker likelihood (DeepLabCut likelihood column)"
    series_list = [
        PoseEstimationSeries(
            name=keypoint,
            description=f"{keypoint}, {'3D' if is_3d else 'camera ' + track}",
            data=series.positions[:, k, :],
            confidence=series.confidence[:, k],
            confidence_definition=confidence_definition,
            unit=unit,
            reference_frame=reference,
            rate=float(series.fps),
            starting_time=0.0,
        )
        for k, keypoint in enumerate(series.keypoints)
    ]
    return PoseEstimation(
        name=name,
        description=(
            f"{'3D face landmarks (Anipose triangulation)' if is_3d else f'2D face landmarks seen by camera {track}'}, "
            f"one row per video frame, NaN where none; from {source.name}"
        ),
        pose_estimation_series=series_list,
        scorer=str(series.attrs.get("scorer", "")) or None,
        source_software="Anipose" if is_3d else "DeepLabCut",
        skeleton=skeleton,
        device=device,
    )


def _state_tables(nwbfile: Any, module: Any, inputs: ExportInputs) -> None:
    from pynwb import TimeSeries
    from pynwb.core import DynamicTable, VectorData
    from pynwb.epoch import TimeIntervals

    from ..stats.tables import bout_table

    names = list(inputs.state_names)
    intervals = TimeIntervals(
        name=STATES_TABLE, description="bouts of the decoded facial-expression states (runs of one state)"
    )
    intervals.add_column(name="state", description="state number (0-based, as in states.csv)")
    intervals.add_column(name="state_name", description="state name (state_stats.csv)")
    bouts = bout_table(inputs.states, np.arange(inputs.n_frames), inputs.fps)
    for state, start, end in zip(bouts["state"], bouts["start_frame"], bouts["end_frame"]):
        intervals.add_interval(
            start_time=float(start) / inputs.fps,
            stop_time=float(end + 1) / inputs.fps,
            state=int(state),
            state_name=names[int(state)] if 0 <= int(state) < len(names) else f"state {int(state)}",
        )
    nwbfile.add_time_intervals(intervals)
    per_frame = {
        STATE_SERIES: (
            inputs.states.astype(np.int64),
            f"decoded expression state of every video frame, -1 where none; names in {STATES_TABLE}",
        ),
        f"{STATE_SERIES}_probability": (
            inputs.state_probability.astype(np.float64),
            "posterior probability of each frame's decoded state, NaN where none",
        ),
    }
    for name, (values, description) in per_frame.items():
        module.add(
            TimeSeries(
                name=name, description=description, data=values, unit="n.a.", rate=float(inputs.fps), starting_time=0.0
            )
        )
    module.add(
        DynamicTable(
            name=f"{STATE_SERIES}_names",
            description="name of each state; row i is state i",
            columns=[VectorData(name="state_name", description="state name", data=names)],
        )
    )


def build_nwbfile(inputs: ExportInputs, session_start_time: dt.datetime | None = None) -> Any:
    """The in-memory ``pynwb.NWBFile`` of :func:`write_nwb` (see the module's docstring for its content)."""
    from ndx_pose import Skeletons
    from pynwb import NWBFile
    from pynwb.file import Subject

    start = session_start_time or _start_time(inputs)
    if start.tzinfo is None:
        start = start.replace(tzinfo=dt.timezone.utc)
    settings = {"software": f"napari-facehmm {_software_version()}", "summary": inputs.summary, "model": inputs.model}
    nwbfile = NWBFile(
        session_description=(
            f"Face landmarks of session {inputs.session} ({', '.join(inputs.tracks)}) and the facial-expression "
            f"states a Gaussian HMM decoded from them ({len(inputs.state_names)} states), exported by napari-facehmm"
        ),
        identifier=inputs.session,
        session_id=inputs.session,
        session_start_time=start,
        keywords=["facial expression", "pose estimation", "hidden Markov model"],
        notes=json.dumps(settings, default=str),
    )
    subject = Subject(subject_id=inputs.session, description=f"the face recorded in session {inputs.session}")
    nwbfile.subject = subject
    module = nwbfile.create_processing_module(
        name=PROCESSING_MODULE, description="face landmarks (ndx-pose) and decoded expression states"
    )
    skeletons: dict[tuple, Any] = {}
    primary = inputs.primary_track
    for track, series in inputs.tracks.items():
        key = (series.keypoints, series.skeleton)
        if key not in skeletons:
            skeletons[key] = _skeleton(series, "face" if not skeletons else f"face_{track}", subject)
        device = _device(nwbfile, track, inputs.calibration) if track != TRACK_3D else None
        name = pose_estimation_name(track, primary)
        module.add(_pose_estimation(track, series, name, skeletons[key], device, inputs.sources[track]))
    module.add(Skeletons(skeletons=list(skeletons.values())))
    _state_tables(nwbfile, module, inputs)
    return nwbfile


def write_nwb(
    session_dir: str | Path,
    analysis_dir: str | Path,
    out_path: str | Path,
    *,
    overwrite: bool = False,
    session_start_time: dt.datetime | None = None,
) -> Generator[Progress, None, Path]:
    """Write a session's tracks and its analysis's states as an NWB file; a generator of ``(done, total, message)``.

    Parameters
    ----------
    session_dir, analysis_dir
        The session folder and its analysis folder (:func:`read_export_inputs`).
    out_path
        The ``.nwb`` file; refused when it exists unless ``overwrite``.
    session_start_time
        The recording's start (NWB requires one); by default the
        modification time of the session's oldest track file, in UTC.

    Returns
    -------
    Path
        ``out_path``, written whole or not at all (an interruption leaves
        what was there).

    Raises
    ------
    DataError
        An output that exists, and what :func:`read_export_inputs` refuses.
    """
    from pynwb import NWBHDF5IO

    from ..io._atomic import atomic_write_path

    out_path = check_output_file(out_path, ".nwb", "an NWB file", overwrite)
    yield 0, 3, "reading the session and its analysis"
    inputs = read_export_inputs(session_dir, analysis_dir)
    yield 1, 3, f"building the NWB file ({len(inputs.tracks)} tracks, {inputs.n_frames} frames)"
    nwbfile = build_nwbfile(inputs, session_start_time)
    yield 2, 3, f"writing {out_path.name}"
    with atomic_write_path(out_path, backup=False) as temp:
        with NWBHDF5IO(str(temp), mode="w") as io:
            io.write(nwbfile)
    yield 3, 3, f"wrote {out_path.name}"
    return out_path
