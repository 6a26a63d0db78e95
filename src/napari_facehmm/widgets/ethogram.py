"""Ethogram dock: the state sequence as a colored band under the canvas.

A plain ``QWidget`` paints the band from an RGBA strip (one pixel column per
screen pixel, computed by :func:`napari_facehmm._napari.state_colors.state_band_image`)
and a cursor at the current frame. Painting a cached image is far cheaper
than redrawing a matplotlib figure on every slider step. Clicking or dragging
on the band moves the time slider. When several tracks were decoded (e.g. one
per camera) each has its own labelled row; clicking a row also makes that
track the active one, which the traces, the 3D face and the state summary
show. Below the band, optional thin traces show the state probability, the
head speed and the mean tracking likelihood when known; right-click the dock
to choose which.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from qtpy.QtCore import QPointF, QRectF, Qt
from qtpy.QtGui import QColor, QImage, QPainter, QPainterPath, QPen
from qtpy.QtWidgets import QSizePolicy, QWidget

from .._napari.state_colors import state_band_image, states_for_frames
from ..stats.tables import state_probability
from ..tracking.frame_quality import frame_scores
from ._session import get_session

BAND_HEIGHT = 28
#: height of one track's row when several tracks are shown, and the gap between rows
ROW_HEIGHT = 20
ROW_GAP = 3
TRACE_HEIGHT = 28
#: top part of a trace's strip kept for its name
TRACE_LABEL_HEIGHT = 11
MARGIN = 6
#: the traces the dock can draw under the band, in drawing order
TRACE_NAMES = ("state probability", "head speed", "likelihood")


class EthogramWidget(QWidget):
    """States over time, a frame cursor, click/drag to seek."""

    def __init__(self, napari_viewer: Any, parent: QWidget | None = None):
        super().__init__(parent)
        self.viewer = napari_viewer
        self.session = get_session(napari_viewer)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setMouseTracking(False)
        self._bands: dict[str, tuple[tuple, QImage]] = {}
        #: where each row's track name is drawn (over the band), by track
        self.label_rects: dict[str, QRectF] = {}
        self._traces: dict[str, np.ndarray] = {}
        #: which traces the user wants (right-click menu); shown when also known
        self.trace_enabled = {name: True for name in TRACE_NAMES}
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

    def rows(self) -> list[str]:
        """Names of the decoded tracks, one band row each (top to bottom)."""
        return list(self.session.tracks)

    def _band_height(self) -> int:
        n = len(self.rows())
        return BAND_HEIGHT if n <= 1 else n * ROW_HEIGHT + (n - 1) * ROW_GAP

    def _update_height(self) -> None:
        n_traces = sum(self.trace_enabled.values())
        height = self._band_height() + n_traces * (TRACE_HEIGHT + MARGIN) + 2 * MARGIN + 14
        self.setMinimumHeight(height)
        self.updateGeometry()

    def sizeHint(self) -> Any:
        from qtpy.QtCore import QSize

        return QSize(max(self.minimumWidth(), 400), self.minimumHeight())

    def shown_traces(self) -> list[str]:
        """The traces drawn now: known for these states and enabled by the user."""
        return [name for name in TRACE_NAMES if name in self._traces and self.trace_enabled[name]]

    def set_trace_enabled(self, name: str, enabled: bool) -> None:
        """Show or hide trace ``name`` (one of :data:`TRACE_NAMES`) under the band."""
        if name not in self.trace_enabled:
            raise KeyError(f"no trace named {name!r} (traces: {', '.join(TRACE_NAMES)})")
        self.trace_enabled[name] = bool(enabled)
        self._version += 1
        self._update_height()
        self.update()

    def contextMenuEvent(self, event: Any) -> None:
        from qtpy.QtWidgets import QMenu

        menu = QMenu(self)
        menu.addSection("traces under the band")
        for name in TRACE_NAMES:
            action = menu.addAction(name)
            action.setCheckable(True)
            action.setChecked(self.trace_enabled[name])
            action.setEnabled(name in self._traces)  # unknown for these data
            action.toggled.connect(lambda on, name=name: self.set_trace_enabled(name, on))
        menu.exec(event.globalPos())

    def _band_rect(self) -> QRectF:
        return QRectF(MARGIN, MARGIN, max(1, self.width() - 2 * MARGIN), self._band_height())

    def row_rect(self, row: int) -> QRectF:
        """Where track ``row`` (index into :meth:`rows`) is drawn."""
        band = self._band_rect()
        if len(self.rows()) <= 1:
            return band
        return QRectF(band.left(), band.top() + row * (ROW_HEIGHT + ROW_GAP), band.width(), ROW_HEIGHT)

    def row_at(self, y: float) -> int | None:
        """Index of the track row under height ``y``, None outside the rows."""
        for row in range(len(self.rows())):
            rect = self.row_rect(row)
            if rect.top() - ROW_GAP / 2 <= y <= rect.bottom() + ROW_GAP / 2:
                return row
        return None

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
        self._traces = {}
        self._bands = {name: band for name, band in self._bands.items() if name in self.session.tracks}
        self._update_height()
        session = self.session
        rows = self.rows()
        tip = f"states decoded on {rows[0]}" if rows else ""
        if len(rows) > 1:
            tip = (
                f"states of {len(rows)} tracks, one row each; the traces, 3D face and summary show "
                f"{session.active_track} (click a row to show another track)"
            )
        self.setToolTip((tip + "; " if tip else "") + "click or drag to seek, right-click to choose the traces")
        low, high = self._frame_range()
        frames = np.arange(low, high + 1)
        if session.states is not None and session.posterior is not None:
            best = state_probability(session.posterior, session.states)  # as states.csv
            self._traces["state probability"] = self._on_frames(best, session.state_frames, frames)
        kinematics = getattr(session.features, "kinematics", None) or {}
        if session.states is not None and "speed" in kinematics:
            frames_of_rows = session.features.frame_indices
            self._traces["head speed"] = self._on_frames(kinematics["speed"], frames_of_rows, frames)
        series = session.active_series()
        if series is not None and series.n_dims == 2 and series.n_keypoints:
            # mean confidence of the points present, as the Tracking QC dock ranks frames
            present_confidence = np.where(np.isnan(series.positions[..., 0]), np.nan, series.confidence)
            likelihood = frame_scores(present_confidence, larger_is_worse=False)
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

    def band_image(self, name: str, width: int) -> QImage | None:
        """The states of track ``name`` as a ``width`` x 1 image (cached)."""
        track = self.session.tracks.get(name)
        if track is None:
            return None
        low, high = self._frame_range()
        key = (width, low, high, id(track.states), self.session.n_states)
        cached = self._bands.get(name)
        if cached is not None and cached[0] == key:
            return cached[1]
        frames = np.arange(low, high + 1)
        per_frame = states_for_frames(track.states, track.frames, frames)
        strip = np.ascontiguousarray(state_band_image(per_frame, self.session.n_states, width=width)[0])
        image = QImage(strip.data, strip.shape[0], 1, strip.shape[0] * 4, QImage.Format.Format_RGBA8888)
        image = image.copy()  # own the pixels: ``strip`` is freed after this call
        self._bands[name] = (key, image)
        return image

    # ------------------------------------------------------------ events
    def _on_step(self, *_: Any) -> None:
        frame = self.session.current_frame()
        if frame != self.cursor_frame:
            self.cursor_frame = frame
            self.update()

    def mousePressEvent(self, event: Any) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            rows = self.rows()
            row = self.row_at(event.position().y()) if len(rows) > 1 else None
            if row is not None:
                self.session.set_active_track(rows[row])
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
            state_name = self.session.state_name(state)
            if len(self.rows()) > 1:
                label += f"  {self.session.active_track}: {state_name or 'no state'}"
            elif state_name:
                label += f"  {state_name}"
            painter.setPen(QColor(255, 255, 255))
            painter.drawText(QRectF(rect.left(), self.height() - 16, rect.width(), 14), Qt.AlignmentFlag.AlignRight, label)
        finally:
            painter.end()

    def _render_static(self) -> QImage:
        # a 32-bit image, not a QPixmap: a pixmap takes the screen's depth
        # (16 bits under a default Xvfb), which would shift the state colors
        pixmap = QImage(max(self.width(), 1), max(self.height(), 1), QImage.Format.Format_ARGB32_Premultiplied)
        pixmap.fill(QColor(38, 41, 48))
        self.label_rects = {}
        painter = QPainter(pixmap)
        try:
            rect = self._band_rect()
            rows = self.rows()
            if not rows:
                painter.setPen(QColor(200, 200, 200))
                painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, "no states yet: fit or load a model in 'Expression states'")
            for row, name in enumerate(rows):
                row_rect = self.row_rect(row)
                image = self.band_image(name, int(row_rect.width()))
                if image is not None:
                    painter.drawImage(row_rect, image)
                if len(rows) > 1:
                    self._paint_row_label(painter, row_rect, name, active=name == self.session.active_track)
            top = rect.bottom() + MARGIN
            for name in self.shown_traces():
                self._paint_trace(painter, QRectF(rect.left(), top, rect.width(), TRACE_HEIGHT), name, self._traces[name])
                top += TRACE_HEIGHT + MARGIN
        finally:
            painter.end()
        return pixmap

    def _paint_row_label(self, painter: QPainter, rect: QRectF, name: str, active: bool) -> None:
        """The track name on a dark tab at the row's left; the active row outlined."""
        painter.save()
        font = painter.font()
        font.setPointSizeF(max(6.0, font.pointSizeF() * 0.85))
        painter.setFont(font)
        text_width = painter.fontMetrics().horizontalAdvance(name) + 8
        tab = QRectF(rect.left(), rect.top(), min(text_width, rect.width()), rect.height())
        self.label_rects[name] = tab
        painter.fillRect(tab, QColor(20, 22, 26, 200))
        painter.setPen(QColor(255, 255, 255) if active else QColor(190, 190, 190))
        painter.drawText(tab.adjusted(4, 0, 0, 0), Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, name)
        if active:
            painter.setPen(QPen(QColor(255, 255, 255), 2))
            painter.drawRect(rect.adjusted(1, 1, -1, -1))
        painter.restore()

    def _paint_trace(self, painter: QPainter, rect: QRectF, name: str, values: np.ndarray) -> None:
        painter.fillRect(rect, QColor(28, 30, 36))
        plot = rect.adjusted(0, TRACE_LABEL_HEIGHT, 0, -1)  # the name sits above the curve
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
                point = QPointF(rect.left() + i, plot.bottom() - (value - low) / (high - low) * plot.height())
                if started:
                    path.lineTo(point)
                else:
                    path.moveTo(point)
                    started = True
            painter.setPen(QPen(QColor(120, 200, 255), 1))
            painter.drawPath(path)
        painter.save()
        font = painter.font()
        font.setPointSizeF(max(6.0, font.pointSizeF() * 0.8))
        painter.setFont(font)
        painter.setPen(QColor(170, 170, 170))
        painter.drawText(rect.adjusted(3, 0, 0, 0), Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop, name)
        painter.restore()
