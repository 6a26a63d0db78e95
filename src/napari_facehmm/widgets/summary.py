"""State summary dock: mean face per state, frequencies, dwell times, transitions.

A matplotlib figure (redrawn only when the states or their names change):
small multiples of each state's mean head-centred face with the skeleton,
bars of time spent per state (absolute seconds and fraction), the median
bout duration (dwell time) and the transition matrix. Clicking a state's
bar or mean face moves the time slider to the start of its longest bout.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from matplotlib.backends.backend_qtagg import FigureCanvasQTAgg
from matplotlib.figure import Figure
from qtpy.QtWidgets import QVBoxLayout, QWidget

from ..features.geometry import egocentric_frame
from ._session import get_session, show_error


def longest_bout_start(states: np.ndarray, frames: np.ndarray, state: int, fps: float = 30.0) -> int | None:
    """Video frame where the longest bout of ``state`` starts (None if never visited)."""
    from ..stats.tables import bout_table

    bouts = bout_table(states, frames, fps)
    bouts = bouts[bouts["state"] == state]
    if bouts.empty:
        return None
    return int(bouts.loc[bouts["n_frames"].idxmax(), "start_frame"])


class StateSummaryWidget(QWidget):
    """Small multiples and tables of the decoded states."""

    def __init__(self, napari_viewer: Any, parent: QWidget | None = None):
        super().__init__(parent)
        self.viewer = napari_viewer
        self.session = get_session(napari_viewer)
        self.figure = Figure(figsize=(5, 6), facecolor="#26292f")
        self.canvas = FigureCanvasQTAgg(self.figure)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.canvas)
        self.setMinimumSize(300, 560)
        self._state_of_artist: dict[Any, int] = {}
        self.canvas.mpl_connect("pick_event", self._on_pick)
        self.session.states_changed.connect(self.redraw)
        self.session.names_changed.connect(self.redraw)
        self.redraw()

    # -------------------------------------------------------------- data
    def _coords(self) -> tuple[np.ndarray, tuple, np.ndarray] | None:
        """Head-centred coordinates (T, K, D), keypoints, skeleton edges of the fitted rows."""
        features = self.session.features
        if features is not None and getattr(features, "coords", None) is not None:
            from ..analysis import skeleton_for

            skeleton = skeleton_for(features)  # as the analysis' mean-face figure draws it
            index = {k: i for i, k in enumerate(features.keypoints)}
            edges = np.array([[index[a], index[b]] for a, b in skeleton if a in index and b in index]).reshape(-1, 2)
            return np.asarray(features.coords), tuple(features.keypoints), edges
        return None

    # ----------------------------------------------------------- drawing
    def redraw(self, *_: Any) -> None:
        try:
            self._draw()
        except Exception as exc:  # a broken summary must not take the viewer down
            show_error(f"State summary: {type(exc).__name__}: {exc}")

    def _draw(self) -> None:
        from ..stats.tables import state_table, transition_table

        self.figure.clear()
        self._state_of_artist = {}
        session = self.session
        text_color = "#dddddd"
        if session.states is None:
            ax = self.figure.add_subplot(111)
            ax.set_axis_off()
            ax.text(0.5, 0.5, "no states yet", color=text_color, ha="center", va="center")
            self.canvas.draw_idle()
            return
        n_states, states, frames = session.n_states, session.states, session.state_frames
        palette = session.palette()
        names = session.state_names
        fps = float(getattr(session.features, "fps", 30.0) or 30.0)
        table = state_table(states, n_states, fps, frame_indices=frames, state_names=names)
        n_cols = min(n_states, 5)
        n_face_rows = int(np.ceil(n_states / n_cols))
        grid = self.figure.add_gridspec(
            n_face_rows + 3,
            n_cols,
            height_ratios=[1.3] * n_face_rows + [1.0, 1.0, 2.2],
            hspace=1.0,
            wspace=0.25,
            left=0.13,
            right=0.97,
            top=0.95,
            bottom=0.05,
        )
        if len(session.tracks) > 1:
            # several decoded tracks: this is the active one (click an ethogram row to change it)
            self.figure.suptitle(f"track: {session.active_track}", color=text_color, fontsize=8, y=0.995)
        coords = self._coords()
        means = None
        if coords is not None:
            from ..stats.tables import mean_faces

            means, _ = mean_faces(coords[0], states, n_states)
        for state in range(n_states):
            ax = self.figure.add_subplot(grid[state // n_cols, state % n_cols])
            ax.set_facecolor("#1c1e24")
            ax.set_xticks([])
            ax.set_yticks([])
            for spine in ax.spines.values():
                spine.set_color(palette[state])
                spine.set_linewidth(2)
            ax.set_title(names[state], color=palette[state], fontsize=7)
            ax.set_picker(True)
            self._state_of_artist[ax] = state
            if means is not None and not np.isnan(means[state]).all():
                face = egocentric_frame(means[state], coords[1])
                x, y = face[:, 0], face[:, 1]
                if face.shape[1] == 2:
                    y = -y  # image rows grow downwards
                for a, b in coords[2]:
                    ax.plot([x[a], x[b]], [y[a], y[b]], color="#bbbbbb", lw=0.8)
                ax.scatter(x, y, s=5, color=palette[state], zorder=3)
                ax.set_aspect("equal", adjustable="datalim")
        ax_freq = self.figure.add_subplot(grid[n_face_rows, :])
        bars = ax_freq.bar(np.arange(n_states), table["time_s"], color=palette, picker=True)
        for state, bar in enumerate(bars):
            self._state_of_artist[bar] = state
        for state, fraction in enumerate(table["fraction"]):
            if np.isfinite(fraction):
                ax_freq.text(state, table["time_s"][state], f"{100 * fraction:.0f}%", color=text_color, ha="center", va="bottom", fontsize=6)
        ax_freq.set_ylabel("time (s)", color=text_color, fontsize=7)
        ax_freq.set_title("frequency (click a bar: longest bout)", color=text_color, fontsize=7)
        ax_dwell = self.figure.add_subplot(grid[n_face_rows + 1, :])
        ax_dwell.bar(np.arange(n_states), table["bout_median_s"].fillna(0), color=palette)
        ax_dwell.set_ylabel("median bout (s)", color=text_color, fontsize=7)
        ax_dwell.set_title("dwell time", color=text_color, fontsize=7)
        ax_trans = self.figure.add_subplot(grid[n_face_rows + 2, :])
        # switches only (self-steps dwarf everything else), as the analysis' transitions table
        switch_prob = transition_table(states, n_states, frames)["switch_probability"].to_numpy()
        ax_trans.imshow(np.nan_to_num(switch_prob.reshape(n_states, n_states)), cmap="magma", vmin=0, vmax=1, aspect="auto")
        ax_trans.set_title("switch probability (row: from, column: to)", color=text_color, fontsize=7)
        for ax in (ax_freq, ax_dwell, ax_trans):
            ax.set_facecolor("#1c1e24")
            ax.tick_params(colors=text_color, labelsize=6)
            ax.set_xticks(np.arange(n_states))
        ax_trans.set_yticks(np.arange(n_states))
        self.canvas.draw_idle()

    # ------------------------------------------------------------ clicks
    def _on_pick(self, event: Any) -> None:
        state = self._state_of_artist.get(event.artist)
        if state is not None:
            self.jump_to_state(state)

    def jump_to_state(self, state: int) -> int | None:
        """Seek to the start of the longest bout of ``state``; returns that frame."""
        session = self.session
        if session.states is None:
            return None
        frame = longest_bout_start(session.states, session.state_frames, state)
        if frame is None:
            show_error(f"state {session.state_names[state]} never occurs")
            return None
        session.seek(frame)
        return frame
