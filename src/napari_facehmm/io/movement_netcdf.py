"""movement's poses datasets saved as netCDF (``.nc``): SLEAP, Lightning Pose, DeepLabCut... tracks brought through movement.

movement (neuroinformatics-unit) loads many trackers' files into one
``xarray.Dataset`` and saves it with ``ds.to_netcdf(path)``: ``position``
with dims ``(time, space, keypoints, individuals)`` (singular names in
recent movement versions; both are read), ``confidence`` with ``(time,
keypoints, individuals)``, attributes ``ds_type="poses"``, ``fps``,
``time_unit`` (``"seconds"`` or ``"frames"``) and ``source_software``. A
multi-view dataset has a ``view`` dim too. ``facehmm export --to movement``
writes such files (plus ``state`` and a ``skeleton`` attribute).

:func:`read_movement_netcdf` validates (the suffix, an openable netCDF file,
``ds_type``, the variables and dims) before building a
:class:`~napari_facehmm.data.LandmarkSeries`.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..data import LandmarkSeries
from ..errors import FileFormatError
from ._checks import check_finite, check_frame_numbers, check_is_file

__all__ = ["read_movement_netcdf", "is_movement_poses"]


def _dim(dims: tuple[str, ...], singular: str) -> str | None:
    """The dataset's name of a dim: ``keypoint`` or ``keypoints`` (movement renamed them)."""
    for name in (singular, f"{singular}s"):
        if name in dims:
            return name
    return None


def _pick(dataset, dim: str | None, wanted: str | None, what: str, option: str, path: Path):
    """Select one entry along ``dim`` (by name; the only one when ``wanted`` is None)."""
    if dim is None:
        return dataset, None
    names = [str(v) for v in dataset[dim].values]
    if wanted is None:
        if len(names) > 1:
            raise FileFormatError(path, f"holds {len(names)} {what}s {names}; choose one with {option}")
        wanted = names[0]
    if wanted not in names:
        raise FileFormatError(path, f"has no {what} {wanted!r}; it has {names}")
    return dataset.isel({dim: names.index(wanted)}), wanted


def is_movement_poses(path: str | Path) -> bool:
    """Whether ``path`` is a netCDF file with a ``position`` variable (opened lazily: the header only)."""
    import xarray as xr

    try:
        with xr.open_dataset(path) as dataset:
            return "position" in dataset.data_vars and dataset.attrs.get("ds_type", "poses") == "poses"
    except Exception:  # any file xarray cannot open is not a poses dataset
        return False


def read_movement_netcdf(
    path: str | Path, individual: str | None = None, camera: str | None = None, fps: float | None = None
) -> LandmarkSeries:
    """Read a movement poses dataset (netCDF) as a series.

    Parameters
    ----------
    path
        ``.nc`` file movement (or ``facehmm export --to movement``) wrote.
    individual
        Which individual, when the file holds several.
    camera
        Which view, when the file has a ``view`` dim with several.
    fps
        Frame rate when the file has none (``time_unit="frames"``); 30 then.

    Returns
    -------
    LandmarkSeries
        ``positions (T, K, D)`` (D = the ``space`` size), ``confidence``,
        ``frame_indices`` from ``time`` (``round(time * fps)`` when in
        seconds), ``camera`` (the view, or the ``track`` attribute of a
        facehmm export unless it is ``"3d"``), the skeleton of a facehmm
        export, ``attrs`` ``source_software``, ``individual`` and, from a
        facehmm export, ``state`` ``(T,)``.

    Raises
    ------
    FileFormatError
        Not a netCDF file, not a movement poses dataset (``ds_type``, missing
        ``position`` or dims), several individuals or views and none chosen,
        infinite values, times that are not whole frames.
    """
    import xarray as xr

    path = Path(path)
    check_is_file(path)
    if path.suffix.lower() != ".nc":
        raise FileFormatError(path, f"movement datasets are netCDF files (.nc), not {path.suffix or 'no extension'!r}")
    try:
        dataset = xr.load_dataset(path)
    except Exception as error:  # xarray raises many types for a file it cannot open
        raise FileFormatError(path, f"not a readable netCDF file ({type(error).__name__}: {error})") from None
    kind = dataset.attrs.get("ds_type")
    if kind is not None and kind != "poses":
        raise FileFormatError(path, f"is a movement {kind!r} dataset; landmarks need a 'poses' dataset")
    if "position" not in dataset.data_vars:
        raise FileFormatError(path, f"no 'position' variable: not a movement poses dataset (has {list(dataset.data_vars)})")
    dims = tuple(dataset["position"].dims)
    time_dim, keypoint_dim = _dim(dims, "time"), _dim(dims, "keypoint")
    if time_dim is None or keypoint_dim is None or "space" not in dims:
        raise FileFormatError(path, f"'position' has dims {dims}; a poses dataset has time, space and keypoint(s)")
    dataset, individual = _pick(dataset, _dim(dims, "individual"), individual, "individual", "individual=", path)
    dataset, view = _pick(dataset, "view" if "view" in dims else None, camera, "view", "camera=", path)
    n_space = dataset.sizes["space"]
    if n_space not in (2, 3):
        raise FileFormatError(path, f"'space' has {n_space} coordinates; landmarks have 2 or 3")
    keypoints = [str(k) for k in dataset[keypoint_dim].values]
    positions = dataset["position"].transpose(time_dim, keypoint_dim, "space").to_numpy().astype(np.float64)
    check_finite(positions.reshape(len(positions), -1), path, [f"{k}_{s}" for k in keypoints for s in "xyz"[:n_space]])
    confidence = None
    if "confidence" in dataset.data_vars:
        confidence = dataset["confidence"].transpose(time_dim, keypoint_dim).to_numpy().astype(np.float64)
    file_fps = dataset.attrs.get("fps")
    rate = float(fps or file_fps or 30.0)
    times = dataset[time_dim].to_numpy().astype(np.float64)
    if dataset.attrs.get("time_unit", "seconds" if file_fps else "frames") == "seconds":
        times = times * rate
    frames = np.round(times)
    if np.abs(times - frames).max(initial=0) > 1e-3:
        raise FileFormatError(path, f"its times are not whole frames at {rate:g} fps; give the right fps=")
    frame_indices = check_frame_numbers(frames, path, f"'{time_dim}'")
    track = str(dataset.attrs.get("track", ""))
    skeleton = ()
    if "skeleton" in dataset.attrs:
        try:
            skeleton = tuple(tuple(edge) for edge in json.loads(dataset.attrs["skeleton"]))
        except (TypeError, ValueError):
            skeleton = ()
    attrs = {"source_software": str(dataset.attrs.get("source_software", "")), "individual": individual}
    if "state" in dataset.data_vars:
        attrs["state"] = dataset["state"].to_numpy().astype(np.int64)
    return LandmarkSeries(
        positions=positions,
        keypoints=tuple(keypoints),
        confidence=confidence,
        skeleton=skeleton,
        fps=rate,
        frame_indices=frame_indices,
        camera=view or (track if track and track != "3d" else None),
        source=path,
        attrs=attrs,
    )
