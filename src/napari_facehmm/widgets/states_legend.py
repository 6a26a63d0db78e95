"""The Expression states dock's state list: color, editable name, and whether each state comes back.

The third column is the seed stability check's verdict
(:func:`~napari_facehmm.analysis_stability.state_stability_label`): states
that do not come back in re-fits with other seeds are written in red.
"""

from __future__ import annotations

from typing import Any

from qtpy.QtCore import Qt, Signal
from qtpy.QtGui import QColor
from qtpy.QtWidgets import QTableWidget, QTableWidgetItem, QWidget

from ..analysis_stability import state_stability_label

__all__ = ["StateLegend", "UNSTABLE_COLOR"]

#: the text color of an unstable state's verdict
UNSTABLE_COLOR = "#ff6b6b"


class StateLegend(QTableWidget):
    """One row per state: swatch, name (editable: :attr:`renamed`), stability verdict."""

    #: ``(state, new name)`` when the user edits a name
    renamed = Signal(int, str)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(0, 3, parent)
        self.setHorizontalHeaderLabels(["", "state name (editable)", "comes back"])
        self.horizontalHeader().setStretchLastSection(True)
        self.setColumnWidth(1, 150)
        self.verticalHeader().setVisible(False)
        self.setColumnWidth(0, 24)
        self.itemChanged.connect(self._on_edit)

    def fill(self, palette: Any, names: list[str], stability: dict | None) -> None:
        """Show ``len(names)`` states; ``stability`` is ``summary.json``'s block (None: no check)."""
        self.blockSignals(True)
        try:
            self.setRowCount(len(names))
            for state, name in enumerate(names):
                swatch = QTableWidgetItem("")
                swatch.setFlags(Qt.ItemFlag.ItemIsEnabled)
                swatch.setBackground(QColor.fromRgbF(*palette[state]))
                self.setItem(state, 0, swatch)
                self.setItem(state, 1, QTableWidgetItem(name))
                text, unstable = state_stability_label(stability, state)
                cell = QTableWidgetItem(text)
                cell.setFlags(Qt.ItemFlag.ItemIsEnabled)
                if unstable:
                    cell.setForeground(QColor(UNSTABLE_COLOR))
                if stability:
                    cell.setToolTip(stability.get("rule", ""))
                self.setItem(state, 2, cell)
        finally:
            self.blockSignals(False)

    def set_name(self, state: int, name: str) -> None:
        """Show ``name`` for ``state`` without reporting it as an edit."""
        self.blockSignals(True)
        try:
            cell = self.item(state, 1)
            if cell is not None and cell.text() != name:
                cell.setText(name)
        finally:
            self.blockSignals(False)

    def _on_edit(self, item: QTableWidgetItem) -> None:
        if item.column() == 1:
            self.renamed.emit(item.row(), item.text())
