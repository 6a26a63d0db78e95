"""The state shared by the viewer docks of one napari window.

The docks (expression states, ethogram, 3D face, summary, QC) do not talk to
each other directly: they read and update one :class:`FaceSession` per
viewer and listen to its signals. It holds the decoded state sequence and
gives access to the landmark series behind the plugin's points layers.
"""

from __future__ import annotations

import weakref
from typing import Any

import numpy as np
from psygnal import Signal

from ..colors import state_colors
from ..data import LandmarkSeries
from ._layers import set_face_colors
from ..layerdata import METADATA_KEY, keypoint_colors, states_for_frames, states_to_point_colors

#: napari's axis 0 is time in every layer this plugin creates
FRAME_AXIS = 0

_SESSIONS: "weakref.WeakKeyDictionary[Any, FaceSession]" = weakref.WeakKeyDictionary()


def show_error(message: str) -> None:
    from napari.utils.notifications import show_error as _show_error

    _show_error(message)


def get_session(viewer: Any) -> "FaceSession":
    """The :class:`FaceSession` of ``viewer``, created on first use."""
    session = _SESSIONS.get(viewer)
    if session is None:
        session = FaceSession(viewer)
        _SESSIONS[viewer] = session
    return session


def facehmm_meta(layer: Any) -> dict:
    metadata = getattr(layer, "metadata", None) or {}
    entry = metadata.get(METADATA_KEY)
    return entry if isinstance(entry, dict) else {}


class FaceSession:
    """Decoded states and landmark series of one viewer.

    Attributes
    ----------
    states
        ``(T,)`` state of each row of the fitted series, -1 = none; None before a fit.
    state_frames
        ``(T,)`` video frame of each state.
    posterior
        ``(T, n_states)`` state probabilities (NaN rows where no state) or None.
    n_states, state_names, model, features
        The model, its state names and the :class:`FeatureMatrix` it was fitted on.
    track_states
        ``{layer name: (states (T_i,), frames (T_i,))}``: the states decoded on
        that points layer's own landmarks, when several tracks were decoded;
        those layers are colored by them, every other layer by ``states``
        (the first track's, which the ethogram and the 3D face also show).
    """

    states_changed = Signal()
    names_changed = Signal()

    def __init__(self, viewer: Any):
        self._viewer_ref = weakref.ref(viewer)
        self.states: np.ndarray | None = None
        self.state_frames: np.ndarray | None = None
        self.posterior: np.ndarray | None = None
        self.n_states = 0
        self.state_names: list[str] = []
        self.model: Any = None
        self.features: Any = None
        self.source_name = ""
        self.track_states: dict[str, tuple[np.ndarray, np.ndarray]] = {}

    @property
    def viewer(self) -> Any:
        return self._viewer_ref()

    # ------------------------------------------------------------- layers
    def points_layers(self) -> list:
        """The plugin's landmark points layers, in layer-list order."""
        from napari.layers import Points

        return [
            layer
            for layer in self.viewer.layers
            if isinstance(layer, Points) and isinstance(facehmm_meta(layer).get("series"), LandmarkSeries)
        ]

    def series_of(self, layer: Any) -> LandmarkSeries:
        return facehmm_meta(layer)["series"]

    def pose3d(self) -> LandmarkSeries | None:
        """The session's 3D series (from a session folder or a pose-3d file), if any."""
        for layer in self.points_layers():
            meta = facehmm_meta(layer)
            if isinstance(meta.get("pose3d"), LandmarkSeries):
                return meta["pose3d"]
            if meta["series"].n_dims == 3:
                return meta["series"]
        return None

    def frame_range(self) -> tuple[int, int]:
        """First and last video frame over the plugin's layers and states (inclusive)."""
        lows, highs = [], []
        for layer in self.points_layers():
            frames = self.series_of(layer).frame_indices
            if len(frames):
                lows.append(frames.min())
                highs.append(frames.max())
        if self.state_frames is not None and len(self.state_frames):
            lows.append(self.state_frames.min())
            highs.append(self.state_frames.max())
        viewer = self.viewer
        if viewer is not None and viewer.dims.ndim > 2:
            low, high, _ = viewer.dims.range[FRAME_AXIS]
            lows.append(low)
            highs.append(high)
        if not lows:
            return 0, 0
        return int(min(lows)), int(max(highs))

    # --------------------------------------------------------------- time
    def current_frame(self) -> int:
        viewer = self.viewer
        if viewer is None or viewer.dims.ndim < 3:
            return 0
        return int(round(viewer.dims.point[FRAME_AXIS]))

    def seek(self, frame: int) -> None:
        """Move the time slider to video frame ``frame`` (clipped to the data range)."""
        viewer = self.viewer
        if viewer is None or viewer.dims.ndim < 3:
            return
        low, high, _ = viewer.dims.range[FRAME_AXIS]
        viewer.dims.set_point(FRAME_AXIS, float(np.clip(frame, low, high)))

    def state_at(self, frame: int) -> int:
        if self.states is None:
            return -1
        return int(states_for_frames(self.states, self.state_frames, [frame])[0])

    # ------------------------------------------------------------- states
    def set_states(
        self,
        states: np.ndarray,
        state_frames: np.ndarray,
        n_states: int,
        state_names: list[str] | None = None,
        posterior: np.ndarray | None = None,
        model: Any = None,
        features: Any = None,
        source_name: str = "",
        track_states: dict[str, tuple[np.ndarray, np.ndarray]] | None = None,
    ) -> None:
        """Store a decoded state sequence, recolor the points and notify the docks."""
        order = np.argsort(state_frames, kind="stable")
        self.states = np.asarray(states, dtype=np.int64)[order]
        self.state_frames = np.asarray(state_frames, dtype=np.int64)[order]
        self.posterior = None if posterior is None else np.asarray(posterior)[order]
        self.n_states = int(n_states)
        names = list(state_names or [])
        self.state_names = names + [f"state {i}" for i in range(len(names), self.n_states)]
        self.model = model
        self.features = features
        self.source_name = source_name
        self.track_states = {}
        for name, (values, frames) in (track_states or {}).items():
            track_order = np.argsort(frames, kind="stable")  # looked up by sorted frame
            self.track_states[name] = (
                np.asarray(values, dtype=np.int64)[track_order],
                np.asarray(frames, dtype=np.int64)[track_order],
            )
        self.color_points_by_state()
        self.states_changed.emit()

    def rename_state(self, state: int, name: str) -> None:
        self.state_names[state] = name
        if self.model is not None and hasattr(self.model, "state_names"):
            try:
                self.model.state_names = list(self.state_names)
            except (AttributeError, TypeError):
                pass
        self.names_changed.emit()

    def palette(self) -> np.ndarray:
        return state_colors(self.n_states)

    def color_points_by_state(self) -> None:
        """Give every point the color of its frame's state (one RGBA array per layer)."""
        if self.states is None:
            return
        for layer in self.points_layers():
            meta = facehmm_meta(layer)
            series = meta["series"]
            rows = meta.get("rows")
            if rows is None or len(rows) != len(layer.data):
                continue  # the user edited the points: leave their colors alone
            states, frames = self.track_states.get(layer.name, (self.states, self.state_frames))
            per_row = states_for_frames(states, frames, series.frame_indices)
            set_face_colors(layer, states_to_point_colors(per_row, rows, self.n_states))

    def color_points_by_keypoint(self) -> None:
        for layer in self.points_layers():
            meta = facehmm_meta(layer)
            ids = meta.get("keypoint_ids")
            if ids is not None and len(ids) == len(layer.data):
                set_face_colors(layer, keypoint_colors(len(meta["series"].keypoints))[ids])
