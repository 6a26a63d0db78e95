"""The 3D (Anipose) dock: the project, the three tabs, progress and Cancel (:class:`DockJob`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from qtpy.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLineEdit,
    QPushButton,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from ...data import LandmarkSeries
from ...errors import FaceHMMError
from ...tracking import anipose as ta
from ...tracking.anipose import options as A
from ...tracking.calibration_checks import CalibrationCheckError
from .._session import get_session, show_error, show_failure
from .._worker import DockJob, job_controls, status_label
from .calibrate import CalibrateTabMixin
from .qc import QCTabMixin
from .triangulate import TriangulateTabMixin


class AniposeWidget(CalibrateTabMixin, TriangulateTabMixin, QCTabMixin, QWidget):
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
        self.cancel_button, self.progress = job_controls(self.cancel, maximum=1000, text_visible=False)
        run_row.addWidget(self.progress, 1)
        run_row.addWidget(self.cancel_button)
        layout.addLayout(run_row)
        self.status = status_label()
        layout.addWidget(self.status)
        self.setMinimumWidth(340)
        self.job = DockJob(
            buttons=[self.calibrate_button, self.triangulate_button],
            cancel_button=self.cancel_button,
            progress_bar=self.progress,
            status=self.status,
            on_error=self._on_error,
        )

    # ------------------------------------------------------------- project
    def _browse_project(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Anipose project or session folder")
        if folder:
            self.set_project(folder)

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
            layout = ta.project_layout(folder, config)
        except FaceHMMError as exc:
            show_error(f"3D (Anipose): {exc}")
            return
        self.project_dir, self.config = folder, config
        self.project_edit.setText(str(folder))
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
            self.filter_combo.setCurrentText(options["filter_2d"] or A.NO_FILTER)
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

    # ------------------------------------------------------------- workers
    @property
    def worker(self) -> Any:
        """The running job's worker; None when idle."""
        return self.job.worker

    def _start(self, job_function, args: tuple, on_done, message: str, **options: Any) -> Any:
        """Run ``job_function(*args, **options)`` (a core progress generator) in the dock's worker."""
        if self.job.running:
            show_error("3D (Anipose): a job is already running; cancel it first")
            return None

        def job():
            return (yield from job_function(*args, **options))

        return self.job.start(job, message=message, on_return=on_done, on_abort=self._on_aborted)

    def cancel(self) -> None:
        """Stop the running job at its next progress step."""
        self.job.cancel("cancelling...")

    def _on_error(self, exc: BaseException) -> None:
        if isinstance(exc, CalibrationCheckError):
            show_error(
                f"3D (Anipose): {exc}\nTick 'trust the calibration' and run again to triangulate anyway."
            )
            self.status.setText("the calibration check failed (see the notification); nothing was written")
            return
        show_failure("3D (Anipose)", exc, self.status)

    def _on_aborted(self) -> None:
        self.status.setText("cancelled; nothing was written")
