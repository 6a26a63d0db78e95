"""An Anipose project's layout: ``config.toml``, its folders, camera and session names in file names."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ...errors import DataError, FileFormatError
from ...io.video import VIDEO_SUFFIXES


#: Camera name in a file name: ``session-camA.mp4`` -> ``camA``. Anipose's
#: ``cam_regex`` in ``[triangulation]`` overrides it (first group = name).
DEFAULT_CAM_REGEX = r"-?(cam[A-Z])"

#: Video files ``facehmm calibrate`` looks for in ``calibration/``.
VIDEO_EXTENSIONS = VIDEO_SUFFIXES  # every container the video reader opens


def check_cam_regex(pattern: str, where: str) -> str:
    """``pattern`` if it is a regular expression with a group for the camera name.

    Raises
    ------
    DataError
        Naming ``where`` it came from (``--cam-regex``, ``config.toml
        [triangulation] cam_regex``): not a regular expression, or no group.
    """
    try:
        groups = re.compile(pattern).groups
    except re.error as error:
        raise DataError(f"{where} {pattern!r}: not a regular expression ({error})") from None
    if groups < 1:
        raise DataError(f"{where} {pattern!r}: needs a group for the camera name, e.g. {DEFAULT_CAM_REGEX}")
    return pattern


def read_project_config(project_dir: str | Path) -> dict[str, Any]:
    """Read an Anipose project's ``config.toml`` (empty dict if absent).

    Raises
    ------
    FileFormatError
        The file exists but is not valid TOML.
    """
    import toml

    path = Path(project_dir) / "config.toml"
    if not path.is_file():
        return {}
    try:
        config = toml.loads(path.read_text(encoding="utf-8"))
    except (toml.TomlDecodeError, UnicodeDecodeError, IndexError, ValueError) as error:
        raise FileFormatError(path, f"not valid TOML ({error})") from None
    for section in ("calibration", "triangulation", "filter"):
        if section in config and not isinstance(config[section], dict):
            raise FileFormatError(path, f"[{section}] must be a table")
    return config


@dataclass
class ProjectLayout:
    """Where an Anipose project keeps things (``config.toml`` ``[pipeline]``, Anipose's defaults)."""

    cam_regex: str
    calibration_videos: Path
    #: ``<calibration_results>/calibration.toml``: written by calibrate, read by triangulate
    calibration: Path
    pose_2d: Path
    pose_3d: Path


def project_layout(project_dir: str | Path, config: Mapping[str, Any] | None = None) -> ProjectLayout:
    """The folders and camera pattern of an Anipose project (``config`` read when None)."""
    project_dir = Path(project_dir)
    if config is None:
        config = read_project_config(project_dir)
    pipeline = config.get("pipeline", {})
    cam_regex = config.get("triangulation", {}).get("cam_regex", DEFAULT_CAM_REGEX)
    return ProjectLayout(
        cam_regex=check_cam_regex(str(cam_regex), f"{project_dir / 'config.toml'}: [triangulation] cam_regex"),
        calibration_videos=project_dir / pipeline.get("calibration_videos", "calibration"),
        calibration=project_dir / pipeline.get("calibration_results", "calibration") / "calibration.toml",
        pose_2d=project_dir / pipeline.get("pose_2d", "pose-2d"),
        pose_3d=project_dir / pipeline.get("pose_3d", "pose-3d"),
    )


def camera_name_from_path(path: str | Path, cam_regex: str = DEFAULT_CAM_REGEX) -> str | None:
    """Camera name in a file name (Anipose's ``get_cam_name``), or None.

    The name is the first group of ``cam_regex`` searched in the file name
    without extension(s).
    """
    stem = Path(path).name
    for suffix in Path(path).suffixes:
        stem = stem.removesuffix(suffix)
    match = re.search(cam_regex, stem)
    if not match or not match.groups():
        return None
    return match.group(1).strip()


def session_name_from_path(path: str | Path, cam_regex: str = DEFAULT_CAM_REGEX) -> str:
    """Session name: the file name without extension and camera part (Anipose's ``get_video_name``).

    Unlike Anipose, separators left at either end (``-``, ``_``, ``.``,
    spaces) are stripped, so ``session1-camA.h5`` is session ``session1``
    also with a ``cam_regex`` that does not include the dash.
    """
    stem = Path(path).name
    for suffix in Path(path).suffixes:
        stem = stem.removesuffix(suffix)
    return re.sub(cam_regex, "", stem).strip(" -_.")


def files_by_camera(
    folder: str | Path, suffixes: Iterable[str], cam_regex: str = DEFAULT_CAM_REGEX
) -> dict[str, Path]:
    """``{camera: file}`` of the files in ``folder`` with one of ``suffixes`` (lower case, with the dot).

    The camera is the one in the file name (``cam_regex``), else the file's stem;
    hidden files are skipped; a missing folder gives ``{}``.
    """
    folder = Path(folder)
    if not folder.is_dir():
        return {}
    suffixes = tuple(suffixes)
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in suffixes and not p.name.startswith("."))
    return {camera_name_from_path(p, cam_regex) or p.stem: p for p in files}


