"""Synthetic ChArUco calibration videos, consistent with the true cameras.

The board is Anipose's default: 10 × 7 squares of 25 mm, ArUco markers of
18.75 mm from ``DICT_4X4_50``, printed with a white margin. It moves
smoothly in front of the cameras; every camera sees the same board pose in
the same frame (synchronized recordings).

Rendering follows the camera model, distortion included: the board is
warped by its exact homography into an undistorted image, and every output
pixel samples that image at its undistorted position (the inverse of
OpenCV's distortion model, ``cv2.remap``). Pixels are 3×3 supersampled and area-averaged, so the
board's edges are anti-aliased like a real camera's and detected corners
land on the true projections to a small fraction of a pixel.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from .cameras import project, undistort_normalized

#: Anipose's default ChArUco board (config.toml ``[calibration]``).
BOARD_SIZE = (10, 7)
SQUARE_LENGTH_MM = 25.0
MARKER_LENGTH_MM = 18.75
MARKER_BITS = 4
DICT_SIZE = 50
#: white paper around the printed board
MARGIN_MM = 12.0
#: board image resolution used for rendering
_PX_PER_MM = 4.0
_SUPERSAMPLE = 3


def make_board():
    """The OpenCV ``cv2.aruco.CharucoBoard`` of Anipose's defaults."""
    import cv2

    dictionary = cv2.aruco.getPredefinedDictionary(cv2.aruco.DICT_4X4_50)
    return cv2.aruco.CharucoBoard(BOARD_SIZE, SQUARE_LENGTH_MM, MARKER_LENGTH_MM, dictionary)


def board_corners_mm() -> np.ndarray:
    """``(54, 3)`` inner chessboard corners in the board frame (mm), by corner id.

    Board frame: origin at the board's top-left outer corner, ``x`` along
    the 10 squares, ``y`` along the 7 (downwards on the printed image),
    ``z`` into the board - OpenCV's convention.
    """
    n_x, n_y = BOARD_SIZE
    i, j = np.meshgrid(np.arange(1, n_x), np.arange(1, n_y))
    corners = np.column_stack([i.ravel(), j.ravel(), np.zeros(i.size)]) * SQUARE_LENGTH_MM
    return corners


@dataclass(eq=False)
class BoardMotion:
    """Board poses over a calibration video (world frame).

    Attributes
    ----------
    rotations
        ``(n_frames, 3, 3)`` board -> world rotations.
    translations_mm
        ``(n_frames, 3)`` world position of the board frame's origin.
    """

    rotations: np.ndarray
    translations_mm: np.ndarray

    @property
    def n_frames(self) -> int:
        return self.rotations.shape[0]

    def corners_world(self) -> np.ndarray:
        """``(n_frames, 54, 3)`` world positions of the inner corners."""
        corners = board_corners_mm()
        return np.einsum("tij,kj->tki", self.rotations, corners) + self.translations_mm[:, None]


def board_motion(
    n_frames: int,
    fps: float,
    rng: np.random.Generator,
    center_mm: tuple[float, float, float] = (0.0, 0.0, 60.0),
) -> BoardMotion:
    """A board waved in front of the cameras: smooth, varied orientations.

    The board faces the cameras (its printed side towards world ``+z``) and
    turns up to about ±28° in yaw, ±30° in pitch and ±20° in roll, while its
    centre wanders ±35 mm sideways, ±25 mm vertically and ±50 mm in depth
    around ``center_mm`` (cameras are about 500 mm in front of the origin).
    """
    from scipy.spatial.transform import Rotation

    times_s = np.arange(n_frames) / fps

    def wander(amplitude: float) -> np.ndarray:
        frequencies_hz = rng.uniform(0.15, 0.6, size=2)
        phases = rng.uniform(0, 2 * np.pi, size=2)
        signal = np.sin(2 * np.pi * frequencies_hz[:, None] * times_s + phases[:, None]).sum(0)
        return amplitude * signal / 2

    yaw, pitch, roll = (np.deg2rad(wander(a)) for a in (28.0, 30.0, 20.0))
    tilt = Rotation.from_euler("YXZ", np.column_stack([yaw, pitch, roll])).as_matrix()
    # board x -> world x, board y (down the print) -> world -y, board z -> world -z
    facing = np.diag([1.0, -1.0, -1.0])
    rotations = tilt @ facing
    centers = np.column_stack([wander(65.0), wander(45.0), wander(50.0)]) + np.asarray(center_mm)
    board_center = np.array([BOARD_SIZE[0] * SQUARE_LENGTH_MM / 2, BOARD_SIZE[1] * SQUARE_LENGTH_MM / 2, 0.0])
    translations = centers - rotations @ board_center
    return BoardMotion(rotations=rotations, translations_mm=translations)


