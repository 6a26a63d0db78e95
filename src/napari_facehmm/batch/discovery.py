"""Finding the sessions of a project: every folder below PROJECT that holds ``videos-raw/`` or ``pose-2d/``.

A session folder is the layout ``facehmm synth`` and ``facehmm run`` write
(Anipose's): ``videos-raw/<name>-<cam>.mp4``, ``pose-2d/<name>-<cam>.h5``,
``pose-3d/<name>.csv``, and a calibration in ``calibration/calibration.toml``
of the session or of the project. Nothing is read here but names: a broken
file is found by the session's task on a worker, which reports it by name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import DataError

__all__ = ["SessionSpec", "discover_sessions"]

_VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv")
_POSE_SUFFIXES = (".h5", ".csv")


@dataclass(frozen=True)
class SessionSpec:
    """One session of a project: its name, folder and files by camera.

    Attributes
    ----------
    name
        Session name: the folder's path below the project, ``/`` replaced by ``_``.
    folder
        The session folder.
    videos, pose_2d
        ``{camera: path}`` of ``videos-raw/`` and of ``pose-2d/`` (the 2D files
        that exist now).
    calibration
        ``calibration.toml`` of the session (or of the project), if any.
    """

    name: str
    folder: Path
    videos: dict[str, Path] = field(default_factory=dict)
    pose_2d: dict[str, Path] = field(default_factory=dict)
    calibration: Path | None = None

    @property
    def cameras(self) -> list[str]:
        return sorted(set(self.videos) | set(self.pose_2d))


def _session_name(folder: Path, project: Path) -> str:
    relative = folder.relative_to(project).as_posix()
    name = relative if relative != "." else project.name
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name.replace("/", "_")).strip("_.") or "session"


def discover_sessions(project: str | Path) -> list[SessionSpec]:
    """The sessions below ``project``, sorted by name.

    Raises
    ------
    DataError
        ``project`` is not a folder or holds no session.
    """
    from ..tracking.anipose.layout import files_by_camera

    project = Path(project)
    if not project.is_dir():
        raise DataError(f"{project}: no such project folder")
    folders = sorted(
        {p.parent for name in ("videos-raw", "pose-2d") for p in project.rglob(name) if p.is_dir()}
    )
    folders = [f for f in folders if not any(part.startswith(".") for part in f.relative_to(project).parts)]
    if not folders:
        raise DataError(
            f"{project}: no session (a session is a folder holding videos-raw/ or pose-2d/, "
            "as facehmm synth writes)"
        )
    project_calibration = project / "calibration" / "calibration.toml"
    sessions = []
    for folder in folders:
        own = folder / "calibration" / "calibration.toml"
        calibration = own if own.is_file() else project_calibration if project_calibration.is_file() else None
        sessions.append(
            SessionSpec(
                name=_session_name(folder, project),
                folder=folder,
                videos=files_by_camera(folder / "videos-raw", _VIDEO_SUFFIXES),
                pose_2d=files_by_camera(folder / "pose-2d", _POSE_SUFFIXES),
                calibration=calibration,
            )
        )
    names = [s.name for s in sessions]
    clashing = sorted({n for n in names if names.count(n) > 1})
    if clashing:
        raise DataError(f"{project}: session folders give the same names {clashing}; rename the folders")
    return sessions
