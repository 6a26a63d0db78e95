"""The docks' list items: checkable tracks, cameras and videos; frames to jump to.

Plain Qt widgets (no viewer) under Xvfb. Budget: well under a second.
"""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.gui


@pytest.fixture
def cameras(qtbot):
    from qtpy.QtWidgets import QListWidget

    from napari_facehmm.widgets._lists import checkable_item

    widget = QListWidget()
    qtbot.addWidget(widget)
    for name, on in (("camA", True), ("camB", False), ("camC", True)):
        widget.addItem(checkable_item(name, on, data=f"/videos/{name}.mp4", tooltip=f"{name}'s video"))
    return widget


def test_checked_and_unchecked_items_read_back_in_list_order(cameras):
    from qtpy.QtCore import Qt

    from napari_facehmm.widgets._lists import checked_data, checked_texts

    assert cameras.item(0).flags() & Qt.ItemFlag.ItemIsUserCheckable
    assert cameras.item(1).data(Qt.ItemDataRole.CheckStateRole) is not None  # a check box, unchecked
    assert cameras.item(1).toolTip() == "camB's video"
    assert checked_texts(cameras) == ["camA", "camC"]
    assert checked_texts(cameras, checked=False) == ["camB"]
    assert checked_data(cameras) == ["/videos/camA.mp4", "/videos/camC.mp4"]
    assert checked_data(cameras, checked=None) == [f"/videos/cam{c}.mp4" for c in "ABC"]
    # a partly checked item is not checked
    cameras.item(0).setCheckState(Qt.CheckState.PartiallyChecked)
    assert checked_texts(cameras) == ["camC"] and checked_texts(cameras, checked=False) == ["camA", "camB"]


def test_set_checked_checks_the_named_items_and_unchecks_the_others(cameras):
    from napari_facehmm.widgets._lists import checked_texts, set_checked

    set_checked(cameras, ["camB", "camZ"])
    assert checked_texts(cameras) == ["camB"]
    # checked=False: the named ones are left out (the cameras a triangulation excludes)
    set_checked(cameras, ["camB"], checked=False)
    assert checked_texts(cameras) == ["camA", "camC"]


def test_items_are_found_by_their_data_and_a_frame_list_jumps_to_the_current_or_first(cameras, qtbot):
    from qtpy.QtCore import Qt
    from qtpy.QtWidgets import QListWidget

    from napari_facehmm.widgets._lists import current_data, data_item, item_with_data

    assert item_with_data(cameras, "/videos/camB.mp4") is cameras.item(1)
    assert item_with_data(cameras, "/videos/camZ.mp4") is None
    frames = QListWidget()
    qtbot.addWidget(frames)
    assert current_data(frames) is None
    for frame in (12, 0, 7):
        frames.addItem(data_item(f"frame {frame}", frame))
    assert frames.item(0).data(Qt.ItemDataRole.CheckStateRole) is None  # no check box
    assert current_data(frames) == 12  # nothing selected: the first
    frames.setCurrentRow(1)
    assert current_data(frames) == 0  # frame 0 is a frame, not "no data"
