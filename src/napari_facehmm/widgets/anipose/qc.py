"""The "QC" tab: the 3D points reprojected into each camera, error per camera over time, frames by error."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from qtpy.QtWidgets import QComboBox, QHBoxLayout, QLabel, QListWidget, QPushButton, QVBoxLayout, QWidget

from ...errors import FaceHMMError
from ...tracking import anipose_qc as qc
from ...tracking.frame_quality import frame_scores
from .._lists import current_data, data_item
from .._session import facehmm_meta, show_error

N_SORTED_FRAMES = 100
MEAN_OF_KEYPOINTS = "mean of keypoints"


class QCTabMixin:
    """The QC tab: :meth:`show_reprojections`, :meth:`refresh_qc`, :meth:`jump_to_selected`.

    A mixin of :class:`~napari_facehmm.widgets.anipose.AniposeWidget`: its widgets
    are attributes of the dock, which provides ``viewer``, ``session``, ``tabs``,
    ``project_dir`` and the last result (``pose3d``, ``tracks_2d``,
    ``calibration``, ``errors``).
    """

    def _build_qc_tab(self) -> QWidget:
        from matplotlib.backends.backend_qtagg import FigureCanvasQTAgg
        from matplotlib.figure import Figure

        tab = QWidget()
        layout = QVBoxLayout(tab)
        self.reprojection_button = QPushButton("Show 3D reprojected into each camera")
        self.reprojection_button.clicked.connect(self.show_reprojections)
        layout.addWidget(self.reprojection_button)
        keypoint_row = QHBoxLayout()
        keypoint_row.addWidget(QLabel("Error of"))
        self.keypoint_combo = QComboBox()
        self.keypoint_combo.addItem(MEAN_OF_KEYPOINTS)
        self.keypoint_combo.currentTextChanged.connect(lambda *_: self.refresh_qc())
        keypoint_row.addWidget(self.keypoint_combo, 1)
        layout.addLayout(keypoint_row)
        self.figure = Figure(figsize=(3.6, 2.0), facecolor="#26292f")
        self.canvas = FigureCanvasQTAgg(self.figure)
        self.canvas.setMinimumHeight(160)
        layout.addWidget(self.canvas)
        layout.addWidget(QLabel("frames by reprojection error (worst camera)"))
        self.frames_list = QListWidget()
        self.frames_list.itemDoubleClicked.connect(lambda _: self.jump_to_selected())
        layout.addWidget(self.frames_list, 1)
        self.jump_button = QPushButton("Jump to frame")
        self.jump_button.clicked.connect(self.jump_to_selected)
        layout.addWidget(self.jump_button)
        return tab

    def _camera_translate(self, camera: str) -> tuple | None:
        """Translate of the viewer's layers of ``camera`` (its 2D points, else its video)."""
        for layer in self.session.points_layers():
            if facehmm_meta(layer).get("camera") == camera:
                return tuple(layer.translate)
        for layer in self.viewer.layers:
            meta = facehmm_meta(layer)
            if meta.get("kind") == "video" and Path(meta.get("path", "")).stem.endswith(f"-{camera}"):
                return tuple(layer.translate)
        return None

    def show_reprojections(self) -> list:
        """Draw the 3D points reprojected into each camera over its layers; returns the layers.

        Opens the project folder first when the viewer shows no camera of it.
        Also makes the new 3D series the session's, for the Tracking QC dock.
        """
        from ..._napari.convert import METADATA_KEY, series_to_points
        from ..._napari.layers import FacePoints, open_session

        if self.pose3d is None:
            show_error("3D (Anipose): triangulate first")
            return []
        cameras = list(self.tracks_2d) or list(self.pose3d.attrs.get("cameras", ()))
        try:
            if all(self._camera_translate(c) is None for c in cameras) and self.project_dir is not None:
                from ..._napari.session import is_session_folder

                if is_session_folder(self.project_dir):
                    open_session(self.viewer, self.project_dir)
            projected = qc.reproject(self.pose3d, self.calibration, cameras=cameras)
        except FaceHMMError as exc:
            show_error(f"3D (Anipose): {exc}")
            return []
        for layer in self.session.points_layers():
            facehmm_meta(layer)["pose3d"] = self.pose3d
        layers = []
        for camera, series in projected.items():
            name = f"{camera} 3D reprojected"
            if name in self.viewer.layers:
                self.viewer.layers.remove(name)
            points = series_to_points(series)
            # as large as the camera's 2D points, so a cross covers its disc but for the rim
            size = next(
                (
                    float(np.max(layer.size))
                    for layer in self.session.points_layers()
                    if facehmm_meta(layer).get("camera") == camera and len(layer.size)
                ),
                5.0,
            )
            layer = FacePoints(
                points.data,
                features=points.features,
                face_color=points.face_color,
                # a white outline tells the crosses from the same-colored 2D discs
                border_color="white",
                border_width=0.15,
                symbol="cross",
                size=size,
                name=name,
                translate=self._camera_translate(camera) or (0.0, 0.0, 0.0),
                metadata={METADATA_KEY: {"kind": "reprojection", "camera": camera, "pose3d": self.pose3d}},
            )
            self.viewer.add_layer(layer)
            layers.append(layer)
        self.tabs.setCurrentIndex(2)
        return layers

    def refresh_qc(self) -> None:
        """Redraw the per-camera error plot and the frames sorted by error."""
        self.figure.clear()
        axes = self.figure.add_subplot(111)
        self.frames_list.clear()
        keypoint = self.keypoint_combo.currentIndex() - 1
        keypoint = None if keypoint < 0 else keypoint
        if self.errors and self.pose3d is not None:
            frames = self.pose3d.frame_indices
            for camera, errors in self.errors.items():
                # the camera's score per frame, as the ranking below computes it
                axes.plot(frames, frame_scores(errors, keypoint=keypoint), lw=0.7, label=camera)
            axes.legend(fontsize=6)
            for frame, error in qc.frames_by_error(self.errors, frames, keypoint=keypoint, n=N_SORTED_FRAMES):
                self.frames_list.addItem(data_item(f"frame {frame}   {error:.2f} px", frame))
        axes.set_xlabel("frame", fontsize=7, color="#dddddd")
        axes.set_ylabel("reproj. error (px)", fontsize=7, color="#dddddd")
        axes.set_facecolor("#1c1e24")
        axes.tick_params(colors="#dddddd", labelsize=6)
        self.figure.tight_layout()
        self.canvas.draw_idle()

    def jump_to_selected(self) -> None:
        frame = current_data(self.frames_list)
        if frame is not None:
            self.session.seek(int(frame))
