"""3D face dock: the landmarks and skeleton of the current frame in 3D.

A vispy ``SceneCanvas`` with a turntable camera (rotate with the mouse) holds
one ``Markers`` and one ``Line`` visual whose data are replaced as the time
slider moves (20-26 ms an update with the canvas drawn here, see
``face3d_update_ms`` of ``bench/viewer.py``; target < 40 ms).
Points are colored by the state of the frame when states are known, by
keypoint otherwise. Without a 3D series the dock shows the egocentric 2D face
(centred on ``nose1``) of the active track's layer (or of the first landmark
layer), in the plane z = 0. When several tracks were decoded, a "track" box
picks the one whose states color the face (the session's active track, also
chosen by clicking its ethogram row).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from qtpy.QtWidgets import QComboBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget
from vispy import scene

from ..colors import MISSING_COLOR, keypoint_colors
from ..data import LandmarkSeries
from ..features.geometry import egocentric_frame
from ._session import get_session


class Face3DWidget(QWidget):
    """The current frame's face in 3D (or egocentric 2D), rotatable."""

    def __init__(self, napari_viewer: Any, parent: QWidget | None = None):
        super().__init__(parent)
        self.viewer = napari_viewer
        self.session = get_session(napari_viewer)
        self.canvas = scene.SceneCanvas(keys=None, size=(320, 320), bgcolor="#26292f", show=False)
        self.view = self.canvas.central_widget.add_view()
        # world y is up and faces look along +z (Anipose/synthetic convention):
        # azimuth 90 looks at the face from the front
        self.view.camera = scene.TurntableCamera(fov=0.0, elevation=10.0, azimuth=70.0, up="+y")
        self.markers = scene.visuals.Markers(parent=self.view.scene)
        self.lines = scene.visuals.Line(parent=self.view.scene, connect="segments", color=(1, 1, 1, 0.8), width=2)
        self.label = QLabel("")
        self.track = QComboBox()
        self.track.setToolTip("the decoded track whose states color the face")
        self._track_row = QWidget()
        track_layout = QHBoxLayout(self._track_row)
        track_layout.setContentsMargins(4, 0, 4, 0)
        track_layout.addWidget(QLabel("track"))
        track_layout.addWidget(self.track, 1)
        self._track_row.setVisible(False)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self._track_row)
        layout.addWidget(self.canvas.native)
        layout.addWidget(self.label)
        self.setMinimumSize(240, 260)
        self.last_positions: np.ndarray | None = None
        self.last_colors: np.ndarray | None = None
        self._series: LandmarkSeries | None = None
        self._is_3d = False
        self._framed = False
        self.viewer.dims.events.current_step.connect(self.update_frame)
        self.viewer.layers.events.inserted.connect(self._on_layers)
        self.viewer.layers.events.removed.connect(self._on_layers)
        self.session.states_changed.connect(self._on_states)
        self.track.currentTextChanged.connect(self._on_track_chosen)
        self._on_states()

    def _on_states(self, *_: Any) -> None:
        """New states or a new active track: refill the track box, then redraw."""
        names = list(self.session.tracks)
        self.track.blockSignals(True)
        try:
            if [self.track.itemText(i) for i in range(self.track.count())] != names:
                self.track.clear()
                self.track.addItems(names)
            if self.session.active_track in names:
                self.track.setCurrentText(self.session.active_track)
        finally:
            self.track.blockSignals(False)
        self._track_row.setVisible(len(names) > 1)
        self._on_layers()

    def _on_track_chosen(self, name: str) -> None:
        if name and name in self.session.tracks:
            self.session.set_active_track(name)  # the session's signal redraws

    def _on_layers(self, *_: Any) -> None:
        series = self.session.pose3d()
        self._is_3d = series is not None
        if series is None:
            series = self.session.active_series()
        if series is not self._series:
            self._series = series
            self._framed = False
        self.update_frame()

    def _frame_points(self, frame: int) -> tuple[np.ndarray, np.ndarray] | None:
        series = self._series
        if series is None or series.n_frames == 0:
            return None
        row = int(np.clip(np.searchsorted(series.frame_indices, frame), 0, series.n_frames - 1))
        if series.frame_indices[row] != frame:
            return np.full((series.n_keypoints, 3), np.nan), series.skeleton_indices
        positions = egocentric_frame(series.positions[row], series.keypoints)
        if series.n_dims == 2:
            # image y grows downwards: flip it so the face is upright
            positions = np.column_stack([positions[:, 0], -positions[:, 1], np.zeros(len(positions))])
        return positions, series.skeleton_indices

    def update_frame(self, *_: Any) -> None:
        """Show the face of the current frame (connected to the time slider)."""
        frame = self.session.current_frame()
        result = self._frame_points(frame)
        if result is None:
            self.markers.set_data(np.zeros((0, 3)))
            self.lines.set_data(pos=np.zeros((0, 3)))
            self.label.setText("no landmarks")
            self.last_positions = None
            return
        positions, edges = result
        state = self.session.state_at(frame)
        if state >= 0:
            colors = np.tile(self.session.palette()[state], (len(positions), 1))
        elif self.session.states is not None:
            colors = np.tile(MISSING_COLOR, (len(positions), 1))
        else:
            colors = keypoint_colors(len(positions))
        present = ~np.isnan(positions).any(axis=1)
        self.last_positions = positions
        self.last_colors = colors
        if present.any():
            self.markers.set_data(positions[present], face_color=colors[present], size=9, edge_width=0)
            ok = present[edges[:, 0]] & present[edges[:, 1]] if len(edges) else np.zeros(0, bool)
            segments = positions[edges[ok]].reshape(-1, 3)
            self.lines.set_data(pos=segments if len(segments) else np.zeros((0, 3)))
            if not self._framed:
                extent = float(np.nanmax(np.abs(positions[present]))) or 1.0
                self.view.camera.center = (0.0, 0.0, 0.0)
                self.view.camera.azimuth = 70.0 if self._is_3d else 90.0
                self.view.camera.elevation = 10.0 if self._is_3d else 0.0
                # with fov=0 the scale factor is the visible width in data units
                self.view.camera.scale_factor = 2.4 * extent
                self._framed = True
        else:
            self.markers.set_data(np.zeros((0, 3)))
            self.lines.set_data(pos=np.zeros((0, 3)))
        state_name = self.session.state_name(state)
        text = f"{'3D' if self._is_3d else 'egocentric 2D'}, frame {frame}"
        if len(self.session.tracks) > 1:
            text += f"  {self.session.active_track}: {state_name or 'no state'}"
        elif state_name:
            text += f"  state: {state_name}"
        self.label.setText(text)
        self.canvas.update()
