"""Epipolar help while labeling synchronized, calibrated cameras (Qt-free).

A landmark placed at pixel ``x_a`` in camera A lies, in camera B's frame of
the same instant, on the epipolar line ``l_b = F x_a`` (``F`` the
fundamental matrix of the pair, in undistorted pixels). Real lenses bend
that line: :func:`epipolar_curve` gives it in B's *distorted* pixels as a
polyline, by projecting points of A's viewing ray through B's full camera
model (the same ``CameraParams.project`` as ``cv2.projectPoints``), so it
passes through the landmark's true position whatever the distortion.

With a landmark labeled in two or more cameras, :func:`triangulate_labels`
(linear DLT on undistorted normalised coordinates) gives its 3D position,
:func:`reproject` its hint in the cameras not yet labeled, and
:func:`label_errors` every labeled point's reprojection error: an
inconsistent label stands out while labeling. The labels stay DeepLabCut's
per-camera files; nothing here writes.

Cameras are :class:`~napari_facehmm.io.anipose.CameraParams` (from a
``calibration.toml``, :func:`~napari_facehmm.io.anipose.read_calibration`).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np


def _skew(v: np.ndarray) -> np.ndarray:
    return np.array([[0.0, -v[2], v[1]], [v[2], 0.0, -v[0]], [-v[1], v[0], 0.0]])


def fundamental_matrix(camera_a, camera_b) -> np.ndarray:
    """``(3, 3)`` F with ``x_b^T F x_a = 0`` for undistorted pixels ``x_a`` in A and ``x_b`` in B.

    ``F = K_b^-T [t]_x R K_a^-1`` with the relative pose ``R = R_b R_a^T``,
    ``t = t_b - R t_a``; scaled to unit Frobenius norm.
    """
    r_a, r_b = camera_a.rotation_matrix, camera_b.rotation_matrix
    rotation = r_b @ r_a.T
    translation = camera_b.translation - rotation @ camera_a.translation
    essential = _skew(translation) @ rotation
    f = np.linalg.inv(camera_b.matrix).T @ essential @ np.linalg.inv(camera_a.matrix)
    return f / np.linalg.norm(f)


def undistort_pixels(camera, pixels: np.ndarray) -> np.ndarray:
    """``(N, 2)`` undistorted pixels (the pinhole image) of ``(N, 2)`` distorted ones."""
    return _normalized(camera, pixels) @ camera.matrix[:2, :2].T + camera.matrix[:2, 2]


def _normalized(camera, pixels: np.ndarray) -> np.ndarray:
    import cv2

    points = np.asarray(pixels, dtype=np.float64).reshape(-1, 1, 2)
    if camera.fisheye:
        out = cv2.fisheye.undistortPoints(points, camera.matrix, camera.distortions[:4].reshape(4, 1))
    else:
        out = cv2.undistortPoints(points, camera.matrix, camera.distortions)
    return out.reshape(-1, 2)


def epipolar_line(camera_a, camera_b, point_a: np.ndarray) -> np.ndarray:
    """``(3,)`` line ``(a, b, c)`` (``a x + b y + c = 0``, ``a^2 + b^2 = 1``) in B's undistorted pixels."""
    x_a = np.append(undistort_pixels(camera_a, np.asarray(point_a).reshape(1, 2))[0], 1.0)
    line = fundamental_matrix(camera_a, camera_b) @ x_a
    return line / np.hypot(line[0], line[1])


