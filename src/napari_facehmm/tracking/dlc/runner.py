"""The one child-process runner: a job in a fresh Python process, its messages, Cancel and errors.

DeepLabCut (through torchvision) crashes in a process that shows a napari
viewer, and a training must never block it, so every step that may import
DeepLabCut runs in a child process: DeepLabCut's training, evaluation,
analysis and refinement (:mod:`napari_facehmm.tracking._dlc_worker`) and
labeling's project creation and frame extraction
(:mod:`napari_facehmm.labeling.child_process`). Both go through this module:

- the parent side, :class:`ChildJob` (:class:`DLCJob` for DeepLabCut's
  worker), starts the child in its own process group with one environment
  (:func:`child_environment`: offline, no GUI backend), turns its output
  into messages (structured ones after :data:`EVENT_PREFIX`, every other
  line as ``{"event": "line"}``), stops the whole group on Cancel (SIGTERM,
  then SIGKILL after a grace period) and maps a failure to one error
  (:func:`child_error`);
- the child side, :func:`serve`, runs one task of a table, sends a progress
  generator's steps as ``progress`` messages and ends with one ``result`` or
  ``error`` message carrying the exception's own text.
"""

from __future__ import annotations

import collections
import json
import os
import signal
import subprocess
import sys
import threading
import traceback
from collections.abc import Callable, Generator, Iterator, Mapping
from pathlib import PurePath
from typing import Any

from ...errors import Cancelled, DataError, FaceHMMError, FileFormatError, UnsupportedFileError
from ...progress import Progress, relay, run_to_end
from .project import require_deeplabcut

#: starts every structured line a child prints for its parent
EVENT_PREFIX = "@@facehmm "

#: the child of DeepLabCut's steps (``module:function``)
DLC_WORKER = "napari_facehmm.tracking._dlc_worker:main"

#: what every child runs with: headless and offline (never DeepLabCut's GUI,
#: never a minute of retries on a model hub), pyplot without a GUI backend
#: (outlier extraction and evaluation plot), with or without a display
OFFLINE_ENVIRONMENT = {
    "DLClight": "True",
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "MPLBACKEND": "Agg",
}


class DeepLabCutError(FaceHMMError):
    """A step in a child process failed; the message is the child's own (DeepLabCut's).

    Parameters
    ----------
    message
        The child's exception text (or the last lines it printed).
    error_type
        The exception class name raised in the child, if known.
    step
        Which step failed ("train", "analyze", "extract_frames", ...).
    """

    def __init__(self, message: str, error_type: str | None = None, step: str | None = None):
        self.error_type = error_type
        self.step = step
        prefix = f"DeepLabCut {step} failed" if step else "DeepLabCut failed"
        kind = f" ({error_type})" if error_type else ""
        super().__init__(f"{prefix}{kind}: {message}")


def child_environment() -> dict[str, str]:
    """The environment of every child: this process's, with :data:`OFFLINE_ENVIRONMENT`."""
    env = dict(os.environ)
    env.update(OFFLINE_ENVIRONMENT)
    env["PYTHONUNBUFFERED"] = "1"
    # Qt must not be touched by the child (it inherits the viewer's display).
    env.pop("QT_QPA_PLATFORM_PLUGIN_PATH", None)
    return env


_worker_environment = child_environment  # its former name


def child_error(report: Mapping[str, Any], step: str) -> FaceHMMError:
    """The error to raise in the parent for a child's ``error`` message.

    The project's own input errors (:class:`~napari_facehmm.errors.DataError`,
    :class:`~napari_facehmm.errors.FileFormatError`) come back as themselves,
    as if the step had run in this process; every other failure is a
    :class:`DeepLabCutError` with the child's message and exception type.
    """
    kind, message = report.get("type"), str(report.get("message", ""))
    if kind in ("FileFormatError", "UnsupportedFileError"):
        error_class = UnsupportedFileError if kind == "UnsupportedFileError" else FileFormatError
        return error_class(report.get("path"), str(report.get("problem", message)))
    if kind == "DataError":
        return DataError(message)
    return DeepLabCutError(message, kind, step=step)


