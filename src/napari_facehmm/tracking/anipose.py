"""Anipose 3D: camera calibration from board videos and triangulation of 2D tracks.

The engine behind ``facehmm calibrate`` and ``facehmm triangulate`` (and the
viewer's 3D widget). It drives aniposelib 0.8.0 -- the library Anipose itself
uses -- and keeps Anipose's file layouts, defaults and output columns, so a
project made here opens in Anipose and the other way round.

Both long jobs are generators yielding ``(done, total, message)`` tuples and
returning their result (``StopIteration.value``): a widget runs them in a
``thread_worker`` and Cancel simply stops iterating; :func:`run_to_end`
drains one without progress.

Entry points:

* :func:`calibrate` (videos per camera + :class:`BoardSpec`) and
  :func:`calibrate_project` (an Anipose folder) return a
  :class:`CalibrationResult`: ``calibration``, ``camera_errors_px``, and
  ``detections[camera].for_video(i) -> (frames, corners_px (n, n_corners, 2))``
  to draw the found board corners over a calibration video.
* :func:`triangulate` (2D series per camera + calibration),
  :func:`triangulate_files` (DLC files) and :func:`triangulate_project` (an
  Anipose folder) return 3D :class:`~napari_facehmm.data.LandmarkSeries`
  with Anipose's ``error``, ``ncams``, ``score``, ``M`` and ``center``.

aniposelib (and jax, numba, OpenCV) is imported inside the functions that
need it. aniposelib prints to stdout while it calibrates; that chatter is
captured into the result's ``log`` because the core never prints.
"""

from __future__ import annotations

# Anipose turns on 64-bit jax globally when its triangulation is imported;
# that would change every other jax user in the process. Must be set before
# aniposelib is first imported.
import os

os.environ.setdefault("ANIPOSE_DISABLE_JAX_X64", "1")

import contextlib
import io
import itertools
import re
import warnings
from collections.abc import Generator, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..data import LandmarkSeries
from ..errors import DataError, FileFormatError
from ..io.video import VIDEO_SUFFIXES
from ..progress import Progress, relay, run_to_end

__all__ = [
    "ANIPOSE_FILTER_DEFAULTS",
    "ANIPOSE_TRIANGULATION_DEFAULTS",
    "DEFAULT_CAM_REGEX",
    "VIDEO_EXTENSIONS",
    "BoardDetections",
    "BoardSpec",
    "CalibrationResult",
    "Progress",
    "align_cameras",
    "as_camera_group",
    "calibrate",
    "calibrate_project",
    "calibration_videos",
    "camera_error_warnings",
    "camera_name_from_path",
    "change_world_frame",
    "coordinate_frame",
    "filter_2d_median",
    "filter_2d_viterbi",
    "group_by_session",
    "load_board_detections",
    "project_sessions",
    "read_project_config",
    "relative_pose",
    "run_to_end",
    "save_board_detections",
    "session_name_from_path",
    "triangulate",
    "triangulate_files",
    "triangulate_project",
    "triangulation_options",
]

#: ``(done, total, message)``, what every generator here yields.

#: Anipose's ``[triangulation]`` defaults (``anipose/anipose.py`` DEFAULT_CONFIG).
ANIPOSE_TRIANGULATION_DEFAULTS: dict[str, Any] = {
    "score_threshold": 0.8,
    "scale_smooth": 2.0,
    "scale_length": 2.0,
    "scale_length_weak": 1.0,
    "reproj_error_threshold": 5.0,
    "n_deriv_smooth": 3,
    "optim_chunking_size": 1000,
}

#: Anipose's ``[filter]`` defaults for the 2D filters.
ANIPOSE_FILTER_DEFAULTS: dict[str, Any] = {
    "medfilt": 13,
    "offset_threshold": 25.0,
    "score_threshold": 0.05,
    "spline": True,
    "n_back": 5,
}

#: Camera name in a file name: ``session-camA.mp4`` -> ``camA``. Anipose's
#: ``cam_regex`` in ``[triangulation]`` overrides it (first group = name).
DEFAULT_CAM_REGEX = r"-?(cam[A-Z])"

#: Video files ``facehmm calibrate`` looks for in ``calibration/``.
VIDEO_EXTENSIONS = VIDEO_SUFFIXES  # every container the video reader opens

# Frames between board checks while no board is in view (aniposelib's
# ``detect_video`` default); after a detection the next skip/2 frames are all read.
DEFAULT_DETECTION_SKIP = 20

# aniposelib's corner threshold for the pose estimate used in extrinsics
# initialisation (``calibrate_rows`` keeps rows with at least 8 ids) and for
# intrinsics initialisation (``min_corners_intrinsic=9``).
_MIN_CORNERS_EXTRINSIC = 8
_MIN_CORNERS_INTRINSIC = 9

# aniposelib's triangulate_possible gives up on a point whose best subset
# still reprojects worse than this (pixels).
_RANSAC_GIVE_UP_PX = 200.0


# ============================================================ project layout
def read_project_config(project_dir: str | Path) -> dict[str, Any]:
    """Read an Anipose project's ``config.toml`` (empty dict if absent).

    Raises
    ------
    FileFormatError
        The file exists but is not valid TOML.
    """
    import toml

    path = Path(project_dir) / "config.toml"
    if not path.is_file():
        return {}
    try:
        config = toml.loads(path.read_text(encoding="utf-8"))
    except (toml.TomlDecodeError, UnicodeDecodeError, IndexError, ValueError) as error:
        raise FileFormatError(path, f"not valid TOML ({error})") from None
    for section in ("calibration", "triangulation", "filter"):
        if section in config and not isinstance(config[section], dict):
            raise FileFormatError(path, f"[{section}] must be a table")
    return config


@dataclass
class ProjectLayout:
    """Where an Anipose project keeps things (``config.toml`` ``[pipeline]``, Anipose's defaults)."""

    cam_regex: str
    calibration_videos: Path
    #: ``<calibration_results>/calibration.toml``: written by calibrate, read by triangulate
    calibration: Path
    pose_2d: Path
    pose_3d: Path


def project_layout(project_dir: str | Path, config: Mapping[str, Any] | None = None) -> ProjectLayout:
    """The folders and camera pattern of an Anipose project (``config`` read when None)."""
    project_dir = Path(project_dir)
    if config is None:
        config = read_project_config(project_dir)
    pipeline = config.get("pipeline", {})
    return ProjectLayout(
        cam_regex=config.get("triangulation", {}).get("cam_regex", DEFAULT_CAM_REGEX),
        calibration_videos=project_dir / pipeline.get("calibration_videos", "calibration"),
        calibration=project_dir / pipeline.get("calibration_results", "calibration") / "calibration.toml",
        pose_2d=project_dir / pipeline.get("pose_2d", "pose-2d"),
        pose_3d=project_dir / pipeline.get("pose_3d", "pose-3d"),
    )


def camera_name_from_path(path: str | Path, cam_regex: str = DEFAULT_CAM_REGEX) -> str | None:
    """Camera name in a file name (Anipose's ``get_cam_name``), or None.

    The name is the first group of ``cam_regex`` searched in the file name
    without extension(s).
    """
    stem = Path(path).name
    for suffix in Path(path).suffixes:
        stem = stem.removesuffix(suffix)
    match = re.search(cam_regex, stem)
    if not match or not match.groups():
        return None
    return match.group(1).strip()


def session_name_from_path(path: str | Path, cam_regex: str = DEFAULT_CAM_REGEX) -> str:
    """Session name: the file name without extension and camera part (Anipose's ``get_video_name``).

    Unlike Anipose, separators left at either end (``-``, ``_``, ``.``,
    spaces) are stripped, so ``session1-camA.h5`` is session ``session1``
    also with a ``cam_regex`` that does not include the dash.
    """
    stem = Path(path).name
    for suffix in Path(path).suffixes:
        stem = stem.removesuffix(suffix)
    return re.sub(cam_regex, "", stem).strip(" -_.")


def group_by_session(
    paths: Iterable[str | Path], cam_regex: str = DEFAULT_CAM_REGEX
) -> dict[str, dict[str, Path]]:
    """Group per-camera files into sessions: ``{session: {camera: path}}``.

    Raises
    ------
    DataError
        A file name has no camera name, or two files of one session name
        the same camera.
    """
    sessions: dict[str, dict[str, Path]] = {}
    for path in sorted(Path(p) for p in paths):
        camera = camera_name_from_path(path, cam_regex)
        if camera is None:
            raise DataError(
                f"{path}: no camera name in the file name (cam_regex {cam_regex!r}); "
                "name files like <session>-camA.h5 or set cam_regex in config.toml [triangulation]"
            )
        session = session_name_from_path(path, cam_regex)
        cameras = sessions.setdefault(session, {})
        if camera in cameras:
            raise DataError(
                f"two files for camera {camera!r} in session {session!r}: {cameras[camera]}, {path}"
            )
        cameras[camera] = path
    return sessions


