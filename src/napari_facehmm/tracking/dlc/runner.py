"""The job runner: one DeepLabCut step in a child process, its messages, Cancel and errors.

:class:`DLCJob` starts :mod:`napari_facehmm.tracking._dlc_worker` with
``python -m`` in its own process group and an offline environment, turns its
output into messages (structured ones after :data:`EVENT_PREFIX`, every other
line as ``{"event": "line"}``), stops the whole group on Cancel (SIGTERM, then
SIGKILL) and maps a failure to :class:`DeepLabCutError` with DeepLabCut's own
message.
"""

from __future__ import annotations

import collections
import json
import os
import signal
import subprocess
import sys
import threading
from typing import Iterator

from ...errors import Cancelled, FaceHMMError
from .project import require_deeplabcut

EVENT_PREFIX = "@@facehmm "


class DeepLabCutError(FaceHMMError):
    """A DeepLabCut step failed; the message is DeepLabCut's own.

    Parameters
    ----------
    message
        DeepLabCut's exception text (or the last lines it printed).
    error_type
        The exception class name raised inside DeepLabCut, if known.
    step
        Which step failed ("train", "analyze", ...).
    """

    def __init__(self, message: str, error_type: str | None = None, step: str | None = None):
        self.error_type = error_type
        self.step = step
        prefix = f"DeepLabCut {step} failed" if step else "DeepLabCut failed"
        kind = f" ({error_type})" if error_type else ""
        super().__init__(f"{prefix}{kind}: {message}")


def _worker_environment() -> dict[str, str]:
    env = dict(os.environ)
    env["DLClight"] = "True"
    env["HF_HUB_OFFLINE"] = "1"
    env["TRANSFORMERS_OFFLINE"] = "1"
    env["PYTHONUNBUFFERED"] = "1"
    # DeepLabCut uses pyplot (outlier extraction, evaluation plots): never a
    # GUI backend in the worker, with or without a display.
    env["MPLBACKEND"] = "Agg"
    # Qt must not be touched by the worker (it inherits the viewer's display).
    env.pop("QT_QPA_PLATFORM_PLUGIN_PATH", None)
    return env


class DLCJob:
    """One DeepLabCut step running in a child process (own process group).

    Parameters
    ----------
    task
        A task of :mod:`napari_facehmm.tracking._dlc_worker` ("train", ...).
    params
        Its keyword arguments (JSON-serialisable).
    grace_s
        Seconds between SIGTERM and SIGKILL on :meth:`cancel`.
    purpose
        What the step is for, in the missing-dependency message.

    Notes
    -----
    Iterate :meth:`messages` (or a subclass's ``events``) in one thread; call
    :meth:`cancel` from any thread. After the iteration ends, ``result``
    holds the worker's result and ``returncode`` its exit status; the child
    has been reaped (no zombie).
    """

    step = "job"

    def __init__(self, task: str, params: dict, grace_s: float = 5.0, purpose: str | None = None):
        require_deeplabcut(purpose or f"DeepLabCut ({task})")
        self.task = task
        self.params = params
        self.grace_s = float(grace_s)
        self.process: subprocess.Popen | None = None
        self.result: dict | None = None
        self.error: dict | None = None
        self.cancelled = False
        #: the last lines the child printed (DeepLabCut's log), for error messages
        self.output_tail: collections.deque[str] = collections.deque(maxlen=400)
        self._lock = threading.Lock()

    # -- process control
    def start(self) -> "DLCJob":
        """Start the child process (done by iterating, if not called)."""
        with self._lock:
            if self.process is not None:
                return self
            if self.cancelled:
                raise Cancelled(f"DeepLabCut {self.task} was cancelled before it started")
            command = [
                sys.executable,
                "-m",
                "napari_facehmm.tracking._dlc_worker",
                self.task,
                json.dumps(self.params, default=str),
            ]
            self.process = subprocess.Popen(
                command,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                text=True,
                bufsize=1,
                errors="replace",
                env=_worker_environment(),
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
        DeepLabCutError
            If the step failed; the message is DeepLabCut's.
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
            raise Cancelled(f"DeepLabCut {self.task} was cancelled")
        if self.error is not None:
            raise DeepLabCutError(self.error.get("message", ""), self.error.get("type"), step=self.task)
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


def _run_task(task: str, params: dict, purpose: str) -> dict:
    return DLCJob(task, params, purpose=purpose).run()
