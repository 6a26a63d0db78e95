"""npe2 reader of session folders: every camera's video, skeleton and points side by side.

A session folder is the layout ``facehmm synth`` and Anipose write
(``videos-raw/``, ``pose-2d/``, ``pose-3d/``, ``calibration/``). The folder
opens what can be read and names each file left out (see :func:`read_session`);
the guard, notifications and layer tuples are those of :mod:`.readers`.

napari is imported only inside functions (through :mod:`.readers`).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Callable

import numpy as np

from ..errors import FaceHMMError, FileFormatError
from .readers import (
    LayerData,
    _guarded,
    _single_path,
    landmark_layers,
    notify_skipped,
    notify_undecodable,
    video_layer,
    with_face_skeleton,
)

#: gap in pixels between the cameras placed side by side
CAMERA_GAP_PX = 20


# ------------------------------------------------------------------ sessions
def _camera_and_session(path: Path, cam_regex: str) -> tuple[str, str]:
    """Camera and session names of a per-camera file, as Anipose names them.

    The camera is the first group of ``cam_regex`` (``camA`` in
    ``session1-camA.mp4``); a name the pattern does not match falls back to
    "<session>-<camera>": the camera is the part after the last dash.
    """
    from ..tracking.anipose import camera_name_from_path, session_name_from_path

    camera = camera_name_from_path(path, cam_regex)
    if camera is not None:
        return camera, session_name_from_path(path, cam_regex)
    match = re.match(r"^(.*)-([^-]+)$", path.stem)
    return (match.group(2), match.group(1)) if match else (path.stem, "")


def find_session_files(folder: Path) -> dict[str, Any]:
    """The files of one session in a session folder (the layout ``facehmm synth`` writes).

    An Anipose project folder may hold several sessions (trials) side by
    side (``videos-raw/s1-camA.mp4``, ``s2-camA.mp4``...): files are grouped by
    session with the project's ``cam_regex`` (``config.toml``
    ``[triangulation]``), and the session shown is the one with a
    ``pose-3d/<session>.csv``, else the first by name.

    Returns
    -------
    dict
        ``session`` name, ``cameras`` (ordered list of camera names),
        ``videos`` {camera: path}, ``pose2d`` {camera: path}, ``pose3d`` path
        or None, ``calibration`` path or None, ``model`` path or None.
    """
    from ..tracking.anipose import project_layout

    folder = Path(folder)
    cam_regex = project_layout(folder).cam_regex
    from ..io.video import VIDEO_SUFFIXES as PLAYABLE

    videos = sorted(p for p in (folder / "videos-raw").glob("*") if p.suffix.lower() in PLAYABLE)
    pose2d_files = sorted((folder / "pose-2d").glob("*.h5")) or sorted(
        (folder / "pose-2d").glob("*.csv")
    )
    sessions: dict[str, dict[str, dict[str, Path]]] = {}
    for kind, paths in (("videos", videos), ("pose2d", pose2d_files)):
        for path in paths:
            camera, session = _camera_and_session(path, cam_regex)
            sessions.setdefault(session, {"videos": {}, "pose2d": {}})[kind].setdefault(camera, path)
    pose3d_files = sorted((folder / "pose-3d").glob("*.csv"))
    with_3d = [p.stem for p in pose3d_files if p.stem in sessions]
    session = with_3d[0] if with_3d else (sorted(sessions)[0] if sessions else None)
    if session is None and pose3d_files:
        session = pose3d_files[0].stem
    # the session's own pose-3d file; with a single session, any pose-3d file
    # (renamed after triangulation); then the synthetic truth
    pose3d_candidates = [p for p in pose3d_files if p.stem == session]
    if len(sessions) <= 1:
        pose3d_candidates += pose3d_files
    pose3d_candidates.append(folder / "truth" / "pose-3d.csv")
    pose3d = next((p for p in pose3d_candidates if p.is_file()), None)
    files = sessions.get(session, {"videos": {}, "pose2d": {}})
    cameras = list(dict.fromkeys([*files["videos"], *files["pose2d"]]))
    calibration = folder / "calibration" / "calibration.toml"
    model = None
    for pattern in ("model/*", "models/*", "*.facehmm*", "model*"):
        found = sorted(p for p in folder.glob(pattern) if p.is_file())
        if found:
            model = found[0]
            break
    return dict(
        session=session or folder.name,
        cameras=cameras,
        videos=files["videos"],
        pose2d=files["pose2d"],
        pose3d=pose3d,
        calibration=calibration if calibration.is_file() else None,
        model=model,
    )


def is_session_folder(path: Path) -> bool:
    path = Path(path)
    return path.is_dir() and ((path / "videos-raw").is_dir() or (path / "pose-2d").is_dir())


def read_session(
    folder: Path,
    on_skipped: Callable[[FaceHMMError], None] | None = None,
    on_undecodable: Callable[[Path, int, int, str], None] | None = notify_undecodable,
) -> list[LayerData]:
    """All layers of a session: per camera video, skeleton and points, side by side.

    Cameras are translated along x (each by the widths of the previous ones
    plus a gap) rather than put in napari's grid: the grid gives every layer
    its own cell, while a camera's video, skeleton and points belong together.
    The 3D series (if any) rides along in each points layer's metadata
    (``pose3d``) for the 3D view and the state widget.

    Parameters
    ----------
    folder
        The session folder.
    on_skipped
        With a callable, a file that cannot be read (a corrupt or truncated
        pose file, a labels file where tracking output belongs, a video that
        cannot be opened) is left out, the callable gets a
        :class:`FileFormatError` naming it, and the rest of the session
        opens. None raises at the first such file.
    on_undecodable
        Told once per video about frames that cannot be decoded (they are
        shown black); see :func:`.readers.video_layer`.

    Raises
    ------
    FileFormatError
        No cameras in the folder, or (with ``on_skipped``) none of its files
        could be read.
    """
    from ..io import read_landmarks
    from ..io.anipose import read_pose3d

    def attempt(path: Path, read: Callable[..., Any], **kwargs: Any) -> Any:
        """``read(path, **kwargs)``; None when it fails and ``on_skipped`` is given."""
        if on_skipped is None:
            return read(path, **kwargs)
        try:
            return read(path, **kwargs)
        except FaceHMMError as error:
            problem = error if isinstance(error, FileFormatError) else FileFormatError(path, str(error))
        except Exception as error:  # noqa: BLE001 - a reader's own failure on a bad file
            problem = FileFormatError(path, f"could not be read ({type(error).__name__}: {error})")
        on_skipped(problem)
        return None

    files = find_session_files(folder)
    if not files["cameras"]:
        raise FileFormatError(folder, "no videos in videos-raw/ and no pose-2d/ files")
    pose3d = None
    if files["pose3d"]:
        pose3d = attempt(files["pose3d"], read_pose3d)
        pose3d = with_face_skeleton(pose3d) if pose3d is not None else None
    common = dict(
        session_dir=str(folder),
        session=files["session"],
        pose3d=pose3d,
        calibration=str(files["calibration"]) if files["calibration"] else None,
        model=str(files["model"]) if files["model"] else None,
    )
    layers: list[LayerData] = []
    offset_x = 0.0
    n_pose2d = 0
    for camera in files["cameras"]:
        name = f"{files['session']}-{camera}"
        width = None
        if camera in files["videos"]:
            video = attempt(
                files["videos"][camera],
                video_layer,
                name=f"{name} video",
                translate_x=offset_x,
                on_undecodable=on_undecodable,
            )
            if video is not None:
                width = video[0].shape[2]
                layers.append(video)
        series = None
        if camera in files["pose2d"]:
            series = attempt(files["pose2d"][camera], read_landmarks)
        if series is not None:
            n_pose2d += 1
            series = series.copy(camera=camera)
            layers.extend(landmark_layers(series, name=name, translate_x=offset_x, camera=camera, **common))
            if width is None:
                width = float(np.nanmax(series.positions[..., 0], initial=0.0))
        offset_x += (width or 0.0) + CAMERA_GAP_PX
    if not n_pose2d and pose3d is not None:
        layers.extend(landmark_layers(pose3d, name=f"{files['session']} 3D front", **common))
    if not layers:
        raise FileFormatError(folder, "none of the session's videos and landmark files could be read")
    return layers


def get_session_reader(path: Any) -> Callable | None:
    target = _single_path(path)
    if target is None or not is_session_folder(Path(target)):
        return None
    # the files that can be read open; each one that cannot is named in a notification
    return _guarded(lambda folder: read_session(folder, on_skipped=notify_skipped))
