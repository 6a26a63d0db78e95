"""The "3D (Anipose)" dock: calibrate cameras, triangulate 2D tracks, check the result.

All the work is in :mod:`napari_facehmm.tracking.anipose` (calibration and
triangulation generators) and :mod:`napari_facehmm.tracking.anipose_qc`
(reprojection and errors); this dock collects the settings, runs the
generators in a ``thread_worker`` with a progress bar and Cancel, and shows
the results:

- **Calibrate**: calibration videos per camera (or an Anipose project's
  ``calibration/`` folder), the board -> ``calibration.toml`` and
  ``board-detections.csv``; reprojection error per camera; the detected
  board corners drawn over the calibration videos.
- **Triangulate**: 2D tracking files per camera (or a project's
  ``pose-2d/`` session), a calibration and Anipose's options -> the
  ``pose-3d`` CSV; error per camera, the engine's warnings and a one-click
  "exclude that camera and re-run".
- **QC**: the 3D points reprojected into each camera (crosses over the
  camera's video, beside its 2D detections), the reprojection error of
  each camera over time (mean or one keypoint) and frames sorted by error,
  with a jump button. The new 3D series also becomes the session's 3D pose,
  so the Tracking QC dock plots Anipose's error and lists its worst frames.

Errors of the project (bad files, frame-count mismatches) are shown as
napari notifications; the viewer keeps working.
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path
from typing import Any

import numpy as np
from qtpy.QtCore import Qt
from qtpy.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from ..data import LandmarkSeries
from ..errors import FaceHMMError
from ..tracking import anipose as ta
from ..tracking import anipose_qc as qc
from ..tracking.calibration_checks import CalibrationCheckError
from ._session import facehmm_meta, get_session, show_error

__all__ = ["AniposeWidget", "calibration_job", "triangulation_job"]

FILTER_CHOICES = ("none", "medfilt", "viterbi")
ARUCO_MARKER_COUNTS = (50, 100, 250, 1000)
N_SORTED_FRAMES = 100
MEAN_OF_KEYPOINTS = "mean of keypoints"
#: between the calibration videos of one camera in the videos table
VIDEO_SEPARATOR = "; "


def calibration_job(videos: dict, board: ta.BoardSpec, skip: int, output: Path, fisheye: bool = False):
    """Calibrate, then write ``calibration.toml`` and ``board-detections.csv`` beside it.

    A generator of ``(done, total, message)`` returning the
    :class:`~napari_facehmm.tracking.anipose.CalibrationResult` with its paths set.
    """
    from ..io.anipose import write_calibration

    result = yield from ta.calibrate(videos, board, skip=skip, fisheye=fisheye)
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    result.calibration_path = write_calibration(result.calibration, output)
    result.detections_path = ta.save_board_detections(
        result.detections, output.with_name("board-detections.csv")
    )
    return result


def triangulation_job(files: dict, calibration: Any, output: Path, fps: float, options: dict):
    """Triangulate and write, then the QC, all in the worker (each file read once).

    Returns ``(result, tracks_2d, calibration, errors, qc_failure)``: the 3D
    series, the 2D series of the cameras used, the calibration, the per-camera
    reprojection errors (:func:`anipose_qc.reprojection_errors`) and the
    reason the QC failed (None when it did not; the 3D result stands).
    """
    from ..io.dlc import read_dlc_analysis

    tracks_2d = {}
    for name, path in files.items():
        yield 0, len(files) + 1, f"reading {Path(path).name}"
        tracks_2d[name] = read_dlc_analysis(path, fps=fps)
    source = calibration if isinstance(calibration, (str, Path)) else None
    calibration = qc.calibration_of(calibration)
    result = yield from ta.triangulate_files(
        tracks_2d, calibration, output, fps=fps, calibration_source=source, **options
    )
    used = result.attrs.get("cameras", tuple(tracks_2d))
    tracks_2d = {camera: series for camera, series in tracks_2d.items() if camera in used}
    try:
        return result, tracks_2d, calibration, qc.reprojection_errors(result, tracks_2d, calibration), None
    except FaceHMMError as exc:
        return result, tracks_2d, calibration, {}, str(exc)


def _table(headers: list[str]) -> QTableWidget:
    table = QTableWidget(0, len(headers))
    table.setHorizontalHeaderLabels(headers)
    table.verticalHeader().setVisible(False)
    table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    table.horizontalHeader().setStretchLastSection(True)
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.verticalHeader().setDefaultSectionSize(22)
    _fit_height(table)
    return table


def _fit_height(table: QTableWidget, max_rows: int = 5) -> None:
    """Show every row (up to ``max_rows``) without a scroll bar: docks are short."""
    rows = min(max(table.rowCount(), 2), max_rows)
    height = table.horizontalHeader().sizeHint().height() + rows * 22 + 2 * table.frameWidth() + 2
    table.setFixedHeight(height)


def _set_rows(table: QTableWidget, rows: list[tuple[str, str]], editable_paths: bool = False) -> None:
    """Fill a two-column table; only the path column of input tables can be edited."""
    table.setRowCount(len(rows))
    for i, row in enumerate(rows):
        for j, text in enumerate(row):
            item = QTableWidgetItem(str(text))
            if j == 0 or not editable_paths:
                item.setFlags(item.flags() & ~Qt.ItemFlag.ItemIsEditable)
            table.setItem(i, j, item)
    _fit_height(table)


def _rows(table: QTableWidget) -> dict[str, str]:
    out = {}
    for i in range(table.rowCount()):
        name, path = table.item(i, 0), table.item(i, 1)
        if name is not None and path is not None and path.text().strip():
            out[name.text()] = path.text().strip()
    return out


class AniposeWidget(QWidget):
    """Calibrate cameras and triangulate landmarks with Anipose, then check the 3D result."""

    def __init__(self, napari_viewer: Any, parent: QWidget | None = None):
        super().__init__(parent)
        self.viewer = napari_viewer
        self.session = get_session(napari_viewer)
        self.project_dir: Path | None = None
        self.config: dict = {}
        self.cam_regex = ta.DEFAULT_CAM_REGEX
        self.calibration_result: ta.CalibrationResult | None = None
        self.pose3d: LandmarkSeries | None = None
        self.tracks_2d: dict[str, LandmarkSeries] = {}
        self.calibration: Any = None
        self._sessions: dict[str, dict[str, Path]] = {}
        self.errors: dict[str, np.ndarray] = {}
        self.flagged_camera: str | None = None
        self.worker: Any = None
        self._cancel_requested = False

        layout = QVBoxLayout(self)
        project_row = QHBoxLayout()
        self.project_edit = QLineEdit()
        self.project_edit.setPlaceholderText("Anipose project / session folder (optional)")
        self.project_edit.returnPressed.connect(lambda: self.set_project(self.project_edit.text()))
        browse = QPushButton("Open...")
        browse.clicked.connect(self._browse_project)
        project_row.addWidget(self.project_edit, 1)
        project_row.addWidget(browse)
        layout.addLayout(project_row)

        self.tabs = QTabWidget()
        self.tabs.addTab(self._build_calibrate_tab(), "Calibrate")
        self.tabs.addTab(self._build_triangulate_tab(), "Triangulate")
        self.tabs.addTab(self._build_qc_tab(), "QC")
        layout.addWidget(self.tabs)

        run_row = QHBoxLayout()
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setTextVisible(False)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self.cancel)
        run_row.addWidget(self.progress, 1)
        run_row.addWidget(self.cancel_button)
        layout.addLayout(run_row)
        self.status = QLabel("")
        self.status.setWordWrap(True)
        layout.addWidget(self.status)
        self.setMinimumWidth(340)

    # ------------------------------------------------------------ building
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

    def _build_triangulate_tab(self) -> QWidget:
        tab = QWidget()
        layout = QVBoxLayout(tab)
        session_row = QHBoxLayout()
        self.session_combo = QComboBox()
        self.session_combo.currentTextChanged.connect(self._session_chosen)
        session_row.addWidget(QLabel("Session"))
        session_row.addWidget(self.session_combo, 1)
        layout.addLayout(session_row)
        self.tracks_table = _table(["camera", "2D tracks (DeepLabCut .h5/.csv)"])
        self.tracks_table.itemChanged.connect(lambda *_: self._update_camera_list())
        layout.addWidget(self.tracks_table)
        buttons = QHBoxLayout()
        add = QPushButton("Add 2D files...")
        add.clicked.connect(self._browse_tracks)
        clear = QPushButton("Clear")
        clear.clicked.connect(lambda: (self.tracks_table.setRowCount(0), self._update_camera_list()))
        buttons.addWidget(add)
        buttons.addWidget(clear)
        layout.addLayout(buttons)

        form = QFormLayout()
        calibration_row = QHBoxLayout()
        self.calibration_edit = QLineEdit()
        self.calibration_edit.setPlaceholderText("calibration.toml")
        pick = QPushButton("...")
        pick.setMaximumWidth(30)
        pick.clicked.connect(self._browse_calibration)
        calibration_row.addWidget(self.calibration_edit, 1)
        calibration_row.addWidget(pick)
        form.addRow("Calibration", calibration_row)
        self.optim = QCheckBox("optimize (triangulate_optim)")
        form.addRow("", self.optim)
        self.score_threshold = QDoubleSpinBox()
        self.score_threshold.setRange(0.0, 1.0)
        self.score_threshold.setSingleStep(0.05)
        self.score_threshold.setValue(ta.ANIPOSE_TRIANGULATION_DEFAULTS["score_threshold"])
        form.addRow("Score threshold", self.score_threshold)
        self.filter_combo = QComboBox()
        self.filter_combo.addItems(FILTER_CHOICES)
        form.addRow("2D filter", self.filter_combo)
        self.ransac = QCheckBox("RANSAC (3+ cameras)")
        self.ransac.setToolTip("Per point, the camera subset that reprojects best")
        self.ransac.setEnabled(False)
        form.addRow("", self.ransac)
        self.camera_list = QListWidget()
        self.camera_list.setMaximumHeight(70)
        self.camera_list.setToolTip("Unchecked cameras are left out")
        form.addRow("Cameras used", self.camera_list)
        self.pose3d_output = QLineEdit()
        self.pose3d_output.setPlaceholderText("pose-3d CSV to write")
        form.addRow("Write to", self.pose3d_output)
        self.trust_calibration = QCheckBox("trust the calibration")
        self.trust_calibration.setToolTip(
            "Triangulate even when the calibration check finds nonsense (cameras at the same place, "
            "impossible intrinsics, reprojection errors beyond sense); the problems become warnings"
        )
        form.addRow("", self.trust_calibration)
        layout.addLayout(form)

        self.triangulate_button = QPushButton("Run triangulation")
        self.triangulate_button.clicked.connect(self.run_triangulation)
        layout.addWidget(self.triangulate_button)
        self.triangulation_errors = _table(["camera", "error (px)"])
        layout.addWidget(self.triangulation_errors)
        self.warnings_label = QLabel("")
        self.warnings_label.setWordWrap(True)
        self.warnings_label.setStyleSheet("color: #ffb347")
        layout.addWidget(self.warnings_label)
        self.exclude_button = QPushButton("Exclude camera and re-run")
        self.exclude_button.setVisible(False)
        self.exclude_button.clicked.connect(self.exclude_flagged_and_rerun)
        layout.addWidget(self.exclude_button)
        layout.addStretch(1)
        return tab

    def _build_qc_tab(self) -> QWidget:
        from matplotlib.backends.backend_qtagg import FigureCanvasQTAgg
        from matplotlib.figure import Figure

        tab = QWidget()
        layout = QVBoxLayout(tab)
        self.reprojection_button = QPushButton("Show 3D reprojected into each camera")
        self.reprojection_button.clicked.connect(self.show_reprojections)
        layout.addWidget(self.reprojection_button)
        keypoint_row = QHBoxLayout()
        keypoint_row.addWidget(QLabel("Error of"))
        self.keypoint_combo = QComboBox()
        self.keypoint_combo.addItem(MEAN_OF_KEYPOINTS)
        self.keypoint_combo.currentTextChanged.connect(lambda *_: self.refresh_qc())
        keypoint_row.addWidget(self.keypoint_combo, 1)
        layout.addLayout(keypoint_row)
        self.figure = Figure(figsize=(3.6, 2.0), facecolor="#26292f")
        self.canvas = FigureCanvasQTAgg(self.figure)
        self.canvas.setMinimumHeight(160)
        layout.addWidget(self.canvas)
        layout.addWidget(QLabel("frames by reprojection error (worst camera)"))
        self.frames_list = QListWidget()
        self.frames_list.itemDoubleClicked.connect(lambda _: self.jump_to_selected())
        layout.addWidget(self.frames_list, 1)
        self.jump_button = QPushButton("Jump to frame")
        self.jump_button.clicked.connect(self.jump_to_selected)
        layout.addWidget(self.jump_button)
        return tab

    # ------------------------------------------------------------- project
    def _browse_project(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Anipose project or session folder")
        if folder:
            self.set_project(folder)

    def _browse_videos(self) -> None:
        paths, _ = QFileDialog.getOpenFileNames(
            self, "Calibration videos (cameras named in the file names)", "", "Videos (*.mp4 *.avi *.mov *.mkv)"
        )
        if paths:
            self.set_calibration_videos(self.group_by_camera(paths))

    def _browse_tracks(self) -> None:
        paths, _ = QFileDialog.getOpenFileNames(
            self, "2D tracks (one per camera)", "", "DeepLabCut (*.h5 *.csv)"
        )
        if not paths:
            return
        grouped = self.group_by_camera(paths)
        several = [c for c, files in grouped.items() if len(files) > 1]
        if several:
            show_error(f"3D (Anipose): choose one 2D file per camera; several for {several}")
            return
        self.set_tracks({camera: files[0] for camera, files in grouped.items()})

    def _browse_calibration(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Calibration", "", "Anipose calibration (*.toml)")
        if path:
            self.calibration_edit.setText(path)

    def group_by_camera(self, paths: list[str]) -> dict[str, list[str]]:
        """Files by the camera named in their file name (``cam_regex``); unnamed ones get ``cam<i>``."""
        out: dict[str, list[str]] = {}
        for i, path in enumerate(sorted(paths)):
            camera = ta.camera_name_from_path(path, self.cam_regex) or f"cam{i}"
            out.setdefault(camera, []).append(path)
        return out

    def set_project(self, folder: str | Path) -> None:
        """Fill both sections from an Anipose project (or session) folder."""
        folder = Path(folder)
        try:
            config = ta.read_project_config(folder)
            if not folder.is_dir():
                raise FaceHMMError(f"{folder}: folder does not exist")
        except FaceHMMError as exc:
            show_error(f"3D (Anipose): {exc}")
            return
        self.project_dir, self.config = folder, config
        self.project_edit.setText(str(folder))
        layout = ta.project_layout(folder, config)
        self.cam_regex = layout.cam_regex
        notes = []
        try:
            board = ta.BoardSpec.from_config(config)
            self.set_board(board)
        except FaceHMMError as exc:
            notes.append(str(exc))
        self.fisheye.setChecked(bool(config.get("calibration", {}).get("fisheye", False)))
        try:
            self.set_calibration_videos(ta.calibration_videos(layout.calibration_videos, self.cam_regex))
        except FaceHMMError as exc:
            notes.append(str(exc))
        self.calibration_output.setText(str(layout.calibration))
        self.calibration_edit.setText(str(layout.calibration))
        try:
            options = ta.triangulation_options(config)
            self.score_threshold.setValue(options["score_threshold"])
            self.optim.setChecked(options["optim"])
            self.ransac.setChecked(options["ransac"])
            self.filter_combo.setCurrentText(options["filter_2d"] or "none")
        except FaceHMMError as exc:
            notes.append(str(exc))
        self._sessions = {}
        try:
            self._sessions = ta.project_sessions(layout.pose_2d, self.cam_regex)
        except FaceHMMError as exc:
            notes.append(str(exc))
        self.session_combo.blockSignals(True)
        self.session_combo.clear()
        self.session_combo.addItems(list(self._sessions))
        self.session_combo.blockSignals(False)
        if self._sessions:
            self._session_chosen(self.session_combo.currentText())
        self.status.setText("; ".join(notes) if notes else f"project {folder.name} loaded")

    def _session_chosen(self, session: str) -> None:
        files = self._sessions.get(session)
        if not files or self.project_dir is None:
            return
        self.set_tracks({c: str(p) for c, p in files.items()})
        pose_3d_dir = ta.project_layout(self.project_dir, self.config).pose_3d
        self.pose3d_output.setText(str(pose_3d_dir / f"{session}.csv"))

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

    def set_tracks(self, files: dict[str, str | Path]) -> None:
        """2D tracking file of each camera (replaces the list)."""
        self.tracks_table.blockSignals(True)
        _set_rows(self.tracks_table, sorted((c, str(p)) for c, p in files.items()), editable_paths=True)
        self.tracks_table.blockSignals(False)
        self._update_camera_list()

    def _update_camera_list(self) -> None:
        cameras = list(_rows(self.tracks_table))
        excluded = set(self.excluded_cameras())
        self.camera_list.clear()
        for camera in cameras:
            item = QListWidgetItem(camera)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Unchecked if camera in excluded else Qt.CheckState.Checked)
            self.camera_list.addItem(item)
        self.ransac.setEnabled(len(cameras) >= 3)
        if len(cameras) < 3:
            self.ransac.setChecked(False)

    def excluded_cameras(self) -> list[str]:
        return [
            self.camera_list.item(i).text()
            for i in range(self.camera_list.count())
            if self.camera_list.item(i).checkState() != Qt.CheckState.Checked
        ]

    def set_excluded(self, cameras: list[str]) -> None:
        for i in range(self.camera_list.count()):
            item = self.camera_list.item(i)
            item.setCheckState(Qt.CheckState.Unchecked if item.text() in cameras else Qt.CheckState.Checked)

    # ------------------------------------------------------------- workers
    def _start(self, job_function, args: tuple, on_done, message: str) -> Any:
        from ._worker import start_worker

        if self.worker is not None:
            show_error("3D (Anipose): a job is already running; cancel it first")
            return None
        worker = start_worker(
            job_function,
            *args,
            on_yield=self._on_progress,
            on_return=on_done,
            on_error=self._on_error,
            on_finish=self._on_finished,
            on_abort=self._on_aborted,
        )
        self.worker = worker
        self._cancel_requested = False
        self.calibrate_button.setEnabled(False)
        self.triangulate_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self.progress.setValue(0)
        self.status.setText(message)
        return worker

    def cancel(self) -> None:
        """Stop the running job at its next progress step."""
        if self.worker is not None:
            self._cancel_requested = True
            self.worker.quit()
            self.status.setText("cancelling...")

    def _on_progress(self, step: tuple) -> None:
        if self._cancel_requested:
            return  # progress queued before Cancel
        done, total, message = step
        self.progress.setValue(int(1000 * done / max(total, 1)))
        self.status.setText(message)

    def _on_error(self, exc: BaseException) -> None:
        if isinstance(exc, CalibrationCheckError):
            show_error(
                f"3D (Anipose): {exc}\nTick 'trust the calibration' and run again to triangulate anyway."
            )
            self.status.setText("the calibration check failed (see the notification); nothing was written")
            return
        if isinstance(exc, FaceHMMError):
            show_error(f"3D (Anipose): {exc}")
        else:
            show_error(f"3D (Anipose) failed: {type(exc).__name__}: {exc}")
        self.status.setText(f"failed: {exc}")

    def _on_aborted(self) -> None:
        self.status.setText("cancelled; nothing was written")

    def _on_finished(self) -> None:
        self.worker = None
        self.calibrate_button.setEnabled(True)
        self.triangulate_button.setEnabled(True)
        self.cancel_button.setEnabled(False)
        if self._cancel_requested:
            self.progress.setValue(0)
        self._cancel_requested = False

    # ---------------------------------------------------------- calibration
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
            calibration_job,
            (videos, board, self.skip.value(), Path(output), self.fisheye.isChecked()),
            self._on_calibrated,
            "calibrating...",
        )

    def _on_calibrated(self, result: ta.CalibrationResult) -> None:
        if result is None:
            return
        self.calibration_result = result
        rows = [(c, f"{e:.3f}") for c, e in result.camera_errors_px.items()]
        rows.append(("all (median)", f"{result.error_px:.3f}"))
        _set_rows(self.calibration_errors, rows)
        self.calibration_edit.setText(str(result.calibration_path))
        self.progress.setValue(1000)
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
        from .._reader import CAMERA_GAP_PX, video_layer
        from ..layerdata import METADATA_KEY, keypoint_colors
        from ._layers import add_layer_data

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

    # -------------------------------------------------------- triangulation
    def _fps(self) -> float:
        for layer in self.viewer.layers:
            fps = facehmm_meta(layer).get("fps")
            if fps:
                return float(fps)
        return 30.0

    def triangulation_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of :func:`~napari_facehmm.tracking.anipose.triangulate` from the form."""
        choice = self.filter_combo.currentText()
        options = ta.triangulation_options(
            self.config,
            score_threshold=self.score_threshold.value(),
            optim=self.optim.isChecked(),
            ransac=self.ransac.isChecked() and self.ransac.isEnabled(),
            # parameters of the chosen filter come from the project's [filter]
            filter_2d=None if choice == "none" else choice,
        )
        if choice == "none":  # None above means "as the config says"
            options.update(filter_2d=None, filter_params=None)
        options["exclude_cameras"] = self.excluded_cameras()
        options["check_calibration"] = not self.trust_calibration.isChecked()
        return options

    def run_triangulation(self) -> Any:
        """Triangulate in a worker thread; returns the worker (None if the input is wrong)."""
        files = _rows(self.tracks_table)
        calibration = self.calibration_edit.text().strip()
        output = self.pose3d_output.text().strip()
        try:
            if len(files) < 2:
                raise FaceHMMError("triangulation needs the 2D tracks of at least two cameras")
            if not calibration:
                raise FaceHMMError("choose a calibration.toml (or run the calibration)")
            options = self.triangulation_kwargs()
        except FaceHMMError as exc:
            show_error(f"3D (Anipose): {exc}")
            return None
        if not output:
            first = Path(next(iter(files.values())))
            output = str(first.with_name(ta.session_name_from_path(first, self.cam_regex) + "-3d.csv"))
            self.pose3d_output.setText(output)
        return self._start(
            triangulation_job,
            (files, calibration, Path(output), self._fps(), options),
            self._on_triangulated,
            "triangulating...",
        )

    def _on_triangulated(self, outcome: tuple | None) -> None:
        if outcome is None:
            return
        result, self.tracks_2d, self.calibration, self.errors, qc_failure = outcome
        self.pose3d = result
        attrs = result.attrs
        pair_errors = attrs.get("camera_pair_errors_px", {}) or {}
        rows = []
        for camera, error in (attrs.get("camera_errors_px") or {}).items():
            pair = pair_errors.get(camera, np.nan)
            rows.append((camera, f"{error:.3f}" + (f"  (best pair {pair:.3f})" if np.isfinite(pair) else "")))
        _set_rows(self.triangulation_errors, rows)
        notes = list(attrs.get("warnings") or [])
        self.warnings_label.setText("\n".join(notes))
        # the engine names a camera far above the others as "camera 'X' disagrees"
        self.flagged_camera = next(
            (
                camera
                for camera in attrs.get("cameras", ())
                for note in notes
                if re.search(rf"camera {re.escape(repr(camera))} disagrees", note)
            ),
            None,
        )
        self.exclude_button.setVisible(self.flagged_camera is not None)
        if self.flagged_camera:
            self.exclude_button.setText(f"Exclude {self.flagged_camera} and re-run")
        self.progress.setValue(1000)
        if qc_failure is not None:
            show_error(f"3D (Anipose): QC of the result failed: {qc_failure}")
        self.keypoint_combo.blockSignals(True)
        self.keypoint_combo.clear()
        self.keypoint_combo.addItems([MEAN_OF_KEYPOINTS, *result.keypoints])
        self.keypoint_combo.blockSignals(False)
        self.refresh_qc()
        self.status.setText(f"wrote {result.source} ({attrs.get('method', '')})")
        if self.session.points_layers() or self._camera_translate(next(iter(self.tracks_2d), "")) is not None:
            self.show_reprojections()

    def exclude_flagged_and_rerun(self) -> Any:
        """Leave out the camera the engine flagged, and triangulate again."""
        if self.flagged_camera is None:
            return None
        self.set_excluded(sorted({*self.excluded_cameras(), self.flagged_camera}))
        return self.run_triangulation()

    # ------------------------------------------------------------------ QC
    def _camera_translate(self, camera: str) -> tuple | None:
        """Translate of the viewer's layers of ``camera`` (its 2D points, else its video)."""
        for layer in self.session.points_layers():
            if facehmm_meta(layer).get("camera") == camera:
                return tuple(layer.translate)
        for layer in self.viewer.layers:
            meta = facehmm_meta(layer)
            if meta.get("kind") == "video" and Path(meta.get("path", "")).stem.endswith(f"-{camera}"):
                return tuple(layer.translate)
        return None

    def show_reprojections(self) -> list:
        """Draw the 3D points reprojected into each camera over its layers; returns the layers.

        Opens the project folder first when the viewer shows no camera of it.
        Also makes the new 3D series the session's, for the Tracking QC dock.
        """
        from ..layerdata import METADATA_KEY, series_to_points
        from ._layers import FacePoints, open_session

        if self.pose3d is None:
            show_error("3D (Anipose): triangulate first")
            return []
        cameras = list(self.tracks_2d) or list(self.pose3d.attrs.get("cameras", ()))
        try:
            if all(self._camera_translate(c) is None for c in cameras) and self.project_dir is not None:
                from .._reader import is_session_folder

                if is_session_folder(self.project_dir):
                    open_session(self.viewer, self.project_dir)
            projected = qc.reproject(self.pose3d, self.calibration, cameras=cameras)
        except FaceHMMError as exc:
            show_error(f"3D (Anipose): {exc}")
            return []
        for layer in self.session.points_layers():
            facehmm_meta(layer)["pose3d"] = self.pose3d
        layers = []
        for camera, series in projected.items():
            name = f"{camera} 3D reprojected"
            if name in self.viewer.layers:
                self.viewer.layers.remove(name)
            points = series_to_points(series)
            # as large as the camera's 2D points, so a cross covers its disc but for the rim
            size = next(
                (
                    float(np.max(layer.size))
                    for layer in self.session.points_layers()
                    if facehmm_meta(layer).get("camera") == camera and len(layer.size)
                ),
                5.0,
            )
            layer = FacePoints(
                points.data,
                features=points.features,
                face_color=points.face_color,
                # a white outline tells the crosses from the same-colored 2D discs
                border_color="white",
                border_width=0.15,
                symbol="cross",
                size=size,
                name=name,
                translate=self._camera_translate(camera) or (0.0, 0.0, 0.0),
                metadata={METADATA_KEY: {"kind": "reprojection", "camera": camera, "pose3d": self.pose3d}},
            )
            self.viewer.add_layer(layer)
            layers.append(layer)
        self.tabs.setCurrentIndex(2)
        return layers

    def refresh_qc(self) -> None:
        """Redraw the per-camera error plot and the frames sorted by error."""
        self.figure.clear()
        axes = self.figure.add_subplot(111)
        self.frames_list.clear()
        keypoint = self.keypoint_combo.currentIndex() - 1
        keypoint = None if keypoint < 0 else keypoint
        if self.errors and self.pose3d is not None:
            frames = self.pose3d.frame_indices
            for camera, errors in self.errors.items():
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", RuntimeWarning)  # frames without any point
                    curve = np.nanmean(errors, axis=1) if keypoint is None else errors[:, keypoint]
                axes.plot(frames, curve, lw=0.7, label=camera)
            axes.legend(fontsize=6)
            for frame, error in qc.frames_by_error(self.errors, frames, keypoint=keypoint, n=N_SORTED_FRAMES):
                item = QListWidgetItem(f"frame {frame}   {error:.2f} px")
                item.setData(Qt.ItemDataRole.UserRole, frame)
                self.frames_list.addItem(item)
        axes.set_xlabel("frame", fontsize=7, color="#dddddd")
        axes.set_ylabel("reproj. error (px)", fontsize=7, color="#dddddd")
        axes.set_facecolor("#1c1e24")
        axes.tick_params(colors="#dddddd", labelsize=6)
        self.figure.tight_layout()
        self.canvas.draw_idle()

    def jump_to_selected(self) -> None:
        item = self.frames_list.currentItem() or (self.frames_list.item(0) if self.frames_list.count() else None)
        if item is not None:
            self.session.seek(int(item.data(Qt.ItemDataRole.UserRole)))
