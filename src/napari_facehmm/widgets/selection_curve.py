"""The number of states from the data, in the Expression states dock: the curve, and another K picked from it.

Shows the table of :func:`~napari_facehmm.analysis_selection.select_states`
(``result.info["model_selection_table"]``): the held-out log-likelihood
per frame of each candidate K with its standard error (higher is better;
left axis), BIC on the training blocks beside it (lower is better; right
axis, dashed), the K the data chose (dotted line) and the K of the states
shown (a ring). Clicking the curve picks a K; "Refit" asks the dock to fit
that K (:attr:`SelectionCurve.refit_requested`). Nothing is computed here.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from matplotlib.backends.backend_qtagg import FigureCanvasQTAgg
from matplotlib.figure import Figure
from qtpy.QtCore import Signal
from qtpy.QtWidgets import QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

__all__ = ["SelectionCurve"]

_BACKGROUND, _AXES, _TEXT = "#26292f", "#1c1e24", "#dddddd"
_HELDOUT, _BIC, _CHOSEN, _SHOWN = "#4fc3f7", "#ffb74d", "#bbbbbb", "#ffffff"


class SelectionCurve(QWidget):
    """The held-out log-likelihood and BIC against K; click a K, then Refit."""

    #: the K the user asks to fit
    refit_requested = Signal(int)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.table: Any = None
        self.chosen: int | None = None
        self.shown: int | None = None
        self.picked: int | None = None
        self.reason = ""
        self.figure = Figure(figsize=(3.6, 2.2), facecolor=_BACKGROUND)
        self.canvas = FigureCanvasQTAgg(self.figure)
        self.canvas.setMinimumHeight(190)
        self.canvas.mpl_connect("button_press_event", self._on_click)
        self.label = QLabel("")
        self.label.setWordWrap(True)
        self.refit_button = QPushButton("Refit")
        self.refit_button.setEnabled(False)
        self.refit_button.clicked.connect(self._on_refit)
        line = QHBoxLayout()
        line.addWidget(self.label, 1)
        line.addWidget(self.refit_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.canvas)
        layout.addLayout(line)
        self.setVisible(False)

    # ------------------------------------------------------------- state
    @property
    def candidates(self) -> list[int]:
        return [] if self.table is None else [int(k) for k in self.table["n_states"]]

    def show_selection(self, table: Any, chosen: int, reason: str, shown: int | None = None) -> None:
        """Show a selection table; ``shown`` is the K of the states on screen (default: the chosen one)."""
        self.table = table.reset_index(drop=True)
        self.chosen = int(chosen)
        self.reason = reason
        self.picked = None
        self.set_shown(self.chosen if shown is None else shown)
        self.setVisible(True)

    def set_shown(self, n_states: int) -> None:
        """Mark the K whose states are shown (after a refit with a picked K)."""
        self.shown = int(n_states)
        self._update()

    def clear(self) -> None:
        self.table = self.chosen = self.shown = self.picked = None
        self.setVisible(False)

    def pick(self, n_states: int) -> None:
        """Pick a candidate K (what a click on the curve does)."""
        if n_states not in self.candidates:
            return
        self.picked = int(n_states)
        self._update()

    def _on_click(self, event: Any) -> None:
        if event.inaxes is None or event.xdata is None or not self.candidates:
            return
        candidates = np.array(self.candidates)
        self.pick(int(candidates[np.argmin(np.abs(candidates - event.xdata))]))

    def _on_refit(self) -> None:
        if self.picked is not None:
            self.refit_requested.emit(self.picked)

    # ----------------------------------------------------------- drawing
    def _update(self) -> None:
        self._draw()
        picked = self.picked
        self.refit_button.setEnabled(picked is not None and picked != self.shown)
        self.refit_button.setText(f"Refit with {picked} states" if picked is not None else "Refit")
        text = f"the data chose {self.chosen} states" if self.chosen is not None else ""
        if self.shown is not None and self.shown != self.chosen:
            text += f"; showing {self.shown} (picked)"
        self.label.setText(text + ("; click the curve to pick another K" if picked is None else ""))
        self.label.setToolTip(self.reason)

    def _draw(self) -> None:
        self.figure.clear()
        if self.table is None:
            self.canvas.draw_idle()
            return
        k = np.array(self.candidates)
        heldout = self.table["heldout_log_likelihood_per_frame"].to_numpy(dtype=float)
        error = self.table["heldout_gap_se"].to_numpy(dtype=float) if "heldout_gap_se" in self.table else None
        ax = self.figure.add_axes((0.2, 0.2, 0.62, 0.68))
        ax.set_facecolor(_AXES)
        ax.errorbar(k, heldout, yerr=error, color=_HELDOUT, marker="o", markersize=4, capsize=2, lw=1.2)
        ax.set_xlabel("states (K)", color=_TEXT, fontsize=7)
        ax.set_ylabel("held-out log-lik./frame ↑", color=_HELDOUT, fontsize=7)
        bic_ax = ax.twinx()
        bic_ax.plot(k, self.table["bic"].to_numpy(dtype=float), color=_BIC, marker="s", markersize=3,
                    linestyle="--", lw=1)
        bic_ax.set_ylabel("BIC ↓", color=_BIC, fontsize=7)
        for axis, color in ((ax, _HELDOUT), (bic_ax, _BIC)):
            axis.tick_params(colors=_TEXT, labelsize=6)
            axis.tick_params(axis="y", colors=color)
            for spine in axis.spines.values():
                spine.set_color("#555a66")
        ax.set_xticks(k)
        ax.margins(x=0.08, y=0.15)  # room for the rings around the end points
        index = {int(value): i for i, value in enumerate(k)}
        if self.chosen in index:
            ax.axvline(self.chosen, color=_CHOSEN, linestyle=":", lw=1)
            ax.set_title(f"chosen: {self.chosen} states", color=_TEXT, fontsize=8)
        if self.shown in index:
            ax.plot([self.shown], [heldout[index[self.shown]]], "o", markersize=10, markerfacecolor="none",
                    markeredgecolor=_SHOWN, markeredgewidth=1.5)
        if self.picked in index and self.picked != self.shown:
            ax.plot([self.picked], [heldout[index[self.picked]]], "o", markersize=10, markerfacecolor="none",
                    markeredgecolor=_BIC, markeredgewidth=1.5)
        self.canvas.draw_idle()
