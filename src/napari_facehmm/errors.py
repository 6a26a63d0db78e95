"""The few exception types the core raises.

Widgets catch :class:`FaceHMMError` and show its message as a notification;
the command line prints it and exits with status 2. Every error that comes
from a file names that file.
"""

from __future__ import annotations

from pathlib import Path


class FaceHMMError(Exception):
    """Base class of every error napari-facehmm raises on purpose."""


class FileFormatError(FaceHMMError, ValueError):
    """A file exists but its content is not what its format requires.

    Parameters
    ----------
    path
        The file that was read.
    problem
        What is wrong with it, in words a user understands.
    """

    def __init__(self, path: str | Path | None, problem: str):
        self.path = Path(path) if path is not None else None
        self.problem = problem
        where = f"{self.path}: " if self.path is not None else ""
        super().__init__(f"{where}{problem}")


class UnsupportedFileError(FileFormatError):
    """The file's extension or layout belongs to no format we read."""


class DataError(FaceHMMError, ValueError):
    """Data that is well formed but unusable for the requested step

    (too few frames, all-NaN keypoints, mismatched layouts, ...)."""


class MissingDependencyError(FaceHMMError, ImportError):
    """An optional dependency (an extra) is not installed.

    The message says which ``pip install`` command brings it.
    """

    def __init__(self, package: str, extra: str, purpose: str, install: str | None = None):
        self.package = package
        self.extra = extra
        install = install or f'pip install "napari-facehmm[{extra}]"'
        super().__init__(f"{purpose} needs {package}, which is not installed. Install it with: {install}")


class Cancelled(FaceHMMError):
    """A long job was cancelled by the user."""
