"""npe2 readers of single files: videos and landmark files, and what every reader shares.

Each ``get_*_reader(path)`` returns ``None`` for paths it does not own, so
napari tries the next reader. For files it owns but cannot read, the reader
shows the project's error as a notification and returns napari's "nothing to
add" sentinel ``[(None,)]``, so the user sees what is wrong and not a
traceback. Bad data never takes the viewer down: a video's frames that
cannot be decoded (corrupt part-way, or missing from a truncated file) are
shown black, with one warning per video naming the file and the frames.
Session folders (:mod:`.session`) are read with the same guard and layer
tuples.

What napari receives are built layers, not layer-data tuples: points become
the plugin's :class:`~napari_facehmm._napari.layers.FacePoints`, whose cached
extent keeps the time slider fast on a million points (napari accepts
``Layer`` objects from readers since 0.5.6 and records their source). The
``*_layer(s)`` functions below still give tuples, for the sample data
(napari builds sample layers from tuples only) and for tests.
One consequence: napari applies ``viewer.open(path, name=..., ...)`` keyword
arguments to layer-data tuples only, not to built layers; set such
properties on the layers ``viewer.open`` returns.

napari is imported only inside functions: this module is imported by the
manifest machinery and by the Qt-free core test.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from ..data import LandmarkSeries
from ..errors import FaceHMMError
from ..face import FACE_KEYPOINTS, FACE_SKELETON
from .convert import METADATA_KEY, points_layer_kwargs, skeleton_to_vectors
from .video_frames import VideoFrames

#: what the video reader claims when a file is opened (the manifest's patterns);
#: session folders take every container the video reader opens
#: (:data:`napari_facehmm.io.video.VIDEO_SUFFIXES`)
MANIFEST_VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv")
LANDMARK_SUFFIXES = (".h5", ".csv", ".nwb", ".nc")

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
        from .layers import build_layers

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
    from ..io.video import BlankUndecodableFrames, VideoReader

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
    from ..io import read_landmarks

    series = read_landmarks(path)
    return landmark_layers(series, name=path.stem)


def get_landmarks_reader(path: Any) -> Callable | None:
    target = _single_path(path)
    if target is None or not target.lower().endswith(LANDMARK_SUFFIXES):
        return None
    if Path(target).name.startswith("CollectedData_"):
        return None  # manual labels: the labeling reader's job
    if target.lower().endswith(".nc"):
        from ..io.movement_netcdf import is_movement_poses

        if not is_movement_poses(target):
            return None  # a netCDF file that holds no poses: not ours
    if target.lower().endswith(".csv"):
        from ..io import sniff_landmark_format

        try:
            sniff_landmark_format(target)
        except FaceHMMError:
            # not a landmark table (a napari points CSV, any other table):
            # leave it to napari's own CSV reader and other plugins
            return None
    return _guarded(_read_landmark_file)
