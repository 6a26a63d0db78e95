"""The "Calibrate" tab: calibration videos per camera and the board -> ``calibration.toml``; board corners."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from magicgui.widgets import LineEdit
from qtpy.QtWidgets import QFileDialog, QHBoxLayout, QPushButton, QVBoxLayout, QWidget

from ...errors import FaceHMMError
from ...tracking import anipose as ta
from ...tracking import anipose_qc as qc
from ...tracking.anipose import options as A
from ..forms import field, form, qt, row
from .._session import show_error
from ._tables import _rows, _set_rows, _table

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

        board = ta.BoardSpec()
        command = "calibrate"
        squares_x = field(A.BOARD_SIZE, "Squares x", board.squares_x, command, name="squares_x")
        squares_y = field(A.BOARD_SIZE, "Squares y", board.squares_y, command, name="squares_y")
        marker_bits = field(A.MARKER_BITS, "ArUco bits", board.marker_bits, command)
        dict_number = field(A.DICT_NUMBER, "ArUco markers", board.dict_number, command)
        self.calibrate_form = form(
            row("Squares x, y", squares_x, squares_y),
            field(A.SQUARE_LENGTH, "Square side", board.square_length_mm, command),
            field(A.MARKER_LENGTH, "Marker side", board.marker_length_mm, command),
            row("ArUco dict", marker_bits, dict_number),
            field(A.SKIP, "Search every", ta.DEFAULT_DETECTION_SKIP, command),
            field(A.FISHEYE, "fisheye lenses", False, command),
            LineEdit(name="output", label="Write to", tooltip="calibration.toml to write.\nfacehmm calibrate --output"),
        )
        layout.addWidget(self.calibrate_form.native)
        # the names the rest of the dock (and its tests) use for the fields
        self.squares_x, self.squares_y = qt(squares_x), qt(squares_y)
        self.square_mm = qt(self.calibrate_form.square_length)
        self.marker_mm = qt(self.calibrate_form.marker_length)
        self.marker_bits, self.dict_number = qt(marker_bits), qt(dict_number)
        self.skip = qt(self.calibrate_form.skip)
        self.fisheye = qt(self.calibrate_form.fisheye)
        self.calibration_output = qt(self.calibrate_form.output)
        self.calibration_output.setPlaceholderText("calibration.toml to write")

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
