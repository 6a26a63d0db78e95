"""Fixtures of the GUI tests."""

from __future__ import annotations

import pytest


@pytest.fixture
def notifications(monkeypatch):
    """Messages passed to napari's ``show_error`` during the test."""
    import napari.utils.notifications as notes

    shown: list[str] = []
    original = notes.show_error

    def record(message):
        shown.append(str(message))
        original(message)

    monkeypatch.setattr(notes, "show_error", record)
    return shown
