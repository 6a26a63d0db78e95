"""Live dock: a person's expression states while they are on camera.

The loop is the core's :func:`~napari_facehmm.live.run_live` (tracker,
features, online decoding, recording) in a worker thread; this dock only
shows what it yields: the newest frame as an image layer, the landmarks
coloured by the current state, the state's name and probability, the last
minute's ethogram and the running frequency of each state
(:class:`~napari_facehmm.live.display.LiveDisplay`). The display takes the
newest step when it is ready for one, so a slow screen never delays the
loop; the time from a frame's capture to its state on screen is measured.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
from magicgui.widgets import FileEdit, LineEdit, SpinBox
from qtpy.QtCore import Qt
from qtpy.QtGui import QImage, QPixmap
from qtpy.QtWidgets import QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from ..errors import FaceHMMError
from ._session import show_error
from ._worker import DockJob, status_label
from .forms import form

#: the layers the dock draws into
FRAME_LAYER = "live frame"
POINTS_LAYER = "live landmarks"


def _typed_path(field: FileEdit) -> Path | None:
    """The path typed or chosen in a file field; None when it is empty (magicgui would say ".")."""
    text = str(field.line_edit.value).strip()
    return Path(text) if text else None


class LiveWidget(QWidget):
    """Start and stop live decoding; show the frame, the landmarks by state, the ethogram and frequencies."""

    def __init__(self, napari_viewer: Any, parent: QWidget | None = None):
        super().__init__(parent)
        self.viewer = napari_viewer
        self.form = form(
            FileEdit(name="model", label="Model", mode="r", filter="model (*.json)",
                     tooltip="A model fitted on the built-in tracker's landmarks (facehmm run VIDEO writes one).\n"
                             "facehmm live --model"),
            LineEdit(name="source", label="Camera or video", value="0",
                     tooltip="A camera index (0, 1...) or a video file played at its own pace.\n"
                             "facehmm live --camera / --source"),
            SpinBox(name="lag", label="Lag (frames)", value=0, min=0, max=60,
                    tooltip="Decide each frame's state this many frames later: steadier states.\nfacehmm live --lag"),
            SpinBox(name="calibrate_s", label="Calibrate (s)", value=60, min=5, max=3600,
                    tooltip="Without a model: record this long, fit, then go live.\nfacehmm live --calibrate"),
            SpinBox(name="n_states", label="States", value=9, min=2, max=30,
                    tooltip="States of the model fitted in the calibration.\nfacehmm live --states"),
            FileEdit(name="record", label="Record to", mode="d",
                     tooltip="Keep the run as a session folder (optional).\nfacehmm live --record"),
        )
        self.start_button = QPushButton("Start")
        self.stop_button = QPushButton("Stop")
        self.stop_button.setEnabled(False)
        self.state_label = QLabel("")
        self.state_label.setStyleSheet("font-size: 18pt; font-weight: bold")
        self.ethogram_label = QLabel()
        self.ethogram_label.setMinimumHeight(18)
        self.frequency_label = QLabel("")
        self.frequency_label.setTextFormat(Qt.TextFormat.RichText)
        self.frequency_label.setWordWrap(True)
        self.status = status_label()
        self.job = DockJob(buttons=[self.start_button], cancel_button=self.stop_button, status=self.status)

        buttons = QHBoxLayout()
        buttons.addWidget(self.start_button)
        buttons.addWidget(self.stop_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.form.native)
        layout.addLayout(buttons)
        layout.addWidget(self.state_label)
        layout.addWidget(QLabel("last minute"))
        layout.addWidget(self.ethogram_label)
        layout.addWidget(self.frequency_label)
        layout.addWidget(self.status)
        layout.addStretch(1)
        self.start_button.clicked.connect(self.start)
        self.stop_button.clicked.connect(self.stop)

        self.display = None
        self.model = self._loaded = None
        self._fps = 30.0
        self.stats = None
        self.shown_latency_s: list[float] = []
        self._latest = None
        self._shown = threading.Event()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._pending: list = []
        self.finished_callbacks: list = []

    # ------------------------------------------------------------------ running
    def start(self, *_: Any) -> Any:
        """Check the form, open the source and the model (or plan a calibration), and start the loop."""
        from ..hmm import FaceHMM
        from ..live import check_live_model, open_source

        try:
            model_path = _typed_path(self.form.model)
            model = None
            if model_path is not None:
                if not model_path.is_file():
                    raise FaceHMMError(f"{model_path}: no such model file (or leave Model empty to calibrate)")
                model = FaceHMM.load(model_path)
                check_live_model(model)
            text = self.form.source.value.strip()
            source = open_source(camera=int(text)) if text.isdigit() else open_source(video=text)
        except FaceHMMError as error:
            show_error(f"Live: {error}")
            return None
        record = _typed_path(self.form.record)
        self.model, self.display, self._loaded = model, None, model
        self._fps = source.fps
        self.shown_latency_s = []
        self._latest = None
        self._pending = []
        self._shown.set()
        self._stop.clear()
        info = {"model": str(model_path) if model_path else "fitted in a calibration phase", "source": source.name}
        calibration = (float(self.form.calibrate_s.value), int(self.form.n_states.value))
        return self.job.start(
            self._paced, model, source, int(self.form.lag.value), record, info, calibration,
            message=f"live: {source.name}", on_yield=self._show, on_return=self._finished,
            on_error=self._failed,
        )

    def _paced(self, model, source, lag, record, info, calibration):
        """Calibrate if there is no model, then run_live, handing the display only the newest step it
        is ready for (the loop never waits for the screen)."""
        from ..live import run_live
        from ..live.calibration import calibrate_model

        if model is None:
            seconds, n_states = calibration
            fitting = calibrate_model(source, seconds, n_states)
            try:
                while True:
                    if self._stop.is_set():
                        source.close()
                        return None
                    try:
                        yield next(fitting)  # (done, total, message)
                    except StopIteration as end:
                        model = end.value
                        break
            finally:
                fitting.close()
            self.model = model
        loop = run_live(model, source, lag=lag, record=record, info=info, save_model=model is not self._loaded)
        stats = None
        try:
            while not self._stop.is_set():
                try:
                    step = next(loop)
                except StopIteration as end:
                    return end.value
                self._latest, stats = step, step.stats
                with self._lock:  # every decided frame reaches the display, shown or not
                    self._pending.extend(step.update.decided)
                if self._shown.is_set():
                    self._shown.clear()
                    yield step
        finally:
            loop.close()  # an ordinary end for run_live: the recording is saved, stats.recording set
        return stats

    def stop(self, *_: Any) -> None:
        """End the loop at its next frame (the recording is saved)."""
        if self.running:
            self._stop.set()
            self.status.setText("live: stopping")

    @property
    def running(self) -> bool:
        return self.job.running

    # ------------------------------------------------------------------ showing
    def _layers(self, image: np.ndarray):
        if FRAME_LAYER not in self.viewer.layers:
            self.viewer.add_image(image, name=FRAME_LAYER, rgb=True)
            self.viewer.reset_view()
        if POINTS_LAYER not in self.viewer.layers:
            self.viewer.add_points(np.zeros((0, 2)), name=POINTS_LAYER, size=6, border_width=0)
        return self.viewer.layers[FRAME_LAYER], self.viewer.layers[POINTS_LAYER]

    def _show(self, step: Any) -> None:
        from ..live.display import LiveDisplay

        if isinstance(step, tuple):  # calibration progress
            done, total, message = step
            self.state_label.setText("calibrating: look at the camera")
            self.status.setText(f"{message} ({done}/{total})")
            return
        step = self._latest or step  # the newest step, even if an older one was queued
        if self.display is None:
            self.display = LiveDisplay(self.model.n_states, self._fps, self.model.state_names)
        frame_layer, points = self._layers(step.image)
        frame_layer.data = step.image
        self._take_pending()
        landmarks = step.update.landmarks
        visible = np.isfinite(landmarks).all(axis=1)
        points.data = landmarks[visible][:, ::-1]  # napari: (row, column)
        if visible.any():
            points.face_color = np.repeat(self.display.current_color()[None, :], int(visible.sum()), axis=0)
        self.state_label.setText(self.display.current_text())
        self._draw_ethogram()
        self.frequency_label.setText(" ".join(
            f'<span style="color: rgb({int(r * 255)},{int(g * 255)},{int(b * 255)})">&#9632;</span> '
            f"{name} {fraction:.0%}&nbsp;&nbsp;"
            for name, fraction, (r, g, b, _) in self.display.frequency_rows()
        ))
        stats = step.stats
        self.status.setText(stats.line())
        self.shown_latency_s.append(time.perf_counter() - step.update.captured_s)
        self._shown.set()

    def _take_pending(self) -> None:
        with self._lock:
            pending, self._pending = self._pending, []
        self.display.add(pending)

    def _draw_ethogram(self) -> None:
        width = max(60, self.ethogram_label.width())
        strip = np.ascontiguousarray(self.display.ethogram(width=width, height=16))
        image = QImage(strip.data, strip.shape[1], strip.shape[0], strip.strides[0], QImage.Format.Format_RGBA8888)
        self.ethogram_label.setPixmap(QPixmap.fromImage(image.copy()))

    def shown_latency_ms(self) -> float | None:
        """Median time from a frame's capture to its state on screen."""
        return float(np.median(self.shown_latency_s) * 1000) if self.shown_latency_s else None

    def summary_line(self) -> str:
        """``shown N frames, dropped x%, median latency y ms`` (latency up to the screen)."""
        if self.stats is None:
            return "live: not run"
        s = self.stats.summary()
        shown = self.shown_latency_ms()
        latency = "n/a" if shown is None else f"{shown:.0f} ms"
        return (f"shown {s['frames_shown']} frames, dropped {s['dropped_percent']:.1f}%, "
                f"median latency {latency} (processing {s['processing_ms_median']} ms)")

    def _finished(self, stats: Any) -> None:
        self.stats = stats
        if self.display is not None:
            self._take_pending()  # the frames decided after the last one shown
            self.state_label.setText(self.display.current_text())
            self._draw_ethogram()
            if POINTS_LAYER in self.viewer.layers and len(self.viewer.layers[POINTS_LAYER].data):
                points = self.viewer.layers[POINTS_LAYER]
                points.face_color = np.repeat(self.display.current_color()[None, :], len(points.data), axis=0)
        text = self.summary_line()
        if stats is not None and stats.recording is not None:
            text += f"; recorded to {stats.recording}"
        self.status.setText(text)
        for callback in self.finished_callbacks:
            callback(stats)

    def _failed(self, error: BaseException) -> None:
        show_error(f"Live: {error}")
        self.status.setText(f"stopped: {error}")
        for callback in self.finished_callbacks:
            callback(None)
