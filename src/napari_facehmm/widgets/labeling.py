"""The labeling widget: DeepLabCut projects, frame extraction, landmark labeling.

All state and file logic is in :mod:`napari_facehmm.labeling`; this module
only draws it and turns clicks and keys into calls of that core.

Layers of an open ``labeled-data/<video>`` folder:

- ``<video> frames``: the extracted images as a stack (slider = image);
- ``<video> skeleton``: a vectors layer with the skeleton edges, rebuilt on
  every change of the points;
- ``<video> labels``: the points, one per (image, keypoint), colored by
  keypoint. In add mode a click places the current keypoint (highlighted
  in the keypoint list) and moves on to the next unplaced one.

Keys (napari-deeplabcut's where it has them): Left/Right previous/next
image (napari's own), Shift+Right first image with unplaced landmarks,
Down/Up next/previous keypoint, N mark the current keypoint not visible,
E show/hide point borders, Ctrl+S (Cmd+S) save, 2/P add mode, 3/S select mode
(napari's own; drag selected points to move them, Delete removes them),
C confirm the frame's proposals.

Machine proposals (DeepLabCut's predictions when refining, the face model's
when pre-labeling) are drawn as hollow rings with a black border; labels as
filled discs with a white border. "Pre-label with the face model" fills the
extracted frames with the built-in tracker's proposals; a frame's proposals
become labels only when the frame is confirmed
(:data:`napari_facehmm.labeling.PRELABEL_RULE`, shown in the dock).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from app_model.types import KeyCode, KeyMod
from qtpy.QtCore import QEvent, QObject, Qt, QTimer
from qtpy.QtGui import QColor
from qtpy.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from .. import labeling
from ..errors import FaceHMMError
from ..face import FACE_KEYPOINTS, FACE_SKELETON
from ..layerdata import VideoFrames

if TYPE_CHECKING:
    import napari

__all__ = ["LabelingWidget", "keypoint_colors"]


def keypoint_colors(n_keypoints: int) -> np.ndarray:
    """``(n_keypoints, 4)`` RGBA: DeepLabCut's default ``rainbow`` colormap sampled evenly."""
    positions = np.linspace(0.0, 1.0, max(n_keypoints, 1))[:n_keypoints]
    # matplotlib's "rainbow": r = |2x - 0.5|, g = sin(pi x), b = cos(pi x / 2)
    red = np.clip(np.abs(2 * positions - 0.5), 0, 1)
    green = np.clip(np.sin(np.pi * positions), 0, 1)
    blue = np.clip(np.cos(np.pi * positions / 2), 0, 1)
    return np.column_stack([red, green, blue, np.ones_like(positions)])


def _parse_keypoints(text: str) -> list[str]:
    names = []
    for line in text.replace(",", "\n").splitlines():
        name = line.strip()
        if name:
            names.append(name)
    return names


def _parse_skeleton(text: str) -> list[tuple[str, str]]:
    edges = []
    for line in text.replace(",", "\n").splitlines():
        line = line.strip()
        if not line:
            continue
        parts = [p.strip() for p in line.replace(" - ", "-").split("-")]
        if len(parts) != 2 or not all(parts):
            raise FaceHMMError(f"skeleton line {line!r}: write one edge per line as 'a-b'")
        edges.append((parts[0], parts[1]))
    return edges


class _CloseWatcher(QObject):
    """Calls ``callback`` when the watched window is about to close."""

    def __init__(self, callback, parent=None):
        super().__init__(parent)
        self._callback = callback

    def eventFilter(self, watched, event):
        if event.type() == QEvent.Type.Close:
            self._callback()
        return False


