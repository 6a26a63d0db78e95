"""The state shared by the viewer docks of one napari window.

The docks (expression states, ethogram, 3D face, summary, QC) do not talk to
each other directly: they read and update one :class:`FaceSession` per
viewer and listen to its signals. It holds the decoded state sequence and
gives access to the landmark series behind the plugin's points layers.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from typing import Any

import numpy as np
from psygnal import Signal

from .._napari.convert import METADATA_KEY
from .._napari.layers import set_face_colors
from .._napari.state_colors import states_for_frames, states_to_point_colors
from ..colors import keypoint_colors, state_colors
from ..data import LandmarkSeries
from ..errors import FaceHMMError

#: napari's axis 0 is time in every layer this plugin creates
FRAME_AXIS = 0

_SESSIONS: "weakref.WeakKeyDictionary[Any, FaceSession]" = weakref.WeakKeyDictionary()


def show_error(message: str) -> None:
    from napari.utils.notifications import show_error as _show_error

    _show_error(message)


def show_failure(title: str, exc: BaseException, status: Any = None) -> None:
    """Notify that a dock's job failed: ``title: message``, and ``failed: message`` in ``status``.

    The project's own errors (:class:`~napari_facehmm.errors.FaceHMMError`)
    say what to fix, so their message stands alone; any other exception is
    a bug, and its type leads the message so that a report names it.
    """
    detail = str(exc) if isinstance(exc, FaceHMMError) else f"{type(exc).__name__}: {exc}"
    show_error(f"{title}: {detail}")
    if status is not None:
        status.setText(f"failed: {exc}")


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


@dataclass
class DecodedTrack:
    """The states decoded on one track (a points layer or the session's 3D pose).

    ``states`` ``(T,)`` (-1 = none) and ``frames`` ``(T,)`` are sorted by
    frame; ``posterior`` ``(T, n_states)`` or None; ``features`` is the
    :class:`FeatureMatrix` the states were decoded from.
    """

    name: str
    states: np.ndarray
    frames: np.ndarray
    posterior: np.ndarray | None = None
    features: Any = None

    def __post_init__(self) -> None:
        order = np.argsort(np.asarray(self.frames), kind="stable")
        self.states = np.asarray(self.states, dtype=np.int64)[order]
        self.frames = np.asarray(self.frames, dtype=np.int64)[order]
        if self.posterior is not None:
            self.posterior = np.asarray(self.posterior)[order]


class FaceSession:
    """Decoded states and landmark series of one viewer.

    Several tracks (points layers, or the session's 3D pose) can be decoded
    with one model; each points layer is colored by its own track's states.
    One of them is the *active* track: the ethogram highlights its row and
    draws its traces, and the 3D face and the state summary show it.

    Attributes
    ----------
    tracks
        ``{name: DecodedTrack}`` in decoding order; empty before a fit.
    active_track
        Name of the active track ("" before a fit).
    states, state_frames, posterior, features
        The active track's states ``(T,)`` (-1 = none), their video frames
        ``(T,)``, state probabilities ``(T, n_states)`` and feature matrix;
        ``states`` is None before a fit.
    n_states, state_names, model
        The model and its state names.
    """

    #: new states, or another active track
    states_changed = Signal()
    names_changed = Signal()

    def __init__(self, viewer: Any):
        self._viewer_ref = weakref.ref(viewer)
        self.n_states = 0
        self.state_names: list[str] = []
        self.model: Any = None
        self.tracks: dict[str, DecodedTrack] = {}
        self.active_track = ""

    @property
    def viewer(self) -> Any:
        return self._viewer_ref()

    # ------------------------------------------------- the active track
    @property
    def _active(self) -> DecodedTrack | None:
        return self.tracks.get(self.active_track)

    @property
    def states(self) -> np.ndarray | None:
        active = self._active
        return None if active is None else active.states

    @property
    def state_frames(self) -> np.ndarray | None:
        active = self._active
        return None if active is None else active.frames

    @property
    def posterior(self) -> np.ndarray | None:
        active = self._active
        return None if active is None else active.posterior

    @property
    def features(self) -> Any:
        active = self._active
        return None if active is None else active.features

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

    def active_series(self) -> LandmarkSeries | None:
        """The 2D/3D landmarks to show for the active track.

        The active track's points layer; the first landmark layer when the
        active track is none (the session's 3D pose, or no states yet).
        """
        viewer = self.viewer
        if self.active_track and viewer is not None and self.active_track in viewer.layers:
            series = facehmm_meta(viewer.layers[self.active_track]).get("series")
            if isinstance(series, LandmarkSeries):
                return series
        layers = self.points_layers()
        return self.series_of(layers[0]) if layers else None

    def frame_range(self) -> tuple[int, int]:
        """First and last video frame over the plugin's layers and states (inclusive)."""
        lows, highs = [], []
        for layer in self.points_layers():
            frames = self.series_of(layer).frame_indices
            if len(frames):
                lows.append(frames.min())
                highs.append(frames.max())
        for track in self.tracks.values():
            if len(track.frames):
                lows.append(track.frames.min())
                highs.append(track.frames.max())
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
        """State of video frame ``frame`` in the active track; -1 = none."""
        active = self._active
        if active is None:
            return -1
        return int(states_for_frames(active.states, active.frames, [frame])[0])

    def state_name(self, state: int) -> str:
        """Name of ``state``; "" for -1 (no state)."""
        return self.state_names[state] if 0 <= state < len(self.state_names) else ""

    # ------------------------------------------------------------- states
    def set_states(
        self,
        tracks: list[DecodedTrack],
        n_states: int,
        state_names: list[str] | None = None,
        model: Any = None,
        active: str | None = None,
    ) -> None:
        """Store the decoded tracks, recolor the points and notify the docks.

        The first track is active unless ``active`` names another.
        """
        if not tracks:
            raise ValueError("set_states needs at least one decoded track")
        self.tracks = {track.name: track for track in tracks}
        self.n_states = int(n_states)
        names = list(state_names or [])
        self.state_names = names + [f"state {i}" for i in range(len(names), self.n_states)]
        self.model = model
        self.active_track = active if active in self.tracks else tracks[0].name
        self.color_points_by_state()
        self.states_changed.emit()

    def set_active_track(self, name: str) -> None:
        """Make decoded track ``name`` the one the ethogram, 3D face and summary show."""
        if name not in self.tracks:
            raise KeyError(f"no decoded track named {name!r} (decoded: {', '.join(self.tracks)})")
        if name == self.active_track:
            return
        self.active_track = name
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
        if not self.tracks:
            return
        for layer in self.points_layers():
            meta = facehmm_meta(layer)
            series = meta["series"]
            rows = meta.get("rows")
            if rows is None or len(rows) != len(layer.data):
                continue  # the user edited the points: leave their colors alone
            # a decoded layer shows its own states, any other layer the first track's
            track = self.tracks.get(layer.name) or next(iter(self.tracks.values()))
            per_row = states_for_frames(track.states, track.frames, series.frame_indices)
            set_face_colors(layer, states_to_point_colors(per_row, rows, self.n_states))

    def color_points_by_keypoint(self) -> None:
        for layer in self.points_layers():
            meta = facehmm_meta(layer)
            ids = meta.get("keypoint_ids")
            if ids is not None and len(ids) == len(layer.data):
                set_face_colors(layer, keypoint_colors(len(meta["series"].keypoints))[ids])
