"""The Tracking dock widget: the built-in face model, and DeepLabCut training, evaluation, analysis, refinement.

The built-in face model (:mod:`napari_facehmm.tracking.facemesh_jobs`) runs
in a worker thread of this process. All DeepLabCut work is in
:mod:`napari_facehmm.tracking.dlc` and runs in a child process; this widget
only collects settings, shows progress (a bar, and a live loss curve for
training) and offers Cancel. Errors from the core (DeepLabCut's own messages
included) are shown as napari notifications.

Tabs:

- **Built-in face model**: the videos open in the viewer (and any added) ->
  Track (one after the other, Cancel); no DeepLabCut project, no training.
  Each ``.h5`` goes to ``<session>/pose-2d/`` for a session video, else
  beside the video, and opens as points layers over its video.
- **Train**: network (DeepLabCut's list; ``cspnext_s`` suggested on a CPU),
  train fraction and shuffle -> Create dataset; epochs, batch size,
  snapshot interval and starting weights (auto / random / a weights file /
  an earlier snapshot) -> Train, Cancel.
- **Analyze**: a snapshot -> Evaluate (train/test pixel errors); videos ->
  Analyze (one after the other, Cancel); each result opens as points
  layers over its video.
- **Refine**: extract outlier frames (DeepLabCut's, or chosen frame numbers
  e.g. from the HMM or 3D reprojection errors), open them in the labeling
  widget, merge, then create a dataset and train again.
"""

from __future__ import annotations

import math
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from qtpy.QtCore import Qt
from qtpy.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from .._reader import VIDEO_SUFFIXES
from ..errors import Cancelled, FaceHMMError
from ..tracking import dlc, facemesh, facemesh_jobs
from ._session import facehmm_meta

if TYPE_CHECKING:
    import napari

__all__ = ["TrackingWidget"]

INIT_CHOICES = (
    ("auto: cached pretrained weights, else random", "auto"),
    ("random weights", "random"),
    ("a weights file...", "file"),
    ("an earlier snapshot...", "snapshot"),
)


class LossPlot(QWidget):
    """A small matplotlib plot of the training loss per epoch."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        from matplotlib.backends.backend_qtagg import FigureCanvasQTAgg
        from matplotlib.figure import Figure

        self.figure = Figure(figsize=(3.0, 1.8), tight_layout=True)
        self.canvas = FigureCanvasQTAgg(self.figure)
        self.axes = self.figure.add_subplot(111)
        (self.train_line,) = self.axes.plot([], [], "o-", markersize=3, label="train")
        (self.valid_line,) = self.axes.plot([], [], "s--", markersize=3, label="valid")
        from matplotlib.ticker import MaxNLocator

        self.axes.xaxis.set_major_locator(MaxNLocator(integer=True))
        self.axes.set_xlabel("epoch")
        self.axes.set_ylabel("loss")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.canvas)
        self.setMinimumHeight(150)

    def set_history(self, history: list[tuple[int, float, float]]) -> None:
        """Redraw from ``(epoch, train_loss, valid_loss)`` rows."""
        epochs = [h[0] for h in history]
        self.train_line.set_data(epochs, [h[1] for h in history])
        valid = [(h[0], h[2]) for h in history if not math.isnan(h[2])]
        self.valid_line.set_data([v[0] for v in valid], [v[1] for v in valid])
        finite = [h[1] for h in history if math.isfinite(h[1])] + [v[1] for v in valid]
        if finite and min(finite) > 0 and max(finite) / min(finite) > 100:
            self.axes.set_yscale("log")  # random starts can begin orders of magnitude higher
        self.axes.relim()
        self.axes.autoscale_view()
        self.canvas.draw_idle()


def layer_video_path(layer) -> Path | None:
    """The file of a video layer the plugin's video reader made (session videos included), else None."""
    meta = facehmm_meta(layer)
    path = meta.get("path") if meta.get("kind") == "video" else None
    return Path(path) if path else None


def _cancellable(job, cancel: threading.Event):
    """Run ``job`` step by step; at the first step after ``cancel`` is set, close it and raise Cancelled.

    The job is closed in the worker's own thread (MediaPipe, the decoder
    thread and the video file are released there), and the worker ends
    through its error signal like a cancelled DeepLabCut job.
    """
    try:
        while True:
            if cancel.is_set():
                raise Cancelled("tracking cancelled")
            try:
                step = next(job)
            except StopIteration as stop:
                return stop.value
            yield step
    finally:
        job.close()


