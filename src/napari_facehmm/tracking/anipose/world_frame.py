"""World frames: calibrations as aniposelib groups, camera poses, points moved between frames, the output frame."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ...errors import DataError


def as_camera_group(calibration):
    """An aniposelib ``CameraGroup`` from a calibration file, a ``Calibration`` or a group.

    Raises
    ------
    FileFormatError
        The file is missing or lacks a field (read with
        :func:`napari_facehmm.io.anipose.read_calibration`).
    """
    from ...io.anipose import Calibration, read_calibration

    if isinstance(calibration, (str, Path)):
        calibration = read_calibration(calibration)
    if isinstance(calibration, Calibration):
        return calibration.to_aniposelib()
    if hasattr(calibration, "get_names") and hasattr(calibration, "triangulate"):
        return calibration.copy()
    raise TypeError(f"not a calibration: {type(calibration).__name__}")


def relative_pose(calibration, camera_a: str, camera_b: str) -> tuple[np.ndarray, np.ndarray]:
    """Pose of camera ``b`` relative to camera ``a``, independent of the world frame.

    Returns
    -------
    rotation, translation
        ``(3, 3)`` and ``(3,)``: a point ``p_a`` in ``a``'s frame is
        ``rotation @ p_a + translation`` in ``b``'s frame; the baseline (distance
        between the camera centres) is ``norm(translation)``.
    """
    import cv2

    group = as_camera_group(calibration)
    cams = {c.get_name(): c for c in group.cameras}
    for name in (camera_a, camera_b):
        if name not in cams:
            raise DataError(f"no camera named {name!r}; the calibration has {list(cams)}")
    rot_a = cv2.Rodrigues(cams[camera_a].get_rotation())[0]
    rot_b = cv2.Rodrigues(cams[camera_b].get_rotation())[0]
    rotation = rot_b @ rot_a.T
    translation = cams[camera_b].get_translation() - rotation @ cams[camera_a].get_translation()
    return rotation, translation


def change_world_frame(
    points_3d: np.ndarray, source_calibration, target_calibration, camera: str
) -> np.ndarray:
    """Express points triangulated with one calibration in another's world frame.

    Two calibrations of the same rig differ by their arbitrary world frame;
    ``camera``, present in both, links them: a point goes into that camera's
    frame with the source extrinsics and back out with the target's.

    Parameters
    ----------
    points_3d
        ``(..., 3)`` points in ``source_calibration``'s world frame.
    source_calibration, target_calibration
        Anything :func:`as_camera_group` takes.
    camera
        Name of the camera that links the two frames.

    Returns
    -------
    np.ndarray
        ``(..., 3)`` points in ``target_calibration``'s world frame.
    """
    import cv2

    def extrinsics(calibration):
        group = as_camera_group(calibration)
        cams = {c.get_name(): c for c in group.cameras}
        if camera not in cams:
            raise DataError(f"no camera named {camera!r}; the calibration has {list(cams)}")
        return cv2.Rodrigues(cams[camera].get_rotation())[0], cams[camera].get_translation()

    rot_source, trans_source = extrinsics(source_calibration)
    rot_target, trans_target = extrinsics(target_calibration)
    points = np.asarray(points_3d, dtype=np.float64)
    in_camera = points @ rot_source.T + trans_source
    return (in_camera - trans_target) @ rot_target


def coordinate_frame(
    points_3d: np.ndarray,
    keypoints: Sequence[str],
    axes: Sequence[Sequence[str]] | None = None,
    reference_point: str | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Anipose's output frame: axes along bodypart pairs, origin at a reference point.

    Parameters
    ----------
    points_3d
        ``(T, K, 3)`` points in the calibration's world frame.
    keypoints
        The ``K`` names.
    axes
        Anipose's ``[triangulation] axes``: ``[[letter, from, to], ...]``,
        e.g. ``[["x", "rear", "lear"], ["z", "chin", "nose1"]]``: the first
        letter's axis points along the median ``from -> to`` vector, the
        second is made orthogonal to it, the third completes a right-handed
        frame. Repeated letters add their unit vectors.
    reference_point
        Bodypart whose median position (per axis, in the new frame) becomes
        the origin.

    Returns
    -------
    points, rotation, center
        ``(T, K, 3)`` points in the new frame (``points @ rotation.T - center``),
        ``(3, 3)`` rotation ``M`` (rows = new axes in world coordinates) and
        ``(3,)`` ``center``: Anipose's ``M_ij`` and ``center_i`` columns.

    Notes
    -----
    Anipose's documentation orthogonalizes the second axis; its current code
    only normalizes it, which gives a non-rotation ``M`` when the two pairs
    are not perpendicular. We follow the documentation, so ``M`` is always
    a rotation.
    """
    points_3d = np.asarray(points_3d, dtype=np.float64)
    index = {k: i for i, k in enumerate(keypoints)}

    def median_of(name: str) -> np.ndarray:
        if name not in index:
            raise DataError(f"[triangulation] names bodypart {name!r}, not one of {list(keypoints)}")
        track = points_3d[:, index[name]]
        track = track[np.isfinite(track).all(axis=1)]
        if not len(track):
            raise DataError(f"bodypart {name!r} was never triangulated; it cannot define the output frame")
        return np.median(track, axis=0)

    rotation = np.eye(3)
    if axes:
        letters = {"x": 0, "y": 1, "z": 2}
        directions = np.zeros((3, 3))
        order: list[int] = []
        for spec in axes:
            if len(spec) != 3 or str(spec[0]).lower() not in letters:
                raise DataError(
                    f"[triangulation] axes entries are [letter, from, to] with x, y or z; got {spec!r}"
                )
            axis = letters[str(spec[0]).lower()]
            vector = median_of(spec[2]) - median_of(spec[1])
            norm = np.linalg.norm(vector)
            if norm == 0:
                raise DataError(f"axis {spec!r}: {spec[1]!r} and {spec[2]!r} coincide")
            directions[axis] += vector / norm
            if axis not in order:
                order.append(axis)
        if len(order) < 2:
            raise DataError(f"[triangulation] axes must name two different axes; got {list(axes)}")
        first, second = order[:2]
        (third,) = {0, 1, 2} - {first, second}
        rotation = np.zeros((3, 3))
        rotation[first] = directions[first] / np.linalg.norm(directions[first])
        orthogonal = directions[second] - (directions[second] @ rotation[first]) * rotation[first]
        if np.linalg.norm(orthogonal) < 1e-9:
            raise DataError(f"[triangulation] axes {list(axes)} are parallel")
        rotation[second] = orthogonal / np.linalg.norm(orthogonal)
        # right-handed: x cross y = z, y cross z = x, z cross x = y
        if (first, second) in ((0, 1), (1, 2), (2, 0)):
            rotation[third] = np.cross(rotation[first], rotation[second])
        else:
            rotation[third] = np.cross(rotation[second], rotation[first])
    rotated = points_3d @ rotation.T
    center = np.zeros(3)
    if reference_point:
        median_of(reference_point)  # validates the name and that it was triangulated
        # per-axis median in the new frame, as Anipose takes it (medians do not commute with rotations)
        track = rotated[:, index[reference_point]]
        center = np.median(track[np.isfinite(track).all(axis=1)], axis=0)
    return rotated - center, rotation, center