def _board_image() -> np.ndarray:
    """Grey uint8 image of the printed board with its white margin."""
    board = make_board()
    size_px = (int(BOARD_SIZE[0] * SQUARE_LENGTH_MM * _PX_PER_MM), int(BOARD_SIZE[1] * SQUARE_LENGTH_MM * _PX_PER_MM))
    image = board.generateImage(size_px, marginSize=0, borderBits=1)
    margin_px = int(round(MARGIN_MM * _PX_PER_MM))
    return np.pad(image, margin_px, constant_values=255)


def render_board_frames(motion: BoardMotion, camera, background: np.ndarray | None = None) -> Iterator[np.ndarray]:
    """Yield ``(height, width, 3)`` uint8 RGB frames of the board seen by ``camera``.

    Parameters
    ----------
    motion
        Board poses, one per frame.
    camera
        :class:`~napari_facehmm.io.anipose.CameraParams` (true parameters).
    background
        ``(height, width, 3)`` uint8 image behind the board; mid grey when None.

    Notes
    -----
    Two stages, both in OpenCV: the board is warped by its exact homography
    into an *undistorted* supersampled image (``cv2.warpPerspective``), then
    a fixed per-camera map applies the lens distortion (``cv2.remap``): the
    map sends each supersampled output pixel to its undistorted position.
    """
    import cv2

    width, height = camera.size
    ss = _SUPERSAMPLE
    if background is None:
        background = np.full((height, width, 3), 110, dtype=np.uint8)
    background_ss = cv2.resize(background, (width * ss, height * ss), interpolation=cv2.INTER_NEAREST).astype(
        np.float32
    )
    # centres of the sub-pixels, in pixel coordinates of the real image
    sub_x = (np.arange(width * ss) + 0.5) / ss - 0.5
    sub_y = (np.arange(height * ss) + 0.5) / ss - 0.5
    grid = np.stack(np.meshgrid(sub_x, sub_y), axis=-1)
    normalized = undistort_normalized(grid, camera.matrix, camera.distortions)
    # the undistorted canvas: focal length ss times the camera's, large
    # enough to hold every ray of the distorted image
    focal_x, focal_y = camera.matrix[0, 0] * ss, camera.matrix[1, 1] * ss
    pad = 2.0
    low = normalized.reshape(-1, 2).min(axis=0)
    high = normalized.reshape(-1, 2).max(axis=0)
    canvas_center = np.array([-low[0] * focal_x + pad, -low[1] * focal_y + pad])
    canvas_size = (
        int(np.ceil((high[0] - low[0]) * focal_x + 2 * pad)) + 1,
        int(np.ceil((high[1] - low[1]) * focal_y + 2 * pad)) + 1,
    )
    canvas_matrix = np.array([[focal_x, 0.0, canvas_center[0]], [0.0, focal_y, canvas_center[1]], [0.0, 0.0, 1.0]])
    map_x = (normalized[..., 0] * focal_x + canvas_center[0]).astype(np.float32)
    map_y = (normalized[..., 1] * focal_y + canvas_center[1]).astype(np.float32)

    board = _board_image()
    # second channel: coverage, so edges blend with the background; uint8
    # warps are several times faster than float ones, and OpenCV's 1/32-pixel
    # interpolation grid is 1/96 of an output pixel here
    board_and_cover = np.dstack([board, np.full_like(board, 255)])
    margin_px = MARGIN_MM * _PX_PER_MM
    # board image pixel -> board millimetres (pixel centres at (i + 0.5) / px_per_mm)
    pixel_to_mm = np.array(
        [[1 / _PX_PER_MM, 0.0, (0.5 - margin_px) / _PX_PER_MM], [0.0, 1 / _PX_PER_MM, (0.5 - margin_px) / _PX_PER_MM], [0.0, 0.0, 1.0]]
    )
    camera_rotation = camera.rotation_matrix
    for t in range(motion.n_frames):
        rotation = camera_rotation @ motion.rotations[t]
        translation = camera_rotation @ motion.translations_mm[t] + camera.translation
        # board plane z=0 -> normalised image: [r1 r2 t]
        plane_to_image = np.column_stack([rotation[:, 0], rotation[:, 1], translation])
        homography = canvas_matrix @ plane_to_image @ pixel_to_mm
        canvas = cv2.warpPerspective(
            board_and_cover, homography, canvas_size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0
        )
        warped = cv2.remap(canvas, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
        grey = warped[..., 0:1].astype(np.float32)
        cover = warped[..., 1:2].astype(np.float32) * np.float32(1 / 255)
        # grey is already weighted by coverage (samples outside the board are 0);
        # 0.92 keeps the paper's white below saturation, as a camera would
        composed = np.float32(0.92) * grey + (1 - cover) * background_ss
        frame = cv2.resize(composed, (width, height), interpolation=cv2.INTER_AREA)
        yield np.clip(np.round(frame), 0, 255).astype(np.uint8)


def project_corners(motion: BoardMotion, camera) -> np.ndarray:
    """``(n_frames, 54, 2)`` true pixel positions of the inner corners in ``camera``."""
    return project(camera, motion.corners_world())
