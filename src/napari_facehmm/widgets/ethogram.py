"""Ethogram dock: the state sequence as a colored band under the canvas.

A plain ``QWidget`` paints the band from an RGBA strip (one pixel column per
screen pixel, computed by :func:`napari_facehmm.layerdata.state_band_image`)
and a cursor at the current frame. Painting a cached image is far cheaper
than redrawing a matplotlib figure on every slider step. Clicking or dragging
on the band moves the time slider. Below the band, thin traces show the state
probability, the head speed and the mean tracking likelihood when known.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from qtpy.QtCore import QPointF, QRectF, Qt
from qtpy.QtGui import QColor, QImage, QPainter, QPainterPath, QPen
from qtpy.QtWidgets import QSizePolicy, QWidget

from ..layerdata import state_band_image, states_for_frames
from ._session import get_session

BAND_HEIGHT = 28
TRACE_HEIGHT = 26
MARGIN = 6


class EthogramWidget(QWidget):
    """States over time, a frame cursor, click/drag to seek."""

    def __init__(self, napari_viewer: Any, parent: QWidget | None = None):
        super().__init__(parent)
        self.viewer = napari_viewer
        self.session = get_session(napari_viewer)
        self.setMinimumHeight(BAND_HEIGHT + 3 * TRACE_HEIGHT + 5 * MARGIN + 14)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setMouseTracking(False)
        self._band: QImage | None = None
        self._band_key: tuple | None = None
        self._traces: dict[str, np.ndarray] = {}
        self._static: QImage | None = None
        self._static_key: tuple | None = None
        self._version = 0
        self.cursor_frame = self.session.current_frame()
        self.session.states_changed.connect(self._on_states_changed)
        self.viewer.dims.events.current_step.connect(self._on_step)
        self.viewer.layers.events.inserted.connect(self._on_states_changed)
        self._on_states_changed()

    # --------------------------------------------------------- geometry
    def _frame_range(self) -> tuple[int, int]:
        return self.session.frame_range()

    def _band_rect(self) -> QRectF:
        return QRectF(MARGIN, MARGIN, max(1, self.width() - 2 * MARGIN), BAND_HEIGHT)

    def frame_to_x(self, frame: float) -> float:
        low, high = self._frame_range()
        rect = self._band_rect()
        span = max(high - low, 1)
        return rect.left() + (frame - low) / span * rect.width()

    def x_to_frame(self, x: float) -> int:
        low, high = self._frame_range()
        rect = self._band_rect()
        fraction = np.clip((x - rect.left()) / max(rect.width(), 1.0), 0.0, 1.0)
        return int(round(low + fraction * (high - low)))

    # ------------------------------------------------------------ data
    def _on_states_changed(self, *_: Any) -> None:
        self._version += 1
        self._band = None
        self._traces = {}
        session = self.session
        tracks = [name for name in session.source_name.split(", ") if name]
        tip = f"states decoded on {tracks[0]}" if tracks else ""
        if len(tracks) > 1:
            tip += f", the first of {len(tracks)} tracks (the points of each track show its own states)"
        self.setToolTip(tip)
        low, high = self._frame_range()
        frames = np.arange(low, high + 1)
        if session.states is not None and session.posterior is not None:
            best = np.nanmax(np.where(np.isnan(session.posterior), -1, session.posterior), axis=1)
            best = np.where(best < 0, np.nan, best)
            self._traces["state probability"] = self._on_frames(best, session.state_frames, frames)
        kinematics = getattr(session.features, "kinematics", None) or {}
        if session.states is not None and "speed" in kinematics:
            frames_of_rows = session.features.frame_indices
            self._traces["head speed"] = self._on_frames(kinematics["speed"], frames_of_rows, frames)
        layers = session.points_layers()
        if layers:
            series = session.series_of(layers[0])
            if series.n_dims == 2:
                likelihood = np.nanmean(np.where(np.isnan(series.positions[..., 0]), np.nan, series.confidence), axis=1) if series.n_keypoints else None
                if likelihood is not None:
                    self._traces["likelihood"] = self._on_frames(likelihood, series.frame_indices, frames)
        self.update()

    @staticmethod
    def _on_frames(values: np.ndarray, value_frames: np.ndarray, frames: np.ndarray) -> np.ndarray:
        out = np.full(len(frames), np.nan)
        if len(frames) == 0:
            return out
        index = np.asarray(value_frames, dtype=np.int64) - frames[0]
        keep = (index >= 0) & (index < len(frames))
        out[index[keep]] = np.asarray(values, dtype=float)[keep]
        return out

    def _band_image(self, width: int) -> QImage | None:
        session = self.session
        if session.states is None:
            return None
        low, high = self._frame_range()
        key = (width, low, high, id(session.states), session.n_states)
        if self._band is not None and self._band_key == key:
            return self._band
        frames = np.arange(low, high + 1)
        per_frame = states_for_frames(session.states, session.state_frames, frames)
        strip = np.ascontiguousarray(state_band_image(per_frame, session.n_states, width=width)[0])
        image = QImage(strip.data, strip.shape[0], 1, strip.shape[0] * 4, QImage.Format.Format_RGBA8888)
        self._band = image.copy()  # own the pixels: ``strip`` is freed after this call
        self._band_key = key
        return self._band

    # ------------------------------------------------------------ events
    def _on_step(self, *_: Any) -> None:
        frame = self.session.current_frame()
        if frame != self.cursor_frame:
            self.cursor_frame = frame
            self.update()

    def mousePressEvent(self, event: Any) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            self._seek_to(event.position().x())

    def mouseMoveEvent(self, event: Any) -> None:
        if event.buttons() & Qt.MouseButton.LeftButton:
            self._seek_to(event.position().x())

    def _seek_to(self, x: float) -> None:
        self.session.seek(self.x_to_frame(x))

    # ----------------------------------------------------------- painting
    def paintEvent(self, event: Any) -> None:
        painter = QPainter(self)
        try:
            # the band and traces change only with the data or the size: keep
            # them in an image, so a slider step repaints just the cursor
            key = (self.width(), self.height(), self._version)
            if self._static is None or self._static_key != key:
                self._static = self._render_static()
                self._static_key = key
            painter.drawImage(0, 0, self._static)
            rect = self._band_rect()
            x = self.frame_to_x(self.cursor_frame)
            painter.setPen(QPen(QColor(255, 255, 255), 2))
            painter.drawLine(QPointF(x, MARGIN - 3), QPointF(x, self.height() - 2))
            state = self.session.state_at(self.cursor_frame)
            label = f"frame {self.cursor_frame}"
            if state >= 0 and state < len(self.session.state_names):
                label += f"  {self.session.state_names[state]}"
            painter.setPen(QColor(255, 255, 255))
            painter.drawText(QRectF(rect.left(), self.height() - 16, rect.width(), 14), Qt.AlignmentFlag.AlignRight, label)
        finally:
            painter.end()

    def _render_static(self) -> QImage:
        # a 32-bit image, not a QPixmap: a pixmap takes the screen's depth
        # (16 bits under a default Xvfb), which would shift the state colors
        pixmap = QImage(max(self.width(), 1), max(self.height(), 1), QImage.Format.Format_ARGB32_Premultiplied)
        pixmap.fill(QColor(38, 41, 48))
        painter = QPainter(pixmap)
        try:
            rect = self._band_rect()
            image = self._band_image(int(rect.width()))
            if image is None:
                painter.setPen(QColor(200, 200, 200))
                painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, "no states yet: fit or load a model in 'Expression states'")
            else:
                painter.drawImage(rect, image)
            top = rect.bottom() + MARGIN
            for name, values in self._traces.items():
                self._paint_trace(painter, QRectF(rect.left(), top, rect.width(), TRACE_HEIGHT), name, values)
                top += TRACE_HEIGHT + MARGIN
        finally:
            painter.end()
        return pixmap

    def _paint_trace(self, painter: QPainter, rect: QRectF, name: str, values: np.ndarray) -> None:
        painter.fillRect(rect, QColor(28, 30, 36))
        finite = np.isfinite(values)
        if finite.sum() >= 2:
            width = int(rect.width())
            # one vertex per screen pixel: the mean of the frames under it
            edges = np.linspace(0, len(values), width + 1).astype(np.int64)
            sums = np.add.reduceat(np.where(finite, values, 0), edges[:-1].clip(max=len(values) - 1))
            counts = np.add.reduceat(finite.astype(float), edges[:-1].clip(max=len(values) - 1))
            with np.errstate(invalid="ignore", divide="ignore"):
                per_pixel = sums / counts
            low, high = 0.0, max(1.0, float(np.nanmax(per_pixel)))
            path = QPainterPath()
            started = False
            for i, value in enumerate(per_pixel):
                if not np.isfinite(value):
                    started = False
                    continue
                point = QPointF(rect.left() + i, rect.bottom() - (value - low) / (high - low) * rect.height())
                if started:
                    path.lineTo(point)
                else:
                    path.moveTo(point)
                    started = True
            painter.setPen(QPen(QColor(120, 200, 255), 1))
            painter.drawPath(path)
        painter.setPen(QColor(170, 170, 170))
        painter.drawText(rect.adjusted(3, 1, 0, 0), Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop, name)
