"""The labeling dock's Extract tab: how many frames of each video, and extracting them."""

from __future__ import annotations

from qtpy.QtCore import Qt
from qtpy.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QWidget,
)

from ... import labeling
from ...errors import FaceHMMError


class ExtractTab:
    """The Extract tab: frames per video, the selection algorithm, Extract and Cancel.

    A part of :class:`~napari_facehmm.widgets.labeling.LabelingWidget`, which
    builds it: its methods use the dock's widgets and state.
    """

    def _build_extract_tab(self) -> QWidget:
        tab = QWidget()
        form = QFormLayout(tab)
        self.algorithm = QComboBox()
        self.algorithm.addItems(["kmeans", "uniform"])
        self.frames_per_video = QSpinBox()
        self.frames_per_video.setRange(1, 10_000)
        self.frames_per_video.setValue(labeling.DEFAULT_FRAMES_PER_VIDEO)
        self.frames_per_video.setToolTip("Sets every video's number below")
        self.frames_per_video.valueChanged.connect(self._set_all_frame_counts)
        # one row per project video: how many frames to extract from it
        self.frame_counts = QTableWidget(0, 2)
        self.frame_counts.setHorizontalHeaderLabels(["video", "frames"])
        self.frame_counts.horizontalHeader().setStretchLastSection(True)
        self.frame_counts.verticalHeader().setVisible(False)
        self.frame_counts.setMaximumHeight(110)
        self.synchronized = QCheckBox("synchronized cameras: same frames from every video")
        self.extract_with_deeplabcut = QCheckBox("select with DeepLabCut's frameselectiontools")
        self.extract_with_deeplabcut.setChecked(labeling.deeplabcut_available())
        self.extract_with_deeplabcut.setEnabled(labeling.deeplabcut_available())
        self.extract_with_deeplabcut.setToolTip(
            "DeepLabCut's own frame selection, run in a separate process. Unchecked: ours "
            "(seeded; with synchronized cameras, k-means on all views together)."
        )
        self.extract_button = QPushButton("Extract frames")
        self.extract_button.clicked.connect(lambda: self.extract())
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self.cancel)
        self.progress_bar = QProgressBar()
        form.addRow("Algorithm", self.algorithm)
        form.addRow("Frames per video", self.frames_per_video)
        form.addRow(self.frame_counts)
        form.addRow("", self.synchronized)
        form.addRow("", self.extract_with_deeplabcut)
        buttons = QHBoxLayout()
        buttons.addWidget(self.extract_button)
        buttons.addWidget(self.cancel_button)
        form.addRow(buttons)
        form.addRow(self.progress_bar)
        return tab

    def _fill_frame_counts(self) -> None:
        self.frame_counts.setRowCount(0)
        if self.project is None:
            return
        self.frames_per_video.blockSignals(True)
        self.frames_per_video.setValue(self.project.numframes2pick)
        self.frames_per_video.blockSignals(False)
        for video in self.project.videos:
            row = self.frame_counts.rowCount()
            self.frame_counts.insertRow(row)
            item = QTableWidgetItem(video.stem)
            item.setFlags(item.flags() & ~Qt.ItemFlag.ItemIsEditable)
            self.frame_counts.setItem(row, 0, item)
            count = QSpinBox()
            count.setRange(1, 10_000)
            count.setValue(self.project.numframes2pick)
            self.frame_counts.setCellWidget(row, 1, count)

    def _set_all_frame_counts(self, value: int) -> None:
        for row in range(self.frame_counts.rowCount()):
            self.frame_counts.cellWidget(row, 1).setValue(int(value))

    def frame_counts_by_video(self) -> dict[str, int]:
        """Video stem -> number of frames to extract, as set in the Extract tab."""
        return {
            self.frame_counts.item(row, 0).text(): int(self.frame_counts.cellWidget(row, 1).value())
            for row in range(self.frame_counts.rowCount())
        }

    def extract(self, n_frames: int | None = None, algorithm: str | None = None,
                synchronized: bool | None = None, use_deeplabcut: bool | None = None):
        """Extract frames of the project's videos in a worker thread; returns the worker.

        Arguments left None come from the Extract tab (``n_frames``: the
        per-video table; with synchronized cameras the first video's number).
        """
        if self.project is None:
            self._report(FaceHMMError("Open or create a project first."))
            return None
        arguments = dict(
            config_path=str(self.project.config_path),
            n_frames=int(n_frames) if n_frames is not None else self.frame_counts_by_video(),
            algorithm=algorithm or self.algorithm.currentText(),
            synchronized=bool(self.synchronized.isChecked() if synchronized is None else synchronized),
        )
        if use_deeplabcut is None:
            use_deeplabcut = self.extract_with_deeplabcut.isChecked()
        if use_deeplabcut:
            # DeepLabCut cannot be imported beside a napari viewer: run it in a child process
            job = labeling.in_subprocess("extract_frames", use_deeplabcut=True, **arguments)
        else:
            job = labeling.extract_frames(use_deeplabcut=False, **arguments)

        def on_abort():
            # Cancel stops the worker at its next yield; closing the job then also
            # ends a DeepLabCut child process (in_subprocess terminates it on close)
            job.close()
            self.status.setText("Extraction cancelled.")

        def on_done(written):
            self._refresh_folders()
            count = sum(len(v) for v in (written or {}).values())
            self.status.setText(f"Extracted {count} frames into labeled-data.")

        return self.extract_job.start(
            lambda: (yield from job),
            on_return=on_done,
            on_abort=on_abort,
            _progress={"desc": "Extracting frames"},
        )

    def cancel(self) -> None:
        """Stop the running extraction, pre-labeling or project creation (at its next progress step)."""
        for job in (self.extract_job, self.prelabel_job, self.project_job):
            job.cancel("Cancelling…")
