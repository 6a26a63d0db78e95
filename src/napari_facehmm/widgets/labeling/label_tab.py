"""The labeling dock's Label tab: a folder's frames, skeleton and points, keys, the keypoint list."""

from __future__ import annotations

import time

import numpy as np
from app_model.types import KeyCode, KeyMod
from qtpy.QtCore import Qt
from qtpy.QtGui import QColor
from qtpy.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from ... import labeling
from ..._napari.video_frames import VideoFrames
from ...errors import FaceHMMError
from .._worker import job_controls
from .points import keypoint_colors


class LabelTab:
    """The Label tab: open a folder, show it as layers, move between images and keypoints."""

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
        self.prelabel_cancel, self.prelabel_progress = job_controls(self.cancel, visible=False)
        prelabel_row.addWidget(self.prelabel_button, 1)
        prelabel_row.addWidget(self.prelabel_cancel)
        layout.addLayout(prelabel_row)
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
        epipolar_row = QHBoxLayout()
        self.epipolar_button = QPushButton("Epipolar help...")
        self.epipolar_button.setToolTip(
            "Choose the cameras' calibration.toml: the other cameras' frames of the same instant are shown "
            "beside this one, with each placed landmark's epipolar line, reprojection hints and errors"
        )
        self.epipolar_button.clicked.connect(self._browse_epipolar_calibration)
        epipolar_row.addWidget(self.epipolar_button)
        self.epipolar_label = QLabel("")
        self.epipolar_label.setWordWrap(True)
        epipolar_row.addWidget(self.epipolar_label, 1)
        layout.addLayout(epipolar_row)
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
        from ..._napari.layers import FacePoints

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

    def _browse_epipolar_calibration(self) -> None:
        from qtpy.QtWidgets import QFileDialog

        path, _ = QFileDialog.getOpenFileName(self, "Calibration", "", "Anipose calibration (*.toml)")
        if path:
            self.show_epipolar(path)

    def _remove_layers(self) -> None:
        self._remove_epipolar_layers()
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
