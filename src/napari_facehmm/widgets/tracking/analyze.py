"""The "Analyze" tab: choose a snapshot, evaluate it, analyze videos and open the results over them."""

from __future__ import annotations

import math
import threading
from pathlib import Path

from magicgui.widgets import PushButton
from qtpy.QtWidgets import QFileDialog, QHBoxLayout, QLabel, QListWidget, QPushButton, QVBoxLayout, QWidget

from ...errors import Cancelled, FaceHMMError
from ...tracking import dlc
from ...tracking.dlc import settings as S
from .._worker import job_controls
from ..forms import align_labels, check_box, field, form, qt, row


class AnalyzeTabMixin:
    """The Analyze tab: the snapshot list, :meth:`evaluate`, :meth:`analyze`, :meth:`cancel_analysis`."""

    def _build_analyze_tab(self) -> QWidget:
        tab = QWidget()
        layout = QVBoxLayout(tab)
        # the snapshot's choices are the shuffle's snapshots (refresh_snapshots)
        self.snapshot_field = snapshot = field(S.SNAPSHOT, "Snapshot", command="dlc analyze", choices=[])
        refresh = PushButton(text="Refresh", tooltip="List the shuffle's snapshots again")
        refresh.changed.connect(self.refresh_snapshots)
        snapshot_row = row("Snapshot", snapshot, refresh)
        self.snapshot_form = form(snapshot_row)
        layout.addWidget(self.snapshot_form.native)
        self.snapshot_combo = qt(snapshot)
        self.evaluate_button = QPushButton("Evaluate (train/test pixel error)")
        self.evaluate_button.clicked.connect(self.evaluate)
        layout.addWidget(self.evaluate_button)
        self.evaluation_label = QLabel("")
        self.evaluation_label.setWordWrap(True)
        layout.addWidget(self.evaluation_label)

        self.video_list = QListWidget()
        layout.addWidget(QLabel("Videos to analyze"))
        layout.addWidget(self.video_list)
        video_buttons = QHBoxLayout()
        add_videos = QPushButton("Add videos...")
        add_videos.clicked.connect(self._browse_videos)
        clear_videos = QPushButton("Clear")
        clear_videos.clicked.connect(self.video_list.clear)
        video_buttons.addWidget(add_videos)
        video_buttons.addWidget(clear_videos)
        layout.addLayout(video_buttons)
        # where the results go (facehmm dlc analyze --dest, --overwrite) and whether they open here
        self.analysis_form = form(
            field(S.DEST, "Output folder", command="dlc analyze", mode="d"),
            field(S.OVERWRITE, "Re-analyze videos analyzed before", command="dlc analyze"),
            check_box("open_results", "Open results over their videos", value=True,
                     tooltip="Show each result as points layers over its video (opened if not shown yet)"),
        )
        self.dest_edit = qt(self.analysis_form.dest)
        self.dest_edit.setPlaceholderText("beside each video")
        self.open_results_check = qt(self.analysis_form.open_results)
        layout.addWidget(self.analysis_form.native)
        align_labels(self.snapshot_form, self.analysis_form)
        buttons = QHBoxLayout()
        self.analyze_button = QPushButton("Analyze")
        self.analyze_button.clicked.connect(lambda: self.analyze())
        self.cancel_analysis_button, self.analysis_progress = job_controls(
            self.cancel_analysis, text_format="video %v / %m"
        )
        buttons.addWidget(self.analyze_button)
        buttons.addWidget(self.cancel_analysis_button)
        layout.addLayout(buttons)
        layout.addWidget(self.analysis_progress)
        return tab

    def _browse_videos(self) -> None:
        paths, _ = QFileDialog.getOpenFileNames(self, "Videos", "", "Videos (*.mp4 *.avi *.mov *.mkv)")
        self.video_list.addItems(paths)

    def _snapshots(self) -> list[Path]:
        if self.config_path is None:
            return []
        try:
            return dlc.find_snapshots(self.config_path, self.shuffle_spin.value())
        except FaceHMMError:
            return []

    def refresh_snapshots(self) -> None:
        """List the shuffle's snapshots (last one selected)."""
        snapshots = self._snapshots()
        self.snapshot_field.choices = [(snapshot.name, snapshot) for snapshot in snapshots]
        if snapshots:
            self.snapshot_field.value = snapshots[-1]

    def selected_snapshot(self) -> Path | None:
        return self.snapshot_field.value

    def analysis_destination(self) -> Path | None:
        """The output folder typed or chosen (``--dest``); None: beside each video."""
        text = self.dest_edit.text().strip()
        return Path(text) if text else None

    # ------------------------------------------------------------ evaluation
    def evaluate(self) -> None:
        """Evaluate the selected snapshot; train/test pixel errors appear below the button."""
        try:
            config = self._require_project()
            dlc.require_deeplabcut("Evaluating a DeepLabCut model")
        except FaceHMMError as error:
            self._report(error)
            return
        snapshot = self.selected_snapshot()
        shuffle = self.shuffle_spin.value()
        self.evaluation_label.setText("Evaluating...")

        def _done(result: dlc.EvaluationResult) -> None:
            self.last_evaluation = result
            self.evaluation_label.setText(
                f"epoch {result.epochs}: train error {result.train_error_px:.2f} px, "
                f"test error {result.test_error_px:.2f} px"
                + (
                    f" (above p-cutoff: {result.train_error_pcutoff_px:.2f} / {result.test_error_pcutoff_px:.2f} px)"
                    if math.isfinite(result.test_error_pcutoff_px)
                    else ""
                )
            )

        def _failed(error: BaseException) -> None:
            self.evaluation_label.setText("")
            self._report(error)

        self._start_worker(
            lambda: dlc.evaluate(config, shuffle=shuffle, snapshot=snapshot),
            on_return=_done,
            on_error=_failed,
            busy=[self.evaluate_button],
        )

    # ------------------------------------------------------------ analysis
    def listed_videos(self) -> list[Path]:
        return [Path(self.video_list.item(i).text()) for i in range(self.video_list.count())]

    def analyze(self, videos: list[str | Path] | None = None) -> dlc.AnalysisJob | None:
        """Analyze ``videos`` (default: the listed ones) with the selected snapshot."""
        if videos is not None:
            for video in videos:
                if str(video) not in [str(v) for v in self.listed_videos()]:
                    self.video_list.addItem(str(video))
        try:
            config = self._require_project()
            videos = self.listed_videos()
            if not videos:
                raise FaceHMMError("Add the videos to analyze first.")
            job = dlc.AnalysisJob(
                config,
                videos,
                shuffle=self.shuffle_spin.value(),
                snapshot=self.selected_snapshot(),
                destfolder=self.analysis_destination(),
                overwrite=self.analysis_form.overwrite.value,
            )
        except FaceHMMError as error:
            self._report(error)
            return None
        self.analysis_job = job
        self.analysis_outputs = []
        self.analysis_progress.setRange(0, len(videos))
        self.analysis_progress.setValue(0)

        def _progress(event: dlc.AnalysisProgress) -> None:
            done, _, message = event.progress
            self.analysis_progress.setValue(done)
            self.status.setText(message)
            if event.output is not None:
                self.analysis_outputs.append(event.output)
                if self.open_results_check.isChecked():
                    self.open_result(event.video, event.output)

        def _failed(error: BaseException) -> None:
            if isinstance(error, Cancelled):
                self._info(f"Analysis cancelled after {len(self.analysis_outputs)} video(s).")
            else:
                self._report(error)

        self._start_worker(
            job.events, on_yield=_progress, on_error=_failed,
            busy=[self.analyze_button], cancel_button=self.cancel_analysis_button,
        )
        return job

    def cancel_analysis(self) -> None:
        job = self.analysis_job
        if job is not None:
            self.cancel_analysis_button.setEnabled(False)
            threading.Thread(target=job.cancel, name="cancel-dlc-analysis", daemon=True).start()

    def open_result(self, video: Path | None, output: Path) -> None:
        """Show a DeepLabCut ``.h5`` as points layers, over its video (opened if not shown yet)."""
        try:
            if video is not None and not any(
                str(getattr(layer, "source", None) and layer.source.path) == str(video) for layer in self.viewer.layers
            ):
                self.viewer.open(str(video), plugin="napari-facehmm")
            self.viewer.open(str(output), plugin="napari-facehmm")
        except Exception as error:  # a reader failure must not kill the analysis loop
            self._report(error)
