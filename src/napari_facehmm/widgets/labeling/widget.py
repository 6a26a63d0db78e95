"""The labeling dock: its tabs put together, saving and autosave, closing."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

from qtpy.QtCore import QEvent, QObject, QTimer
from qtpy.QtWidgets import QTabWidget, QVBoxLayout, QWidget

from ... import labeling
from ...errors import FaceHMMError
from .._worker import DockJob, status_label
from .epipolar_view import EpipolarHelp
from .extract_tab import ExtractTab
from .label_tab import LabelTab
from .points import PointsEditing, keypoint_colors
from .prelabel import Prelabeling
from .project_tab import ProjectTab

if TYPE_CHECKING:
    import napari


class _CloseWatcher(QObject):
    """Calls ``callback`` when the watched window is about to close."""

    def __init__(self, callback, parent=None):
        super().__init__(parent)
        self._callback = callback

    def eventFilter(self, watched, event):
        if event.type() == QEvent.Type.Close:
            self._callback()
        return False


class LabelingWidget(ProjectTab, ExtractTab, LabelTab, PointsEditing, Prelabeling, EpipolarHelp, QWidget):
    """Create or open a DeepLabCut project, extract frames, label face landmarks.

    Parameters
    ----------
    napari_viewer
        The viewer (npe2 passes it).
    """

    def __init__(self, napari_viewer: "napari.viewer.Viewer"):
        super().__init__()
        self.viewer = napari_viewer
        self.project: labeling.LabelingProject | None = None
        self.labels: labeling.LabelSet | None = None
        self.current_keypoint = 0
        self.points_layer = None
        self.skeleton_layer = None
        self.image_layer = None
        self._colors = keypoint_colors(0)
        self._syncing = False
        self._advance_pending = False
        self.autosave = labeling.AutosaveClock(interval_s=120.0)
        self.last_saved: Path | None = None

        # a dock, not a second canvas: keep it narrow so the frame stays large
        self.setMaximumWidth(400)
        layout = QVBoxLayout(self)
        self.tabs = QTabWidget()
        layout.addWidget(self.tabs)
        self.tabs.addTab(self._build_project_tab(), "Project")
        self.tabs.addTab(self._build_extract_tab(), "Extract")
        self.tabs.addTab(self._build_label_tab(), "Label")
        self.status = status_label("Open a config.yaml or create a project.")
        layout.addWidget(self.status)
        # the long jobs, one of each kind at a time: busy buttons, progress, Cancel
        self.project_job = DockJob(status=self.status, on_error=self._report)
        self.extract_job = DockJob(
            buttons=[self.extract_button], cancel_button=self.cancel_button, progress_bar=self.progress_bar,
            status=self.status, on_error=self._report,
        )
        self.prelabel_job = DockJob(
            buttons=[self.prelabel_button], cancel_button=self.prelabel_cancel,
            progress_bar=self.prelabel_progress, status=self.status, on_error=self._report,
        )

        self._timer = QTimer(self)
        self._timer.setInterval(5_000)
        self._timer.timeout.connect(self._autosave_tick)
        self._timer.start()

        self.viewer.layers.events.removed.connect(self._on_layer_removed)
        self.viewer.dims.events.current_step.connect(self._on_frame_changed)
        self._viewer_connected = True
        self._close_watcher = None
        window = getattr(getattr(self.viewer, "window", None), "_qt_window", None)
        if window is not None:
            self._close_watcher = _CloseWatcher(self.save_if_dirty, self)
            window.installEventFilter(self._close_watcher)

    def _report(self, error: Exception) -> None:
        from napari.utils.notifications import show_error

        self.status.setText(str(error))
        show_error(str(error))

    def save(self) -> Path | None:
        """Write ``CollectedData_<scorer>.h5/.csv`` (atomically, previous kept as ``.bak``)."""
        if self.labels is None:
            return None
        try:
            path = self.labels.save()
        except FaceHMMError as error:
            self._report(error)
            return None
        except OSError as error:
            self._report(FaceHMMError(f"Could not save {self.labels.labels_path}: {error}"))
            return None
        self.autosave.saved(time.monotonic())
        self.last_saved = path
        if isinstance(self.labels, labeling.PrelabelSet):
            counts = self.labels.counts()
            detail = (f"{int(self.labels.saved_rows().sum())} frame(s) written; "
                      f"{counts.n_to_check} frame(s) with unconfirmed proposals not saved")
        else:
            detail = str(self.labels.progress())
        self.status.setText(f"Saved {path.name} at {time.strftime('%H:%M:%S')}. {detail}")
        return path

    def save_if_dirty(self) -> Path | None:
        if self.labels is not None and self.labels.dirty:
            return self.save()
        return None

    def set_autosave_minutes(self, minutes: float) -> None:
        self.autosave.interval_s = float(minutes) * 60.0

    def _autosave_tick(self) -> None:
        if self.labels is not None and self.autosave.due(time.monotonic(), self.labels.dirty):
            # restart the interval first: a failing save is retried (and reported) once per
            # interval, not at every tick
            self.autosave.saved(time.monotonic())
            self.save()

    def _on_layer_removed(self, event) -> None:
        layer = getattr(event, "value", None)
        if layer is None or self.labels is None:
            return
        if layer is self.points_layer:
            self.save_if_dirty()
            self.points_layer = None
        if layer is self.skeleton_layer:
            self.skeleton_layer = None
        if layer is self.image_layer:
            self.image_layer = None

    def _disconnect_viewer(self) -> None:
        # the viewer outlives a closed dock: stop its events from reaching deleted widgets
        if self._viewer_connected:
            self._viewer_connected = False
            self.viewer.layers.events.removed.disconnect(self._on_layer_removed)
            self.viewer.dims.events.current_step.disconnect(self._on_frame_changed)

    def closeEvent(self, event):
        self.save_if_dirty()
        self._timer.stop()
        self._disconnect_viewer()
        super().closeEvent(event)
