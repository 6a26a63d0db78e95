"""State summary dock: mean face per state, frequencies, dwell times, transitions.

A matplotlib figure (redrawn only when the states or their names change):
small multiples of each state's mean head-centred face with the skeleton
(the analysis figure's drawing: 3D faces seen from the front), bars of time spent per state (absolute seconds and fraction), the median
bout duration (dwell time) and the transition matrix. A state the seed
stability check flagged is titled "(unstable)". Clicking a state's
bar or mean face moves the time slider to the start of its longest bout.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from matplotlib.backends.backend_qtagg import FigureCanvasQTAgg
from matplotlib.figure import Figure
from qtpy.QtWidgets import QVBoxLayout, QWidget

from ..analysis_stability import state_stability_label
from ..stats.tables import longest_bout_start
from ._session import get_session, show_error

__all__ = ["StateSummaryWidget", "longest_bout_start"]


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
    def face_drawing(self) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        """The mean faces as drawn: ``(faces_2d (n_states, K, 2), edges (E, 2), image_coordinates)``.

        The coordinates are :func:`~napari_facehmm.stats.figures.state_face_drawing`'s,
        the analysis' mean-face figure's (3D faces seen from the front); None before a fit.
        """
        session = self.session
        features = session.features
        if session.states is None or features is None or getattr(features, "coords", None) is None:
            return None
        from ..analysis import skeleton_for
        from ..stats.figures import state_face_drawing

        faces_2d, _ = state_face_drawing(features.coords, session.states, session.n_states, features.keypoints)
        index = {k: i for i, k in enumerate(features.keypoints)}
        skeleton = skeleton_for(features)  # as the analysis' mean-face figure draws it
        edges = np.array([[index[a], index[b]] for a, b in skeleton if a in index and b in index]).reshape(-1, 2)
        return faces_2d, edges, features.coords.shape[-1] == 2

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
        # the model's seed stability check (analysis_stability), when its fit made one
        stability = (getattr(session.model, "metadata", None) or {}).get("stability")
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
        drawing = self.face_drawing()
        for state in range(n_states):
            ax = self.figure.add_subplot(grid[state // n_cols, state % n_cols])
            ax.set_facecolor("#1c1e24")
            ax.set_xticks([])
            ax.set_yticks([])
            for spine in ax.spines.values():
                spine.set_color(palette[state])
                spine.set_linewidth(2)
            unstable = state_stability_label(stability, state)[1]
            ax.set_title(names[state] + ("\n(unstable)" if unstable else ""), color=palette[state], fontsize=7)
            ax.set_picker(True)
            self._state_of_artist[ax] = state
            if drawing is not None and not np.isnan(drawing[0][state]).all():
                faces_2d, edges, image_coordinates = drawing
                x, y = faces_2d[state, :, 0], faces_2d[state, :, 1]
                for a, b in edges:
                    ax.plot([x[a], x[b]], [y[a], y[b]], color="#bbbbbb", lw=0.8)
                ax.scatter(x, y, s=5, color=palette[state], zorder=3)
                ax.set_aspect("equal", adjustable="datalim")
                if image_coordinates:
                    ax.invert_yaxis()  # image rows grow downwards
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
