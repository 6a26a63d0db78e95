"""The calibration board (:class:`BoardSpec`) and the corners found of it (:class:`BoardDetections`, CSV)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ...errors import DataError, FileFormatError


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


def save_board_detections(detections: Mapping[str, BoardDetections], path: str | Path) -> Path:
    """Write detected board corners as a CSV table (``camera, video, frame, corner, x, y``)."""
    from ...io._atomic import atomic_write_path

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