def calibration_videos(folder: str | Path, cam_regex: str = DEFAULT_CAM_REGEX) -> dict[str, list[Path]]:
    """Calibration videos in ``folder``, per camera (sorted), as Anipose finds them."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"{folder}: calibration folder does not exist")
    videos = sorted(p for p in folder.iterdir() if p.suffix.lower() in VIDEO_EXTENSIONS)
    if not videos:
        raise DataError(f"{folder}: no calibration videos ({', '.join(VIDEO_EXTENSIONS)})")
    per_camera: dict[str, list[Path]] = {}
    for video in videos:
        camera = camera_name_from_path(video, cam_regex)
        if camera is None:
            raise DataError(
                f"{video}: no camera name in the file name (cam_regex {cam_regex!r}); "
                "name videos like calib-camA.mp4 or set cam_regex in config.toml [triangulation]"
            )
        per_camera.setdefault(camera, []).append(video)
    return dict(sorted(per_camera.items()))


# ==================================================================== boards
@dataclass
class BoardSpec:
    """A calibration board, with Anipose's ``[calibration]`` parameters.

    Parameters
    ----------
    board_type
        ``"charuco"`` or ``"checkerboard"``.
    squares_x, squares_y
        Anipose's ``board_size``: squares per side for ChArUco, inner corners
        per side for a checkerboard.
    square_length_mm
        ``board_square_side_length``.
    marker_length_mm
        ``board_marker_length`` (ChArUco only).
    marker_bits, dict_number
        ``board_marker_bits`` and ``board_marker_dict_number``: the ArUco
        dictionary, e.g. 4 and 50 for ``DICT_4X4_50``.
    legacy_pattern
        Boards printed with OpenCV < 4.6 (and Anipose's older images) with an
        even number of rows have their markers shifted by one square; set
        True to detect those with OpenCV >= 4.6.

    Notes
    -----
    Defaults are the board of aniposelib's tutorial (10 x 7 squares of
    25 mm, 18.75 mm markers from ``DICT_4X4_50``), which the synthetic
    sessions render too. Anipose's example ``config.toml`` has a smaller
    6 x 6 board; a project's ``[calibration]`` table overrides these.
    """

    board_type: str = "charuco"
    squares_x: int = 10
    squares_y: int = 7
    square_length_mm: float = 25.0
    marker_length_mm: float = 18.75
    marker_bits: int = 4
    dict_number: int = 50
    legacy_pattern: bool = False

    def __post_init__(self) -> None:
        self.board_type = str(self.board_type).lower()
        if self.board_type not in ("charuco", "checkerboard"):
            raise DataError(f"board_type must be 'charuco' or 'checkerboard'; got {self.board_type!r}")
        if int(self.squares_x) < 2 or int(self.squares_y) < 2:
            raise DataError(f"board_size must be at least [2, 2]; got [{self.squares_x}, {self.squares_y}]")
        if not self.square_length_mm > 0:
            raise DataError(f"board_square_side_length must be > 0; got {self.square_length_mm}")
        if self.board_type == "charuco":
            if not 0 < self.marker_length_mm < self.square_length_mm:
                raise DataError(
                    "board_marker_length must be > 0 and smaller than board_square_side_length "
                    f"({self.square_length_mm}); got {self.marker_length_mm}"
                )
            if (int(self.marker_bits), int(self.dict_number)) not in _ARUCO_DICTS:
                raise DataError(
                    f"no ArUco dictionary with {self.marker_bits} bits and {self.dict_number} markers; "
                    "bits must be 4-7 and markers 50, 100, 250 or 1000"
                )
            n_markers = (int(self.squares_x) * int(self.squares_y)) // 2
            if n_markers > int(self.dict_number):
                raise DataError(
                    f"a {self.squares_x}x{self.squares_y} ChArUco board needs {n_markers} markers; "
                    f"the dictionary has {self.dict_number}"
                )
        self.squares_x, self.squares_y = int(self.squares_x), int(self.squares_y)
        self.marker_bits, self.dict_number = int(self.marker_bits), int(self.dict_number)
        self.square_length_mm = float(self.square_length_mm)
        self.marker_length_mm = float(self.marker_length_mm)

    @classmethod
    def from_config(cls, config: Mapping[str, Any], **overrides: Any) -> BoardSpec:
        """Board from an Anipose config's ``[calibration]`` table, then ``overrides``.

        ``overrides`` are :class:`BoardSpec` field names; None values are ignored.
        """
        calib = dict(config.get("calibration", {}) or {})
        values: dict[str, Any] = {}
        if "board_type" in calib:
            values["board_type"] = calib["board_type"]
        if "board_size" in calib:
            size = calib["board_size"]
            if not isinstance(size, (list, tuple)) or len(size) != 2:
                raise DataError(f"[calibration] board_size must be [x, y]; got {size!r}")
            values["squares_x"], values["squares_y"] = size
        for key, name in (
            ("board_square_side_length", "square_length_mm"),
            ("board_marker_length", "marker_length_mm"),
            ("board_marker_bits", "marker_bits"),
            ("board_marker_dict_number", "dict_number"),
            ("board_legacy_pattern", "legacy_pattern"),
        ):
            if key in calib:
                values[name] = calib[key]
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)

    @property
    def n_corners(self) -> int:
        """Number of corners the board has (ChArUco: inner chessboard corners)."""
        if self.board_type == "charuco":
            return (self.squares_x - 1) * (self.squares_y - 1)
        return self.squares_x * self.squares_y

    def build(self):
        """The aniposelib board object (imports aniposelib and OpenCV)."""
        from aniposelib.boards import CharucoBoard, Checkerboard

        if self.board_type == "checkerboard":
            return Checkerboard(self.squares_x, self.squares_y, self.square_length_mm)
        board = CharucoBoard(
            self.squares_x,
            self.squares_y,
            self.square_length_mm,
            self.marker_length_mm,
            marker_bits=self.marker_bits,
            dict_size=self.dict_number,
        )
        # aniposelib 0.8.0 already uses OpenCV's >= 4.7 class API
        # (CharucoDetector, ArucoDetector), which OpenCV 5 keeps, so no shim is
        # needed there. What changed in OpenCV 4.6 is the marker layout of
        # boards with an even number of rows; old printed boards need the
        # legacy pattern on the board the CharucoDetector was built with.
        if self.legacy_pattern:
            import cv2

            board.board.setLegacyPattern(True)
            board.charuco_detector = cv2.aruco.CharucoDetector(board.board)
            board.charuco_detector.setDetectorParameters(board.detector_params)
        return board

    def image(self, width_px: int, height_px: int):
        """``(height, width)`` uint8 picture of the board, to print or render."""

        if self.board_type == "checkerboard":
            n_x, n_y = self.squares_x + 1, self.squares_y + 1
            cell = min(width_px // n_x, height_px // n_y)
            pattern = (np.add.outer(np.arange(n_y), np.arange(n_x)) % 2 == 0).astype(np.uint8) * 255
            pattern = np.kron(pattern, np.ones((cell, cell), np.uint8))
            out = np.full((height_px, width_px), 255, np.uint8)
            top, left = (height_px - pattern.shape[0]) // 2, (width_px - pattern.shape[1]) // 2
            out[top : top + pattern.shape[0], left : left + pattern.shape[1]] = pattern
            return out
        return self.build().board.generateImage((int(width_px), int(height_px)))

    def to_config(self) -> dict[str, Any]:
        """The ``[calibration]`` entries Anipose reads for this board."""
        out = {
            "board_type": self.board_type,
            "board_size": [self.squares_x, self.squares_y],
            "board_square_side_length": self.square_length_mm,
        }
        if self.board_type == "charuco":
            out.update(
                board_marker_length=self.marker_length_mm,
                board_marker_bits=self.marker_bits,
                board_marker_dict_number=self.dict_number,
            )
        return out


_ARUCO_DICTS = {(bits, n) for bits in (4, 5, 6, 7) for n in (50, 100, 250, 1000)}


@dataclass(eq=False)
class BoardDetections:
    """Board corners found in one camera's calibration video(s), for QC.

    Parameters
    ----------
    camera
        Camera name.
    videos
        The camera's calibration videos, in order.
    video_index
        ``(n_detections,)`` index into ``videos`` of each detection.
    frame_indices
        ``(n_detections,)`` frame of each detection in its video.
    corners_px
        ``(n_detections, n_corners, 2)`` corner positions ``(x, y)`` in
        pixels, NaN for corners not found in that frame; corner ``i`` is the
        board's corner id ``i``.
    n_frames_read
        Frames examined in all videos (frames between skipped checks are
        decoded but not searched).
    """

    camera: str
    videos: list[Path]
    video_index: np.ndarray
    frame_indices: np.ndarray
    corners_px: np.ndarray
    n_frames_read: int = 0

    @property
    def n_detections(self) -> int:
        return len(self.frame_indices)

    def for_video(self, video: int | str | Path = 0) -> tuple[np.ndarray, np.ndarray]:
        """``(frame_indices (n,), corners_px (n, n_corners, 2))`` of one video."""
        if not isinstance(video, (int, np.integer)):
            names = [Path(v).name for v in self.videos]
            if Path(video).name not in names:
                raise DataError(f"camera {self.camera!r} has no calibration video {video}; it has {names}")
            video = names.index(Path(video).name)
        rows = self.video_index == int(video)
        return self.frame_indices[rows], self.corners_px[rows]

    def to_dataframe(self) -> pd.DataFrame:
        """Tidy table: ``camera, video, frame, corner, x, y`` for found corners."""
        found = np.isfinite(self.corners_px).all(axis=2)
        det, corner = np.nonzero(found)
        return pd.DataFrame(
            {
                "camera": self.camera,
                "video": [self.videos[i].name for i in self.video_index[det]],
                "frame": self.frame_indices[det],
                "corner": corner,
                "x": self.corners_px[det, corner, 0],
                "y": self.corners_px[det, corner, 1],
            }
        )


@dataclass(eq=False)
class CalibrationResult:
    """What :func:`calibrate` returns.

    Attributes
    ----------
    calibration
        :class:`napari_facehmm.io.anipose.Calibration`; write it with
        :func:`napari_facehmm.io.anipose.write_calibration`.
    camera_errors_px
        Mean reprojection error of each camera (pixels) over the board
        corners seen by at least two cameras, after bundle adjustment.
    error_px
        aniposelib's figure: median over corners of the mean error across
        cameras (stored as ``metadata["error"]``, as Anipose does).
    detections
        :class:`BoardDetections` per camera.
    log
        What aniposelib printed while calibrating.
    calibration_path, detections_path
        Files written by :func:`calibrate_project` (None from :func:`calibrate`).
    """

    calibration: Any
    camera_errors_px: dict[str, float]
    error_px: float
    detections: dict[str, BoardDetections]
    log: str = ""
    calibration_path: Path | None = None
    detections_path: Path | None = None


# =============================================================== calibration
def _video_frame_count(capture) -> int:
    import cv2

    return max(int(capture.get(cv2.CAP_PROP_FRAME_COUNT)), 0)


def _detect_video(
    board, path: Path, skip: int, video_index: int
) -> Generator[Progress, None, tuple[list, int, tuple[int, int]]]:
    """Search a video for the board as aniposelib's ``detect_video`` does, with progress.

    Yields ``(frames_read, n_frames, message)`` after every frame; returns
    ``(rows, frames_read, (width, height))`` with rows in aniposelib's format.
    """
    import cv2

    capture = cv2.VideoCapture(str(path))
    if not capture.isOpened():
        raise FileFormatError(path, "cannot open the video (missing file or unsupported codec)")
    try:
        n_frames = _video_frame_count(capture)
        size = (int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)), int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT)))
        rows = []
        frames_left_to_check = skip // 2
        frame_number = 0
        while True:
            ok, frame = capture.read()
            if not ok:
                break
            if frame_number % skip == 0 or frames_left_to_check > 0:
                corners, ids = board.detect_image(frame)
                if corners is not None and len(corners) > 0:
                    rows.append({"framenum": (video_index, frame_number), "corners": corners, "ids": ids})
                    frames_left_to_check = skip // 2
                frames_left_to_check = max(0, frames_left_to_check - 1)
            frame_number += 1
            yield frame_number, max(n_frames, frame_number), f"{path.name}: {len(rows)} boards"
    finally:
        capture.release()
    if frame_number == 0:
        raise FileFormatError(path, "no frame could be decoded")
    return board.fill_points_rows(rows), frame_number, size


def calibrate(
    videos: Mapping[str, str | Path | Sequence[str | Path]],
    board: BoardSpec | None = None,
    *,
    skip: int = DEFAULT_DETECTION_SKIP,
    fisheye: bool = False,
    n_iters: int = 6,
    max_nfev: int = 200,
    n_samp_iter: int = 1000,
    n_samp_full: int = 5000,
    random_seed: int | None = 0,
) -> Generator[Progress, None, CalibrationResult]:
    """Calibrate cameras from videos of a calibration board (Anipose's ``calibrate``).

    Parameters
    ----------
    videos
        ``{camera_name: video or [videos]}``; the i-th videos of all cameras
        must be synchronized recordings (frames are matched by number).
    board
        The board; default :class:`BoardSpec()` (Anipose's example board).
    skip
        Search every ``skip``-th frame while no board is visible, every
        frame for ``skip // 2`` frames after a detection (aniposelib's rule).
        1 searches every frame.
    fisheye
        Fisheye camera model.
    n_iters, max_nfev, n_samp_iter, n_samp_full
        aniposelib's ``bundle_adjust_iter`` settings. Anipose's command line
        samples 1000 corners (200 per iteration); we take up to 5000 (1000),
        i.e. every corner of a 90-frame two-camera video: on the synthetic
        session the baseline error drops from 0.40-0.58 % (depending on the
        random sample) to 0.36 % for about 10 s more.
    random_seed
        Seed of numpy's global generator, which aniposelib's point
        resampling uses, during the bundle adjustment (the previous state is
        restored after); None leaves it alone. Fixed for reproducible results.

    Yields
    ------
    tuple
        ``(done, total, message)``: one unit per decoded frame, plus one for
        the bundle adjustment.

    Returns
    -------
    CalibrationResult

    Raises
    ------
    DataError
        Fewer than two cameras, a camera whose videos never show the board
        (named), or no frame where two cameras see the board together.
    FileFormatError
        A video that cannot be opened or decoded.
    """
    from ..io.anipose import Calibration

    board = board if board is not None else BoardSpec()
    if len(videos) < 2:
        raise DataError(f"calibration needs at least two cameras; got {list(videos)}")
    camera_names = list(videos)
    video_lists = {
        name: [Path(v) for v in ([paths] if isinstance(paths, (str, Path)) else paths)]
        for name, paths in videos.items()
    }
    for name, paths in video_lists.items():
        if not paths:
            raise DataError(f"camera {name!r} has no calibration video")
        for path in paths:
            if not path.is_file():
                raise FileFormatError(path, f"calibration video of camera {name!r} does not exist")
    skip = max(int(skip), 1)

    import cv2

    aniposelib_board = board.build()
    # frame counts up front so the progress total is known
    counts = {}
    for name, paths in video_lists.items():
        for path in paths:
            capture = cv2.VideoCapture(str(path))
            if not capture.isOpened():
                raise FileFormatError(path, "cannot open the video (missing file or unsupported codec)")
            counts[path] = _video_frame_count(capture)
            capture.release()
    total = sum(counts.values()) + 1
    done = 0

    all_rows: list[list[dict]] = []
    sizes: dict[str, tuple[int, int]] = {}
    detections: dict[str, BoardDetections] = {}
    for name in camera_names:
        rows_camera: list[dict] = []
        frames_read = 0
        for video_index, path in enumerate(video_lists[name]):
            start = done
            rows, n_read, size = yield from relay(
                _detect_video(aniposelib_board, path, skip, video_index),
                lambda step: (min(start + step[0], total - 1), total, f"detecting board, camera {name}: {step[2]}"),
            )
            if name in sizes and sizes[name] != size:
                raise DataError(
                    f"calibration videos of camera {name!r} differ in size: {sizes[name]} and {size} ({path})"
                )
            sizes[name] = size
            rows_camera.extend(rows)
            frames_read += n_read
            # keep the total right when the container's frame count was off
            total += n_read - counts[path]
            done = start + n_read
        all_rows.append(rows_camera)
        detections[name] = _detections_from_rows(name, video_lists[name], rows_camera, board, frames_read)

    _check_detections(camera_names, all_rows, video_lists)
    yield done, total, "bundle adjustment"

    from aniposelib.cameras import CameraGroup

    group = CameraGroup.from_names(camera_names, fisheye=fisheye)
    for camera in group.cameras:
        camera.set_size(sizes[camera.get_name()])
    log = io.StringIO()
    # aniposelib resamples points with numpy's global generator: seed it for
    # reproducible calibrations, and give the caller's state back afterwards
    saved_random_state = np.random.get_state()
    if random_seed is not None:
        np.random.seed(random_seed)
    try:
        with contextlib.redirect_stdout(log):
            error = group.calibrate_rows(
                all_rows,
                aniposelib_board,
                init_intrinsics=True,
                init_extrinsics=True,
                verbose=False,
                n_iters=n_iters,
                max_nfev=max_nfev,
                n_samp_iter=n_samp_iter,
                n_samp_full=n_samp_full,
            )
    except (ValueError, IndexError, np.linalg.LinAlgError, KeyError) as err:
        raise DataError(
            f"bundle adjustment failed for cameras {camera_names} ({type(err).__name__}: {err}); "
            "check that the videos are synchronized and show the board from both cameras at once"
        ) from err
    finally:
        np.random.set_state(saved_random_state)
    group.metadata["adjusted"] = False
    group.metadata["error"] = float(error)
    camera_errors = _board_camera_errors(group, all_rows, aniposelib_board)
    calibration = Calibration.from_aniposelib(group)
    yield total, total, f"calibrated; median error {float(error):.3f} px"
    return CalibrationResult(
        calibration=calibration,
        camera_errors_px=camera_errors,
        error_px=float(error),
        detections=detections,
        log=log.getvalue(),
    )


def _detections_from_rows(
    camera: str, videos: list[Path], rows: list[dict], board: BoardSpec, frames_read: int
) -> BoardDetections:
    n_corners = board.n_corners
    corners = np.full((len(rows), n_corners, 2), np.nan)
    for i, row in enumerate(rows):
        corners[i] = np.asarray(row["filled"], dtype=np.float64).reshape(n_corners, 2)
    return BoardDetections(
        camera=camera,
        videos=list(videos),
        video_index=np.array([r["framenum"][0] for r in rows], dtype=np.int64),
        frame_indices=np.array([r["framenum"][1] for r in rows], dtype=np.int64),
        corners_px=corners,
        n_frames_read=frames_read,
    )


def _check_detections(
    camera_names: list[str], all_rows: list[list[dict]], video_lists: Mapping[str, list[Path]]
) -> None:
    """Clear errors for what would otherwise fail deep in aniposelib."""
    for name, rows in zip(camera_names, all_rows):
        videos = ", ".join(str(v) for v in video_lists[name])
        if not rows:
            raise DataError(f"camera {name!r}: the calibration board was never detected in {videos}")
        if not any(np.asarray(r["ids"]).size >= _MIN_CORNERS_INTRINSIC for r in rows):
            raise DataError(
                f"camera {name!r}: the board was never seen with {_MIN_CORNERS_INTRINSIC} or more "
                f"corners in {videos}; show the whole board closer to the camera"
            )
    usable = [
        {r["framenum"] for r in rows if np.asarray(r["ids"]).size >= _MIN_CORNERS_EXTRINSIC}
        for rows in all_rows
    ]
    linked = set()
    for a, b in itertools.combinations(range(len(camera_names)), 2):
        if usable[a] & usable[b]:
            linked.update((a, b))
    lonely = [camera_names[i] for i in range(len(camera_names)) if i not in linked]
    if lonely:
        raise DataError(
            f"camera(s) {lonely} never see the board in the same frame as another camera "
            f"(with {_MIN_CORNERS_EXTRINSIC}+ corners); the calibration videos must be synchronized "
            "and show the board to two cameras at once"
        )


def _board_camera_errors(group, all_rows: list[list[dict]], board) -> dict[str, float]:
    """Mean reprojection error per camera over corners seen by two or more cameras."""
    from aniposelib.boards import extract_points, merge_rows

    names = group.get_names()
    merged = merge_rows(all_rows, cam_names=names)
    points_2d, _ = extract_points(merged, board, cam_names=names, min_cameras=2, check_rtvecs=False)
    if points_2d.shape[1] == 0:
        return {name: float("nan") for name in names}
    points_3d = group.triangulate(points_2d)
    errors = np.linalg.norm(group.reprojection_error(points_3d, points_2d, mean=False), axis=2)
    return {name: float(np.nanmean(errors[i])) for i, name in enumerate(names)}


def save_board_detections(detections: Mapping[str, BoardDetections], path: str | Path) -> Path:
    """Write detected board corners as a CSV table (``camera, video, frame, corner, x, y``)."""
    from ..io._atomic import atomic_write_path

    path = Path(path)
    tables = [d.to_dataframe() for d in detections.values()]
    table = (
        pd.concat(tables, ignore_index=True)
        if tables
        else pd.DataFrame(columns=["camera", "video", "frame", "corner", "x", "y"])
    )
    with atomic_write_path(path, backup=False) as temp:
        table.to_csv(temp, index=False)
    return path


def load_board_detections(
    path: str | Path, n_corners: int | None = None
) -> dict[str, dict[str, tuple[np.ndarray, np.ndarray]]]:
    """Read :func:`save_board_detections` output.

    Returns
    -------
    dict
        ``{camera: {video_name: (frame_indices (n,), corners_px (n, n_corners, 2))}}``
        with NaN for corners not found.
    """
    path = Path(path)
    if not path.is_file():
        raise FileFormatError(path, "file does not exist")
    try:
        table = pd.read_csv(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
        raise FileFormatError(path, f"not a readable CSV table ({error})") from None
    required = ["camera", "video", "frame", "corner", "x", "y"]
    missing = [c for c in required if c not in table.columns]
    if missing:
        raise FileFormatError(path, f"lacks columns {missing}; a board-detection table has {required}")
    if n_corners is None:
        n_corners = int(table["corner"].max()) + 1 if len(table) else 0
    out: dict[str, dict[str, tuple[np.ndarray, np.ndarray]]] = {}
    for (camera, video), part in table.groupby(["camera", "video"], sort=True):
        frames = np.unique(part["frame"].to_numpy(np.int64))
        corners = np.full((len(frames), n_corners, 2), np.nan)
        rows = np.searchsorted(frames, part["frame"].to_numpy(np.int64))
        corners[rows, part["corner"].to_numpy(np.int64)] = part[["x", "y"]].to_numpy(np.float64)
        out.setdefault(str(camera), {})[str(video)] = (frames, corners)
    return out


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


def as_camera_group(calibration):
    """An aniposelib ``CameraGroup`` from a calibration file, a ``Calibration`` or a group.

    Raises
    ------
    FileFormatError
        The file is missing or lacks a field (read with
        :func:`napari_facehmm.io.anipose.read_calibration`).
    """
    from ..io.anipose import Calibration, read_calibration

    if isinstance(calibration, (str, Path)):
        calibration = read_calibration(calibration)
    if isinstance(calibration, Calibration):
        return calibration.to_aniposelib()
    if hasattr(calibration, "get_names") and hasattr(calibration, "triangulate"):
        return calibration.copy()
    raise TypeError(f"not a calibration: {type(calibration).__name__}")


# ============================================================== 2D filtering
def filter_2d_median(
    series: LandmarkSeries,
    kernel_frames: int = ANIPOSE_FILTER_DEFAULTS["medfilt"],
    offset_threshold_px: float = ANIPOSE_FILTER_DEFAULTS["offset_threshold"],
    score_threshold: float = ANIPOSE_FILTER_DEFAULTS["score_threshold"],
    spline: bool = ANIPOSE_FILTER_DEFAULTS["spline"],
) -> LandmarkSeries:
    """Anipose's ``medfilt`` 2D filter on one camera's series.

    A point is an outlier when ``|x - median(x)| + |y - median(y)|`` (median
    over ``kernel_frames``) reaches ``offset_threshold_px`` or its confidence
    is below ``score_threshold``. Outliers are re-filled by a cubic spline
    (or linear interpolation) through the good points when more than half of
    the keypoint's frames are good; otherwise they become NaN. Confidence is
    kept, as Anipose does (the triangulation threshold still applies).

    Parameters
    ----------
    series
        2D series ``(T, K, 2)``.

    Returns
    -------
    LandmarkSeries
        Same shape; positions ``(T, K, 2)`` filtered.
    """
    from scipy import signal
    from scipy.interpolate import splev, splrep

    if series.n_dims != 2:
        raise DataError(f"the 2D filter needs a 2D series; got {series.n_dims}D")
    kernel = int(kernel_frames) | 1  # medfilt needs an odd kernel
    out = series.copy()
    frames = np.arange(series.n_frames)
    for k in range(series.n_keypoints):
        xy = series.positions[:, k, :]
        # medfilt does not skip NaN; fill gaps for the median, mark them bad below
        filled = _interpolate_nan(xy)
        if filled is None:
            continue
        median = np.stack([signal.medfilt(filled[:, d], kernel_size=kernel) for d in range(2)], axis=1)
        offset = np.abs(xy - median).sum(axis=1)
        bad = ~(offset < offset_threshold_px) | (series.confidence[:, k] < score_threshold)
        good = ~bad
        result = xy.copy()
        result[bad] = np.nan
        if bad.any() and good.mean() > 0.5 and good.sum() > 5:
            for d in range(2):
                if spline:
                    knots = splrep(frames[good], xy[good, d], k=3, s=0)
                    result[bad, d] = splev(frames[bad], knots)
                else:
                    result[bad, d] = np.interp(frames[bad], frames[good], xy[good, d])
        out.positions[:, k, :] = result
    missing = np.isnan(out.positions).any(axis=2)
    out.confidence[missing] = np.nan
    out.attrs["filter_2d"] = "medfilt"
    return out


def _interpolate_nan(values: np.ndarray) -> np.ndarray | None:
    """Linear interpolation over NaN rows of ``(T, D)``; None if fewer than 2 good rows."""
    good = np.isfinite(values).all(axis=1)
    if good.sum() < 2:
        return None
    frames = np.arange(len(values))
    return np.stack(
        [np.interp(frames, frames[good], values[good, d]) for d in range(values.shape[1])], axis=1
    )


def filter_2d_viterbi(
    series: LandmarkSeries,
    n_back: int = ANIPOSE_FILTER_DEFAULTS["n_back"],
    offset_threshold_px: float = ANIPOSE_FILTER_DEFAULTS["offset_threshold"],
    score_threshold: float = ANIPOSE_FILTER_DEFAULTS["score_threshold"],
) -> LandmarkSeries:
    """Viterbi 2D filter, after Anipose's ``filter_pose_viterbi`` (our implementation).

    For every keypoint, the candidates at frame ``t`` are the detections of
    frames ``t, t-1, ..., t-n_back+1`` (confidence halved per frame of age)
    plus a "missing" candidate; the most probable path maximizes the product
    of candidate confidences and jump probabilities, a jump of ``d`` pixels
    having the probability that a normal of scale ``offset_threshold_px``
    falls within ``d +- 2`` px. A frame whose fresh detection is an outlier is
    replaced by a recent good one, a frame with none becomes NaN.

    Parameters
    ----------
    series
        2D series ``(T, K, 2)``.

    Returns
    -------
    LandmarkSeries
        Same shape; positions and confidence of the chosen candidates
        (NaN/0 where the path goes through "missing").
    """
    if series.n_dims != 2:
        raise DataError(f"the 2D filter needs a 2D series; got {series.n_dims}D")
    out = series.copy()
    for k in range(series.n_keypoints):
        points = series.positions[:, k, :].copy()
        scores = np.nan_to_num(series.confidence[:, k], nan=0.0)
        points[scores < score_threshold] = np.nan
        new_points, new_scores = _viterbi_path(points, scores, int(n_back), float(offset_threshold_px))
        out.positions[:, k, :] = new_points
        out.confidence[:, k] = np.where(np.isnan(new_points[:, 0]), np.nan, new_scores)
    out.attrs["filter_2d"] = "viterbi"
    return out


def _viterbi_path(
    points: np.ndarray, scores: np.ndarray, n_back: int, scale_px: float
) -> tuple[np.ndarray, np.ndarray]:
    """Most probable track through recent detections of one keypoint.

    ``points (T, 2)`` NaN = no detection, ``scores (T,)``. Returns the chosen
    ``(T, 2)`` points (NaN where "missing" was chosen) and their ``(T,)`` weights.
    """
    from scipy.special import log_ndtr

    n_frames = len(points)
    n_back = max(n_back, 1)
    missing_weight = 1e-3
    # candidates: (frame, age) -> detection of frame - age; slot n_back = "missing"
    n_slots = n_back + 1
    cand_xy = np.full((n_frames, n_slots, 2), np.nan)
    cand_w = np.zeros((n_frames, n_slots))
    valid = np.isfinite(points).all(axis=1)
    for age in range(n_back):
        src = np.arange(n_frames) - age
        ok = src >= 0
        ok[ok] &= valid[src[ok]]
        cand_xy[ok, age] = points[src[ok]]
        cand_w[ok, age] = scores[src[ok]] * 2.0**-age
    cand_w[:, n_back] = missing_weight
    usable = cand_w > 0
    # Anipose offers "missing" only when nothing else is there; we always keep
    # it (at weight 1e-3) so a path cannot be forced through a far outlier.
    log_w = np.where(usable, np.log(np.where(usable, cand_w, 1.0)), -np.inf)

    log_missing_jump = np.log(missing_weight)
    logprob = log_w[0].copy()
    back = np.zeros((n_frames, n_slots), dtype=np.int64)
    for t in range(1, n_frames):
        a = cand_xy[t - 1]
        b = cand_xy[t]
        dist = np.sqrt(((b[:, None, :] - a[None, :, :]) ** 2).sum(axis=2))  # (to, from)
        # P(d - 2 < |jump| < d + 2) for a normal of scale `scale_px`, in logs
        high = log_ndtr((dist + 2) / scale_px)
        low = log_ndtr((dist - 2) / scale_px)
        with np.errstate(divide="ignore", invalid="ignore"):
            trans = high + np.log1p(-np.exp(np.minimum(low - high, 0.0)))
        trans = np.maximum(trans, -100.0)
        trans[np.isnan(dist)] = log_missing_jump  # to or from "missing"
        possible = logprob[None, :] + trans
        back[t] = np.argmax(possible, axis=1)
        logprob = possible[np.arange(n_slots), back[t]] + log_w[t]
    path = np.zeros(n_frames, dtype=np.int64)
    path[-1] = int(np.argmax(logprob))
    for t in range(n_frames - 1, 0, -1):
        path[t - 1] = back[t, path[t]]
    chosen = cand_xy[np.arange(n_frames), path]
    weights = cand_w[np.arange(n_frames), path]
    return chosen, weights


# ============================================================= triangulation
def align_cameras(
    series_by_camera: Mapping[str, LandmarkSeries],
    offsets: Mapping[str, int] | None = None,
    sources: Mapping[str, str | Path] | None = None,
) -> tuple[list[str], tuple[str, ...], np.ndarray, np.ndarray, LandmarkSeries]:
    """Check and stack per-camera 2D series for triangulation.

    Parameters
    ----------
    series_by_camera
        ``{camera: 2D series}``.
    offsets
        ``{camera: n}``: drop the first ``n`` frames of that camera (it started
        recording ``n`` frames earlier). With offsets, all cameras are cut to
        the shortest; without, frame counts must match.
    sources
        File of each camera, for error messages (defaults to ``series.source``).

    Returns
    -------
    camera_names, keypoints, points_px, scores, reference
        Names (input order), keypoints (first camera's order), ``points_px
        (C, T, K, 2)``, ``scores (C, T, K)`` and the first camera's aligned
        series (for fps and frame indices).

    Raises
    ------
    DataError
        Not 2D, different keypoints, or different frame counts (naming the
        cameras and their counts).
    """
    offsets = dict(offsets or {})
    names = list(series_by_camera)
    if len(names) < 2:
        raise DataError(f"triangulation needs at least two cameras; got {names}")
    unknown = sorted(set(offsets) - set(names))
    if unknown:
        raise DataError(f"offsets name cameras {unknown} that have no 2D file; cameras: {names}")

    def where(name: str) -> str:
        source = (sources or {}).get(name) or series_by_camera[name].source
        return f"camera {name!r}" + (f" ({source})" if source else "")

    aligned = {}
    for name in names:
        series = series_by_camera[name]
        if series.n_dims != 2:
            raise DataError(f"{where(name)}: 2D tracks needed for triangulation; got {series.n_dims}D")
        offset = int(offsets.get(name, 0))
        if offset < 0 or offset >= series.n_frames:
            raise DataError(f"{where(name)}: offset {offset} outside its {series.n_frames} frames")
        aligned[name] = series.select_frames(slice(offset, None)) if offset else series
    first = aligned[names[0]]
    keypoints = first.keypoints
    for name in names[1:]:
        other = aligned[name].keypoints
        if set(other) != set(keypoints):
            only_first = sorted(set(keypoints) - set(other))
            only_other = sorted(set(other) - set(keypoints))
            raise DataError(
                f"2D files have different bodyparts: {where(names[0])} has {only_first or 'nothing'} "
                f"that {where(name)} lacks, and {where(name)} has {only_other or 'nothing'} extra"
            )
    counts = {name: aligned[name].n_frames for name in names}
    if len(set(counts.values())) > 1 and not offsets:
        listing = ", ".join(f"{where(n)}: {c}" for n, c in counts.items())
        raise DataError(
            f"cameras are not synchronized: different frame counts ({listing}); "
            "trim the videos or give per-camera offsets (--offset cam=N)"
        )
    n_frames = min(counts.values())
    points = np.empty((len(names), n_frames, len(keypoints), 2))
    scores = np.empty((len(names), n_frames, len(keypoints)))
    for c, name in enumerate(names):
        series = aligned[name]
        order = [series.keypoints.index(k) for k in keypoints]
        points[c] = series.positions[:n_frames][:, order]
        scores[c] = series.confidence[:n_frames][:, order]
    reference = first.select_frames(slice(0, n_frames))
    return names, keypoints, points, scores, reference


def _subset_group(group, names: Sequence[str], calibration_label: str):
    missing = [n for n in names if n not in group.get_names()]
    if missing:
        raise DataError(
            f"camera(s) {missing} are not in the calibration {calibration_label}; it has {group.get_names()}"
        )
    return group.subset_cameras_names(list(names))


def _triangulate_dlt(group, points_flat: np.ndarray, chunk: int) -> Generator[int, None, np.ndarray]:
    """aniposelib DLT over ``(C, N, 2)`` in chunks; yields points done."""
    n_points = points_flat.shape[1]
    out = np.full((n_points, 3), np.nan)
    for start in range(0, n_points, chunk):
        stop = min(start + chunk, n_points)
        out[start:stop] = group.triangulate(points_flat[:, start:stop], undistort=True)
        yield stop
    return out


def _reprojection_px(group, points_3d: np.ndarray, points_flat: np.ndarray) -> np.ndarray:
    """``(C, N)`` reprojection error norms in pixels (NaN where no 2D point)."""
    return np.linalg.norm(group.reprojection_error(points_3d, points_flat, mean=False), axis=2)


def _mean_over_cameras(errors: np.ndarray) -> np.ndarray:
    """aniposelib's ``mean=True`` reduction: mean over cameras with a point, NaN below 2."""
    good = np.isfinite(errors)
    n_good = good.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(good, errors, 0.0).sum(axis=0) / n_good
    mean[n_good < 2] = np.nan
    return mean


def _ransac_select(
    group, points_flat: np.ndarray, threshold_px: float, chunk: int
) -> Generator[int, None, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Best camera subset per point, aniposelib's ``triangulate_ransac`` rule, vectorized.

    All cameras that see a point are used when their mean reprojection error
    is below ``threshold_px``; otherwise the subset of two or more cameras
    with the lowest error. aniposelib's version loops in Python over every
    point (hours for a long session) and drops a point when no subset gets
    under 200 px; here such a point keeps its all-camera DLT estimate (its
    ``error`` column shows how bad it is) rather than vanishing.

    Returns ``points_3d (N, 3)``, ``used (C, N)`` bool, ``error (N,)``.
    Yields the number of subsets done.
    """
    n_cams, n_points, _ = points_flat.shape
    seen = np.isfinite(points_flat[:, :, 0])
    subsets = [s for size in range(n_cams, 1, -1) for s in itertools.combinations(range(n_cams), size)]
    best_error = np.full(n_points, np.inf)
    best_3d = np.full((n_points, 3), np.nan)
    best_used = np.zeros((n_cams, n_points), dtype=bool)
    all_error = np.full(n_points, np.nan)
    all_3d = np.full((n_points, 3), np.nan)
    for i, subset in enumerate(subsets):
        sub_group = group.subset_cameras(list(subset))
        sub_points = points_flat[list(subset)]
        p3d = run_to_end(_triangulate_dlt(sub_group, sub_points, chunk))
        errors = _mean_over_cameras(_reprojection_px(sub_group, p3d, sub_points))
        used = np.zeros((n_cams, n_points), dtype=bool)
        used[list(subset)] = seen[list(subset)]
        if len(subset) == n_cams:
            all_error, all_3d = errors, p3d
        better = np.isfinite(errors) & (errors < best_error)
        best_error[better] = errors[better]
        best_3d[better] = p3d[better]
        best_used[:, better] = used[:, better]
        yield i + 1
    # all cameras that see the point, when good enough, win over a lower-error subset
    full_ok = np.isfinite(all_error) & (all_error < threshold_px)
    best_3d[full_ok] = all_3d[full_ok]
    best_error[full_ok] = all_error[full_ok]
    best_used[:, full_ok] = seen[:, full_ok]
    give_up = ~(best_error < _RANSAC_GIVE_UP_PX) & np.isfinite(all_error)
    best_3d[give_up] = all_3d[give_up]
    best_error[give_up] = all_error[give_up]
    best_used[:, give_up] = seen[:, give_up]
    best_error[~np.isfinite(best_error)] = np.nan
    return best_3d, best_used, best_error


def _best_pair_errors(group, points_flat: np.ndarray, chunk: int) -> np.ndarray:
    """``(C,)`` each camera's agreement with its best partner camera (pixels).

    For every camera pair, the median reprojection error of the two-view
    triangulation over the points both see; a camera's figure is the lowest
    over its partners. A least-squares fit spreads one bad camera's error
    over all cameras (and leaving one camera out still triangulates with the
    bad one), but a good camera always has a good partner while a bad one
    has none. Needs three or more cameras (NaN otherwise).
    """
    n_cams = points_flat.shape[0]
    out = np.full(n_cams, np.inf)
    if n_cams < 3:
        return np.full(n_cams, np.nan)
    for pair in itertools.combinations(range(n_cams), 2):
        sub_group = group.subset_cameras(list(pair))
        sub_points = points_flat[list(pair)]
        p3d = run_to_end(_triangulate_dlt(sub_group, sub_points, chunk))
        errors = _mean_over_cameras(_reprojection_px(sub_group, p3d, sub_points))
        if np.isfinite(errors).any():
            median = float(np.nanmedian(errors))
            for c in pair:
                out[c] = min(out[c], median)
    out[~np.isfinite(out)] = np.nan
    return out


def camera_error_warnings(camera_errors_px: Mapping[str, float], factor: float = 3.0) -> list[str]:
    """Warnings for cameras whose error is over ``factor`` times the others' median.

    Needs three or more cameras: with two, both share every point's error.
    :func:`triangulate` passes each camera's error with its best partner
    camera, which singles out a bad camera.
    """
    names = [n for n, e in camera_errors_px.items() if np.isfinite(e)]
    if len(names) < 3:
        return []
    out = []
    for name in names:
        others = [camera_errors_px[n] for n in names if n != name]
        typical = float(np.median(others))
        if camera_errors_px[name] > factor * typical and camera_errors_px[name] > 0:
            out.append(
                f"camera {name!r} disagrees with the others by {camera_errors_px[name]:.2f} px, over "
                f"{factor:g}x their median ({typical:.2f} px): check its calibration or tracking, "
                f"or leave it out (--exclude-camera {name})"
            )
    return out


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


def triangulate(
    series_by_camera: Mapping[str, LandmarkSeries],
    calibration,
    *,
    score_threshold: float = ANIPOSE_TRIANGULATION_DEFAULTS["score_threshold"],
    optim: bool = False,
    constraints: Sequence[tuple[str, str]] | None = None,
    constraints_weak: Sequence[tuple[str, str]] = (),
    ransac: bool = False,
    ransac_threshold_px: float = 0.5,
    exclude_cameras: Sequence[str] = (),
    offsets: Mapping[str, int] | None = None,
    filter_2d: str | None = None,
    filter_params: Mapping[str, Any] | None = None,
    scale_smooth: float = ANIPOSE_TRIANGULATION_DEFAULTS["scale_smooth"],
    scale_length: float = ANIPOSE_TRIANGULATION_DEFAULTS["scale_length"],
    scale_length_weak: float = ANIPOSE_TRIANGULATION_DEFAULTS["scale_length_weak"],
    reproj_error_threshold: float = ANIPOSE_TRIANGULATION_DEFAULTS["reproj_error_threshold"],
    n_deriv_smooth: int = ANIPOSE_TRIANGULATION_DEFAULTS["n_deriv_smooth"],
    optim_chunk_frames: int = ANIPOSE_TRIANGULATION_DEFAULTS["optim_chunking_size"],
    chunk_points: int = 100_000,
    axes: Sequence[Sequence[str]] | None = None,
    reference_point: str | None = None,
    sources: Mapping[str, str | Path] | None = None,
    check_calibration: bool = True,
    calibration_source: str | Path | None = None,
) -> Generator[Progress, None, LandmarkSeries]:
    """Triangulate per-camera 2D tracks into 3D, as ``anipose triangulate`` does.

    Steps: the calibration checked for sense (intrinsics, camera pairs; see
    :mod:`~napari_facehmm.tracking.calibration_checks`); optional 2D filter
    per camera; points with confidence below ``score_threshold`` become
    NaN; DLT with undistortion over the cameras that see each point
    (aniposelib ``CameraGroup.triangulate``), or the best camera subset
    (``ransac``, 3+ cameras); optionally refined by aniposelib's
    ``optim_points`` (temporal smoothness plus constant skeleton-edge
    lengths); last, the median reprojection error checked for sense. Points
    seen by fewer than two cameras are NaN, also after ``optim`` (which
    would otherwise interpolate them).

    Parameters
    ----------
    series_by_camera
        ``{camera: 2D series (T, K, 2)}``; cameras are matched to the
        calibration by name.
    calibration
        ``calibration.toml`` path, :class:`~napari_facehmm.io.anipose.Calibration`
        or aniposelib ``CameraGroup``.
    score_threshold
        Anipose's ``score_threshold`` (default 0.8, Anipose's default).
    optim
        Refine with ``triangulate_optim``'s optimisation.
    constraints, constraints_weak
        Keypoint-name pairs of constant length for ``optim``; default: the
        series' skeleton, else :data:`napari_facehmm.face.FACE_SKELETON`
        edges whose keypoints are present.
    ransac
        Per point, pick the camera subset as aniposelib's
        ``triangulate_ransac`` (vectorized); ignored with a warning for two
        cameras, where it cannot reject anything.
    ransac_threshold_px
        Error under which all cameras are kept (aniposelib's 0.5 px).
    exclude_cameras
        Cameras to leave out.
    offsets
        ``{camera: frames to drop at its start}``, see :func:`align_cameras`.
    filter_2d
        None, ``"medfilt"`` or ``"viterbi"`` (parameters in ``filter_params``).
    scale_smooth, scale_length, scale_length_weak, reproj_error_threshold, n_deriv_smooth
        ``optim`` weights, Anipose's defaults.
    optim_chunk_frames
        ``optim`` runs on chunks of this many frames (15 frames overlap, as
        Anipose's ``optim_chunking``), bounding memory and giving progress.
    chunk_points
        Points per DLT call (progress granularity).
    axes, reference_point
        Anipose's output frame (see :func:`coordinate_frame`); None keeps
        the calibration's world frame (``M`` identity, ``center`` zeros).
    sources
        File of each camera, for error messages.
    check_calibration
        Refuse a calibration that makes no sense (cameras at the same place
        or too close for the scene distance, impossible intrinsics, and after
        triangulating a median reprojection error beyond sense). False
        insists: the problems become ``attrs["warnings"]``.
    calibration_source
        The calibration's file, for messages, when ``calibration`` is an object.

    Yields
    ------
    tuple
        ``(done, total, message)``.

    Returns
    -------
    LandmarkSeries
        3D series ``(T, K, 3)`` in the calibration's world frame (mm for a
        board measured in mm), or the ``axes``/``reference_point`` frame;
        ``confidence`` and ``attrs["score"]`` = the
        lowest 2D score among the cameras used; ``attrs["error"]`` mean
        reprojection error (px), ``attrs["ncams"]``, ``attrs["M"]``
        ``(T, 3, 3)`` and ``attrs["center"]`` ``(T, 3)`` (Anipose's columns), plus
        ``attrs["camera_errors_px"]`` (median reprojection error per camera),
        ``attrs["camera_pair_errors_px"]`` (each camera's two-view error with
        its best partner camera; 3+ cameras, NaN otherwise), ``attrs["cameras"]``,
        ``attrs["method"]`` and ``attrs["warnings"]`` (e.g. a camera whose
        best-pair error is over 3x the others' median).

    Raises
    ------
    DataError
        Cameras absent from the calibration, fewer than two cameras left,
        different keypoints or frame counts (see :func:`align_cameras`).
    CalibrationCheckError
        (a DataError) The calibration failed a sense check, before any work
        (or, for the reprojection error, before anything is returned);
        the message names the calibration, the cameras and the numbers.
    FileFormatError
        A calibration file that is missing or lacks a field.
    """
    from ..face import FACE_SKELETON
    from .anipose_qc import calibration_of
    from .calibration_checks import check_calibration_geometry, check_reprojection, refuse_or_note

    notes: list[str] = []
    excluded = set(exclude_cameras)
    unknown_excluded = sorted(excluded - set(series_by_camera))
    if unknown_excluded:
        raise DataError(
            f"--exclude-camera {unknown_excluded}: no such camera; cameras: {list(series_by_camera)}"
        )
    kept = {n: s for n, s in series_by_camera.items() if n not in excluded}
    if len(kept) < 2:
        raise DataError(f"triangulation needs at least two cameras; left after exclusion: {list(kept)}")
    if calibration_source is None and isinstance(calibration, (str, Path)):
        calibration_source = calibration
    calibration_label = str(calibration_source or "")
    calibration_params = calibration_of(calibration)
    group_all = calibration_params.to_aniposelib()
    _subset_group(group_all, list(kept), calibration_label)

    # the calibration is checked before any work, with the points it is to triangulate
    aligned = align_cameras(kept, offsets, sources)
    check_points = np.where((aligned[3] < score_threshold)[..., None], np.nan, aligned[2])
    refuse_or_note(
        check_calibration_geometry(calibration_params, check_points.reshape(len(aligned[0]), -1, 2), aligned[0]),
        calibration_label,
        not check_calibration,
        notes,
    )
    del check_points

    if filter_2d:
        filters = {"medfilt": filter_2d_median, "viterbi": filter_2d_viterbi}
        if filter_2d not in filters:
            raise DataError(f"filter_2d must be one of {sorted(filters)}; got {filter_2d!r}")
        filtered = {}
        for i, (name, series) in enumerate(kept.items()):
            yield i, len(kept), f"2D filter ({filter_2d}), camera {name}"
            filtered[name] = filters[filter_2d](series, **dict(filter_params or {}))
        kept = filtered
        aligned = align_cameras(kept, offsets, sources)

    names, keypoints, points_px, scores, reference = aligned
    group = _subset_group(group_all, names, calibration_label)
    n_cams, n_frames, n_keypoints, _ = points_px.shape
    if ransac and n_cams < 3:
        notes.append(
            f"RANSAC needs three or more cameras to reject one; with {n_cams} ({', '.join(names)}) "
            "plain DLT is used"
        )
        ransac = False

    # Anipose: bad = scores < score_threshold -> NaN (NaN scores keep the point, as there)
    points_px = points_px.copy()
    points_px[scores < score_threshold] = np.nan
    points_flat = points_px.reshape(n_cams, n_frames * n_keypoints, 2)
    n_points = points_flat.shape[1]
    seen = np.isfinite(points_flat[:, :, 0])

    n_dlt_steps = (2**n_cams - n_cams - 1) if ransac else 1
    n_dlt_units = n_dlt_steps * max(1, -(-n_points // chunk_points))
    n_optim_units = (-(-n_frames // max(optim_chunk_frames, 1))) if optim else 0
    total = n_dlt_units + n_optim_units + 1
    done = 0
    label = "RANSAC triangulation" if ransac else "DLT triangulation"
    if ransac:
        per_subset = max(1, -(-n_points // chunk_points))
        points_3d, used, _ = yield from relay(
            _ransac_select(group, points_flat, ransac_threshold_px, chunk_points),
            lambda n: (n * per_subset, total, f"{label}: camera subset {n}/{n_dlt_steps}"),
        )
    else:
        points_3d = yield from relay(
            _triangulate_dlt(group, points_flat, chunk_points),
            lambda n: (-(-n // chunk_points), total, f"{label}: {n}/{n_points} points"),
        )
        used = seen
    done = n_dlt_units

    if optim:
        if constraints is None:
            edges = reference.skeleton or FACE_SKELETON
        else:
            edges = constraints
        index = {k: i for i, k in enumerate(keypoints)}
        # the default skeleton may name landmarks this series lacks (they are
        # skipped); constraints the user gave must all be tracked
        given = (list(edges) if constraints is not None else []) + list(constraints_weak)
        for pair in given:
            for name in pair:
                if name not in index:
                    raise DataError(
                        f"constraint {tuple(pair)} names {name!r}, not a tracked bodypart {list(keypoints)}"
                    )
        strong = [(index[a], index[b]) for a, b in edges if a in index and b in index]
        weak = [(index[a], index[b]) for a, b in constraints_weak]
        optim_points_2d = np.where(used[:, :, None], points_flat, np.nan).reshape(points_px.shape)
        job = _optimize(
            group,
            optim_points_2d,
            points_3d.reshape(n_frames, n_keypoints, 3),
            strong,
            weak,
            dict(
                scale_smooth=scale_smooth,
                scale_length=scale_length,
                scale_length_weak=scale_length_weak,
                reproj_error_threshold=reproj_error_threshold,
                n_deriv_smooth=n_deriv_smooth,
            ),
            max(int(optim_chunk_frames), 1),
            notes,
        )
        optimized = yield from relay(
            job, lambda n: (done + n, total, f"optimizing: chunk {n}/{n_optim_units}")
        )
        points_3d = optimized.reshape(-1, 3)
        done += n_optim_units

    # Anipose's output columns: error against the points used, ncams, min score
    errors_per_camera = _reprojection_px(group, points_3d, np.where(used[:, :, None], points_flat, np.nan))
    error = _mean_over_cameras(errors_per_camera)
    ncams = used.sum(axis=0).astype(np.float64)
    scores_flat = scores.reshape(n_cams, -1)
    score = np.where(used, scores_flat, 2.0).min(axis=0)
    few = ncams < 2
    points_3d = points_3d.copy()
    points_3d[few] = np.nan
    error[few] = np.nan
    score[few] = np.nan
    ncams[few] = np.nan

    camera_errors = {
        name: (
            float(np.nanmedian(errors_per_camera[c]))
            if np.isfinite(errors_per_camera[c]).any()
            else float("nan")
        )
        for c, name in enumerate(names)
    }
    refuse_or_note(
        check_reprojection(
            error,
            calibration_params,
            camera_errors,
            {n: (sources or {}).get(n) or series_by_camera[n].source for n in names},
        ),
        calibration_label,
        not check_calibration,
        notes,
    )
    best_pair = _best_pair_errors(group, np.where(used[:, :, None], points_flat, np.nan), chunk_points)
    camera_pair_errors = {name: float(best_pair[c]) for c, name in enumerate(names)}
    notes.extend(camera_error_warnings(camera_pair_errors))
    n_valid = int(np.isfinite(points_3d[:, 0]).sum())
    if n_valid == 0:
        notes.append(
            f"no point was seen by two cameras with score >= {score_threshold}: the 3D output is all NaN"
        )

    shape = (n_frames, n_keypoints)
    positions, frame_rotation, frame_center = coordinate_frame(
        points_3d.reshape(n_frames, n_keypoints, 3), keypoints, axes, reference_point
    )
    result = LandmarkSeries(
        positions=positions,
        keypoints=keypoints,
        confidence=score.reshape(shape),
        skeleton=reference.skeleton
        or tuple((a, b) for a, b in FACE_SKELETON if a in keypoints and b in keypoints),
        fps=reference.fps,
        frame_indices=reference.frame_indices,
        camera=None,
        attrs={
            "error": error.reshape(shape),
            "ncams": ncams.reshape(shape),
            "score": score.reshape(shape),
            "M": np.broadcast_to(frame_rotation, (n_frames, 3, 3)).copy(),
            "center": np.broadcast_to(frame_center, (n_frames, 3)).copy(),
            "camera_errors_px": camera_errors,
            "camera_pair_errors_px": camera_pair_errors,
            "cameras": tuple(names),
            "warnings": notes,
            "method": ("ransac" if ransac else "dlt") + ("+optim" if optim else ""),
        },
    )
    yield total, total, f"triangulated {n_valid}/{n_points} points"
    return result


def _optimize(
    group,
    points_2d: np.ndarray,
    points_3d: np.ndarray,
    constraints: list[tuple[int, int]],
    constraints_weak: list[tuple[int, int]],
    params: dict[str, Any],
    chunk_frames: int,
    notes: list[str],
) -> Generator[int, None, np.ndarray]:
    """aniposelib ``optim_points`` in chunks (Anipose's ``optim_chunking``: 15 fixed frames).

    ``points_2d (C, T, K, 2)``, ``points_3d (T, K, 3)``; keypoints with fewer
    than two triangulated frames are left out of the optimisation (aniposelib
    cannot interpolate them) and stay as they are.
    """
    from numba.core.errors import NumbaWarning
    from threadpoolctl import threadpool_limits

    n_frames, n_keypoints, _ = points_3d.shape
    valid_frames = np.isfinite(points_3d[:, :, 0]).sum(axis=0)
    keep = np.flatnonzero(valid_frames >= 2)
    if len(keep) < n_keypoints:
        dropped = n_keypoints - len(keep)
        notes.append(f"{dropped} keypoint(s) triangulated in fewer than 2 frames were not optimized")
    if np.isfinite(points_3d[:, keep, 0]).sum() < 20:
        notes.append("not enough 3D points (< 20) to run the optimization; DLT result kept")
        yield -(-n_frames // chunk_frames)
        return points_3d
    remap = {old: new for new, old in enumerate(keep)}
    strong = [(remap[a], remap[b]) for a, b in constraints if a in remap and b in remap]
    weak = [(remap[a], remap[b]) for a, b in constraints_weak if a in remap and b in remap]
    p2d = points_2d[:, :, keep]
    p3d = points_3d[:, keep]
    out = p3d.copy()
    n_fixed_overlap = 15
    fixed = None
    log = io.StringIO()
    for i, start in enumerate(range(0, n_frames, chunk_frames)):
        stop = min(start + chunk_frames, n_frames)
        if start == 0 or fixed is None:
            n_fixed = 0
            chunk_2d, chunk_3d = p2d[:, start:stop], p3d[start:stop]
        else:
            n_fixed = len(fixed)
            chunk_2d = p2d[:, start - n_fixed : stop]
            chunk_3d = np.vstack([fixed, p3d[start:stop]])
        if (
            np.isfinite(chunk_3d[:, :, 0]).sum() < 20
            or (np.isfinite(chunk_3d[:, :, 0]).sum(axis=0) < 2).any()
        ):
            # too little to optimize here: keep DLT, restart the overlap from it
            out[start:stop] = p3d[start:stop]
            fixed = None
            yield i + 1
            continue
        # One BLAS thread: the solver (lsmr) makes thousands of small vector
        # products, which multithreaded OpenBLAS slows down several-fold
        # (17.6 s -> 4.5 s for 100 frames on a busy 2-core machine).
        with (
            contextlib.redirect_stdout(log),
            warnings.catch_warnings(),
            threadpool_limits(limits=1, user_api="blas"),
        ):
            # numba reports that aniposelib's error function runs in object mode
            warnings.simplefilter("ignore", NumbaWarning)
            result = group.optim_points(
                chunk_2d,
                chunk_3d,
                constraints=strong,
                constraints_weak=weak,
                verbose=False,
                n_fixed=n_fixed,
                **params,
            )
        out[start:stop] = result[n_fixed:]
        fixed = result[-n_fixed_overlap:]
        yield i + 1
    full = points_3d.copy()
    full[:, keep] = out
    return full


def triangulate_files(
    pose_files: Mapping[str, str | Path],
    calibration,
    output_path: str | Path | None = None,
    fps: float = 30.0,
    **options: Any,
) -> Generator[Progress, None, LandmarkSeries]:
    """Read DLC 2D files per camera, triangulate, optionally write a ``pose-3d`` CSV.

    Parameters
    ----------
    pose_files
        ``{camera: DLC .h5/.csv}``; a :class:`LandmarkSeries` already read
        may stand for its file.
    calibration
        ``calibration.toml`` path or calibration object.
    output_path
        Where to write the Anipose ``pose-3d`` table (None: do not write).
    fps
        Frame rate of the videos (DLC files do not store it).
    **options
        Passed to :func:`triangulate`.

    Returns
    -------
    LandmarkSeries
        As :func:`triangulate`, with ``source`` = ``output_path``.
    """
    from ..io.anipose import write_pose3d
    from ..io.dlc import read_dlc_analysis

    series, sources = {}, {}
    for name, item in pose_files.items():
        if isinstance(item, LandmarkSeries):
            series[name], sources[name] = item, item.source
            continue
        yield 0, len(pose_files) + 1, f"reading {Path(item).name}"
        series[name], sources[name] = read_dlc_analysis(item, fps=fps), Path(item)
    result = yield from triangulate(series, calibration, sources=sources, **options)
    if output_path is not None:
        output_path = Path(output_path)
        output_path.parent.mkdir(parents=True, exist_ok=True)
        write_pose3d(result, output_path)
        result.source = output_path
    return result


# ================================================================= projects
def calibrate_project(
    project_dir: str | Path,
    *,
    videos_dir: str | Path | None = None,
    output: str | Path | None = None,
    cam_regex: str | None = None,
    skip: int | None = None,
    fisheye: bool | None = None,
    **board_overrides: Any,
) -> Generator[Progress, None, CalibrationResult]:
    """Calibrate an Anipose project folder, as ``anipose calibrate`` (and ``facehmm calibrate``).

    Videos: ``<project>/calibration/*.mp4|avi|mov|mkv`` (Anipose's
    ``pipeline.calibration_videos``), cameras named by ``cam_regex``
    (``config.toml [triangulation]``); board from ``[calibration]``, then
    ``board_overrides`` (:class:`BoardSpec` field names, None ignored).
    Writes ``calibration.toml`` into ``pipeline.calibration_results`` (where
    triangulation reads it; with a ``.bak`` of a previous one) and
    ``board-detections.csv`` beside it.

    Parameters
    ----------
    project_dir
        The project folder (``config.toml`` optional).
    videos_dir, output
        Override the video folder and the calibration file.
    cam_regex, skip, fisheye
        Override the config (``skip`` default 20, as aniposelib).

    Yields
    ------
    tuple
        ``(done, total, message)`` from :func:`calibrate`.

    Returns
    -------
    CalibrationResult
        With ``calibration_path`` and ``detections_path`` set.
    """
    from ..io.anipose import write_calibration

    project_dir = Path(project_dir)
    if not project_dir.is_dir():
        raise DataError(f"{project_dir}: project folder does not exist")
    config = read_project_config(project_dir)
    layout = project_layout(project_dir, config)
    cam_regex = cam_regex or layout.cam_regex
    board = BoardSpec.from_config(config, **board_overrides)
    videos_dir = Path(videos_dir) if videos_dir else layout.calibration_videos
    videos = calibration_videos(videos_dir, cam_regex)
    if fisheye is None:
        fisheye = bool(config.get("calibration", {}).get("fisheye", False))
    result = yield from calibrate(
        videos, board, skip=DEFAULT_DETECTION_SKIP if skip is None else skip, fisheye=fisheye
    )
    # where triangulation (Anipose's and ours) looks for it: pipeline.calibration_results
    output = Path(output) if output else layout.calibration
    output.parent.mkdir(parents=True, exist_ok=True)
    result.calibration_path = write_calibration(result.calibration, output)
    result.detections_path = save_board_detections(
        result.detections, output.with_name("board-detections.csv")
    )
    return result


def triangulation_options(config: Mapping[str, Any], **overrides: Any) -> dict[str, Any]:
    """Keyword arguments of :func:`triangulate` from an Anipose config, then overrides.

    Reads ``[triangulation]`` (``score_threshold``, ``optim``, ``ransac``,
    ``scale_*``, ``reproj_error_threshold``, ``n_deriv_smooth``,
    ``optim_chunking_size``, ``constraints``, ``constraints_weak``, ``axes``,
    ``reference_point``) and ``[filter]`` (``enabled``, ``type`` medfilt or
    viterbi, their parameters) with Anipose's defaults. ``overrides`` are
    :func:`triangulate` keywords; None values are ignored.
    """
    tri = {**ANIPOSE_TRIANGULATION_DEFAULTS, **dict(config.get("triangulation", {}) or {})}
    filter_config = {**ANIPOSE_FILTER_DEFAULTS, **dict(config.get("filter", {}) or {})}
    overrides = {k: v for k, v in overrides.items() if v is not None}
    filter_name = overrides.get("filter_2d")
    if filter_name is None and filter_config.get("enabled"):
        filter_name = filter_config.get("type", "medfilt")
    filter_params = None
    if filter_name == "medfilt":
        filter_params = {
            "kernel_frames": int(filter_config["medfilt"]),
            "offset_threshold_px": float(filter_config["offset_threshold"]),
            "score_threshold": float(filter_config["score_threshold"]),
            "spline": bool(filter_config["spline"]),
        }
    elif filter_name == "viterbi":
        filter_params = {
            "n_back": int(filter_config["n_back"]),
            "offset_threshold_px": float(filter_config["offset_threshold"]),
            "score_threshold": float(filter_config["score_threshold"]),
        }
    elif filter_name is not None:
        raise DataError(f"[filter] type {filter_name!r}: only 'medfilt' and 'viterbi' are supported")
    try:
        options = {
            "score_threshold": float(tri["score_threshold"]),
            "optim": bool(tri.get("optim", False)),
            "ransac": bool(tri.get("ransac", False)),
            "constraints": [tuple(p) for p in tri["constraints"]] if tri.get("constraints") else None,
            "constraints_weak": [tuple(p) for p in tri.get("constraints_weak", [])],
            "filter_2d": filter_name,
            "filter_params": filter_params,
            "scale_smooth": float(tri["scale_smooth"]),
            "scale_length": float(tri["scale_length"]),
            "scale_length_weak": float(tri["scale_length_weak"]),
            "reproj_error_threshold": float(tri["reproj_error_threshold"]),
            "n_deriv_smooth": int(tri["n_deriv_smooth"]),
            "optim_chunk_frames": int(tri["optim_chunking_size"]),
            "axes": tri.get("axes"),
            "reference_point": tri.get("reference_point"),
        }
    except (TypeError, ValueError) as error:
        raise DataError(f"config.toml [triangulation] has a malformed value ({error})") from None
    options.update(overrides)
    return options


def project_sessions(
    pose_dir: str | Path, cam_regex: str = DEFAULT_CAM_REGEX, sessions: Sequence[str] | None = None
) -> dict[str, dict[str, Path]]:
    """``{session: {camera: 2D file}}`` for the DLC ``.h5``/``.csv`` files of ``pose_dir``."""
    pose_dir = Path(pose_dir)
    if not pose_dir.is_dir():
        raise DataError(f"{pose_dir}: no 2D tracking folder (expected <session>-<cam>.h5 files)")
    files = sorted(p for p in pose_dir.iterdir() if p.suffix.lower() in (".h5", ".csv"))
    if not files:
        raise DataError(f"{pose_dir}: no DeepLabCut .h5/.csv files")
    grouped = group_by_session(files, cam_regex)
    if sessions:
        unknown = sorted(set(sessions) - set(grouped))
        if unknown:
            raise DataError(f"no session(s) {unknown} in {pose_dir}; sessions: {sorted(grouped)}")
        grouped = {name: grouped[name] for name in sessions}
    return grouped


def triangulate_project(
    project_dir: str | Path,
    *,
    calibration: Any = None,
    pose_dir: str | Path | None = None,
    output_dir: str | Path | None = None,
    sessions: Sequence[str] | None = None,
    cam_regex: str | None = None,
    fps: float = 30.0,
    **overrides: Any,
) -> Generator[Progress, None, dict[str, LandmarkSeries]]:
    """Triangulate every session of an Anipose project (``facehmm triangulate``).

    Reads ``<project>/pose-2d/<session>-<cam>.h5``, the calibration
    ``<project>/calibration/calibration.toml`` and ``config.toml``; writes
    ``<project>/pose-3d/<session>.csv`` in Anipose's format.

    Parameters
    ----------
    project_dir
        The project folder.
    calibration
        Calibration file or object (default: the project's).
    pose_dir, output_dir
        Override the 2D and 3D folders.
    sessions
        Only these sessions (default all).
    cam_regex
        Override ``[triangulation] cam_regex``.
    fps
        Frame rate of the videos.
    **overrides
        :func:`triangulate` keywords over the config (see
        :func:`triangulation_options`).

    Yields
    ------
    tuple
        ``(done, total, message)`` of the session being triangulated
        (message prefixed with the session).

    Returns
    -------
    dict
        ``{session: 3D LandmarkSeries}`` (``source`` = the written table).
    """
    project_dir = Path(project_dir)
    if not project_dir.is_dir():
        raise DataError(f"{project_dir}: project folder does not exist")
    config = read_project_config(project_dir)
    layout = project_layout(project_dir, config)
    cam_regex = cam_regex or layout.cam_regex
    if calibration is None:
        calibration = layout.calibration
    pose_dir = Path(pose_dir) if pose_dir else layout.pose_2d
    output_dir = Path(output_dir) if output_dir else layout.pose_3d
    grouped = project_sessions(pose_dir, cam_regex, sessions)
    options = triangulation_options(config, **overrides)
    if options.get("check_calibration", True):
        # before any session is read: what the calibration alone shows
        # (intrinsics, cameras at the same place); each session is checked
        # again with its points by triangulate
        from .anipose_qc import calibration_of
        from .calibration_checks import check_calibration_geometry, refuse_or_note

        calibration_params = calibration_of(calibration)
        if isinstance(calibration, (str, Path)):
            options.setdefault("calibration_source", calibration)
        excluded = set(options.get("exclude_cameras") or ())
        used = [
            name
            for name in calibration_params.camera_names
            if name not in excluded and any(name in files for files in grouped.values())
        ]
        label = str(options.get("calibration_source") or "")
        refuse_or_note(check_calibration_geometry(calibration_params, camera_names=used), label, False, [])
        calibration = calibration_params  # read once
    results: dict[str, LandmarkSeries] = {}
    for i, (session, files) in enumerate(grouped.items()):
        results[session] = yield from relay(
            triangulate_files(files, calibration, output_dir / f"{session}.csv", fps=fps, **options),
            lambda step: (step[0], step[1], f"{session} ({i + 1}/{len(grouped)}): {step[2]}"),
        )
    return results
