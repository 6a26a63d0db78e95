"""npe2 readers: videos, landmark files and whole session folders.

Each ``get_*_reader(path)`` returns ``None`` for paths it does not own, so
napari tries the next reader. For files it owns but cannot read, the reader
shows the project's error as a notification and returns napari's "nothing to
add" sentinel ``[(None,)]``, so the user sees what is wrong and not a
traceback. Bad data never takes the viewer down: a session folder opens the
files that can be read and names each one left out; a video's frames that
cannot be decoded (corrupt part-way, or missing from a truncated file) are
shown black, with one warning per video naming the file and the frames.

What napari receives are built layers, not layer-data tuples: points become
the plugin's :class:`~napari_facehmm.widgets._layers.FacePoints`, whose cached
extent keeps the time slider fast on a million points (napari accepts
``Layer`` objects from readers since 0.5.6 and records their source). The
``*_layer(s)`` and ``read_session`` functions below still give tuples, for the
sample data (napari builds sample layers from tuples only) and for tests.
One consequence: napari applies ``viewer.open(path, name=..., ...)`` keyword
arguments to layer-data tuples only, not to built layers; set such
properties on the layers ``viewer.open`` returns.

napari is imported only inside functions: this module is imported by the
manifest machinery and by the Qt-free core test.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Callable

import numpy as np

from .data import LandmarkSeries
from .errors import FaceHMMError, FileFormatError
from .face import FACE_KEYPOINTS, FACE_SKELETON
from .layerdata import (
    METADATA_KEY,
    VideoFrames,
    points_layer_kwargs,
    skeleton_to_vectors,
)

#: what the video reader claims when a file is opened (the manifest's patterns);
#: session folders take every container the video reader opens
#: (:data:`napari_facehmm.io.video.VIDEO_SUFFIXES`)
MANIFEST_VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv")
LANDMARK_SUFFIXES = (".h5", ".csv")
#: gap in pixels between the cameras placed side by side
CAMERA_GAP_PX = 20

LayerData = tuple  # (data, kwargs, layer_type)
NULL_LAYER = [(None,)]


# ---------------------------------------------------------------- utilities
def _single_path(path: Any) -> str | None:
    if isinstance(path, (list, tuple)):
        if len(path) != 1:
            return None
        path = path[0]
    return str(path) if isinstance(path, (str, Path)) else None


def _notify_error(message: str) -> None:
    from napari.utils.notifications import show_error

    show_error(message)


def _notify_warning(message: str) -> None:
    from napari.utils.notifications import show_warning

    show_warning(message)


def notify_undecodable(path: Path, first: int, last: int, problem: str) -> None:
    """Tell the user, once per video, that its undecodable frames are shown black."""
    frames = f"frame {first}" if first == last else f"frames {first}-{last}"
    _notify_warning(
        f"napari-facehmm cannot decode {frames} of {Path(path).name} ({problem}); they are "
        f"shown black, as is any other frame of this video that cannot be decoded. File: {path}"
    )


def notify_skipped(error: Exception) -> None:
    """Tell the user a file of a session was left out, and why."""
    _notify_error(f"napari-facehmm left a file out: {error}")


def _guarded(read: Callable[[Path], list]) -> Callable[[Any], list]:
    """Wrap a reader so that the project's errors become a notification."""

    def reader(path: Any, **_: Any) -> list:
        from .widgets._layers import build_layers

        target = Path(_single_path(path) or path)
        try:
            layers = build_layers(read(target))
        except FaceHMMError as exc:
            _notify_error(f"napari-facehmm could not open {target.name}: {exc}")
            return NULL_LAYER
        except (OSError, ValueError) as exc:
            # a decoder or parser failure on a file we own (e.g. a corrupt video)
            _notify_error(f"napari-facehmm could not open {target.name}: {type(exc).__name__}: {exc}")
            return NULL_LAYER
        return layers or NULL_LAYER

    return reader


def with_face_skeleton(series: LandmarkSeries) -> LandmarkSeries:
    """The series with the face skeleton when it has face landmarks and no skeleton."""
    if series.skeleton or not set(series.keypoints) & set(FACE_KEYPOINTS):
        return series
    return series.copy(skeleton=FACE_SKELETON)


