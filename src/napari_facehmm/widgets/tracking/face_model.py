"""The "Built-in face model" tab: track videos with MediaPipe's face mesh, no DeepLabCut.

The tracking (:mod:`napari_facehmm.tracking.facemesh_jobs`) runs in a worker
thread of this process, one video after the other, with Cancel; each result
opens as points layers over its video.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING

from qtpy.QtCore import Qt
from qtpy.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from ...io.video import VIDEO_SUFFIXES
from ...errors import Cancelled, FaceHMMError
from ...tracking import facemesh, facemesh_jobs
from .._lists import DATA_ROLE, checkable_item, checked_data, item_with_data
from .._session import facehmm_meta
from .._worker import job_controls
from ..forms import field, form, qt

if TYPE_CHECKING:
    from .dock import TrackingWidget

#: where a listed video's item keeps whether it came from a layer (then it leaves the list with its layer)
_FROM_LAYER_ROLE = DATA_ROLE + 1


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
        # the options of facehmm track (--out is the CLI's: here each track goes where the list says)
        self.options_form = form(
            field(facemesh_jobs.MESH, "Also keep the full mesh (468 points)", command="track",
                  tooltip="Also writes <video>_mesh.h5 (in pose-2d-mesh/ for a session video).\nfacehmm track --mesh"),
        )
        layout.addWidget(self.options_form.native)
        self.mesh_check = qt(self.options_form.mesh)
        buttons = QHBoxLayout()
        self.track_button = QPushButton("Track")
        self.track_button.clicked.connect(lambda: self.track())
        self.cancel_button, self.progress = job_controls(self.cancel, maximum=1000, text_format="%p%")
        self.progress.setValue(0)
        buttons.addWidget(self.track_button)
        buttons.addWidget(self.cancel_button)
        layout.addLayout(buttons)
        layout.addWidget(self.progress)
        layout.addStretch(1)

        for layer in self.viewer.layers:
            self._layer_inserted(layer)
        # bound methods: napari holds them weakly, so a closed dock is not called
        self.viewer.layers.events.inserted.connect(self._on_layers_inserted)
        self.viewer.layers.events.removed.connect(self._on_layers_removed)

    # ------------------------------------------------------------ the list
    def _item(self, video: Path) -> QListWidgetItem | None:
        return item_with_data(self.video_list, str(video))

    def _describe(self, video: Path, note: str = "") -> str:
        target = facemesh_jobs.output_paths(video)["landmarks"]
        where = f"{target.parent.name}/{target.name}" if target.parent != video.parent else f"{target.name} beside it"
        return f"{video.name} \N{RIGHTWARDS ARROW} {where}" + (f"  {note}" if note else "")

    def add_video(self, video: str | Path, from_layer: bool = False) -> QListWidgetItem:
        """List ``video`` (checked), once."""
        video = Path(video)
        item = self._item(video)
        if item is None:
            tooltip = f"{video}\n\N{RIGHTWARDS ARROW} {facemesh_jobs.output_paths(video)['landmarks']}"
            item = checkable_item(self._describe(video), data=str(video), tooltip=tooltip)
            item.setData(_FROM_LAYER_ROLE, from_layer)
            self.video_list.addItem(item)
        return item

    def listed_videos(self, checked_only: bool = True) -> list[Path]:
        return [Path(video) for video in checked_data(self.video_list, True if checked_only else None)]

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
        if item is not None and item.data(_FROM_LAYER_ROLE):
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
        mesh = self.options_form.mesh.value
        try:
            facemesh_jobs.plan_outputs(videos, mesh)  # refuse at once, not from the worker
        except FaceHMMError as error:
            self.dock._report(error)
            return None
        self.outcomes = []
        self._cancel = cancel = threading.Event()
        self.progress.setValue(0)
        self.progress.setFormat(f"video 1 of {len(videos)}: %p%")
        self.dock.status.setText(f"Tracking {len(videos)} video(s) with the built-in face model...")

        def job():
            return (yield from _cancellable(facemesh_jobs.track_videos(videos, mesh=mesh), cancel))

        self._worker = self.dock._start_worker(
            job,
            on_yield=self._on_progress,
            on_return=self._on_done,
            on_error=self._on_error,
            on_finish=self._on_finished,
            busy=[self.track_button],
            cancel_button=self.cancel_button,
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
        from ..._napari.layers import add_layer_data
        from ..._napari.readers import landmark_layers

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
