"""Tracking QC dock: likelihood and reprojection error over time, worst frames.

Plots the mean tracking likelihood per frame of each landmark layer and, when
a 3D series with Anipose's ``error`` attribute is loaded, the mean
reprojection error; lists the worst frames with a button to jump to each;
and holds the likelihood threshold below which points are hidden, together
with the skeleton edges that have a hidden end (made transparent: napari's
vectors have no per-vector visibility).

The measures and the ranking are computed in
:mod:`napari_facehmm.tracking.frame_quality` (re-exported here).
"""

from __future__ import annotations

import weakref
from typing import Any

import numpy as np
from matplotlib.backends.backend_qtagg import FigureCanvasQTAgg
from matplotlib.figure import Figure
from qtpy.QtCore import Qt
from qtpy.QtWidgets import (
    QDoubleSpinBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QPushButton,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from .._napari.convert import likelihood_shown, skeleton_edges_present, skeleton_vectors_shown
from ..data import LandmarkSeries
from ..tracking.frame_quality import N_WORST, frame_quality, worst_frames
from ._lists import current_data, data_item
from ._session import facehmm_meta, get_session

__all__ = ["N_WORST", "TrackingQCWidget", "frame_quality", "worst_frames"]


class TrackingQCWidget(QWidget):
    """Likelihood / reprojection error over time, worst frames, likelihood threshold."""

    def __init__(self, napari_viewer: Any, parent: QWidget | None = None):
        super().__init__(parent)
        self.viewer = napari_viewer
        self.session = get_session(napari_viewer)
        #: skeleton_edges_present of each series whose skeleton the threshold hides edges of
        self._edges_present: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
        self.figure = Figure(figsize=(4, 2.6), facecolor="#26292f")
        self.canvas = FigureCanvasQTAgg(self.figure)
        self.threshold = QDoubleSpinBox()
        self.threshold.setRange(0.0, 1.0)
        self.threshold.setSingleStep(0.05)
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(0, 100)
        self.worst = QListWidget()
        self.jump_button = QPushButton("Jump to frame")
        row = QHBoxLayout()
        row.addWidget(QLabel("hide points with likelihood <"))
        row.addWidget(self.threshold)
        layout = QVBoxLayout(self)
        layout.addWidget(self.canvas)
        layout.addLayout(row)
        layout.addWidget(self.slider)
        layout.addWidget(QLabel(f"worst frames (first {N_WORST} per track)"))
        layout.addWidget(self.worst)
        layout.addWidget(self.jump_button)
        self.setMinimumSize(280, 420)
        self.slider.valueChanged.connect(lambda v: self.threshold.setValue(v / 100))
        self.threshold.valueChanged.connect(self.set_threshold)
        self.jump_button.clicked.connect(self.jump_to_selected)
        self.worst.itemDoubleClicked.connect(lambda _: self.jump_to_selected())
        self.viewer.layers.events.inserted.connect(self.refresh)
        self.viewer.layers.events.removed.connect(self.refresh)
        self.refresh()

    def _tracks(self) -> list[tuple[str, LandmarkSeries]]:
        tracks = [(layer.name, self.session.series_of(layer)) for layer in self.session.points_layers()]
        pose3d = self.session.pose3d()
        if pose3d is not None and all(series is not pose3d for _, series in tracks):
            tracks.append(("3D pose", pose3d))
        return tracks

    def refresh(self, *_: Any) -> None:
        """Redraw the plots and the worst-frame list from the current layers."""
        self.figure.clear()
        tracks = self._tracks()
        qualities = [frame_quality(series) for _, series in tracks]  # once per track: 40 ms on an hour
        has_error = any("reprojection_error" in quality for quality in qualities)
        axes = self.figure.subplots(2 if has_error else 1, 1, squeeze=False)[:, 0]
        self.worst.clear()
        for (name, series), quality in zip(tracks, qualities):
            if series.n_dims == 2:
                axes[0].plot(series.frame_indices, quality["likelihood"], lw=0.7, label=name)
            if "reprojection_error" in quality:
                axes[-1].plot(series.frame_indices, quality["reprojection_error"], lw=0.7, color="#ff9f40")
            for frame, what, value in worst_frames(series, quality=quality):
                self.worst.addItem(data_item(f"{name}: frame {frame}  {what} {value:.3g}", frame))
        axes[0].set_ylabel("likelihood", fontsize=7, color="#dddddd")
        axes[-1].set_xlabel("frame", fontsize=7, color="#dddddd")
        if has_error:
            axes[-1].set_ylabel("reproj. error (px)", fontsize=7, color="#dddddd")
        for ax in axes:
            ax.set_facecolor("#1c1e24")
            ax.tick_params(colors="#dddddd", labelsize=6)
        if tracks and any(s.n_dims == 2 for _, s in tracks):
            axes[0].legend(fontsize=6)
        self.figure.tight_layout()
        self.canvas.draw_idle()
        self.set_threshold(self.threshold.value())

    def set_threshold(self, threshold: float) -> None:
        """Hide points whose likelihood is below ``threshold`` in every landmark layer."""
        if self.slider.value() != round(threshold * 100):
            self.slider.blockSignals(True)
            self.slider.setValue(round(threshold * 100))
            self.slider.blockSignals(False)
        for layer in self.session.points_layers():
            if "likelihood" in layer.features.columns:
                layer.shown = likelihood_shown(layer.features["likelihood"].to_numpy(), threshold)
        self._hide_skeleton_edges(threshold)

    def _hide_skeleton_edges(self, threshold: float) -> None:
        """Make the skeleton edges with an end below ``threshold`` transparent."""
        for layer in self.viewer.layers:
            meta = facehmm_meta(layer)
            name = meta.get("series_name")
            if meta.get("kind") != "skeleton" or name not in self.viewer.layers:
                continue
            series = facehmm_meta(self.viewer.layers[name]).get("series")
            if not isinstance(series, LandmarkSeries):
                continue
            present = self._edges_present.get(series)
            if present is None:  # once per series: the slider step only gathers
                present = self._edges_present[series] = skeleton_edges_present(series)
            shown = skeleton_vectors_shown(series, threshold, present)
            if len(shown) != len(layer.data):
                continue  # the user edited the skeleton: leave it alone
            full = meta.get("full_edge_color")
            if full is None or len(full) != len(shown):
                # the colors before any hiding, kept so lowering the threshold restores them
                full = np.array(layer.edge_color, dtype=float, copy=True)
                meta["full_edge_color"] = full
            colors = full.copy()
            colors[~shown, 3] = 0.0
            layer.edge_color = colors

    def jump_to_selected(self) -> None:
        frame = current_data(self.worst)
        if frame is not None:
            self.session.seek(int(frame))