class LabelingWidget(QWidget):
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
        self._worker = None
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
        self.status = QLabel("Open a config.yaml or create a project.")
        self.status.setWordWrap(True)
        layout.addWidget(self.status)

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

    # --------------------------------------------------------------- building
    def _build_project_tab(self) -> QWidget:
        tab = QWidget()
        form = QFormLayout(tab)
        self.project_name = QLineEdit("face")
        self.experimenter = QLineEdit()
        self.experimenter.setPlaceholderText("your name (the scorer)")
        self.video_list = QListWidget()
        self.video_list.setMaximumHeight(70)
        add_videos = QPushButton("Add videos…")
        add_videos.clicked.connect(self._choose_videos)
        self.working_directory = QLineEdit(str(Path.cwd()))
        self.keypoints_edit = QPlainTextEdit("\n".join(FACE_KEYPOINTS))
        self.keypoints_edit.setToolTip("One landmark name per line (DeepLabCut bodyparts).")
        self.skeleton_edit = QPlainTextEdit("\n".join(f"{a}-{b}" for a, b in FACE_SKELETON))
        self.skeleton_edit.setToolTip("One skeleton edge per line: name-name.")
        for edit in (self.keypoints_edit, self.skeleton_edit):
            edit.setMaximumHeight(90)
        self.use_deeplabcut = QCheckBox("use DeepLabCut's create_new_project")
        self.use_deeplabcut.setChecked(labeling.deeplabcut_available())
        self.use_deeplabcut.setEnabled(labeling.deeplabcut_available())
        create = QPushButton("Create project")
        create.clicked.connect(self._create_clicked)
        open_button = QPushButton("Open config.yaml…")
        open_button.clicked.connect(self._open_clicked)
        form.addRow("Name", self.project_name)
        form.addRow("Experimenter", self.experimenter)
        form.addRow("Videos", self.video_list)
        form.addRow("", add_videos)
        form.addRow("Folder", self.working_directory)
        form.addRow("Landmarks", self.keypoints_edit)
        form.addRow("Skeleton", self.skeleton_edit)
        form.addRow("", self.use_deeplabcut)
        buttons = QHBoxLayout()
        buttons.addWidget(create)
        buttons.addWidget(open_button)
        form.addRow(buttons)
        return tab

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

    def _build_label_tab(self) -> QWidget:
        tab = QWidget()
        layout = QVBoxLayout(tab)
        row = QHBoxLayout()
        self.folder_choice = QComboBox()
        self.folder_choice.setToolTip("labeled-data folder (one per video)")
        open_folder = QPushButton("Label")
        open_folder.clicked.connect(lambda: self.open_folder(self.folder_choice.currentText()))
        refine = QPushButton("Refine predictions")
        refine.setToolTip("Load DeepLabCut's machinelabels-iter<N>.h5 of this folder to correct them")
        refine.clicked.connect(lambda: self.open_folder(self.folder_choice.currentText(), refine=True))
        row.addWidget(self.folder_choice, 1)
        row.addWidget(open_folder)
        row.addWidget(refine)
        layout.addLayout(row)
        prelabel_row = QHBoxLayout()
        self.prelabel_button = QPushButton("Pre-label with the face model")
        self.prelabel_button.setToolTip(
            "Run the built-in face model on this folder's extracted frames and show its proposals "
            "(written to machinelabels-iter<N>.h5; your CollectedData file is not touched)"
        )
        self.prelabel_button.clicked.connect(lambda: self.prelabel(self.folder_choice.currentText()))
        self.prelabel_cancel = QPushButton("Cancel")
        self.prelabel_cancel.setEnabled(False)
        self.prelabel_cancel.clicked.connect(self.cancel)
        prelabel_row.addWidget(self.prelabel_button, 1)
        prelabel_row.addWidget(self.prelabel_cancel)
        layout.addLayout(prelabel_row)
        self.prelabel_progress = QProgressBar()
        self.prelabel_progress.setVisible(False)
        layout.addWidget(self.prelabel_progress)
        self.prelabel_rule = QLabel(labeling.PRELABEL_RULE)
        self.prelabel_rule.setWordWrap(True)
        self.prelabel_rule.setStyleSheet("color: #b0b0b0;")
        layout.addWidget(self.prelabel_rule)
        confirm_row = QHBoxLayout()
        self.prelabel_counts = QLabel("")
        self.prelabel_counts.setWordWrap(True)
        self.confirm_button = QPushButton("Confirm frame (C)")
        self.confirm_button.setToolTip("Accept this frame's proposals as labels")
        self.confirm_button.clicked.connect(self.confirm_frame)
        self.confirm_button.setEnabled(False)
        confirm_row.addWidget(self.prelabel_counts, 1)
        confirm_row.addWidget(self.confirm_button)
        layout.addLayout(confirm_row)
        self.frame_label = QLabel("")
        layout.addWidget(self.frame_label)
        self.keypoint_list = QListWidget()
        self.keypoint_list.currentRowChanged.connect(self._keypoint_row_changed)
        layout.addWidget(self.keypoint_list, 1)
        self.progress_label = QLabel("")
        layout.addWidget(self.progress_label)
        buttons = QHBoxLayout()
        not_visible = QPushButton("Not visible (N)")
        not_visible.clicked.connect(self.mark_not_visible)
        delete = QPushButton("Delete point")
        delete.clicked.connect(self.delete_current_point)
        save = QPushButton("Save (Ctrl+S)")
        save.clicked.connect(self.save)
        for button in (not_visible, delete, save):
            buttons.addWidget(button)
        layout.addLayout(buttons)
        autosave_row = QHBoxLayout()
        autosave_row.addWidget(QLabel("Autosave every (min, 0 = off)"))
        self.autosave_minutes = QSpinBox()
        self.autosave_minutes.setRange(0, 120)
        self.autosave_minutes.setValue(2)
        self.autosave_minutes.valueChanged.connect(self.set_autosave_minutes)
        autosave_row.addWidget(self.autosave_minutes)
        layout.addLayout(autosave_row)
        return tab

    # ---------------------------------------------------------------- helpers
    def _report(self, error: Exception) -> None:
        from napari.utils.notifications import show_error

        self.status.setText(str(error))
        show_error(str(error))

    def _choose_videos(self) -> None:
        paths, _ = QFileDialog.getOpenFileNames(
            self, "Videos", "", "Videos (*.mp4 *.avi *.mov *.mkv);;All files (*)"
        )
        for path in paths:
            self.video_list.addItem(path)

    def _open_clicked(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "DeepLabCut config.yaml", "", "config.yaml (*.yaml)")
        if path:
            self.open_project(path)

    def _create_clicked(self) -> None:
        videos = [self.video_list.item(i).text() for i in range(self.video_list.count())]
        try:
            keypoints = _parse_keypoints(self.keypoints_edit.toPlainText())
            skeleton = _parse_skeleton(self.skeleton_edit.toPlainText())
        except FaceHMMError as error:
            self._report(error)
            return
        self.create_project(
            self.project_name.text().strip(),
            self.experimenter.text().strip(),
            videos,
            self.working_directory.text().strip(),
            keypoints,
            skeleton,
            use_deeplabcut=self.use_deeplabcut.isChecked(),
        )

    # ---------------------------------------------------------------- project
    def create_project(self, name, experimenter, videos, working_directory, keypoints=FACE_KEYPOINTS,
                       skeleton=FACE_SKELETON, use_deeplabcut: bool | None = None):
        """Create a project in a worker thread; returns the worker.

        With DeepLabCut the work runs in a child process
        (:func:`~napari_facehmm.labeling.in_subprocess`): importing DeepLabCut
        into a process that shows a napari viewer crashes.
        """
        from ._worker import start_worker

        arguments = dict(
            project=name,
            experimenter=experimenter,
            videos=[str(v) for v in videos],
            working_directory=str(working_directory),
            bodyparts=list(keypoints),
            skeleton=[list(edge) for edge in skeleton],
        )
        if use_deeplabcut is None:
            use_deeplabcut = labeling.deeplabcut_available()
        if use_deeplabcut:
            job = labeling.in_subprocess("create_project", use_deeplabcut=True, **arguments)
            function = lambda: (yield from job)  # noqa: E731
        else:
            function = lambda: labeling.create_project(use_deeplabcut=False, **arguments)  # noqa: E731
        self.status.setText("Creating the project…")
        worker = start_worker(function, on_return=self.open_project, on_error=self._report)
        self._worker = worker
        return worker

    def open_project(self, config_path: str | Path) -> labeling.LabelingProject | None:
        """Open a ``config.yaml``; lists its ``labeled-data`` folders."""
        try:
            self.project = labeling.open_project(config_path)
        except FaceHMMError as error:
            self._report(error)
            return None
        self._refresh_folders()
        self._fill_frame_counts()
        self.status.setText(
            f"Project {self.project.root.name}: {len(self.project.bodyparts)} landmarks, "
            f"{len(self.project.video_sets)} video(s)."
        )
        return self.project

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

    def _refresh_folders(self) -> None:
        self.folder_choice.clear()
        if self.project is not None:
            self.folder_choice.addItems(labeling.labeled_data_folders(self.project))

    # ---------------------------------------------------------------- extract
    def extract(self, n_frames: int | None = None, algorithm: str | None = None,
                synchronized: bool | None = None, use_deeplabcut: bool | None = None):
        """Extract frames of the project's videos in a worker thread; returns the worker.

        Arguments left None come from the Extract tab (``n_frames``: the
        per-video table; with synchronized cameras the first video's number).
        """
        from ._worker import start_worker

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

        def on_progress(value):
            if worker.abort_requested:  # progress queued before Cancel
                return
            done, total, message = value
            self.progress_bar.setMaximum(max(total, 1))
            self.progress_bar.setValue(done)
            self.status.setText(message)

        def on_done(written):
            self._refresh_folders()
            count = sum(len(v) for v in (written or {}).values())
            self.status.setText(f"Extracted {count} frames into labeled-data.")

        self._set_busy(True)
        worker = start_worker(
            lambda: (yield from job),
            on_yield=on_progress,
            on_return=on_done,
            on_error=self._report,
            on_finish=lambda: self._set_busy(False),
            on_abort=on_abort,
            _progress={"desc": "Extracting frames"},
        )
        self._worker = worker
        return worker

    def _set_busy(self, busy: bool) -> None:
        self.extract_button.setEnabled(not busy)
        self.cancel_button.setEnabled(busy)

    def cancel(self) -> None:
        """Stop the running extraction or project creation (at its next progress step)."""
        if self._worker is not None:
            self._worker.quit()
            self.status.setText("Cancelling…")

    # ---------------------------------------------------------------- label
    def open_folder(self, video: str, refine: bool = False) -> labeling.LabelSet | None:
        """Show ``labeled-data/<video>`` for labeling (or refining DeepLabCut's predictions)."""
        if self.project is None:
            self._report(FaceHMMError("Open or create a project first."))
            return None
        if not video:
            self._report(FaceHMMError("No labeled-data folder: extract frames first."))
            return None
        self.save_if_dirty()
        try:
            if refine:
                machine_path = labeling.find_machine_labels(self.project.labeled_data(video))
                if machine_path is not None and labeling.is_face_model_proposals(machine_path):
                    # the face model's proposals keep their rule however they are opened
                    labels = labeling.load_prelabels(self.project, video, machine_path)
                else:
                    labels = labeling.load_for_refinement(self.project, video, machine_path)
            else:
                labels = labeling.load_labels(self.project, video)
        except FaceHMMError as error:
            self._report(error)
            return None
        return self._show_labels(labels)

    def _show_labels(self, labels: labeling.LabelSet) -> labeling.LabelSet | None:
        """Replace the shown folder by ``labels`` (its frames, skeleton and points)."""
        try:
            stack = VideoFrames(labels.image_stack())  # lazy: images are read when shown
        except FaceHMMError as error:
            self._report(error)
            return None
        self._remove_layers()
        self.labels = labels
        self._colors = keypoint_colors(labels.n_keypoints)
        self._fill_keypoint_list()
        name = labels.video
        # explicit limits: napari would otherwise read every image to find them
        self.image_layer = self.viewer.add_image(
            stack, name=f"{name} frames", rgb=True, contrast_limits=(0, 255)
        )
        height = stack.shape[1]
        self.skeleton_layer = self.viewer.add_vectors(
            labels.skeleton_vectors(),
            ndim=3,
            name=f"{name} skeleton",
            edge_width=max(1.0, height / 300),
            edge_color="white",
            opacity=0.8,
            vector_style="line",
        )
        data, keypoint_names, machine = labels.to_points()
        # FacePoints: the point size must not widen the image slider to "-3"
        from ._layers import FacePoints

        self.points_layer = FacePoints(
            data,
            ndim=3,
            name=f"{name} labels",
            features={"label": np.asarray(keypoint_names, dtype=object), "machine": machine},
            size=max(5.0, height / 40),
            border_width=0.12,
            border_color="white",
            # napari rejects an empty color array: give one color when there are no points yet
            face_color=self._point_colors(keypoint_names) if len(data) else self._colors[0],
        )
        self.viewer.add_layer(self.points_layer)
        self._style_points()
        if self.viewer.dims.ndim == 3:
            # the slider walks through images, not time
            self.viewer.dims.axis_labels = ("image", "y", "x")
        self._install_keys(self.points_layer)
        self.points_layer.events.data.connect(self._on_points_data)
        self.points_layer.events.features.connect(self._after_features)
        checking = isinstance(labels, labeling.PrelabelSet)
        # checking proposals is dragging them: a stray click must not add a point
        self.points_layer.mode = "select" if checking else "add"
        self.confirm_button.setEnabled(checking)
        self.viewer.layers.selection.active = self.points_layer
        self.viewer.dims.set_current_step(0, labels.first_unfinished_image() or 0)
        self._on_frame_changed()
        self.autosave.saved(time.monotonic())
        self.tabs.setCurrentIndex(2)
        if labels.missing_images:
            from napari.utils.notifications import show_warning

            message = (
                f"{len(labels.missing_images)} labeled image(s) are missing from labeled-data "
                f"(shown blank, labels kept): {', '.join(labels.missing_images)}"
            )
            show_warning(message)
            self.status.setText(message)
        elif checking:
            self.status.setText(
                f"Checking the face model's proposals on {name}: drag the wrong points (select mode), "
                "press C when a frame is right; Shift+Right goes to the next frame to check."
            )
        else:
            self.status.setText(
                f"Labeling {name}: {labels.n_images} images. Click to place the highlighted "
                "landmark; Down/Up change it, Left/Right the image, N = not visible."
            )
        return labels

    def _point_colors(self, names) -> np.ndarray:
        index = {k: i for i, k in enumerate(self.labels.keypoints)}
        return self._colors[[index[str(n)] for n in names]].reshape(-1, 4)

    def _install_keys(self, layer) -> None:
        # napari-deeplabcut's choices: Down/Up cycle keypoints; frames keep napari's Left/Right.
        layer.bind_key("Down", lambda _layer: self.next_keypoint(), overwrite=True)
        layer.bind_key("Up", lambda _layer: self.previous_keypoint(), overwrite=True)
        layer.bind_key("n", lambda _layer: self.mark_not_visible(), overwrite=True)
        layer.bind_key("Shift-Right", lambda _layer: self.first_unfinished_frame(), overwrite=True)
        layer.bind_key("Shift-Left", lambda _layer: self.first_unfinished_frame(), overwrite=True)
        # Ctrl+S, Cmd+S on macOS
        layer.bind_key(KeyMod.CtrlCmd | KeyCode.KeyS, lambda _layer: self.save(), overwrite=True)
        layer.bind_key("e", self._toggle_borders, overwrite=True)
        layer.bind_key("c", lambda _layer: self.confirm_frame(), overwrite=True)

    @staticmethod
    def _toggle_borders(layer) -> None:
        """E: show or hide the point borders (napari-deeplabcut's key), to see the pixel under a point."""
        layer.border_width = 0.0 if np.all(layer.border_width > 0) else 0.12

    def _fill_keypoint_list(self) -> None:
        self.keypoint_list.blockSignals(True)
        self.keypoint_list.clear()
        for k, name in enumerate(self.labels.keypoints):
            item = QListWidgetItem(name)
            r, g, b, _ = (self._colors[k] * 255).astype(int)
            item.setData(Qt.ItemDataRole.DecorationRole, QColor(r, g, b))
            self.keypoint_list.addItem(item)
        self.keypoint_list.blockSignals(False)

    def _remove_layers(self) -> None:
        layers = [self.points_layer, self.skeleton_layer, self.image_layer]
        self.points_layer = self.skeleton_layer = self.image_layer = None
        for layer in layers:
            if layer is not None and layer in self.viewer.layers:
                self.viewer.layers.remove(layer)

    @property
    def current_row(self) -> int:
        """The image shown (the slider position)."""
        return int(self.viewer.dims.current_step[0]) if self.labels is not None else 0

    def set_current_keypoint(self, k: int) -> None:
        if self.labels is None:
            return
        self.current_keypoint = int(k) % self.labels.n_keypoints
        if self.points_layer is not None:
            # New points take the current keypoint's name (their color is set once added;
            # setting current_face_color would recolor selected points in select mode).
            self.points_layer.feature_defaults = {
                "label": self.labels.keypoints[self.current_keypoint],
                "machine": False,
            }
        self._refresh_keypoint_list()

    def _keypoint_row_changed(self, row: int) -> None:
        if row >= 0 and self.labels is not None and row != self.current_keypoint:
            self.set_current_keypoint(row)

    def _refresh_keypoint_list(self) -> None:
        if self.labels is None or self.keypoint_list.count() != self.labels.n_keypoints:
            return
        row = min(self.current_row, self.labels.n_images - 1)
        placed = ~np.isnan(self.labels.positions[row, :, 0])
        for k in range(self.labels.n_keypoints):
            item = self.keypoint_list.item(k)
            mark = "✓" if placed[k] else ("–" if self.labels.not_visible[row, k] else " ")
            if placed[k] and self.labels.machine[row, k]:
                mark = "?"
            item.setText(f"{mark} {self.labels.keypoints[k]}")
        self.keypoint_list.blockSignals(True)
        self.keypoint_list.setCurrentRow(self.current_keypoint)
        self.keypoint_list.blockSignals(False)
        self.progress_label.setText(str(self.labels.progress()))
        self._refresh_counts()

    def _refresh_counts(self) -> None:
        if isinstance(self.labels, labeling.PrelabelSet):
            self.prelabel_counts.setText(f"Proposals: {self.labels.counts()}")
        else:
            self.prelabel_counts.setText("")

    def next_keypoint(self) -> None:
        """Select the next keypoint (Down)."""
        self.set_current_keypoint(self.current_keypoint + 1)

    def previous_keypoint(self) -> None:
        """Select the previous keypoint (Up)."""
        self.set_current_keypoint(self.current_keypoint - 1)

    def next_frame(self) -> None:
        """Show the next image (Right)."""
        if self.labels is not None:
            self.viewer.dims.set_current_step(0, min(self.current_row + 1, self.labels.n_images - 1))

    def previous_frame(self) -> None:
        """Show the previous image (Left)."""
        if self.labels is not None:
            self.viewer.dims.set_current_step(0, max(self.current_row - 1, 0))

    def first_unfinished_frame(self) -> None:
        """Show the first image with an unplaced landmark (Shift+Right, as napari-deeplabcut)."""
        if self.labels is not None:
            row = self.labels.first_unfinished_image()
            if row is not None:
                self.viewer.dims.set_current_step(0, row)

    def _on_frame_changed(self, event=None) -> None:
        if self.labels is None or self.labels.n_images == 0:
            return
        row = min(self.current_row, self.labels.n_images - 1)
        upcoming = self.labels.next_keypoint(row)
        self.set_current_keypoint(upcoming if upcoming is not None else 0)
        self.frame_label.setText(f"Image {row + 1}/{self.labels.n_images}: {self.labels.images[row]}")

    # -------------------------------------------------- points <-> label state
    def place(self, x: float, y: float, row: int | None = None) -> None:
        """Place the current keypoint at ``(x, y)`` on image ``row`` (default: the shown
        one), exactly as an add-mode click does."""
        if self.points_layer is None:
            return
        row = self.current_row if row is None else int(row)
        self.points_layer.add(np.array([[row, y, x]], dtype=np.float64))

    def _on_points_data(self, event) -> None:
        action = str(getattr(event, "action", "changed"))
        if self._syncing or self.labels is None or action.endswith("ing"):
            return
        layer = self.points_layer
        labels = [str(v) for v in layer.features["label"]]
        self._syncing = True
        try:
            try:
                duplicates = self.labels.update_from_points(layer.data, labels)
            except FaceHMMError as error:
                self._report(error)
                return
            if duplicates:
                keep = np.setdiff1d(np.arange(len(layer.data)), duplicates)
                self._set_layer_points(layer.data[keep], [labels[i] for i in keep],
                                       layer.features["machine"].to_numpy()[keep])
            elif len(labels):
                layer.face_color = self._point_colors(labels)
            self._style_points()
        finally:
            self._syncing = False
        if action.endswith("added"):
            # napari selects the new point after this event, which resets the layer's
            # feature defaults to that point's keypoint; advance once it has (features event).
            self._advance_pending = True
        self._update_skeleton()
        self._refresh_keypoint_list()

    def _style_points(self) -> None:
        """Labels: filled discs, white border. Untouched machine proposals: hollow rings, black border."""
        layer = self.points_layer
        if layer is None or len(layer.data) == 0:
            return
        rows = np.clip(np.round(layer.data[:, 0]).astype(int), 0, self.labels.n_images - 1)
        index = {k: i for i, k in enumerate(self.labels.keypoints)}
        ks = np.array([index[str(v)] for v in layer.features["label"]], dtype=np.int64)
        machine = self.labels.machine[rows, ks]
        colors = np.where(machine[:, None], [[0.0, 0.0, 0.0, 1.0]], [[1.0, 1.0, 1.0, 1.0]])
        layer.border_color = colors
        symbols = np.where(machine, "ring", "disc").astype(object)
        if not np.array_equal(np.asarray([str(v) for v in layer.symbol], dtype=object), symbols):
            layer.symbol = symbols

    def _after_features(self, event=None) -> None:
        if not self._advance_pending or self.labels is None:
            return
        self._advance_pending = False
        upcoming = self.labels.next_keypoint(self.current_row, after=self.current_keypoint)
        self.set_current_keypoint(upcoming if upcoming is not None else self.current_keypoint)

    def _set_layer_points(self, data, names, machine) -> None:
        layer = self.points_layer
        was = self._syncing
        self._syncing = True
        try:
            layer.data = np.asarray(data, dtype=np.float64).reshape(-1, 3)
            layer.features = {"label": np.asarray(names, dtype=object), "machine": np.asarray(machine, bool)}
            if len(names):
                layer.face_color = self._point_colors(names)
            layer.selected_data = set()
            self._style_points()
            self.set_current_keypoint(self.current_keypoint)
        finally:
            self._syncing = was

    def _reload_points_from_labels(self) -> None:
        data, names, machine = self.labels.to_points()
        self._set_layer_points(data, names, machine)
        self._update_skeleton()
        self._refresh_keypoint_list()

    def _update_skeleton(self) -> None:
        if self.skeleton_layer is not None and self.labels is not None:
            self.skeleton_layer.data = self.labels.skeleton_vectors()

    def mark_not_visible(self) -> None:
        """The current keypoint is not visible on this image: remove its point, move on (N)."""
        if self.labels is None:
            return
        row = self.current_row
        k = self.current_keypoint
        self.labels.mark_not_visible(row, k)
        self._reload_points_from_labels()
        upcoming = self.labels.next_keypoint(row, after=k)
        if upcoming is not None:
            self.set_current_keypoint(upcoming)

    def delete_current_point(self) -> None:
        """Delete the current keypoint's point on this image."""
        if self.labels is None:
            return
        self.labels.clear_point(self.current_row, self.current_keypoint)
        self._reload_points_from_labels()

    # ------------------------------------------------------------ pre-labeling
    def prelabel(self, video: str | None = None):
        """Run the face model on ``labeled-data/<video>`` in a worker thread; returns the worker.

        The proposals are written as ``machinelabels-iter<N>.h5`` and shown
        for checking (:class:`~napari_facehmm.labeling.PrelabelSet`).
        """
        from ._worker import start_worker

        if self.project is None:
            self._report(FaceHMMError("Open or create a project first."))
            return None
        video = video or self.folder_choice.currentText()
        if not video:
            self._report(FaceHMMError("No labeled-data folder: extract frames first."))
            return None
        self.save_if_dirty()
        job = labeling.prelabel_folder(self.project, video)

        def on_progress(value):
            if worker.abort_requested:
                return
            done, total, message = value
            self.prelabel_progress.setMaximum(max(total, 1))
            self.prelabel_progress.setValue(done)
            self.status.setText(message)

        def on_done(result):
            self.save_if_dirty()  # edits made on the shown folder while the model ran
            try:
                labels = labeling.load_prelabels(self.project, video, result.path)
            except FaceHMMError as error:
                self._report(error)
                return
            if self._show_labels(labels) is None:
                return
            text = "; ".join(result.messages)
            self.status.setText(f"{text}. {self.status.text()}")
            from napari.utils.notifications import show_info

            show_info(text)

        def on_abort():
            job.close()  # nothing is written when the job stops before its end
            self.status.setText("Pre-labeling cancelled; nothing was written.")

        self._set_prelabel_busy(True)
        self.status.setText(f"Pre-labeling {video} with the face model…")
        worker = start_worker(
            lambda: (yield from job),
            on_yield=on_progress,
            on_return=on_done,
            on_error=self._report,
            on_finish=lambda: self._set_prelabel_busy(False),
            on_abort=on_abort,
            _progress={"desc": "Pre-labeling"},
        )
        self._worker = worker
        return worker

    def _set_prelabel_busy(self, busy: bool) -> None:
        self.prelabel_button.setEnabled(not busy)
        self.prelabel_cancel.setEnabled(busy)
        self.prelabel_progress.setVisible(busy)
        if busy:
            self.prelabel_progress.setValue(0)

    def confirm_frame(self) -> None:
        """Accept the shown frame's proposals as labels (C)."""
        if not isinstance(self.labels, labeling.PrelabelSet):
            return
        self.labels.confirm(self.current_row)
        self._reload_points_from_labels()

    # ---------------------------------------------------------------- saving
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
