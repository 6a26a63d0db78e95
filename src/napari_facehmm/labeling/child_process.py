"""Running :func:`~.project.create_project` or :func:`~.frames.extract_frames` in a child process.

:func:`in_subprocess` and its child side :func:`_subprocess_main`: the
widget runs DeepLabCut's variants there, because DeepLabCut crashes in a
process that shows a napari viewer. The child is run by the project's one
child-process runner (:class:`~napari_facehmm.tracking.dlc.runner.ChildJob`):
the same environment, messages, Cancel and errors as DeepLabCut's training
and analysis.
"""

from __future__ import annotations

from collections.abc import Generator
from pathlib import Path

from ..progress import Progress
from ..tracking.dlc.runner import ChildJob, serve
from .frames import extract_frames
from .project import create_project

#: the child's main function, for the runner
_ENTRY = "napari_facehmm.labeling.child_process:_subprocess_main"


def _create_project_task(**kwargs) -> dict:
    return {"config_path": str(create_project(**kwargs))}


def _extract_frames_task(**kwargs) -> Generator[Progress, None, dict]:
    written = yield from extract_frames(**kwargs)
    return {"written": {video: [str(p) for p in paths] for video, paths in written.items()}}


_TASKS = {"create_project": _create_project_task, "extract_frames": _extract_frames_task}
_SUBPROCESS_FUNCTIONS = tuple(_TASKS)


def in_subprocess(function: str, **kwargs) -> Generator[Progress, None, object]:
    """Run :func:`create_project` or :func:`extract_frames` in a fresh Python process.

    DeepLabCut imports torchvision, which crashes (segmentation fault) when
    it is first imported into a process where a napari viewer already
    exists; the widget therefore runs the DeepLabCut variants here. Closing
    the generator (Cancel) stops the child (SIGTERM, then SIGKILL after the
    runner's grace period).

    Parameters
    ----------
    function
        ``"create_project"`` or ``"extract_frames"``.
    **kwargs
        Its arguments (paths may be :class:`~pathlib.Path`).

    Yields
    ------
    tuple
        ``(done, total, message)`` from ``extract_frames``.

    Returns
    -------
    object
        What the function returns (paths as :class:`~pathlib.Path`).

    Raises
    ------
    DataError, FileFormatError
        The function's own errors, raised in the child.
    DeepLabCutError
        Any other failure of the child, with its message.
    """
    if function not in _TASKS:
        raise ValueError(f"in_subprocess runs {_SUBPROCESS_FUNCTIONS}; got {function!r}")
    job = ChildJob(_ENTRY, function, kwargs)
    messages = job.messages()
    try:
        for message in messages:
            if message.get("event") == "progress":
                yield message["done"], message["total"], message["message"]
    finally:
        messages.close()  # a closed (cancelled) generator stops the child
    if function == "create_project":
        return Path(job.result["config_path"])
    return {video: [Path(p) for p in paths] for video, paths in job.result["written"].items()}


def _subprocess_main() -> int:
    """The child side of :func:`in_subprocess`: ``TASK PARAMS_JSON`` from ``sys.argv``."""
    return serve(_TASKS)
