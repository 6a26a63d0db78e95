"""The Tracking dock: the DeepLabCut project, the four tabs, status, notifications and workers."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from qtpy.QtWidgets import QFileDialog, QHBoxLayout, QLabel, QLineEdit, QPushButton, QTabWidget, QVBoxLayout, QWidget

from ...errors import FaceHMMError
from ...tracking import dlc
from ...tracking.dlc import settings as S
from ..forms import field, form, qt
from .._worker import DockJob, status_label
from .analyze import AnalyzeTabMixin
from .face_model import FaceModelTab
from .refine import RefineTabMixin
from .train import TrainTabMixin

if TYPE_CHECKING:
    import napari


class TrackingWidget(TrainTabMixin, AnalyzeTabMixin, RefineTabMixin, QWidget):
    """DeepLabCut from napari: dataset, training (live loss), evaluation, analysis, refinement."""

    def __init__(self, napari_viewer: "napari.viewer.Viewer"):
        super().__init__()
        self.viewer = napari_viewer
        self.training_job: dlc.TrainingJob | None = None
        self.analysis_job: dlc.AnalysisJob | None = None
        self._jobs: list = []
        self.last_error: str | None = None
        self.last_evaluation: dlc.EvaluationResult | None = None
        self.analysis_outputs: list[Path] = []

        layout = QVBoxLayout(self)
        # the DeepLabCut project: shown with the DeepLabCut tabs only
        self.project_box = QWidget()
        project_layout = QVBoxLayout(self.project_box)
        project_layout.setContentsMargins(0, 0, 0, 0)
        project_row = QHBoxLayout()
        self.config_edit = QLineEdit()
        self.config_edit.setPlaceholderText("DeepLabCut project config.yaml")
        browse = QPushButton("Browse...")
        browse.clicked.connect(self._browse_config)
        project_row.addWidget(self.config_edit)
        project_row.addWidget(browse)
        project_layout.addLayout(project_row)
        # the shuffle (--shuffle of every facehmm dlc step): one for all DeepLabCut tabs
        self.project_form = form(field(S.SHUFFLE, "Shuffle", command="dlc train"))
        project_layout.addWidget(self.project_form.native)
        self.shuffle_spin = qt(self.project_form.shuffle)
        if not dlc.deeplabcut_available():
            project_layout.addWidget(QLabel('deeplabcut is not installed: pip install "napari-facehmm[dlc]"'))
        layout.addWidget(self.project_box)

        self.status = status_label()
        self.tabs = QTabWidget()
        self.face_tab = FaceModelTab(self)
        self.tabs.addTab(self.face_tab, "Built-in face model")
        self.tabs.addTab(self._build_train_tab(), "Train")
        self.tabs.addTab(self._build_analyze_tab(), "Analyze")
        self.tabs.addTab(self._build_refine_tab(), "Refine")
        self.tabs.currentChanged.connect(lambda index: self.project_box.setVisible(index != 0))
        self.project_box.setVisible(self.tabs.currentIndex() != 0)
        layout.addWidget(self.tabs)
        layout.addWidget(self.status)

    # ------------------------------------------------------------ helpers
    @property
    def config_path(self) -> Path | None:
        text = self.config_edit.text().strip()
        return Path(text) if text else None

    def set_project(self, config_path: str | Path) -> None:
        """Use the project at ``config_path``; fills train fraction and snapshots."""
        self.config_edit.setText(str(config_path))
        try:
            from ...io.dlc import read_dlc_config

            config = read_dlc_config(config_path)
            fractions = config.raw.get("TrainingFraction") or []
            if fractions:
                self.fraction_spin.setValue(float(fractions[0]))
        except FaceHMMError as error:
            self._report(error)
            return
        self.refresh_snapshots()

    def _require_project(self) -> Path:
        path = self.config_path
        if path is None:
            raise FaceHMMError("Choose the DeepLabCut project's config.yaml first.")
        return path

    def _report(self, error: BaseException) -> None:
        from napari.utils.notifications import show_error

        self.last_error = str(error)
        self.status.setText(str(error))
        show_error(str(error))

    def _info(self, message: str) -> None:
        from napari.utils.notifications import show_info

        self.status.setText(message)
        show_info(message)

    def _start_worker(self, function, *, on_finish=None, busy=(), cancel_button=None, **callbacks):
        """Run ``function`` in a worker thread (a :class:`DockJob`); returns the worker.

        The ``busy`` buttons are disabled and ``cancel_button`` is enabled while
        it runs; ``callbacks`` (``on_yield``, ``on_return``, ``on_error``) go to
        :meth:`DockJob.start`, and errors without an ``on_error`` to the dock's
        notification. Several jobs may run at once (a training and an evaluation).
        """
        job = DockJob(buttons=busy, cancel_button=cancel_button, status=self.status, on_error=self._report)

        def finished():
            if job in self._jobs:
                self._jobs.remove(job)
            if on_finish is not None:
                on_finish()

        worker = job.start(function, on_finish=finished, **callbacks)
        self._jobs.append(job)
        return worker

    def _browse_config(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "DeepLabCut config.yaml", "", "config (*.yaml)")
        if path:
            self.set_project(path)

    # ------------------------------------------------------------ teardown
    def closeEvent(self, event) -> None:  # noqa: N802 (Qt API)
        self.face_tab.cancel()
        for job in (self.training_job, self.analysis_job):
            if job is not None and job.running():
                job.cancel()
        super().closeEvent(event)