class FaceModelTab(QWidget):
    """Track videos with the built-in face model: no DeepLabCut project, no training.

    The list holds the videos open in the viewer (it follows the layer list)
    and those added with "Add videos..."; the checked ones are tracked, one
    after the other, in a worker thread. Each result opens as points layers
    over its video (with the video layer's translate, so cameras side by side
    stay aligned). Errors go to the dock's notifications.
    """

    def __init__(self, dock: "TrackingWidget"):
        super().__init__()
        self.dock = dock
        self.viewer = dock.viewer
        self.outcomes: list[facemesh_jobs.VideoTracked] = []
        self.result_layers: dict[Path, list] = {}
        self._worker = None
        self._cancel: threading.Event | None = None
        self._tracking: Path | None = None  # the video being tracked

        layout = QVBoxLayout(self)
        intro = QLabel(
            "Track 21 face landmarks in every frame with MediaPipe's face mesh (its models come with the "
            "mediapipe package, nothing is downloaded): no labeling, no training, no DeepLabCut project."
        )
        intro.setWordWrap(True)
        layout.addWidget(intro)
        self.availability_label = QLabel(f"MediaPipe is not installed: {facemesh.INSTALL_HINT}")
        self.availability_label.setWordWrap(True)
        self.availability_label.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.availability_label.setVisible(not facemesh.facemesh_available())
        layout.addWidget(self.availability_label)

        layout.addWidget(QLabel("Videos to track (checked) and where their tracks go"))
        self.video_list = QListWidget()
        self.video_list.setSelectionMode(QListWidget.ExtendedSelection)
        self.video_list.setMaximumHeight(160)
        layout.addWidget(self.video_list)
        list_buttons = QHBoxLayout()
        add_videos = QPushButton("Add videos...")
        add_videos.clicked.connect(self._browse_videos)
        remove = QPushButton("Remove")
        remove.setToolTip("Take the selected videos off the list")
        remove.clicked.connect(self.remove_selected)
        list_buttons.addWidget(add_videos)
        list_buttons.addWidget(remove)
        layout.addLayout(list_buttons)
        self.mesh_check = QCheckBox("Also keep the full mesh (468 points)")
        self.mesh_check.setToolTip("Also writes <video>_mesh.h5 (in pose-2d-mesh/ for a session video)")
        layout.addWidget(self.mesh_check)
        buttons = QHBoxLayout()
        self.track_button = QPushButton("Track")
        self.track_button.clicked.connect(lambda: self.track())
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self.cancel)
        buttons.addWidget(self.track_button)
        buttons.addWidget(self.cancel_button)
        layout.addLayout(buttons)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setValue(0)
        self.progress.setFormat("%p%")
        layout.addWidget(self.progress)
        layout.addStretch(1)

        for layer in self.viewer.layers:
            self._layer_inserted(layer)
        # bound methods: napari holds them weakly, so a closed dock is not called
        self.viewer.layers.events.inserted.connect(self._on_layers_inserted)
        self.viewer.layers.events.removed.connect(self._on_layers_removed)

    # ------------------------------------------------------------ the list
    def _item(self, video: Path) -> QListWidgetItem | None:
        for row in range(self.video_list.count()):
            item = self.video_list.item(row)
            if item.data(Qt.UserRole) == str(video):
                return item
        return None

    def _describe(self, video: Path, note: str = "") -> str:
        target = facemesh_jobs.output_paths(video)["landmarks"]
        where = f"{target.parent.name}/{target.name}" if target.parent != video.parent else f"{target.name} beside it"
        return f"{video.name} \N{RIGHTWARDS ARROW} {where}" + (f"  {note}" if note else "")

    def add_video(self, video: str | Path, from_layer: bool = False) -> QListWidgetItem:
        """List ``video`` (checked), once."""
        video = Path(video)
        item = self._item(video)
        if item is None:
            item = QListWidgetItem(self._describe(video))
            item.setFlags(item.flags() | Qt.ItemIsUserCheckable)
            item.setCheckState(Qt.Checked)
            item.setData(Qt.UserRole, str(video))
            item.setData(Qt.UserRole + 1, from_layer)
            item.setToolTip(f"{video}\n\N{RIGHTWARDS ARROW} {facemesh_jobs.output_paths(video)['landmarks']}")
            self.video_list.addItem(item)
        return item

    def listed_videos(self, checked_only: bool = True) -> list[Path]:
        items = [self.video_list.item(row) for row in range(self.video_list.count())]
        return [Path(i.data(Qt.UserRole)) for i in items if not checked_only or i.checkState() == Qt.Checked]

    def remove_selected(self) -> None:
        for item in self.video_list.selectedItems():
            self.video_list.takeItem(self.video_list.row(item))

    def _on_layers_inserted(self, event) -> None:
        self._layer_inserted(event.value)

    def _on_layers_removed(self, event) -> None:
        self._layer_removed(event.value)

    def _layer_inserted(self, layer) -> None:
        video = layer_video_path(layer)
        if video is not None:
            self.add_video(video, from_layer=True)

    def _layer_removed(self, layer) -> None:
        video = layer_video_path(layer)
        if video is None or any(layer_video_path(other) == video for other in self.viewer.layers):
            return
        item = self._item(video)
        if item is not None and item.data(Qt.UserRole + 1):
            self.video_list.takeItem(self.video_list.row(item))

    def _browse_videos(self) -> None:
        suffixes = " ".join(f"*{s}" for s in VIDEO_SUFFIXES)
        paths, _ = QFileDialog.getOpenFileNames(self, "Videos to track", "", f"Videos ({suffixes})")
        for path in paths:
            self.add_video(path)

    # ------------------------------------------------------------ tracking
    def running(self) -> bool:
        return self._worker is not None

    def track(self, videos: list[str | Path] | None = None):
        """Track the checked videos (or ``videos``, added to the list); returns the worker, or None."""
        if self.running():
            self.dock._report(FaceHMMError("The built-in face model is already tracking; wait or cancel."))
            return None
        for video in videos or []:
            self.add_video(video)
        videos = [Path(v) for v in videos] if videos else self.listed_videos()
        mesh = self.mesh_check.isChecked()
        try:
            facemesh_jobs.plan_outputs(videos, mesh)  # refuse at once, not from the worker
        except FaceHMMError as error:
            self.dock._report(error)
            return None
        self.outcomes = []
        self._cancel = cancel = threading.Event()
        self.progress.setValue(0)
        self.progress.setFormat(f"video 1 of {len(videos)}: %p%")
        self.track_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self.dock.status.setText(f"Tracking {len(videos)} video(s) with the built-in face model...")

        def job():
            return (yield from _cancellable(facemesh_jobs.track_videos(videos, mesh=mesh), cancel))

        self._worker = self.dock._start_worker(
            job,
            on_yield=self._on_progress,
            on_return=self._on_done,
            on_error=self._on_error,
            on_finish=self._on_finished,
        )
        return self._worker

    def cancel(self) -> None:
        """Stop after the current step; the video being tracked gets no file (earlier files stay)."""
        if self._cancel is not None and self.running():
            self._cancel.set()
            self.cancel_button.setEnabled(False)
            self.dock.status.setText("Cancelling the tracking...")

    def _on_progress(self, step: facemesh_jobs.FaceTrackingProgress) -> None:
        self.progress.setValue(round(1000 * step.fraction))
        current = min(step.videos_done + (step.finished is None), step.n_videos)
        self.progress.setFormat(f"video {max(current, 1)} of {step.n_videos}: %p%")
        if step.finished is None:
            self._tracking = step.video
            self.dock.status.setText(step.message)
            return
        self._tracking = None
        outcome = step.finished
        self.outcomes.append(outcome)
        item = self._item(outcome.video)
        if outcome.error is not None:
            if item is not None:
                item.setText(self._describe(outcome.video, "\N{BALLOT X} not tracked"))
            self.dock._report(outcome.error)
            return
        series = outcome.series
        found = f"face in {series.attrs['n_frames_with_face']} of {series.n_frames} frames"
        if item is not None:
            item.setText(self._describe(outcome.video, f"\N{CHECK MARK} {found}"))
        self.dock.status.setText(f"{outcome.video.name}: {found}; wrote {outcome.paths['landmarks']}")
        self.show_result(outcome)
        if series.attrs.get("messages"):
            from napari.utils.notifications import show_warning

            for message in series.attrs["messages"]:
                show_warning(message)

    def _on_done(self, outcomes: list[facemesh_jobs.VideoTracked]) -> None:
        lines = []
        for outcome in outcomes:
            if outcome.error is not None:
                lines.append(f"{outcome.video.name}: not tracked ({outcome.error})")
                continue
            series = outcome.series
            written = " and ".join(str(path) for path in outcome.paths.values())
            lines.append(
                f"{outcome.video.name}: face in {series.attrs['n_frames_with_face']} of {series.n_frames} frames; "
                f"wrote {written}"
            )
            lines.extend(series.attrs.get("messages", []))
        self.dock.status.setText("\n".join(lines))

    def _on_error(self, error: BaseException) -> None:
        if isinstance(error, Cancelled):
            kept = [str(o.paths["landmarks"]) for o in self.outcomes if o.error is None]
            parts = ["Tracking cancelled"]
            if self._tracking is not None:
                parts.append(f"no file was written for {self._tracking.name}")
            if kept:
                parts.append(f"kept {', '.join(kept)}")
            self.dock._info("; ".join(parts) + ".")
        else:
            self.dock._report(error)

    def _on_finished(self) -> None:
        self._worker = None
        self._tracking = None
        self.track_button.setEnabled(True)
        self.cancel_button.setEnabled(False)

    # ------------------------------------------------------------ results
    def _video_layer(self, video: Path):
        for layer in self.viewer.layers:
            if layer_video_path(layer) == video:
                return layer
        try:
            opened = self.viewer.open(str(video), plugin="napari-facehmm")
        except Exception as error:  # the points still open, at the origin
            self.dock._report(error)
            return None
        return next((layer for layer in opened if layer_video_path(layer) == video), None)

    def show_result(self, outcome: facemesh_jobs.VideoTracked) -> list:
        """Add the tracked series as points (+ skeleton) layers over its video; replaces an earlier result."""
        from .._reader import landmark_layers
        from ._layers import add_layer_data

        video, landmarks_file = outcome.video, outcome.paths["landmarks"]
        for layer in self.result_layers.pop(video, []):
            if layer in self.viewer.layers:
                self.viewer.layers.remove(layer)
        video_layer = self._video_layer(video)
        translate = tuple(video_layer.translate) if video_layer is not None else (0.0, 0.0, 0.0)
        layer_data = landmark_layers(
            outcome.series.copy(source=landmarks_file),
            name=f"{video.stem} {facemesh.SCORER}",
            translate_x=translate[-1],
            video=str(video),
        )
        layers = add_layer_data(self.viewer, layer_data)
        for layer in layers:
            if len(translate) == layer.ndim:
                layer.translate = translate
        self.result_layers[video] = layers
        return layers


