"""Long work as generators: the progress triple and the two ways to drive one.

Every long job of the core is a generator that yields ``(done, total,
message)`` and returns its result. Widgets run it in a ``thread_worker``; the
command line and scripts use :func:`run_with_progress` (a tqdm bar on
stderr) or :func:`run_to_end` (no output). Qt-free; tqdm is imported lazily.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Generator, Iterator
from contextlib import contextmanager
from typing import Any

#: ``(done, total, message)``, what every progress generator yields
Progress = tuple[int, int, str]


def run_to_end(job: Generator[Progress, None, Any], progress: Callable[[Progress], None] | None = None) -> Any:
    """Drive a progress generator to its end and return its value; ``progress`` sees every step."""
    while True:
        try:
            item = next(job)
        except StopIteration as stop:
            return stop.value
        if progress is not None:
            progress(item)


def relay(job: Generator[Any, None, Any], step: Callable[[Any], Progress]) -> Generator[Progress, None, Any]:
    """Yield ``step(item)`` for every item of a sub-generator; return its value.

    For a job that reports a part of a larger one: ``result = yield from
    relay(part, lambda n: (offset + n, total, f"part: {n}"))``.
    """
    while True:
        try:
            item = next(job)
        except StopIteration as stop:
            return stop.value
        yield step(item)


@contextmanager
def progress_bar(description: str = "", quiet: bool = False) -> Iterator[Callable[[int, int, str], None]]:
    """A ``progress(done, total, message)`` callback that draws a tqdm bar on stderr.

    For functions that take a progress callback (``generate_session``); the
    bar is removed when the ``with`` block ends. Draws nothing when ``quiet``.
    """
    from tqdm import tqdm

    bar = None if quiet else tqdm(total=1, desc=description, file=sys.stderr, leave=False, dynamic_ncols=True)

    def progress(done: int, total: int, message: str) -> None:
        if bar is not None:
            bar.total = total
            bar.n = done
            bar.set_postfix_str(str(message)[:60], refresh=False)
            bar.refresh()

    try:
        yield progress
    finally:
        if bar is not None:
            bar.close()


def run_with_progress(job: Generator[Progress, None, Any], description: str, quiet: bool = False) -> Any:
    """Drive a progress generator with a tqdm bar on stderr (none when ``quiet``); return its value.

    The generator is closed on the way out, so an interrupt (Ctrl+C) runs its
    clean-up.
    """
    try:
        with progress_bar(description, quiet) as progress:
            return run_to_end(job, lambda step: progress(*step))
    finally:
        job.close()
