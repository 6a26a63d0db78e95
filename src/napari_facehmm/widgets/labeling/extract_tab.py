"""The labeling dock's Extract tab: how many frames of each video, and extracting them."""

from __future__ import annotations

from qtpy.QtCore import Qt
from qtpy.QtWidgets import QHBoxLayout, QPushButton, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget

from ... import labeling
from ...errors import FaceHMMError
from .._worker import job_controls
from ..forms import check_box, field, form, qt


class ExtractTab:
    """The Extract tab: frames per video, the selection algorithm, Extract and Cancel."""

    def _build_extract_tab(self) -> QWidget:
        tab = QWidget()
        layout = QVBoxLayout(tab)
        # one row per project video: how many frames to extract from it
        self.frame_counts = QTableWidget(0, 2)
        self.frame_counts.setHorizontalHeaderLabels(["video", "frames"])
        self.frame_counts.horizontalHeader().setStretchLastSection(True)
        self.frame_counts.verticalHeader().setVisible(False)
        self.frame_counts.setMaximumHeight(110)
        use_deeplabcut = check_box(
            "use_deeplabcut",
            "select with DeepLabCut's frameselectiontools",
            value=labeling.deeplabcut_available(),
            enabled=labeling.deeplabcut_available(),
            tooltip="DeepLabCut's own frame selection, run in a separate process. Unchecked: ours "
            "(seeded; with synchronized cameras, k-means on all views together).",
        )
        # the arguments of labeling.extract_frames, with its settings' defaults and ranges
        self.extract_form = form(
            field(labeling.FRAME_ALGORITHM, "Algorithm"),
            field(labeling.FRAMES_PER_VIDEO, "Frames per video",
                  tooltip="Sets every video's number below; "
                  f"{labeling.FRAMES_PER_VIDEO.describe()} (a project's default: its numframes2pick)"),
        )
        self.extract_options_form = form(
            field(labeling.SYNCHRONIZED, "synchronized cameras: the same frames"),
            use_deeplabcut,
        )
        self.algorithm = qt(self.extract_form.algorithm)
        self.frames_per_video = qt(self.extract_form.n_frames)
        self.extract_form.n_frames.changed.connect(self._set_all_frame_counts)
        self.synchronized = qt(self.extract_options_form.synchronized)
        self.extract_with_deeplabcut = qt(use_deeplabcut)
        self.extract_button = QPushButton("Extract frames")
        self.extract_button.clicked.connect(lambda: self.extract())
        self.cancel_button, self.progress_bar = job_controls(self.cancel)
        layout.addWidget(self.extract_form.native)
        layout.addWidget(self.frame_counts)
        layout.addWidget(self.extract_options_form.native)
        buttons = QHBoxLayout()
        buttons.addWidget(self.extract_button)
        buttons.addWidget(self.cancel_button)
        layout.addLayout(buttons)
        layout.addWidget(self.progress_bar)
        layout.addStretch(1)
        return tab

    def _fill_frame_counts(self) -> None:
        self.frame_counts.setRowCount(0)
        self._frame_count_fields = []
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
            count = field(labeling.FRAMES_PER_VIDEO, "", value=self.project.numframes2pick,
                          tooltip=f"Frames to extract from {video.name}")
            self._frame_count_fields.append(count)  # the table holds the Qt widget, this its field
            self.frame_counts.setCellWidget(row, 1, count.native)

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
            algorithm=algorithm or self.extract_form.algorithm.value,
            synchronized=bool(
                self.extract_options_form.synchronized.value if synchronized is None else synchronized
            ),
        )
        if use_deeplabcut is None:
            use_deeplabcut = self.extract_options_form.use_deeplabcut.value
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
