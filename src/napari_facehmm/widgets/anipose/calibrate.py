"""The "Calibrate" tab: calibration videos per camera and the board -> ``calibration.toml``; board corners."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from qtpy.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from ...errors import FaceHMMError
from ...tracking import anipose as ta
from ...tracking import anipose_qc as qc
from .._session import show_error
from ._tables import _rows, _set_rows, _table

ARUCO_MARKER_COUNTS = (50, 100, 250, 1000)
#: between the calibration videos of one camera in the videos table
VIDEO_SEPARATOR = "; "


class CalibrateTabMixin:
    """The Calibrate tab: :meth:`set_calibration_videos`, :meth:`set_board`, :meth:`run_calibration`, corners.

    A mixin of :class:`~napari_facehmm.widgets.anipose.AniposeWidget`: its widgets
    are attributes of the dock, which provides ``viewer``, ``session``, ``config``,
    ``status``, ``progress``, ``calibration_edit`` and ``_start``.
    """

    def _build_calibrate_tab(self) -> QWidget:
        tab = QWidget()
        layout = QVBoxLayout(tab)
        self.videos_table = _table(["camera", "calibration video"])
        layout.addWidget(self.videos_table)
        buttons = QHBoxLayout()
        add = QPushButton("Add videos...")
        add.clicked.connect(self._browse_videos)
        clear = QPushButton("Clear")
        clear.clicked.connect(lambda: self.videos_table.setRowCount(0))
        buttons.addWidget(add)
        buttons.addWidget(clear)
        layout.addLayout(buttons)

        form = QFormLayout()
        board = ta.BoardSpec()
        size_row = QHBoxLayout()
        self.squares_x = QSpinBox()
        self.squares_y = QSpinBox()
        for spin, value in ((self.squares_x, board.squares_x), (self.squares_y, board.squares_y)):
            spin.setRange(2, 100)
            spin.setValue(value)
            size_row.addWidget(spin)
        form.addRow("Squares x, y", size_row)
        self.square_mm = QDoubleSpinBox()
        self.marker_mm = QDoubleSpinBox()
        for spin, value in ((self.square_mm, board.square_length_mm), (self.marker_mm, board.marker_length_mm)):
            spin.setRange(0.01, 10000.0)
            spin.setDecimals(2)
            spin.setSuffix(" mm")
            spin.setValue(value)
        form.addRow("Square side", self.square_mm)
        form.addRow("Marker side", self.marker_mm)
        dict_row = QHBoxLayout()
        self.marker_bits = QSpinBox()
        self.marker_bits.setRange(4, 7)
        self.marker_bits.setValue(board.marker_bits)
        self.marker_bits.setPrefix("bits ")
        self.dict_number = QComboBox()
        self.dict_number.addItems([str(n) for n in ARUCO_MARKER_COUNTS])
        self.dict_number.setCurrentText(str(board.dict_number))
        dict_row.addWidget(self.marker_bits)
        dict_row.addWidget(self.dict_number)
        form.addRow("ArUco dict", dict_row)
        self.skip = QSpinBox()
        self.skip.setRange(1, 10000)
        self.skip.setValue(ta.DEFAULT_DETECTION_SKIP)
        self.skip.setToolTip("Search every n-th frame for the board while none is in view")
        form.addRow("Search every", self.skip)
        self.fisheye = QCheckBox("fisheye lenses")
        form.addRow("", self.fisheye)
        self.calibration_output = QLineEdit()
        self.calibration_output.setPlaceholderText("calibration.toml to write")
        form.addRow("Write to", self.calibration_output)
        layout.addLayout(form)

        self.calibrate_button = QPushButton("Run calibration")
        self.calibrate_button.clicked.connect(self.run_calibration)
        layout.addWidget(self.calibrate_button)
        self.calibration_errors = _table(["camera", "error (px)"])
        layout.addWidget(self.calibration_errors)
        self.corners_button = QPushButton("Show detected board corners")
        self.corners_button.setToolTip("Open the calibration videos with the corners found in them")
        self.corners_button.clicked.connect(self.show_board_corners)
        layout.addWidget(self.corners_button)
        layout.addStretch(1)
        return tab

    def _browse_videos(self) -> None:
        paths, _ = QFileDialog.getOpenFileNames(
            self, "Calibration videos (cameras named in the file names)", "", "Videos (*.mp4 *.avi *.mov *.mkv)"
        )
        if paths:
            self.set_calibration_videos(self.group_by_camera(paths))

    def set_board(self, board: ta.BoardSpec) -> None:
        self.squares_x.setValue(board.squares_x)
        self.squares_y.setValue(board.squares_y)
        self.square_mm.setValue(board.square_length_mm)
        self.marker_mm.setValue(board.marker_length_mm)
        self.marker_bits.setValue(board.marker_bits)
        self.dict_number.setCurrentText(str(board.dict_number))

    def board(self) -> ta.BoardSpec:
        """The board as set in the form (raises :class:`DataError` when inconsistent)."""
        board_type = str(self.config.get("calibration", {}).get("board_type", "charuco"))
        return ta.BoardSpec(
            board_type=board_type,
            squares_x=self.squares_x.value(),
            squares_y=self.squares_y.value(),
            square_length_mm=self.square_mm.value(),
            marker_length_mm=self.marker_mm.value(),
            marker_bits=self.marker_bits.value(),
            dict_number=int(self.dict_number.currentText()),
        )

    def set_calibration_videos(self, videos: dict[str, Any]) -> None:
        """Calibration video(s) of each camera (replaces same-named cameras).

        A camera with several synchronized recordings lists them separated by
        ``VIDEO_SEPARATOR`` in its cell.
        """
        current = _rows(self.videos_table)
        for camera, paths in videos.items():
            paths = [paths] if isinstance(paths, (str, Path)) else list(paths)
            current[camera] = VIDEO_SEPARATOR.join(str(p) for p in paths)
        _set_rows(self.videos_table, sorted(current.items()), editable_paths=True)

    def calibration_videos(self) -> dict[str, list[Path]]:
        """``{camera: [videos]}`` as listed in the table."""
        return {
            camera: [Path(p.strip()) for p in cell.split(VIDEO_SEPARATOR) if p.strip()]
            for camera, cell in _rows(self.videos_table).items()
        }

    def run_calibration(self) -> Any:
        """Calibrate in a worker thread; returns the worker (None if the input is wrong).

        Cancel stops the board search at the next frame; the final bundle
        adjustment (seconds) cannot be interrupted and is discarded.
        """
        videos = self.calibration_videos()
        output = self.calibration_output.text().strip()
        try:
            if len(videos) < 2:
                raise FaceHMMError("calibration needs a video for each of at least two cameras")
            if not output:
                first = next(iter(videos.values()))[0]
                output = str(first.with_name("calibration.toml"))
                self.calibration_output.setText(output)
            board = self.board()
        except FaceHMMError as exc:
            show_error(f"3D (Anipose): {exc}")
            return None
        return self._start(
            ta.calibrate_to_files,
            (videos, board, Path(output)),
            self._on_calibrated,
            "calibrating...",
            skip=self.skip.value(),
            fisheye=self.fisheye.isChecked(),
        )

    def _on_calibrated(self, result: ta.CalibrationResult) -> None:
        if result is None:
            return
        self.calibration_result = result
        rows = [(c, f"{e:.3f}") for c, e in result.camera_errors_px.items()]
        rows.append(("all (median)", f"{result.error_px:.3f}"))
        _set_rows(self.calibration_errors, rows)
        self.calibration_edit.setText(str(result.calibration_path))
        self.progress.setValue(self.progress.maximum())
        found = ", ".join(f"{c}: {d.n_detections}" for c, d in result.detections.items())
        self.status.setText(f"wrote {result.calibration_path} (boards found: {found})")

    def _board_detections(self) -> dict[str, tuple[Path, np.ndarray, np.ndarray]]:
        """``{camera: (video, frames, corners_px)}`` from the last run or ``board-detections.csv``."""
        videos = {c: paths[0] for c, paths in self.calibration_videos().items() if paths}
        out = {}
        if self.calibration_result is not None:
            for camera, detections in self.calibration_result.detections.items():
                frames, corners = detections.for_video(0)
                out[camera] = (detections.videos[0], frames, corners)
            return out
        output = self.calibration_output.text().strip()
        path = Path(output).with_name("board-detections.csv") if output else None
        if path is None or not path.is_file():
            raise FaceHMMError("no board detections yet: run the calibration first")
        loaded = ta.load_board_detections(path, self.board().n_corners)
        for camera, per_video in loaded.items():
            video = videos.get(camera)
            if video is None or video.name not in per_video:
                continue
            frames, corners = per_video[video.name]
            out[camera] = (video, frames, corners)
        if not out:
            raise FaceHMMError(f"{path}: no detections for the videos listed")
        return out

    def show_board_corners(self) -> list:
        """Open each calibration video with its detected board corners (side by side); returns the layers."""
        from ..._napari.convert import METADATA_KEY
        from ..._napari.layers import add_layer_data
        from ..._napari.readers import video_layer
        from ..._napari.session import CAMERA_GAP_PX
        from ...colors import keypoint_colors

        try:
            detections = self._board_detections()
            layer_data = []
            offset_x = 0.0
            first_frame = None
            for camera, (video, frames, corners) in detections.items():
                image = video_layer(Path(video), name=f"calibration {camera}", translate_x=offset_x)
                data, corner_ids = qc.board_corners_to_points(frames, corners)
                colors = keypoint_colors(corners.shape[1])[corner_ids] if len(corner_ids) else "yellow"
                points = {
                    "name": f"board corners {camera}",
                    "face_color": colors,
                    "border_width": 0,
                    "size": max(3.0, image[0].shape[2] / 60),
                    "translate": (0.0, 0.0, offset_x),
                    "metadata": {METADATA_KEY: {"kind": "board_corners", "camera": camera}},
                }
                layer_data += [image, (data, points, "points")]
                if len(frames):
                    first_frame = int(frames[0]) if first_frame is None else min(first_frame, int(frames[0]))
                offset_x += image[0].shape[2] + CAMERA_GAP_PX
        except (FaceHMMError, OSError) as exc:
            show_error(f"3D (Anipose): {exc}")
            return []
        for item in layer_data:  # a second look replaces the first
            if item[1]["name"] in self.viewer.layers:
                self.viewer.layers.remove(item[1]["name"])
        layers = add_layer_data(self.viewer, layer_data)
        if self.viewer.dims.ndim == 3:
            self.viewer.dims.axis_labels = ("frame", "y", "x")
        if first_frame is not None:
            self.session.seek(first_frame)
        self.viewer.reset_view()
        return layers
