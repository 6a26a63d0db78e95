"""Small read-only (or path-editable) tables for the 3D dock's tabs: cameras and their files or errors."""

from __future__ import annotations

from qtpy.QtCore import Qt
from qtpy.QtWidgets import QAbstractItemView, QHeaderView, QTableWidget, QTableWidgetItem


def _table(headers: list[str]) -> QTableWidget:
    table = QTableWidget(0, len(headers))
    table.setHorizontalHeaderLabels(headers)
    table.verticalHeader().setVisible(False)
    table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    table.horizontalHeader().setStretchLastSection(True)
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.verticalHeader().setDefaultSectionSize(22)
    _fit_height(table)
    return table


def _fit_height(table: QTableWidget, max_rows: int = 5) -> None:
    """Show every row (up to ``max_rows``) without a scroll bar: docks are short."""
    rows = min(max(table.rowCount(), 2), max_rows)
    height = table.horizontalHeader().sizeHint().height() + rows * 22 + 2 * table.frameWidth() + 2
    table.setFixedHeight(height)


def _set_rows(table: QTableWidget, rows: list[tuple[str, str]], editable_paths: bool = False) -> None:
    """Fill a two-column table; only the path column of input tables can be edited."""
    table.setRowCount(len(rows))
    for i, row in enumerate(rows):
        for j, text in enumerate(row):
            item = QTableWidgetItem(str(text))
            if j == 0 or not editable_paths:
                item.setFlags(item.flags() & ~Qt.ItemFlag.ItemIsEditable)
            table.setItem(i, j, item)
    _fit_height(table)


def _rows(table: QTableWidget) -> dict[str, str]:
    out = {}
    for i in range(table.rowCount()):
        name, path = table.item(i, 0), table.item(i, 1)
        if name is not None and path is not None and path.text().strip():
            out[name.text()] = path.text().strip()
    return out
