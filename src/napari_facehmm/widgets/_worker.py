"""Run a dock's long job in a napari worker thread.

Errors go to the dock's ``on_error`` only (a notification there): superqt
re-raises a worker's error in the main thread unless told not to, which
would add a traceback to the notification.
"""

from __future__ import annotations

from typing import Any, Callable


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