class TrackingWidget(QWidget):
    """DeepLabCut from napari: dataset, training (live loss), evaluation, analysis, refinement."""

    def __init__(self, napari_viewer: "napari.viewer.Viewer"):
        super().__init__()
        self.viewer = napari_viewer
        self.training_job: dlc.TrainingJob | None = None
        self.analysis_job: dlc.AnalysisJob | None = None
        self._workers: list = []
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
        shuffle_row = QFormLayout()
        self.shuffle_spin = QSpinBox()
        self.shuffle_spin.setRange(1, 999)
        shuffle_row.addRow("Shuffle", self.shuffle_spin)
        project_layout.addLayout(shuffle_row)
        if not dlc.deeplabcut_available():
            project_layout.addWidget(QLabel('deeplabcut is not installed: pip install "napari-facehmm[dlc]"'))
        layout.addWidget(self.project_box)

        self.status = QLabel("")
        self.status.setWordWrap(True)
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

    # ------------------------------------------------------------ building
    def _build_train_tab(self) -> QWidget:
        tab = QWidget()
        layout = QVBoxLayout(tab)
        form = QFormLayout()
        network_row = QHBoxLayout()
        self.network_combo = QComboBox()
        self.network_combo.addItems([dlc.SUGGESTED_CPU_NETWORK, "resnet_50", "hrnet_w18"])
        self.network_combo.setToolTip(f"{dlc.SUGGESTED_CPU_NETWORK} is small enough to train on a CPU")
        list_networks = QPushButton("List all")
        list_networks.setToolTip("Ask DeepLabCut for every network it offers")
        list_networks.clicked.connect(self.list_networks)
        network_row.addWidget(self.network_combo, 1)
        network_row.addWidget(list_networks)
        form.addRow("Network", network_row)
        self.fraction_spin = QDoubleSpinBox()
        self.fraction_spin.setRange(0.05, 0.99)
        self.fraction_spin.setSingleStep(0.05)
        self.fraction_spin.setValue(0.8)
        form.addRow("Train fraction", self.fraction_spin)
        self.create_button = QPushButton("Create training dataset")
        self.create_button.clicked.connect(self.create_dataset)
        form.addRow(self.create_button)

        self.epochs_spin = QSpinBox()
        self.epochs_spin.setRange(1, 100000)
        self.epochs_spin.setValue(50)
        form.addRow("Epochs", self.epochs_spin)
        self.batch_spin = QSpinBox()
        self.batch_spin.setRange(1, 1024)
        self.batch_spin.setValue(4)
        form.addRow("Batch size", self.batch_spin)
        self.save_epochs_spin = QSpinBox()
        self.save_epochs_spin.setRange(1, 100000)
        self.save_epochs_spin.setValue(5)
        form.addRow("Snapshot every (epochs)", self.save_epochs_spin)
        self.init_combo = QComboBox()
        for label, _ in INIT_CHOICES:
            self.init_combo.addItem(label)
        self.init_combo.currentIndexChanged.connect(self._init_choice_changed)
        form.addRow("Start from", self.init_combo)
        self.init_path_edit = QLineEdit()
        self.init_path_edit.setPlaceholderText("weights file or snapshot-*.pt")
        self.init_path_edit.setEnabled(False)
        form.addRow("", self.init_path_edit)
        layout.addLayout(form)

        buttons = QHBoxLayout()
        self.train_button = QPushButton("Train")
        self.train_button.clicked.connect(self.start_training)
        self.cancel_train_button = QPushButton("Cancel")
        self.cancel_train_button.setEnabled(False)
        self.cancel_train_button.clicked.connect(self.cancel_training)
        buttons.addWidget(self.train_button)
        buttons.addWidget(self.cancel_train_button)
        layout.addLayout(buttons)
        self.train_progress = QProgressBar()
        self.train_progress.setFormat("epoch %v / %m")
        layout.addWidget(self.train_progress)
        self.loss_plot = LossPlot()
        layout.addWidget(self.loss_plot)
        return tab

    def _build_analyze_tab(self) -> QWidget:
        tab = QWidget()
        layout = QVBoxLayout(tab)
        form = QFormLayout()
        snapshot_row = QHBoxLayout()
        self.snapshot_combo = QComboBox()
        refresh = QPushButton("Refresh")
        refresh.clicked.connect(self.refresh_snapshots)
        snapshot_row.addWidget(self.snapshot_combo, 1)
        snapshot_row.addWidget(refresh)
        form.addRow("Snapshot", snapshot_row)
        layout.addLayout(form)
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
        self.open_results_check = QCheckBox("Open results over their videos")
        self.open_results_check.setChecked(True)
        layout.addWidget(self.open_results_check)
        buttons = QHBoxLayout()
        self.analyze_button = QPushButton("Analyze")
        self.analyze_button.clicked.connect(lambda: self.analyze())
        self.cancel_analysis_button = QPushButton("Cancel")
        self.cancel_analysis_button.setEnabled(False)
        self.cancel_analysis_button.clicked.connect(self.cancel_analysis)
        buttons.addWidget(self.analyze_button)
        buttons.addWidget(self.cancel_analysis_button)
        layout.addLayout(buttons)
        self.analysis_progress = QProgressBar()
        self.analysis_progress.setFormat("video %v / %m")
        layout.addWidget(self.analysis_progress)
        return tab

    def _build_refine_tab(self) -> QWidget:
        tab = QWidget()
        layout = QVBoxLayout(tab)
        form = QFormLayout()
        self.outlier_combo = QComboBox()
        self.outlier_combo.addItems(["jump", "uncertain", "fitting"])
        form.addRow("Outliers by", self.outlier_combo)
        self.epsilon_spin = QDoubleSpinBox()
        self.epsilon_spin.setRange(0.5, 1000.0)
        self.epsilon_spin.setValue(20.0)
        form.addRow("Jump threshold (px)", self.epsilon_spin)
        layout.addLayout(form)
        self.outliers_button = QPushButton("Extract outlier frames of the listed videos")
        self.outliers_button.clicked.connect(self.extract_outliers)
        layout.addWidget(self.outliers_button)
        extra_form = QFormLayout()
        self.extra_frames_edit = QLineEdit()
        self.extra_frames_edit.setPlaceholderText("e.g. 120, 348, 1002 (HMM / 3D disagreement)")
        extra_form.addRow("Extra frames", self.extra_frames_edit)
        self.reprojection_spin = QDoubleSpinBox()
        self.reprojection_spin.setRange(0.1, 1000.0)
        self.reprojection_spin.setValue(10.0)
        extra_form.addRow("3D: reprojection error above (px)", self.reprojection_spin)
        self.probability_spin = QDoubleSpinBox()
        self.probability_spin.setRange(0.01, 1.0)
        self.probability_spin.setSingleStep(0.05)
        self.probability_spin.setValue(0.6)
        extra_form.addRow("HMM: state probability below", self.probability_spin)
        layout.addLayout(extra_form)
        self.frames_from_file_button = QPushButton("Fill from a pose-3d CSV or an analysis states.csv...")
        self.frames_from_file_button.clicked.connect(lambda: self.frames_from_file())
        layout.addWidget(self.frames_from_file_button)
        self.add_frames_button = QPushButton("Add these frames of the first listed video")
        self.add_frames_button.clicked.connect(self.add_extra_frames)
        layout.addWidget(self.add_frames_button)
        self.labeling_button = QPushButton("Open extracted frames in the labeling widget")
        self.labeling_button.clicked.connect(lambda: self.open_in_labeling())
        layout.addWidget(self.labeling_button)
        self.merge_button = QPushButton("Merge refined labels (next iteration)")
        self.merge_button.clicked.connect(self.merge)
        layout.addWidget(self.merge_button)
        layout.addWidget(QLabel("Then create a training dataset and train again (Train tab)."))
        layout.addStretch(1)
        return tab

    # ------------------------------------------------------------ helpers
    @property
    def config_path(self) -> Path | None:
        text = self.config_edit.text().strip()
        return Path(text) if text else None

    def set_project(self, config_path: str | Path) -> None:
        """Use the project at ``config_path``; fills train fraction and snapshots."""
        self.config_edit.setText(str(config_path))
        try:
            from ..io.dlc import read_dlc_config

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

    def _start_worker(self, function, on_yield=None, on_return=None, on_error=None, on_finish=None):
        from ._worker import start_worker

        def finished():
            if on_finish is not None:
                on_finish()
            if worker in self._workers:
                self._workers.remove(worker)

        worker = start_worker(
            function, on_yield=on_yield, on_return=on_return, on_error=on_error or self._report, on_finish=finished
        )
        self._workers.append(worker)
        return worker

    def _browse_config(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "DeepLabCut config.yaml", "", "config (*.yaml)")
        if path:
            self.set_project(path)

    def _browse_videos(self) -> None:
        paths, _ = QFileDialog.getOpenFileNames(self, "Videos", "", "Videos (*.mp4 *.avi *.mov *.mkv)")
        self.video_list.addItems(paths)

    def _init_choice_changed(self, index: int) -> None:
        choice = INIT_CHOICES[index][1]
        self.init_path_edit.setEnabled(choice in ("file", "snapshot"))
        if choice == "snapshot" and not self.init_path_edit.text():
            latest = dlc.latest_snapshot(self._snapshots())
            if latest is not None:
                self.init_path_edit.setText(str(latest))
        elif choice == "file" and not self.init_path_edit.text() and self.isVisible():
            path, _ = QFileDialog.getOpenFileName(self, "Initial weights", "", "weights (*.pt *.pth *.bin)")
            if path:
                self.init_path_edit.setText(path)

    def _snapshots(self) -> list[Path]:
        if self.config_path is None:
            return []
        try:
            return dlc.find_snapshots(self.config_path, self.shuffle_spin.value())
        except FaceHMMError:
            return []

    def refresh_snapshots(self) -> None:
        """List the shuffle's snapshots (last one selected)."""
        self.snapshot_combo.clear()
        for snapshot in self._snapshots():
            self.snapshot_combo.addItem(snapshot.name, str(snapshot))
        if self.snapshot_combo.count():
            self.snapshot_combo.setCurrentIndex(self.snapshot_combo.count() - 1)

    def selected_snapshot(self) -> Path | None:
        data = self.snapshot_combo.currentData()
        return Path(data) if data else None

    # ------------------------------------------------------------ dataset
    def list_networks(self) -> None:
        """Fill the network list with what DeepLabCut offers (in the background)."""
        try:
            dlc.require_deeplabcut("Listing DeepLabCut networks")
        except FaceHMMError as error:
            self._report(error)
            return

        def _fill(models: list) -> None:
            current = self.network_combo.currentText()
            self.network_combo.clear()
            self.network_combo.addItems(models)
            self.network_combo.setCurrentText(current if current in models else dlc.SUGGESTED_CPU_NETWORK)
            self.status.setText(f"{len(models)} networks; {dlc.SUGGESTED_CPU_NETWORK} is suggested on a CPU")

        self.status.setText("Asking DeepLabCut for its networks...")
        self._start_worker(dlc.available_networks, on_return=_fill)

    def create_dataset(self) -> None:
        """Create the training dataset of the shuffle with the chosen network and fraction."""
        try:
            config = self._require_project()
            dlc.require_deeplabcut("Creating a DeepLabCut training dataset")
        except FaceHMMError as error:
            self._report(error)
            return
        network = self.network_combo.currentText()
        shuffle = self.shuffle_spin.value()
        fraction = round(self.fraction_spin.value(), 4)
        self.create_button.setEnabled(False)
        self.status.setText(f"Creating the training dataset ({network}, shuffle {shuffle})...")

        def _done(result: dict) -> None:
            crop = result.get("crop_size")
            extra = f"; training crop {crop[0]}x{crop[1]} px" if crop else ""
            self._info(f"Training dataset ready: {result['net_type']}, train fraction {result['train_fraction']}{extra}")

        self._start_worker(
            lambda: dlc.create_training_dataset(config, net_type=network, shuffle=shuffle, train_fraction=fraction),
            on_return=_done,
            on_finish=lambda: self.create_button.setEnabled(True),
        )

    # ------------------------------------------------------------ training
    def _init_value(self) -> str:
        choice = INIT_CHOICES[self.init_combo.currentIndex()][1]
        if choice in ("auto", "random"):
            return choice
        path = self.init_path_edit.text().strip()
        if not path:
            raise FaceHMMError("Choose the weights file or snapshot to start from.")
        return path

    def start_training(self) -> dlc.TrainingJob | None:
        """Start training in a child process; the bar and the loss curve follow the epochs."""
        if self.training_job is not None and self.training_job.running():
            self._report(FaceHMMError("A training is already running."))
            return None
        try:
            config = self._require_project()
            job = dlc.TrainingJob(
                config,
                shuffle=self.shuffle_spin.value(),
                epochs=self.epochs_spin.value(),
                batch_size=self.batch_spin.value(),
                save_epochs=self.save_epochs_spin.value(),
                init=self._init_value(),
            )
        except FaceHMMError as error:
            self._report(error)
            return None
        self.training_job = job
        self.train_progress.setRange(0, job.epochs)
        self.train_progress.setValue(0)
        self.loss_plot.set_history([])
        self.train_button.setEnabled(False)
        self.cancel_train_button.setEnabled(True)
        self.status.setText("Starting DeepLabCut...")
        self._start_worker(
            job.events,
            on_yield=self._on_training_progress,
            on_error=self._on_training_error,
            on_finish=self._on_training_finished,
        )
        return job

    def _on_training_progress(self, event: dlc.TrainingProgress) -> None:
        self.train_progress.setMaximum(max(event.n_epochs, 1))
        self.train_progress.setValue(event.epoch)
        if event.epoch > 0 and self.training_job is not None:
            self.loss_plot.set_history(self.training_job.history)
        if event.message:
            self.status.setText(event.message)

    def _on_training_error(self, error: BaseException) -> None:
        if isinstance(error, Cancelled):
            kept = self.training_job.snapshots() if self.training_job else []
            self._info(f"Training cancelled; {len(kept)} snapshot(s) kept.")
        else:
            self._report(error)

    def _on_training_finished(self) -> None:
        self.train_button.setEnabled(True)
        self.cancel_train_button.setEnabled(False)
        self.refresh_snapshots()

    def cancel_training(self) -> None:
        """Stop the training process group (SIGTERM, then SIGKILL); snapshots written stay."""
        job = self.training_job
        if job is None:
            return
        self.cancel_train_button.setEnabled(False)
        self.status.setText("Cancelling the training...")
        # cancel() waits for the process (up to its grace period): not in the GUI thread
        threading.Thread(target=job.cancel, name="cancel-dlc-training", daemon=True).start()

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
        self.evaluate_button.setEnabled(False)
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
            on_finish=lambda: self.evaluate_button.setEnabled(True),
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
            job = dlc.AnalysisJob(config, videos, shuffle=self.shuffle_spin.value(), snapshot=self.selected_snapshot())
        except FaceHMMError as error:
            self._report(error)
            return None
        self.analysis_job = job
        self.analysis_outputs = []
        self.analysis_progress.setRange(0, len(videos))
        self.analysis_progress.setValue(0)
        self.analyze_button.setEnabled(False)
        self.cancel_analysis_button.setEnabled(True)

        def _progress(event: dlc.AnalysisProgress) -> None:
            self.analysis_progress.setValue(event.done)
            self.status.setText(event.message)
            if event.output is not None:
                self.analysis_outputs.append(event.output)
                if self.open_results_check.isChecked():
                    self.open_result(event.video, event.output)

        def _failed(error: BaseException) -> None:
            if isinstance(error, Cancelled):
                self._info(f"Analysis cancelled after {len(self.analysis_outputs)} video(s).")
            else:
                self._report(error)

        def _finished() -> None:
            self.analyze_button.setEnabled(True)
            self.cancel_analysis_button.setEnabled(False)

        self._start_worker(job.events, on_yield=_progress, on_error=_failed, on_finish=_finished)
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

    # ------------------------------------------------------------ refinement
    def extract_outliers(self) -> None:
        """DeepLabCut's outlier extraction (automatic) on the listed, analyzed videos."""
        try:
            config = self._require_project()
            dlc.require_deeplabcut("Extracting outlier frames with DeepLabCut")
            videos = self.listed_videos()
            if not videos:
                raise FaceHMMError("List the analyzed videos in the Analyze tab first.")
        except FaceHMMError as error:
            self._report(error)
            return
        algorithm = self.outlier_combo.currentText()
        epsilon = self.epsilon_spin.value()
        snapshot = self.selected_snapshot()
        shuffle = self.shuffle_spin.value()
        self.outliers_button.setEnabled(False)

        def _done(added: dict) -> None:
            counts = ", ".join(f"{name}: {len(images)}" for name, images in added.items())
            self._info(f"Outlier frames added to labeled-data ({counts}).")
            self._last_refine_folder = next((n for n, images in added.items() if images), None)

        self._start_worker(
            lambda: dlc.extract_outlier_frames(
                config, videos, shuffle=shuffle, algorithm=algorithm, epsilon_px=epsilon, snapshot=snapshot
            ),
            on_return=_done,
            on_finish=lambda: self.outliers_button.setEnabled(True),
        )

    def frames_from_file(self, path: str | Path | None = None, max_frames: int | None = None) -> list[int]:
        """Fill the extra frames with the 3D or HMM disagreements found in ``path``.

        ``max_frames`` defaults to the project's ``numframes2pick``.
        """
        if path is None:
            path, _ = QFileDialog.getOpenFileName(self, "pose-3d CSV or states.csv", "", "CSV (*.csv)")
            if not path:
                return []
        try:
            if max_frames is None and self.config_path is not None:
                from ..io.dlc import read_dlc_config

                max_frames = read_dlc_config(self.config_path).numframes2pick
            frames = dlc.refinement_frames(
                path,
                reprojection_threshold_px=self.reprojection_spin.value(),
                probability_threshold=self.probability_spin.value(),
                max_frames=max_frames,
            )
        except FaceHMMError as error:
            self._report(error)
            return []
        self.extra_frames_edit.setText(", ".join(str(int(f)) for f in frames))
        self.status.setText(f"{len(frames)} frame(s) from {Path(path).name}")
        return [int(f) for f in frames]

    def add_extra_frames(self) -> None:
        """Add the typed frame numbers of the first listed video (with its latest analysis as machine labels)."""
        try:
            config = self._require_project()
            videos = self.listed_videos()
            if not videos:
                raise FaceHMMError("List the video in the Analyze tab first.")
            text = self.extra_frames_edit.text().replace(";", ",")
            try:
                frames = [int(part) for part in text.replace(" ", ",").split(",") if part.strip()]
            except ValueError:
                raise FaceHMMError(f"Frame numbers must be whole numbers separated by commas; got {text!r}") from None
            if not frames:
                raise FaceHMMError("Type the frame numbers to add.")
            video = videos[0]
            predictions = next((o for o in reversed(self.analysis_outputs) if o.name.startswith(video.stem)), None)
            written = dlc.add_frames_to_labeled_data(config, video, frames, predictions=predictions)
        except FaceHMMError as error:
            self._report(error)
            return
        self._last_refine_folder = video.stem
        self._info(f"{len(written)} frame(s) of {video.name} added to labeled-data/{video.stem}.")

    def open_in_labeling(self, folder: str | None = None):
        """Open ``labeled-data/<folder>`` in the labeling widget, with machine labels to refine."""
        try:
            config = self._require_project()
            folder = folder or getattr(self, "_last_refine_folder", None)
            if not folder:
                raise FaceHMMError("Extract outlier frames (or add frames) first.")
            from .labeling import LabelingWidget
        except (FaceHMMError, ImportError) as error:
            self._report(error)
            return None
        widget = getattr(self, "_labeling_widget", None)
        if widget is None:
            widget = LabelingWidget(self.viewer)
            self.viewer.window.add_dock_widget(widget, name="Labeling (refine)", area="right")
            self._labeling_widget = widget
        if widget.open_project(config) is None:
            return None
        widget.open_folder(folder, refine=True)
        return widget

    def merge(self) -> None:
        """DeepLabCut's merge_datasets: the next iteration starts; then create a dataset and train."""
        try:
            config = self._require_project()
            dlc.require_deeplabcut("Merging DeepLabCut datasets")
        except FaceHMMError as error:
            self._report(error)
            return
        self._start_worker(
            lambda: dlc.merge_datasets(config),
            on_return=lambda iteration: self._info(
                f"Merged: iteration {iteration}. Create a training dataset and train again."
            ),
        )

    # ------------------------------------------------------------ teardown
    def closeEvent(self, event) -> None:  # noqa: N802 (Qt API)
        self.face_tab.cancel()
        for job in (self.training_job, self.analysis_job):
            if job is not None and job.running():
                job.cancel()
        super().closeEvent(event)
