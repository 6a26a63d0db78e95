"""The docks' list items: checkable ones (tracks, cameras, videos to use) and ones that carry a value (frames).

A dock fills a ``QListWidget`` with :func:`checkable_item` and reads it back
with :func:`checked_texts` (the items' texts) or :func:`checked_data` (what
each item carries, such as a video's path, where the text is only a
description); :func:`set_checked` checks items by name and
:func:`item_with_data` finds an item by what it carries. A list of frames to
jump to is made of :func:`data_item` (the text describes the frame, the data
is its number) and read with :func:`current_data`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from qtpy.QtCore import Qt
from qtpy.QtWidgets import QListWidget, QListWidgetItem

__all__ = [
    "DATA_ROLE",
    "data_item",
    "current_data",
    "checkable_item",
    "checked_texts",
    "checked_data",
    "set_checked",
    "item_with_data",
]

#: the role under which an item keeps its data (:func:`checkable_item`'s ``data``)
DATA_ROLE = Qt.ItemDataRole.UserRole


def _check_state(checked: bool) -> Qt.CheckState:
    return Qt.CheckState.Checked if checked else Qt.CheckState.Unchecked


def data_item(text: str, data: Any = None, tooltip: str | None = None) -> QListWidgetItem:
    """A list item showing ``text`` and carrying ``data``.

    Parameters
    ----------
    text
        What the list shows.
    data
        Kept under :data:`DATA_ROLE` (none when None): what the item stands
        for when the text only describes it (a frame number, a video's path).
    tooltip
        The item's tooltip (none when None).
    """
    item = QListWidgetItem(text)
    if data is not None:
        item.setData(DATA_ROLE, data)
    if tooltip is not None:
        item.setToolTip(tooltip)
    return item


def current_data(list_widget: QListWidget) -> Any:
    """The data of the current item, else of the first one; None for an empty list."""
    item = list_widget.currentItem() or (list_widget.item(0) if list_widget.count() else None)
    return None if item is None else item.data(DATA_ROLE)


def checkable_item(text: str, checked: bool = True, data: Any = None, tooltip: str | None = None) -> QListWidgetItem:
    """A :func:`data_item` the user can check, ``checked`` or not at first."""
    item = data_item(text, data, tooltip)
    item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
    item.setCheckState(_check_state(checked))
    return item


def _items(list_widget: QListWidget, checked: bool | None) -> list[QListWidgetItem]:
    """The items in list order: the checked ones (``checked`` True), the others (False), or all (None)."""
    items = [list_widget.item(row) for row in range(list_widget.count())]
    if checked is None:
        return items
    return [item for item in items if (item.checkState() == Qt.CheckState.Checked) == checked]


def checked_texts(list_widget: QListWidget, checked: bool | None = True) -> list[str]:
    """The texts of the checked items (``checked=False``: of the unchecked ones; None: of all), in list order."""
    return [item.text() for item in _items(list_widget, checked)]


def checked_data(list_widget: QListWidget, checked: bool | None = True) -> list[Any]:
    """The data of the checked items (``checked=False``: of the unchecked ones; None: of all), in list order."""
    return [item.data(DATA_ROLE) for item in _items(list_widget, checked)]


def set_checked(list_widget: QListWidget, names: Iterable[str], checked: bool = True) -> None:
    """Give the items whose text is in ``names`` the state ``checked``, and every other item the other state."""
    names = set(names)
    for item in _items(list_widget, None):
        item.setCheckState(_check_state((item.text() in names) == checked))


def item_with_data(list_widget: QListWidget, data: Any) -> QListWidgetItem | None:
    """The first item whose data equals ``data``; None if there is none."""
    return next((item for item in _items(list_widget, None) if item.data(DATA_ROLE) == data), None)
