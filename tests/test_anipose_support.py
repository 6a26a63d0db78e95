"""Helpers (no tests here) for the Anipose tests: true cameras, board videos, 2D tracks.

Independent of :mod:`napari_facehmm.synthetic` so that the calibration and
triangulation engines are tested against a truth built here with OpenCV
alone (``cv2.warpPerspective`` of the board image; ``cv2.projectPoints``
for the 2D tracks).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from napari_facehmm.face import FACE_KEYPOINTS
from napari_facehmm.io.anipose import Calibration, CameraParams, matrix_to_rodrigues

SIZE = (320, 240)


def look_at(position: np.ndarray, target: np.ndarray) -> np.ndarray:
    """World->camera rotation of a camera at ``position`` aimed at ``target`` (image y down = world -y)."""
    forward = target - position
    forward = forward / np.linalg.norm(forward)
    right = np.cross(np.array([0.0, -1.0, 0.0]), forward)
    right /= np.linalg.norm(right)
    return np.vstack([right, np.cross(forward, right), forward])


def make_rig(
    n_cameras: int = 2, size: tuple[int, int] = SIZE, k1: float = 0.0, separation_deg: float = 35.0
) -> Calibration:
    """Cameras ``camA, camB, ...`` on an arc 500 mm from the origin, all aimed at it.

    Focal length 1.3 x width (a 42 degree field of view), as the synthetic sessions.
    """
    focal = 1.3 * size[0]
    width, height = size
    azimuths = np.linspace(-separation_deg / 2, separation_deg / 2, n_cameras)
    cameras = []
    for i, azimuth in enumerate(np.deg2rad(azimuths)):
        position = 500.0 * np.array([np.sin(azimuth), 0.05 + 0.03 * i, np.cos(azimuth)])
        rotation = look_at(position, np.zeros(3))
        # principal point at the image centre, where aniposelib's intrinsics
        # initialisation puts it (its bundle adjustment does not move it)
        matrix = np.array([[focal, 0, (width - 1) / 2], [0, focal, (height - 1) / 2], [0, 0, 1]])
        cameras.append(
            CameraParams(
                name=f"cam{'ABCDEFGH'[i]}",
                size=size,
                matrix=matrix,
                distortions=np.array([k1, 0, 0, 0, 0]),
                rotation=matrix_to_rodrigues(rotation),
                translation=-rotation @ position,
            )
        )
    return Calibration(cameras)


# ---------------------------------------------------------------- board videos
def board_poses(n_poses: int, rng: np.random.Generator, board) -> list[tuple[np.ndarray, np.ndarray]]:
    """Board -> world ``(rotation, translation)`` poses, facing the cameras, varied tilt."""
    from scipy.spatial.transform import Rotation

    width_mm = board.squares_x * board.square_length_mm
    height_mm = board.squares_y * board.square_length_mm
    centre = np.array([width_mm / 2, height_mm / 2, 0.0])
    poses = []
    for _ in range(n_poses):
        tilt = Rotation.from_euler("YXZ", rng.uniform(-1, 1, 3) * np.deg2rad([25, 25, 15])).as_matrix()
        rotation = tilt @ np.diag([1.0, -1.0, -1.0])
        position = rng.uniform(-1, 1, 3) * np.array([30.0, 20.0, 40.0])
        poses.append((rotation, position - rotation @ centre))
    return poses


def render_board(
    camera: CameraParams, poses, board, px_per_mm: float = 8.0, supersample: int = 2
) -> list[np.ndarray]:
    """Grey frames of the board seen by a distortion-free ``camera``, anti-aliased."""
    import cv2

    image = board.image(
        int(board.squares_x * board.square_length_mm * px_per_mm),
        int(board.squares_y * board.square_length_mm * px_per_mm),
    ).astype(np.float32)
    # board image pixel centre (u, v) sits at board mm ((u + 0.5), (v + 0.5)) / px_per_mm
    image_to_board = np.array(
        [[1 / px_per_mm, 0, 0.5 / px_per_mm], [0, 1 / px_per_mm, 0.5 / px_per_mm], [0, 0, 1]]
    )
    ss = supersample
    to_supersampled = np.array([[ss, 0, (ss - 1) / 2], [0, ss, (ss - 1) / 2], [0, 0, 1]])
    camera_rotation = camera.rotation_matrix
    width, height = camera.size
    frames = []
    for rotation, translation in poses:
        rot = camera_rotation @ rotation
        trans = camera_rotation @ translation + camera.translation
        homography = (
            to_supersampled @ camera.matrix @ np.column_stack([rot[:, 0], rot[:, 1], trans]) @ image_to_board
        )
        big = cv2.warpPerspective(
            image,
            homography,
            (width * ss, height * ss),
            flags=cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_CONSTANT,
            borderValue=110,
        )
        small = cv2.resize(big, (width, height), interpolation=cv2.INTER_AREA)
        frames.append(np.clip(np.round(small * 0.9 + 10), 0, 255).astype(np.uint8))
    return frames


def true_corners(camera: CameraParams, poses, board) -> np.ndarray:
    """``(n_poses, n_corners, 2)`` true pixel positions of the ChArUco corners by id."""
    n_x = board.squares_x - 1
    ids = np.arange(board.n_corners)
    corners_board = (
        np.column_stack([(ids % n_x) + 1, (ids // n_x) + 1, np.zeros(len(ids))]) * board.square_length_mm
    )
    return np.stack([camera.project(corners_board @ r.T + t) for r, t in poses])


def write_video(frames: list[np.ndarray], path: Path, fourcc: str = "FFV1", fps: float = 30.0) -> Path:
    """Write grey frames with OpenCV (FFV1 .avi is lossless; mp4v .mp4 is lossy)."""
    import cv2

    height, width = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), fps, (width, height))
    assert writer.isOpened(), f"OpenCV cannot write {fourcc} to {path}"
    for frame in frames:
        writer.write(cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR) if frame.ndim == 2 else frame)
    writer.release()
    return Path(path)


# ------------------------------------------------------------------ face tracks
def face_motion(n_frames: int, seed: int = 0, deformation_mm: float = 0.5) -> np.ndarray:
    """``(n_frames, 21, 3)`` mm: a face-sized cloud moving smoothly near the origin.

    Rigid drift of tens of mm plus a per-point wiggle of ``deformation_mm``.
    """
    rng = np.random.default_rng(seed)
    base = rng.normal(0.0, 30.0, (len(FACE_KEYPOINTS), 3))
    times = np.arange(n_frames)[:, None] / 30.0
    drift = np.column_stack(
        [
            20 * np.sin(2 * np.pi * 0.3 * times[:, 0]),
            10 * np.sin(2 * np.pi * 0.5 * times[:, 0] + 1),
            15 * np.cos(2 * np.pi * 0.2 * times[:, 0]),
        ]
    )
    wiggle = deformation_mm * np.sin(
        2 * np.pi * rng.uniform(0.5, 2.0, (1, len(FACE_KEYPOINTS), 3)) * times[:, :, None]
    )
    return base[None] + drift[:, None, :] + wiggle


def project_tracks(
    calibration: Calibration, points_3d: np.ndarray, noise_px: float, seed: int = 1, likelihood: float = 0.95
):
    """2D series per camera: ``cv2.projectPoints`` of the truth plus Gaussian noise."""
    import cv2

    from napari_facehmm.data import LandmarkSeries

    rng = np.random.default_rng(seed)
    n_frames, n_keypoints, _ = points_3d.shape
    out = {}
    for camera in calibration.cameras:
        pixels, _ = cv2.projectPoints(
            points_3d.reshape(-1, 1, 3),
            camera.rotation,
            camera.translation,
            camera.matrix,
            camera.distortions,
        )
        pixels = pixels.reshape(n_frames, n_keypoints, 2) + rng.normal(
            0.0, noise_px, (n_frames, n_keypoints, 2)
        )
        out[camera.name] = LandmarkSeries(
            positions=pixels,
            keypoints=FACE_KEYPOINTS,
            confidence=np.full((n_frames, n_keypoints), likelihood),
            camera=camera.name,
        )
    return out