def _plain_json(value: Any) -> Any:
    """Paths as strings, mapping keys as strings, tuples as lists, numpy scalars as numbers."""
    if isinstance(value, PurePath):
        return str(value)
    if isinstance(value, Mapping):
        return {str(k): _plain_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain_json(v) for v in value]
    if hasattr(value, "item") and callable(value.item):  # numpy scalar
        return value.item()
    return value


class ChildJob:
    """One task running in a child process (own process group).

    Parameters
    ----------
    entry
        The child's main function as ``"module:function"``; it calls
        :func:`serve` with its table of tasks.
    task
        The task to run.
    params
        Its keyword arguments (paths and numpy numbers are converted for JSON).
    grace_s
        Seconds between SIGTERM and SIGKILL on :meth:`cancel`.

    Notes
    -----
    Iterate :meth:`messages` (or a subclass's ``events``) in one thread; call
    :meth:`cancel` from any thread. After the iteration ends, ``result``
    holds the child's result message and ``returncode`` its exit status; the
    child has been reaped (no zombie).
    """

    step = "job"

    def __init__(self, entry: str, task: str, params: Mapping[str, Any], grace_s: float = 5.0):
        self.entry = entry
        self.task = task
        self.params = _plain_json(params)
        self.grace_s = float(grace_s)
        self.process: subprocess.Popen | None = None
        self.result: dict | None = None
        self.error: dict | None = None
        self.cancelled = False
        #: the last lines the child printed (DeepLabCut's log), for error messages
        self.output_tail: collections.deque[str] = collections.deque(maxlen=400)
        self._lock = threading.Lock()

    # -- process control
    def command(self) -> list[str]:
        """``python -c "...; sys.exit(main())" TASK PARAMS_JSON``."""
        module, function = self.entry.split(":")
        code = f"import sys; from {module} import {function}; sys.exit({function}())"
        return [sys.executable, "-c", code, self.task, json.dumps(self.params, default=str)]

    def start(self) -> "ChildJob":
        """Start the child process (done by iterating, if not called)."""
        with self._lock:
            if self.process is not None:
                return self
            if self.cancelled:
                raise Cancelled(f"{self.task} was cancelled before it started")
            self.process = subprocess.Popen(
                self.command(),
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                text=True,
                bufsize=1,
                errors="replace",
                env=child_environment(),
                start_new_session=True,  # own process group: Cancel kills all of it
            )
        return self

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    @property
    def returncode(self) -> int | None:
        return self.process.returncode if self.process is not None else None

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def cancel(self) -> None:
        """Stop the child's process group: SIGTERM, then SIGKILL after ``grace_s``; reap it.

        Safe to call from another thread, more than once, or before start.
        """
        with self._lock:
            self.cancelled = True
            process = self.process
        if process is None or process.poll() is not None:
            if process is not None:
                process.wait()
            return
        try:
            os.killpg(process.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            process.wait(timeout=self.grace_s)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            process.wait()
        # Children left in the group (e.g. data loader workers) go too.
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass

    # -- output
    def messages(self) -> Iterator[dict]:
        """Yield the child's messages until it ends.

        Structured messages are dicts with an ``"event"`` key; every other
        printed line comes as ``{"event": "line", "text": ...}``.

        Raises
        ------
        Cancelled
            If :meth:`cancel` was called.
        DeepLabCutError, DataError, FileFormatError
            If the step failed (:func:`child_error`).
        """
        self.start()
        process = self.process
        assert process is not None and process.stdout is not None
        finished = False
        try:
            for raw_line in process.stdout:
                line = raw_line.rstrip("\n")
                if line.startswith(EVENT_PREFIX):
                    try:
                        message = json.loads(line[len(EVENT_PREFIX) :])
                    except json.JSONDecodeError:
                        message = {"event": "line", "text": line}
                else:
                    if line.strip():
                        self.output_tail.append(line)
                    message = {"event": "line", "text": line}
                if message.get("event") == "result":
                    self.result = message
                elif message.get("event") == "error":
                    self.error = message
                yield message
            process.wait()
            finished = True
        finally:
            if not finished:
                # The consumer stopped iterating (generator closed) or failed:
                # never leave the child running on its own.
                self.cancel()
            process.stdout.close()
        self._raise_for_outcome()

    def _raise_for_outcome(self) -> None:
        if self.cancelled:
            raise Cancelled(f"{self.task} was cancelled")
        if self.error is not None:
            raise child_error(self.error, self.task)
        if self.returncode != 0 or self.result is None:
            tail = "\n".join(list(self.output_tail)[-15:])
            raise DeepLabCutError(
                f"the worker process ended with status {self.returncode}; its last output:\n{tail}", step=self.task
            )

    def run(self) -> dict:
        """Run to the end (blocking) and return the result message."""
        for _ in self.messages():
            pass
        assert self.result is not None
        return self.result


class DLCJob(ChildJob):
    """One DeepLabCut step in :mod:`napari_facehmm.tracking._dlc_worker` (checks deeplabcut first).

    Parameters
    ----------
    task
        A task of the worker ("train", ...).
    params
        Its keyword arguments (JSON-serialisable).
    grace_s
        Seconds between SIGTERM and SIGKILL on :meth:`cancel`.
    purpose
        What the step is for, in the missing-dependency message.
    """

    def __init__(self, task: str, params: dict, grace_s: float = 5.0, purpose: str | None = None):
        require_deeplabcut(purpose or f"DeepLabCut ({task})")
        super().__init__(DLC_WORKER, task, params, grace_s=grace_s)

    def _raise_for_outcome(self) -> None:
        if self.cancelled:
            raise Cancelled(f"DeepLabCut {self.task} was cancelled")
        super()._raise_for_outcome()

    def progress(self) -> Generator[Progress, None, Any]:
        """The job's ``events()`` as the project's ``(done, total, message)`` steps.

        For :class:`~.training.TrainingJob` and :class:`~.analysis.AnalysisJob`,
        whose events carry their step as ``event.progress``: the command
        line draws it with :func:`~napari_facehmm.progress.run_with_progress`,
        the docks with their progress bar. Returns what ``events()`` returns;
        closing it stops the child like :meth:`cancel`.
        """
        return (yield from relay(self.events(), lambda event: event.progress))


def _run_task(task: str, params: dict, purpose: str) -> dict:
    return DLCJob(task, params, purpose=purpose).run()


# ------------------------------------------------------------------ child side
def emit(event: str, **fields: Any) -> None:
    """Print one structured message for the parent process."""
    print(EVENT_PREFIX + json.dumps({"event": event, **fields}, default=str), flush=True)


def serve(tasks: Mapping[str, Callable[..., Any]], argv: list[str] | None = None) -> int:
    """The child's main loop: run ``tasks[TASK](**PARAMS)`` from ``argv``, report, return the exit status.

    A task returns its result as a dict of JSON-serialisable fields, or is a
    progress generator whose ``(done, total, message)`` steps go to the
    parent as ``progress`` messages and whose return value is that dict.
    Every exception (KeyboardInterrupt included) is printed with its
    traceback and reported as an ``error`` message (type, message, and for a
    :class:`~napari_facehmm.errors.FileFormatError` its path and problem).
    """
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 2 or argv[0] not in tasks:
        print(f"usage: TASK PARAMS_JSON with TASK one of {', '.join(tasks)}", file=sys.stderr)
        return 2
    task, params = argv[0], json.loads(argv[1])
    for name, value in OFFLINE_ENVIRONMENT.items():  # also when started by hand
        os.environ.setdefault(name, value)
    try:
        result = tasks[task](**params)
        if isinstance(result, Generator):
            result = run_to_end(result, lambda step: emit("progress", done=int(step[0]), total=int(step[1]), message=str(step[2])))
    except BaseException as error:  # report everything, KeyboardInterrupt included
        traceback.print_exc()
        fields = {"type": type(error).__name__, "message": str(error) or repr(error)}
        if isinstance(error, FileFormatError):
            fields.update(path=None if error.path is None else str(error.path), problem=error.problem)
        emit("error", **fields)
        return 1
    emit("result", **(result or {}))
    return 0
