"""Running :func:`~.project.create_project` or :func:`~.frames.extract_frames` in a child process.

:func:`in_subprocess` and its child side :func:`_subprocess_main`: the
widget runs DeepLabCut's variants there, because DeepLabCut crashes in a
process that shows a napari viewer.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from collections.abc import Generator, Mapping

import numpy as np

from ..errors import DataError, FileFormatError
from ..progress import Progress, run_to_end
from .frames import extract_frames
from .project import create_project


_PROTOCOL_PREFIX = "@facehmm-labeling "


_SUBPROCESS_FUNCTIONS = ("create_project", "extract_frames")


def in_subprocess(function: str, **kwargs) -> Generator[Progress, None, object]:
    """Run :func:`create_project` or :func:`extract_frames` in a fresh Python process.

    DeepLabCut imports torchvision, which crashes (segmentation fault) when
    it is first imported into a process where a napari viewer already
    exists; the widget therefore runs the DeepLabCut variants here. Progress
    and the result come back as JSON lines on stdout (DeepLabCut's own
    prints go to stderr); closing the generator (Cancel) terminates the
    process.

    Parameters
    ----------
    function
        ``"create_project"`` or ``"extract_frames"``.
    **kwargs
        Its arguments (JSON-serializable; paths as strings).

    Yields
    ------
    tuple
        ``(done, total, message)`` from ``extract_frames``.

    Returns
    -------
    object
        What the function returns (paths as :class:`~pathlib.Path`).
    """
    import json
    import signal
    import subprocess
    import sys
    import tempfile

    if function not in _SUBPROCESS_FUNCTIONS:
        raise ValueError(f"in_subprocess runs {_SUBPROCESS_FUNCTIONS}; got {function!r}")
    request = json.dumps({"function": function, "kwargs": _jsonable(kwargs)})
    with tempfile.TemporaryFile(mode="w+") as log:
        process = subprocess.Popen(
            [sys.executable, "-c", "from napari_facehmm.labeling.child_process import _subprocess_main; _subprocess_main()"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
            start_new_session=True,
        )
        result, error = None, None
        try:
            process.stdin.write(request)
            process.stdin.close()
            for line in process.stdout:
                if not line.startswith(_PROTOCOL_PREFIX):
                    continue
                message = json.loads(line[len(_PROTOCOL_PREFIX):])
                if message["kind"] == "progress":
                    yield tuple(message["value"])
                elif message["kind"] == "result":
                    result = message["value"]
                elif message["kind"] == "error":
                    error = message
            process.wait()
        except GeneratorExit:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            process.wait()
            raise
        if error is not None:
            kind = {"DataError": DataError, "FileFormatError": FileFormatError}.get(error["type"])
            if kind is FileFormatError:
                raise FileFormatError(error.get("path"), error["problem"])
            if kind is DataError:
                raise DataError(error["message"])
            raise DataError(f"{function} failed: {error['type']}: {error['message']}")
        if process.returncode != 0 or result is None:
            log.seek(0)
            tail = log.read()[-2000:]
            raise DataError(f"{function} ended with status {process.returncode} and no result:\n{tail}")
    if function == "create_project":
        return Path(result)
    return {video: [Path(p) for p in paths] for video, paths in result.items()}


def _jsonable(value):
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.integer):
        return int(value)
    return value


def _subprocess_main() -> None:
    """The child side of :func:`in_subprocess` (reads the request from stdin)."""
    import json
    import sys

    protocol = sys.stdout
    sys.stdout = sys.stderr  # DeepLabCut prints a lot; keep stdout for our messages

    def send(kind, value=None, **extra):
        protocol.write(_PROTOCOL_PREFIX + json.dumps({"kind": kind, "value": value, **extra}) + "\n")
        protocol.flush()

    request = json.loads(sys.stdin.read())
    try:
        function = request["function"]
        if function not in _SUBPROCESS_FUNCTIONS:
            raise ValueError(f"unknown function {function!r}")
        kwargs = request["kwargs"]
        if function == "create_project":
            result = str(create_project(**kwargs))
        else:
            written = run_to_end(extract_frames(**kwargs), lambda step: send("progress", list(step)))
            result = {video: [str(p) for p in paths] for video, paths in written.items()}
        send("result", result)
    except FileFormatError as error:
        send("error", type="FileFormatError", message=str(error), problem=error.problem,
             path=str(error.path) if error.path else None)
    except Exception as error:  # reported to the parent, which raises it there
        send("error", type=type(error).__name__, message=str(error))
