"""Calibrating extrinsics only, with intrinsics the user already has (a ``calibration.toml``).

aniposelib's bundle adjustment (``CameraGroup.bundle_adjust_iter``) fits
each camera's pose, focal length and first distortion coefficient; with
``only_extrinsics=True`` it fits the pose alone and never writes the
intrinsics (``Camera.set_params(params, only_extrinsics=True)`` sets the
rotation and translation and returns). So here the given camera matrix,
distortion coefficients and image size are set on each camera, the
intrinsics initialisation (``cv2.initCameraMatrix2D``, which would replace
them) is skipped, and the adjustment runs with ``only_extrinsics=True``: the
intrinsics come out bit-for-bit as given (checked after the adjustment,
and in ``tests/test_known_intrinsics.py``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from ...errors import DataError


def read_intrinsics(source, camera_names: Sequence[str], sizes: Mapping[str, tuple[int, int]]):
    """The given calibration's cameras for ``camera_names``, checked against the videos' sizes.

    ``source`` is a ``calibration.toml`` path or a
    :class:`~napari_facehmm.io.anipose.Calibration`. Returns
    ``{camera: CameraParams}``.

    Raises
    ------
    DataError
        A camera absent from the given calibration, or a video whose size
        differs from the size the intrinsics were measured at (both named).
    FileFormatError
        The file is missing or malformed.
    """
    from ...io.anipose import read_calibration

    label = str(source) if isinstance(source, (str, Path)) else "the given intrinsics"
    calibration = read_calibration(source) if isinstance(source, (str, Path)) else source
    by_name = {camera.name: camera for camera in calibration.cameras}
    missing = [name for name in camera_names if name not in by_name]
    if missing:
        raise DataError(
            f"--intrinsics {label}: no camera {missing} in it (it has {sorted(by_name)}); "
            "the camera names must match the calibration videos'"
        )
    for name in camera_names:
        given = tuple(int(v) for v in by_name[name].size)
        if name in sizes and tuple(sizes[name]) != given:
            raise DataError(
                f"--intrinsics {label}: camera {name!r} was calibrated at {given[0]}x{given[1]} px but its "
                f"calibration video is {sizes[name][0]}x{sizes[name][1]} px; intrinsics hold for one image size"
            )
    return {name: by_name[name] for name in camera_names}


def set_intrinsics(group, intrinsics: Mapping) -> None:
    """Put the given cameras' matrix, distortions and size on ``group``'s aniposelib cameras."""
    for camera in group.cameras:
        given = intrinsics[camera.get_name()]
        camera.set_size(tuple(int(v) for v in given.size))
        camera.set_camera_matrix(np.array(given.matrix, dtype=np.float64, copy=True))
        camera.set_distortions(np.array(given.distortions, dtype=np.float64, copy=True))


def check_unchanged(group, intrinsics: Mapping) -> None:
    """Raise DataError if the adjustment changed any given intrinsic (it must not)."""
    for camera in group.cameras:
        given = intrinsics[camera.get_name()]
        same = np.array_equal(camera.get_camera_matrix(), given.matrix) and np.array_equal(
            np.ravel(camera.get_distortions()), np.ravel(given.distortions)
        )
        if not same:
            raise DataError(f"camera {camera.get_name()!r}: the bundle adjustment changed the given intrinsics")
