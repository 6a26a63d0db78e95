"""DockJob, the docks' one worker plumbing: busy buttons, progress, Cancel, errors, one job at a time.

Plain Qt widgets (no viewer) under Xvfb. Budget: a second or two.
"""

from __future__ import annotations

import threading

import pytest

from napari_facehmm.errors import DataError

pytestmark = pytest.mark.gui


@pytest.fixture
def parts(qtbot):
    from qtpy.QtWidgets import QLabel, QProgressBar, QPushButton

    widgets = dict(run=QPushButton("Run"), cancel=QPushButton("Cancel"), bar=QProgressBar(), status=QLabel())
    for widget in widgets.values():
        qtbot.addWidget(widget)
    widgets["cancel"].setEnabled(False)
    return widgets


def _job(parts, errors):
    from napari_facehmm.widgets._worker import DockJob

    return DockJob(
        buttons=[parts["run"]], cancel_button=parts["cancel"], progress_bar=parts["bar"], status=parts["status"],
        on_error=errors.append,
    )


def test_progress_and_result_reach_the_dock_and_the_buttons_come_back(parts, qtbot):
    errors, results = [], []
    job = _job(parts, errors)

    def counting():
        for done in range(1, 6):
            yield done, 5, f"step {done}"
        return "finished"

    job.start(counting, message="starting", on_return=results.append)
    assert not parts["run"].isEnabled() and parts["cancel"].isEnabled()
    qtbot.waitUntil(lambda: not job.running, timeout=10_000)  # the worker may finish before a wait starts
    assert results == ["finished"] and errors == []
    assert parts["bar"].maximum() == 5 and parts["bar"].value() == 5
    assert parts["status"].text() == "step 5"
    assert not job.running and parts["run"].isEnabled() and not parts["cancel"].isEnabled()


def test_cancel_stops_at_the_next_step_and_ignores_queued_progress(parts, qtbot):
    errors, aborted, finished_after_cancel = [], [], []
    job = _job(parts, errors)
    reached, release = threading.Event(), threading.Event()

    def slow():
        yield 1, 10, "first"
        reached.set()
        release.wait(10)
        for done in range(2, 11):
            yield done, 10, f"step {done}"

    worker = job.start(
        slow, on_abort=lambda: aborted.append(True), on_finish=lambda: finished_after_cancel.append(job.cancel_requested)
    )
    assert reached.wait(10)
    # a second job while this one runs is refused with a message, the first one goes on
    assert job.start(slow) is None and "still running" in str(errors[-1])
    with qtbot.waitSignal(worker.finished, timeout=10_000):
        assert job.cancel("cancelling...")
        release.set()
    assert aborted == [True] and finished_after_cancel == [True]
    assert parts["bar"].value() == 0 and not parts["status"].text().startswith("step")
    assert parts["run"].isEnabled() and not parts["cancel"].isEnabled() and not job.cancel_requested
    assert not job.cancel()  # nothing left to cancel


def test_an_error_of_the_job_goes_to_on_error(parts, qtbot):
    errors = []
    job = _job(parts, errors)

    def failing():
        yield 0, 1, "reading"
        raise DataError("bad file")

    job.start(failing)
    qtbot.waitUntil(lambda: not job.running, timeout=10_000)
    assert [str(e) for e in errors] == ["bad file"] and parts["run"].isEnabled()
    # a plain function (no progress) runs too
    done = []
    job.start(lambda: 42, on_return=done.append)
    qtbot.waitUntil(lambda: not job.running, timeout=10_000)
    assert done == [42]


@pytest.mark.parametrize(
    "exc, notified",
    [
        (DataError("3 frames, 4 expected"), "Fit failed: 3 frames, 4 expected"),
        (ValueError("bad shape"), "Fit failed: ValueError: bad shape"),
    ],
)
def test_show_failure_names_the_type_of_unexpected_errors_only(parts, monkeypatch, exc, notified):
    from napari_facehmm.widgets import _session

    shown = []
    monkeypatch.setattr(_session, "show_error", shown.append)
    _session.show_failure("Fit failed", exc, parts["status"])
    assert shown == [notified]
    assert parts["status"].text() == f"failed: {exc}"


def test_job_controls_make_a_disabled_cancel_wired_to_its_slot_and_the_bar_asked_for(qtbot):
    from qtpy.QtWidgets import QVBoxLayout, QWidget

    from napari_facehmm.widgets._worker import DockJob, job_controls, status_label

    cancelled = []
    cancel, bar = job_controls(lambda: cancelled.append(True))
    _, hidden_bar = job_controls(
        lambda: None, maximum=1000, text_format="epoch %v / %m", text_visible=False, visible=False
    )
    status = status_label("ready")
    dock = QWidget()
    qtbot.addWidget(dock)
    layout = QVBoxLayout(dock)
    for widget in (cancel, bar, hidden_bar, status):
        layout.addWidget(widget)
    dock.show()
    assert cancel.text() == "Cancel" and not cancel.isEnabled()
    cancel.setEnabled(True)
    cancel.click()
    assert cancelled == [True]
    # Qt's bar as it comes: 0 to 100, a percentage, shown with the dock
    assert (bar.minimum(), bar.maximum(), bar.format(), bar.isTextVisible(), bar.isVisible()) == (
        0, 100, "%p%", True, True
    )
    assert (hidden_bar.maximum(), hidden_bar.format(), hidden_bar.isTextVisible(), hidden_bar.isVisible()) == (
        1000, "epoch %v / %m", False, False
    )
    assert status.text() == "ready" and status.wordWrap()
    # the controls are what a DockJob drives
    job = DockJob(cancel_button=cancel, progress_bar=bar, status=status)
    job.show_progress((3, 4, "step 3"))
    assert (bar.maximum(), bar.value(), status.text()) == (4, 3, "step 3")