def group_by_session(
    paths: Iterable[str | Path], cam_regex: str = DEFAULT_CAM_REGEX
) -> dict[str, dict[str, Path]]:
    """Group per-camera files into sessions: ``{session: {camera: path}}``.

    Raises
    ------
    DataError
        A file name has no camera name, or two files of one session name
        the same camera.
    """
    sessions: dict[str, dict[str, Path]] = {}
    for path in sorted(Path(p) for p in paths):
        camera = camera_name_from_path(path, cam_regex)
        if camera is None:
            raise DataError(
                f"{path}: no camera name in the file name (cam_regex {cam_regex!r}); "
                "name files like <session>-camA.h5 or set cam_regex in config.toml [triangulation]"
            )
        session = session_name_from_path(path, cam_regex)
        cameras = sessions.setdefault(session, {})
        if camera in cameras:
            raise DataError(
                f"two files for camera {camera!r} in session {session!r}: {cameras[camera]}, {path}"
            )
        cameras[camera] = path
    return sessions


def calibration_videos(folder: str | Path, cam_regex: str = DEFAULT_CAM_REGEX) -> dict[str, list[Path]]:
    """Calibration videos in ``folder``, per camera (sorted), as Anipose finds them."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"{folder}: calibration folder does not exist")
    videos = sorted(p for p in folder.iterdir() if p.suffix.lower() in VIDEO_EXTENSIONS)
    if not videos:
        raise DataError(f"{folder}: no calibration videos ({', '.join(VIDEO_EXTENSIONS)})")
    per_camera: dict[str, list[Path]] = {}
    for video in videos:
        camera = camera_name_from_path(video, cam_regex)
        if camera is None:
            raise DataError(
                f"{video}: no camera name in the file name (cam_regex {cam_regex!r}); "
                "name videos like calib-camA.mp4 or set cam_regex in config.toml [triangulation]"
            )
        per_camera.setdefault(camera, []).append(video)
    return dict(sorted(per_camera.items()))


def project_sessions(
    pose_dir: str | Path, cam_regex: str = DEFAULT_CAM_REGEX, sessions: Sequence[str] | None = None
) -> dict[str, dict[str, Path]]:
    """``{session: {camera: 2D file}}`` for the DLC ``.h5``/``.csv`` files of ``pose_dir``."""
    pose_dir = Path(pose_dir)
    if not pose_dir.is_dir():
        raise DataError(f"{pose_dir}: no 2D tracking folder (expected <session>-<cam>.h5 files)")
    files = sorted(p for p in pose_dir.iterdir() if p.suffix.lower() in (".h5", ".csv"))
    if not files:
        raise DataError(f"{pose_dir}: no DeepLabCut .h5/.csv files")
    grouped = group_by_session(files, cam_regex)
    if sessions:
        unknown = sorted(set(sessions) - set(grouped))
        if unknown:
            raise DataError(f"no session(s) {unknown} in {pose_dir}; sessions: {sorted(grouped)}")
        grouped = {name: grouped[name] for name in sessions}
    return grouped
