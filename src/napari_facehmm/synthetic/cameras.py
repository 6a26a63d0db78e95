"""Synthetic pinhole cameras looking at the face, and their projection.

The projection is OpenCV's (and so aniposelib's) model: rotation ``R`` and
translation ``t`` take world points into the camera frame
(``x_cam = R @ x_world + t``; camera ``x`` right, ``y`` down, ``z``
forward), then radial/tangential distortion ``(k1, k2, p1, p2, k3)`` and the
intrinsic matrix. :class:`~napari_facehmm.io.anipose.CameraParams` holds the parameters
and projects in numpy (tests check it agrees with ``cv2.projectPoints``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from ..io.anipose import CameraParams

#: Camera names by index: camA, camB, ...
CAMERA_LETTERS = "ABCDEFGH"


def camera_names(n_cameras: int) -> tuple[str, ...]:
    """``("camA", "camB", ...)`` for ``n_cameras`` cameras."""
    return tuple(f"cam{CAMERA_LETTERS[i]}" for i in range(n_cameras))


def look_at_rotation(position: np.ndarray, target: np.ndarray) -> np.ndarray:
    """``(3, 3)`` world->camera rotation of a camera at ``position`` looking at ``target``.

    The image ``y`` axis points down the world ``-y`` (world ``y`` is up),
    so the face appears upright.
    """
    forward = target - position
    forward = forward / np.linalg.norm(forward)
    down = np.array([0.0, -1.0, 0.0])
    right = np.cross(down, forward)
    right /= np.linalg.norm(right)
    image_down = np.cross(forward, right)
    return np.vstack([right, image_down, forward])


def make_cameras(
    n_cameras: int = 2,
    size: tuple[int, int] = (320, 240),
    rng: np.random.Generator | None = None,
    distance_mm: float = 500.0,
    separation_deg: float = 35.0,
) -> list[CameraParams]:
    """Cameras on an arc in front of the face, all aimed at the head.

    One camera looks at the face from straight ahead. Two or more cameras
    are spread ``separation_deg`` apart in azimuth (symmetric about the
    front), at ``distance_mm`` ± 8 % with a few degrees of elevation, and
    aimed at a point near the head centre. Focal length is 1.3 × image
    width (± 3 %, a 42° horizontal field of view), ``k1`` is a small barrel
    distortion, and the principal point is the image centre
    ``((width-1)/2, (height-1)/2)``: aniposelib's calibration keeps it there
    (it fits only ``f`` and ``k1``), so these cameras are exactly what a
    calibration from the ChArUco videos can recover.

    Parameters
    ----------
    n_cameras
        1 to 8.
    size
        ``(width, height)`` of every camera, pixels.
    rng
        Random generator for the small per-camera differences; a fixed one
        when None.
    """
    from ..io.anipose import CameraParams, matrix_to_rodrigues

    if rng is None:
        rng = np.random.default_rng(0)
    width, height = int(size[0]), int(size[1])
    names = camera_names(n_cameras)
    if n_cameras == 1:
        azimuths = np.array([0.0])
    else:
        azimuths = np.linspace(-separation_deg / 2, separation_deg / 2, n_cameras)
    cameras = []
    for name, azimuth in zip(names, azimuths):
        distance = distance_mm * rng.uniform(0.92, 1.08)
        elevation = np.deg2rad(rng.uniform(2.0, 8.0))
        azimuth = np.deg2rad(azimuth + rng.uniform(-1.5, 1.5))
        # azimuth > 0 puts the camera on the subject's left (+x)
        position = distance * np.array(
            [np.sin(azimuth) * np.cos(elevation), np.sin(elevation), np.cos(azimuth) * np.cos(elevation)]
        )
        target = np.array([0.0, 0.0, 40.0]) + rng.uniform(-5, 5, size=3)
        rotation = look_at_rotation(position, target)
        focal = 1.3 * width * rng.uniform(0.97, 1.03)
        matrix = np.array(
            [
                [focal, 0.0, (width - 1) / 2],
                [0.0, focal, (height - 1) / 2],
                [0.0, 0.0, 1.0],
            ]
        )
        distortions = np.array([rng.uniform(-0.12, -0.04), 0.0, 0.0, 0.0, 0.0])
        cameras.append(
            CameraParams(
                name=name,
                size=(width, height),
                matrix=matrix,
                distortions=distortions,
                rotation=matrix_to_rodrigues(rotation),
                translation=-rotation @ position,
            )
        )
    return cameras


def perturb_extrinsics(
    camera: CameraParams,
    rotation_deg: float = 3.0,
    translation_mm: float = 20.0,
    rng: np.random.Generator | None = None,
) -> CameraParams:
    """``camera`` with its pose wrong by ``rotation_deg`` and ``translation_mm``: a badly calibrated camera.

    The rotation error turns the camera about a random axis by exactly
    ``rotation_deg``; the camera centre moves by exactly ``translation_mm``
    in a random direction. The intrinsics are kept. The 2D tracks of the
    true camera triangulated with this calibration disagree with the other
    cameras by several pixels (a few degrees is tens of pixels at the
    synthetic cameras' focal length of 1.3 x width).
    """
    import dataclasses

    from ..io.anipose import matrix_to_rodrigues, rodrigues_to_matrix

    if rng is None:
        rng = np.random.default_rng(0)
    axis = rng.normal(size=3)
    axis /= np.linalg.norm(axis)
    angle = np.deg2rad(rotation_deg)
    skew = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    turn = np.eye(3) + np.sin(angle) * skew + (1 - np.cos(angle)) * skew @ skew
    rotation = rodrigues_to_matrix(camera.rotation)
    centre = -rotation.T @ np.asarray(camera.translation, dtype=np.float64)
    shift = rng.normal(size=3)
    centre = centre + translation_mm * shift / np.linalg.norm(shift)
    new_rotation = turn @ rotation
    return dataclasses.replace(
        camera, rotation=matrix_to_rodrigues(new_rotation), translation=-new_rotation @ centre
    )


def project(camera, points_3d: np.ndarray) -> np.ndarray:
    """``(..., 2)`` pixels of ``(..., 3)`` world points in ``camera``.

    :meth:`CameraParams.project <napari_facehmm.io.anipose.CameraParams.project>`
    (OpenCV's model, in numpy) for any leading shape.
    """
    points_3d = np.asarray(points_3d, dtype=np.float64)
    return camera.project(points_3d.reshape(-1, 3)).reshape(points_3d.shape[:-1] + (2,))


def undistort_normalized(pixels: np.ndarray, matrix: np.ndarray, distortions: np.ndarray, n_iter: int = 10) -> np.ndarray:
    """Undistorted normalised coordinates ``(..., 2)`` of ``(..., 2)`` pixels.

    Fixed-point inversion of the distortion (as ``cv2.undistortPoints``
    does); for the small ``k1`` used here (``|k1 r^2| < 0.03``) ten
    iterations are exact to far below 1e-6 px.
    """
    k = np.zeros(5)
    distortions = np.asarray(distortions, dtype=np.float64).ravel()
    k[: min(5, distortions.size)] = distortions[:5]
    k1, k2, p1, p2, k3 = k
    yd = (pixels[..., 1] - matrix[1, 2]) / matrix[1, 1]
    xd = (pixels[..., 0] - matrix[0, 2] - matrix[0, 1] * yd) / matrix[0, 0]
    x, y = xd.copy(), yd.copy()
    for _ in range(n_iter):
        r2 = x * x + y * y
        radial = 1 + k1 * r2 + k2 * r2**2 + k3 * r2**3
        dx = 2 * p1 * x * y + p2 * (r2 + 2 * x * x)
        dy = p1 * (r2 + 2 * y * y) + 2 * p2 * x * y
        x = (xd - dx) / radial
        y = (yd - dy) / radial
    return np.stack([x, y], axis=-1)
