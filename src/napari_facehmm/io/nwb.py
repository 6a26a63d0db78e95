"""NWB files with ndx-pose tracks (``.nwb``): the pose estimates DANDI archives and converters write.

ndx-pose keeps one ``PoseEstimation`` per camera view (and 3D track) in a
processing module (usually ``behavior``), holding one ``PoseEstimationSeries``
per body part: ``data (T, 2|3)``, ``confidence (T,)``, and ``rate`` with
``starting_time`` or ``timestamps``; its ``skeleton`` links a ``Skeleton``
(``nodes``, ``edges``) and its ``device`` the camera. ``facehmm export --to
nwb`` writes one ``PoseEstimation`` per track (see
:mod:`napari_facehmm.export.nwb`).

:func:`read_nwb_pose` validates (the suffix, an HDF5 file pynwb reads, a
``PoseEstimation`` to read, series of one length) before building a
:class:`~napari_facehmm.data.LandmarkSeries`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..data import LandmarkSeries
from ..errors import FileFormatError
from ._checks import check_finite, check_frame_numbers, check_is_file

__all__ = ["read_nwb_pose", "list_pose_estimations"]

#: the name ndx-pose (and movement's loader) give a PoseEstimation by default
DEFAULT_NAME = "PoseEstimation"


def _pose_estimations(nwbfile: Any) -> dict[str, Any]:
    """``{name: PoseEstimation}`` over every processing module (``module/name`` when names clash)."""
    from ndx_pose import PoseEstimation

    found: dict[str, Any] = {}
    for module_name, module in nwbfile.processing.items():
        for name, interface in module.data_interfaces.items():
            if isinstance(interface, PoseEstimation):
                found[name if name not in found else f"{module_name}/{name}"] = interface
    return found


def _device_name(pose: Any) -> str | None:
    device = getattr(pose, "device", None)
    return str(device.name) if device is not None else None


def list_pose_estimations(path: str | Path) -> dict[str, str | None]:
    """``{PoseEstimation name: its camera (device) name or None}`` of an NWB file."""
    import ndx_pose  # noqa: F401  (registers the ndx-pose types before the file is read)
    from pynwb import NWBHDF5IO

    with NWBHDF5IO(str(path), mode="r") as io:
        return {name: _device_name(pose) for name, pose in _pose_estimations(io.read()).items()}


def _choose(found: dict[str, Any], pose_estimation: str | None, camera: str | None, path: Path) -> tuple[str, Any]:
    if not found:
        raise FileFormatError(path, "holds no ndx-pose PoseEstimation (no pose tracks)")
    described = ", ".join(f"{n} ({_device_name(p) or 'no camera'})" for n, p in found.items())
    if pose_estimation is not None:
        if pose_estimation not in found:
            raise FileFormatError(path, f"has no PoseEstimation {pose_estimation!r}; it has {described}")
        return pose_estimation, found[pose_estimation]
    if camera is not None:
        matches = [n for n, p in found.items() if _device_name(p) == camera or n.endswith(f"_{camera}")]
        if not matches:
            raise FileFormatError(path, f"has no track of camera {camera!r}; it has {described}")
        return matches[0], found[matches[0]]
    if len(found) == 1:
        return next(iter(found.items()))
    if DEFAULT_NAME in found:
        return DEFAULT_NAME, found[DEFAULT_NAME]
    raise FileFormatError(path, f"holds several tracks ({described}); choose one with camera= or pose_estimation=")


def _frames(series: Any, n_rows: int, fps: float | None, path: Path) -> tuple[np.ndarray, float]:
    rate = getattr(series, "rate", None)
    if series.timestamps is None:
        rate = float(fps or rate or 30.0)
        start = float(series.starting_time or 0.0)
        times_frames = start * rate + np.arange(n_rows)
    else:
        times = np.asarray(series.timestamps[:], dtype=np.float64)
        steps = np.diff(times)
        rate = float(fps or (1.0 / np.median(steps) if len(steps) and np.median(steps) > 0 else 30.0))
        times_frames = times * rate
    frames = np.round(times_frames)
    if np.abs(times_frames - frames).max(initial=0) > 1e-3:
        raise FileFormatError(path, f"{series.name}: its times are not whole frames at {rate:g} fps; give the right fps=")
    return check_frame_numbers(frames, path, f"{series.name} times"), rate


def read_nwb_pose(
    path: str | Path, camera: str | None = None, pose_estimation: str | None = None, fps: float | None = None
) -> LandmarkSeries:
    """Read one ndx-pose ``PoseEstimation`` of an NWB file as a series.

    Parameters
    ----------
    path
        ``.nwb`` file.
    camera
        The track of this camera (its linked device, or a name ending in ``_<camera>``).
    pose_estimation
        The ``PoseEstimation`` by name (see :func:`list_pose_estimations`).
        With neither: the only one, else the one named ``PoseEstimation``.
    fps
        Frame rate; by default the series' ``rate`` or its timestamps' median step.

    Returns
    -------
    LandmarkSeries
        ``positions (T, K, D)``, keypoints in the skeleton's node order
        (else the file's), ``confidence`` (1 where the file has none), the
        skeleton's edges, ``camera`` = the linked device, ``frame_indices``
        from the times, ``attrs`` ``pose_estimation``, ``source_software``,
        ``scorer``.

    Raises
    ------
    FileFormatError
        Not an NWB file, no (or no such) PoseEstimation, several and none
        chosen, series of different lengths or times, infinite values.
    """
    import ndx_pose  # noqa: F401  (registers the ndx-pose types before the file is read)
    from pynwb import NWBHDF5IO

    path = Path(path)
    check_is_file(path)
    if path.suffix.lower() != ".nwb":
        raise FileFormatError(path, f"NWB files end in .nwb, not {path.suffix or 'no extension'!r}")
    try:
        io = NWBHDF5IO(str(path), mode="r")
        nwbfile = io.read()
    except Exception as error:  # h5py and hdmf raise many types for a file they cannot read
        raise FileFormatError(path, f"not a readable NWB file ({type(error).__name__}: {error})") from None
    try:
        name, pose = _choose(_pose_estimations(nwbfile), pose_estimation, camera, path)
        by_name = dict(pose.pose_estimation_series)
        if not by_name:
            raise FileFormatError(path, f"{name} holds no PoseEstimationSeries")
        skeleton = pose.skeleton
        nodes = [str(n) for n in skeleton.nodes[:]] if skeleton is not None else []
        keypoints = [n for n in nodes if n in by_name] + sorted(k for k in by_name if k not in nodes)
        data = [np.asarray(by_name[k].data[:], dtype=np.float64) for k in keypoints]
        shapes = {d.shape for d in data}
        if len(shapes) != 1 or len(next(iter(shapes))) != 2 or next(iter(shapes))[1] not in (2, 3):
            raise FileFormatError(path, f"{name}: its series have shapes {sorted(shapes)}; one (T, 2) or (T, 3) shape is needed")
        positions = np.stack(data, axis=1)
        check_finite(positions.reshape(len(positions), -1), path, [f"{k}_{c}" for k in keypoints for c in "xyz"[: positions.shape[2]]])
        confidence = np.stack(
            [
                np.asarray(by_name[k].confidence[:], dtype=np.float64)
                if by_name[k].confidence is not None
                else np.where(np.isnan(positions[:, i]).any(axis=1), np.nan, 1.0)
                for i, k in enumerate(keypoints)
            ],
            axis=1,
        )
        frame_indices, rate = _frames(by_name[keypoints[0]], len(positions), fps, path)
        edges = []
        if skeleton is not None and skeleton.edges is not None:
            edges = [(nodes[int(a)], nodes[int(b)]) for a, b in np.asarray(skeleton.edges[:]).reshape(-1, 2)]
        attrs = {
            "pose_estimation": name,
            "source_software": str(pose.source_software or ""),
            "scorer": str(pose.scorer or ""),
        }
        return LandmarkSeries(
            positions=positions,
            keypoints=tuple(keypoints),
            confidence=confidence,
            skeleton=tuple(edges),
            fps=rate,
            frame_indices=frame_indices,
            camera=_device_name(pose),
            source=path,
            attrs=attrs,
        )
    finally:
        io.close()