# ------------------------------------------------------------------- layers
def video_layer(
    path: Path,
    name: str | None = None,
    translate_x: float = 0.0,
    on_undecodable: Callable[[Path, int, int, str], None] | None = notify_undecodable,
) -> LayerData:
    """Image-layer tuple of a video, decoded lazily frame by frame.

    A frame that cannot be decoded (corrupt data part-way, or missing from a
    truncated file) is shown black, and ``on_undecodable`` is called once for
    the file (see :class:`~napari_facehmm.io.video.BlankUndecodableFrames`);
    by default a napari warning names the file and the frames. A file that
    cannot be opened at all raises :class:`FileFormatError`.
    """
    from .io.video import BlankUndecodableFrames, VideoReader

    reader = VideoReader(path, allow_truncated=True)
    frames = VideoFrames(BlankUndecodableFrames(reader, on_undecodable))
    kwargs = dict(
        name=name or path.stem,
        rgb=True,
        # given limits skip napari's scan of the data range (which would decode frames)
        contrast_limits=[0, 255],
        translate=(0.0, 0.0, translate_x),
        metadata={
            METADATA_KEY: {"kind": "video", "path": str(path), "fps": float(reader.fps)}
        },
    )
    return frames, kwargs, "image"


def landmark_layers(
    series: LandmarkSeries,
    name: str,
    translate_x: float = 0.0,
    **metadata: Any,
) -> list[LayerData]:
    """Points (+ skeleton vectors) layer tuples of one series."""
    series = with_face_skeleton(series)
    points = points_layer_kwargs(series, name=f"{name} points", kind="points", **metadata)
    data = points.pop("data")
    points["translate"] = (0.0, 0.0, translate_x)
    layers: list[LayerData] = [(data, points, "points")]
    if series.skeleton:
        vectors, edge_color = skeleton_to_vectors(series)
        layers.insert(
            0,
            (
                vectors,
                dict(
                    name=f"{name} skeleton",
                    edge_color=edge_color,
                    edge_width=max(1.0, points["size"] / 4),
                    vector_style="line",
                    translate=(0.0, 0.0, translate_x),
                    metadata={METADATA_KEY: {"kind": "skeleton", "series_name": f"{name} points"}},
                ),
                "vectors",
            ),
        )
    return layers


# ---------------------------------------------------------------- the files
def get_video_reader(path: Any) -> Callable | None:
    target = _single_path(path)
    if target is None or not target.lower().endswith(MANIFEST_VIDEO_SUFFIXES):
        return None
    return _guarded(lambda p: [video_layer(p)])


def _read_landmark_file(path: Path) -> list[LayerData]:
    from .io import read_landmarks

    series = read_landmarks(path)
    return landmark_layers(series, name=path.stem)


def get_landmarks_reader(path: Any) -> Callable | None:
    target = _single_path(path)
    if target is None or not target.lower().endswith(LANDMARK_SUFFIXES):
        return None
    if Path(target).name.startswith("CollectedData_"):
        return None  # manual labels: the labeling reader's job
    if target.lower().endswith(".csv"):
        from .io import sniff_landmark_format

        try:
            sniff_landmark_format(target)
        except FaceHMMError:
            # not a landmark table (a napari points CSV, any other table):
            # leave it to napari's own CSV reader and other plugins
            return None
    return _guarded(_read_landmark_file)


# ------------------------------------------------------------------ sessions
def _camera_and_session(path: Path, cam_regex: str) -> tuple[str, str]:
    """Camera and session names of a per-camera file, as Anipose names them.

    The camera is the first group of ``cam_regex`` (``camA`` in
    ``session1-camA.mp4``); a name the pattern does not match falls back to
    "<session>-<camera>": the camera is the part after the last dash.
    """
    from .tracking.anipose import camera_name_from_path, session_name_from_path

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
    from .tracking.anipose import DEFAULT_CAM_REGEX, read_project_config

    folder = Path(folder)
    cam_regex = read_project_config(folder).get("triangulation", {}).get("cam_regex", DEFAULT_CAM_REGEX)
    from .io.video import VIDEO_SUFFIXES as PLAYABLE

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
        shown black); see :func:`video_layer`.

    Raises
    ------
    FileFormatError
        No cameras in the folder, or (with ``on_skipped``) none of its files
        could be read.
    """
    from .io import read_landmarks
    from .io.anipose import read_pose3d

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
