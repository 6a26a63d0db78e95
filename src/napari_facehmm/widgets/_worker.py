"""Run a dock's long job in a napari worker thread: the docks' one worker plumbing.

:class:`DockJob` is what every dock uses for its long jobs: while a job runs
its buttons are disabled and its Cancel button enabled; each ``(done,
total, message)`` the job yields moves the progress bar (its maximum becomes
``total``) and shows the message; Cancel stops the job at its next step and
the progress already queued is ignored; at the end the buttons come back.
:func:`job_controls` makes a job's Cancel button and progress bar, and
:func:`status_label` the label its messages go to: every dock makes them
there. :func:`start_worker` is the bare napari worker underneath.

Errors go to the dock's ``on_error`` only (a notification there): superqt
re-raises a worker's error in the main thread unless told not to, which
would add a traceback to the notification.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from typing import Any

from qtpy.QtWidgets import QLabel, QProgressBar, QPushButton

from ..errors import FaceHMMError


def start_worker(
    function: Callable,
    *args: Any,
    on_yield: Callable | None = None,
    on_return: Callable | None = None,
    on_error: Callable | None = None,
    on_finish: Callable | None = None,
    on_abort: Callable | None = None,
    **worker_options: Any,
) -> Any:
    """Start ``function(*args)`` (a function or a generator function) in a worker; return the worker.

    ``worker_options`` go to napari's ``create_worker`` (e.g. ``_progress``).
    """
    from napari.qt.threading import create_worker

    worker = create_worker(function, *args, _start_thread=False, _ignore_errors=True, **worker_options)
    for signal, slot in (
        ("yielded", on_yield),
        ("returned", on_return),
        ("errored", on_error),
        ("finished", on_finish),
        ("aborted", on_abort),
    ):
        if slot is not None:
            getattr(worker, signal).connect(slot)
    worker.start()
    return worker


def job_controls(
    cancel: Callable[[], Any],
    *,
    maximum: int | None = None,
    text_format: str | None = None,
    text_visible: bool = True,
    visible: bool = True,
) -> tuple[QPushButton, QProgressBar]:
    """A job's Cancel button and progress bar, as the dock lays them out.

    Parameters
    ----------
    cancel
        Called when Cancel is clicked. The button is disabled until a job
        runs (:class:`DockJob` enables it, or the dock does).
    maximum
        The bar's range is ``0`` to ``maximum`` (default: Qt's, 0 to 100;
        a :class:`DockJob` sets the maximum to each step's ``total``).
    text_format
        The bar's text, in ``QProgressBar.setFormat``'s terms (``"epoch %v / %m"``;
        default: Qt's percentage).
    text_visible
        False: the bar shows no text.
    visible
        False: the bar stays hidden until the dock shows it.

    Returns
    -------
    cancel_button, progress_bar
    """
    cancel_button = QPushButton("Cancel")
    cancel_button.setEnabled(False)
    cancel_button.clicked.connect(cancel)
    progress_bar = QProgressBar()
    if maximum is not None:
        progress_bar.setRange(0, maximum)
    if text_format is not None:
        progress_bar.setFormat(text_format)
    if not text_visible:
        progress_bar.setTextVisible(False)
    if not visible:  # shown, a bar without a parent would open as a window of its own
        progress_bar.setVisible(False)
    return cancel_button, progress_bar


def status_label(text: str = "") -> QLabel:
    """The label a dock shows its jobs' messages in (a :class:`DockJob`'s ``status``): wrapped, ``text`` first."""
    label = QLabel(text)
    label.setWordWrap(True)
    return label


def _show_error(exc: BaseException) -> None:
    from napari.utils.notifications import show_error

    show_error(str(exc))


class DockJob:
    """One long job of a dock at a time, in a napari worker thread, with busy buttons, progress and Cancel.

    Parameters
    ----------
    buttons
        Disabled while a job runs (the buttons that start jobs).
    cancel_button
        Enabled while a job runs.
    progress_bar
        A ``QProgressBar`` moved by the ``(done, total, message)`` the job
        yields: its maximum becomes ``total``, its value ``done``; reset to 0
        when a job starts and after a Cancel.
    status
        A ``QLabel`` showing each step's message.
    on_error
        Called with the job's exception (default: a napari notification);
        a ``start`` may pass its own.

    Attributes
    ----------
    worker
        The running napari worker, None when idle.
    cancel_requested
        True from :meth:`cancel` until the job has finished.
    """

    def __init__(
        self,
        *,
        buttons: Sequence[Any] = (),
        cancel_button: Any = None,
        progress_bar: Any = None,
        status: Any = None,
        on_error: Callable[[BaseException], None] | None = None,
    ):
        self.buttons = list(buttons)
        self.cancel_button = cancel_button
        self.progress_bar = progress_bar
        self.status = status
        self.on_error = on_error or _show_error
        self.worker: Any = None
        self.cancel_requested = False

    @property
    def running(self) -> bool:
        return self.worker is not None

    def start(
        self,
        function: Callable,
        *args: Any,
        message: str | None = None,
        on_yield: Callable | None = None,
        on_error: Callable | None = None,
        on_finish: Callable | None = None,
        **passed_on: Any,
    ) -> Any:
        """Run ``function(*args)`` in a worker; returns the worker (None if a job is still running).

        ``on_yield`` replaces the progress handling for jobs that yield
        something else than ``(done, total, message)``; it is not called
        after Cancel either. ``on_error`` replaces the dock's ``on_error``
        for this job; ``on_finish`` is called after the buttons come back
        (it sees :attr:`cancel_requested`). ``message`` goes to the status
        label. The rest (``on_return``, ``on_abort``, napari's
        ``create_worker`` options) go to :func:`start_worker` as they are.
        """
        if self.running:
            (on_error or self.on_error)(FaceHMMError("the previous job is still running: wait for it or cancel it"))
            return None
        self.cancel_requested = False
        handle_step = on_yield or self.show_progress

        def yielded(step: Any) -> None:
            if not self.cancel_requested:  # progress queued before Cancel
                handle_step(step)

        def finished() -> None:
            self.worker = None
            self._set_busy(False)
            if self.cancel_requested and self.progress_bar is not None:
                self.progress_bar.setValue(0)
            try:
                if on_finish is not None:
                    on_finish()  # sees cancel_requested
            finally:
                self.cancel_requested = False

        self._set_busy(True)
        if self.progress_bar is not None:
            self.progress_bar.setValue(0)
        if message is not None and self.status is not None:
            self.status.setText(message)
        self.worker = start_worker(
            function,
            *args,
            # a plain function's worker has no "yielded" signal
            on_yield=yielded if inspect.isgeneratorfunction(function) else None,
            on_error=on_error or self.on_error,
            on_finish=finished,
            **passed_on,
        )
        return self.worker

    def cancel(self, message: str | None = None) -> bool:
        """Stop the running job at its next step (napari's ``quit``); False when none runs."""
        if self.worker is None:
            return False
        self.cancel_requested = True
        self.worker.quit()
        if message is not None and self.status is not None:
            self.status.setText(message)
        return True

    def show_progress(self, step: Any) -> None:
        """Show a ``(done, total, message)`` step on the progress bar and the status label."""
        done, total, message = step
        if self.progress_bar is not None:
            self.progress_bar.setMaximum(max(int(total), 1))
            self.progress_bar.setValue(int(done))
        if self.status is not None and message:
            self.status.setText(str(message))

    def _set_busy(self, busy: bool) -> None:
        for button in self.buttons:
            button.setEnabled(not busy)
        if self.cancel_button is not None:
            self.cancel_button.setEnabled(busy)