def epipolar_curve(
    camera_a, camera_b, point_a: np.ndarray, n_points: int = 64, depth_range_mm: tuple[float, float] = (50.0, 5000.0)
) -> np.ndarray:
    """``(M, 2)`` polyline in B's distorted pixels where A's landmark ``point_a`` can be; inside B's image.

    Points of A's viewing ray at depths ``depth_range_mm`` (sampled evenly
    in inverse depth, so near and far are both drawn finely) projected into
    B; the part in front of B and inside its image is kept (and only points
    whose distortion-free image is near the frame, where the lens model is
    one-to-one). Empty when the line misses B's image.
    """
    ray = np.append(_normalized(camera_a, np.asarray(point_a).reshape(1, 2))[0], 1.0)
    inverse = np.linspace(1.0 / depth_range_mm[0], 1.0 / depth_range_mm[1], n_points)
    in_a = ray[None, :] / inverse[:, None]
    world = (in_a - camera_a.translation) @ camera_a.rotation_matrix  # R^T (x - t)
    in_b = camera_b.to_camera_frame(world)
    width, height = camera_b.size
    # the lens model folds far-off points back into the image (a barrel k1 < 0
    # turns round beyond the field of view): only points whose pinhole image is
    # near the frame are projected through it
    with np.errstate(divide="ignore", invalid="ignore"):
        pinhole = (in_b[:, :2] / in_b[:, 2:3]) @ camera_b.matrix[:2, :2].T + camera_b.matrix[:2, 2]
    margin = 0.15 * max(width, height)
    near = (
        (in_b[:, 2] > 0)
        & (pinhole[:, 0] >= -margin) & (pinhole[:, 0] <= width + margin)
        & (pinhole[:, 1] >= -margin) & (pinhole[:, 1] <= height + margin)
    )
    pixels = camera_b.project(world[near])
    inside = (
        (pixels[:, 0] >= -0.5) & (pixels[:, 0] <= width - 0.5) & (pixels[:, 1] >= -0.5) & (pixels[:, 1] <= height - 0.5)
    )
    return pixels[inside]


def triangulate_labels(cameras: Mapping[str, object], points: Mapping[str, np.ndarray]) -> np.ndarray:
    """``(K, 3)`` world points of landmarks labeled in two or more cameras (NaN otherwise).

    ``points`` is ``{camera: (K, 2) px}`` (NaN where not labeled); linear
    DLT on undistorted normalised coordinates, as aniposelib's
    ``triangulate_simple``.
    """
    names = [n for n in points if n in cameras]
    n_keypoints = len(next(iter(points.values()))) if points else 0
    out = np.full((n_keypoints, 3), np.nan)
    normalized = {n: _normalized(cameras[n], np.nan_to_num(np.asarray(points[n], dtype=np.float64))) for n in names}
    for k in range(n_keypoints):
        rows = []
        for n in names:
            if not np.isfinite(np.asarray(points[n][k], dtype=np.float64)).all():
                continue
            x, y = normalized[n][k]
            pose = cameras[n].extrinsics[:3]
            rows.append(x * pose[2] - pose[0])
            rows.append(y * pose[2] - pose[1])
        if len(rows) < 4:
            continue
        _, _, vt = np.linalg.svd(np.array(rows))
        out[k] = vt[-1, :3] / vt[-1, 3]
    return out


def reproject(cameras: Mapping[str, object], points_3d: np.ndarray) -> dict[str, np.ndarray]:
    """``{camera: (K, 2) px}`` of ``(K, 3)`` world points (NaN rows stay NaN)."""
    return {name: camera.project(points_3d) for name, camera in cameras.items()}


def label_errors(cameras: Mapping[str, object], points: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """``{camera: (K,) px}``: each labeled point's distance to its landmark's reprojection.

    The landmark is triangulated from every camera that labeled it
    (:func:`triangulate_labels`); NaN where the camera did not label it or
    fewer than two cameras did. With exactly two cameras a wrong label
    shows in both (the error is shared); with three, mostly in the wrong one.
    """
    points_3d = triangulate_labels(cameras, points)
    hints = reproject({n: cameras[n] for n in points if n in cameras}, points_3d)
    return {n: np.linalg.norm(hints[n] - np.asarray(points[n], dtype=np.float64), axis=1) for n in hints}


def camera_of_folder(video: str, camera_names) -> str | None:
    """The calibration camera a ``labeled-data/<video>`` folder belongs to (its name contains it); longest match."""
    found = [name for name in camera_names if name in video]
    return max(found, key=len) if found else None


def sibling_folders(video: str, camera_names, folders) -> dict[str, str]:
    """``{camera: folder}`` of the same recording's other cameras among ``folders``.

    The folder of camera B is ``video`` with A's camera name replaced by B's
    (``session1-camA`` -> ``session1-camB``), as DeepLabCut names folders
    after videos and Anipose names videos ``<session>-<cam>``. Empty when
    ``video`` names no calibration camera.
    """
    own = camera_of_folder(video, camera_names)
    if own is None:
        return {}
    available = set(folders)
    out = {}
    for name in camera_names:
        if name == own:
            continue
        candidate = video.replace(own, name)
        if candidate in available:
            out[name] = candidate
    return out
