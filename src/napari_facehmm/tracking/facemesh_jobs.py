"""Several videos through the built-in face tracker, for the Tracking dock.

:func:`track_videos` runs :func:`~napari_facehmm.tracking.facemesh.track_to_files`
on each video in turn and reports progress over all of them. Where the files
go follows the session-folder layout (``facehmm synth``, ``facehmm view`` and
Anipose read it): a video in ``<session>/videos-raw/`` is tracked into
``<session>/pose-2d/<stem>.h5``; any other video into ``<stem>.h5`` beside it.

The one difference from ``track_to_files``: in a session folder the full
mesh (``<stem>_mesh.h5``, 468 keypoints) goes to ``<session>/pose-2d-mesh/``,
not ``pose-2d/``. Every ``.h5`` in ``pose-2d/`` is a camera of a session to
the session reader and to triangulation, so ``session1-camA_mesh.h5`` there
would read as a second session, ``session1_mesh``, of 468 keypoints.

Qt-free, like the rest of :mod:`napari_facehmm.tracking`.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..data import LandmarkSeries
from ..errors import DataError, FaceHMMError, FileFormatError
from ..progress import relay
from ..ranges import Setting
from . import facemesh

__all__ = [
    "SESSION_VIDEO_FOLDER",
    "output_paths",
    "plan_outputs",
    "VideoTracked",
    "FaceTrackingProgress",
    "track_videos",
]

#: the folder of a session's videos; its sibling ``pose-2d`` gets their tracks
SESSION_VIDEO_FOLDER = "videos-raw"

#: ``facehmm track --mesh`` and the Tracking dock's "Built-in face model" tab
MESH = Setting("mesh", bool, False, help="also write all 468 mesh vertices to <video stem>_mesh.h5")


def output_paths(video: str | Path, mesh: bool = False) -> dict[str, Path]:
    """Where :func:`track_videos` writes the tracks of ``video``.

    Returns
    -------
    dict
        ``{"landmarks": <stem>.h5}`` (and ``"mesh": <stem>_mesh.h5`` with
        ``mesh``): in ``<session>/pose-2d/`` (mesh: ``pose-2d-mesh/``) for a
        video in ``<session>/videos-raw/``, else beside the video.
    """
    video = Path(video)
    if video.parent.name != SESSION_VIDEO_FOLDER:
        return facemesh.output_paths(video, mesh=mesh)
    session = video.parent.parent
    paths = facemesh.output_paths(video, session / "pose-2d", mesh=False)
    if mesh:
        paths["mesh"] = facemesh.output_paths(video, session / "pose-2d-mesh", mesh=True)["mesh"]
    return paths


def plan_outputs(
    videos: Sequence[str | Path],
    mesh: bool = False,
    where: Callable[[Path, bool], dict[str, Path]] = output_paths,
) -> dict[Path, dict[str, Path]]:
    """The files each video will be tracked into, checked before any work.

    ``where(video, mesh)`` names a video's files (default :func:`output_paths`,
    the dock's rule; ``facehmm track`` passes its ``--out`` rule).

    Raises
    ------
    FileFormatError
        A video does not exist.
    DataError
        No video, or two videos would write the same file (same name in one folder).
    """
    if not videos:
        raise DataError("No video to track: open a video in the viewer or add videos to the list.")
    planned: dict[Path, dict[str, Path]] = {}
    writers: dict[Path, Path] = {}
    for video in map(Path, videos):
        if not video.is_file():
            raise FileFormatError(video, "video file does not exist")
        if video in planned:
            continue
        planned[video] = where(video, mesh)
        for path in planned[video].values():
            other = writers.setdefault(path, video)
            if other != video:
                raise DataError(
                    f"{video} has the same name as {other}: both would be tracked into {path}; "
                    "rename one of them or track them separately"
                )
    return planned


@dataclass
class VideoTracked:
    """The outcome of one video: its series and files, or the error that stopped it.

    ``series`` is the 21-landmark series written to ``paths["landmarks"]``
    (``attrs["messages"]`` says what a user should be told).
    """

    video: Path
    series: LandmarkSeries | None = None
    paths: dict[str, Path] = field(default_factory=dict)
    error: FaceHMMError | None = None


@dataclass
class FaceTrackingProgress:
    """Progress over all videos: ``videos_done`` of ``n_videos`` finished,
    ``frames_done`` of ``n_frames`` of the current one (``video``).

    ``finished`` is set on the step that ends a video (tracked or failed).
    """

    videos_done: int
    n_videos: int
    frames_done: int
    n_frames: int
    message: str
    video: Path
    finished: VideoTracked | None = None

    @property
    def fraction(self) -> float:
        """Share of the whole job done, in [0, 1]."""
        current = self.frames_done / self.n_frames if self.n_frames and self.finished is None else 0.0
        return min(1.0, (self.videos_done + current) / max(self.n_videos, 1))


def track_videos(
    videos: Sequence[str | Path], mesh: bool = False
) -> Generator[FaceTrackingProgress, None, list[VideoTracked]]:
    """Track each video with the built-in face model into :func:`output_paths`.

    A video that cannot be tracked (no face in it, undecodable) is reported in
    its step's ``finished.error`` and the next video is tracked; a missing
    MediaPipe stops the job. Each file is written whole at the end of its
    video (atomically: an earlier file of the same name survives a failure or
    a cancel). Close the generator to cancel.

    Yields
    ------
    FaceTrackingProgress

    Returns
    -------
    list of VideoTracked
        One per video, in order.

    Raises
    ------
    MissingDependencyError
        MediaPipe is not installed (the message says how to install it).
    FileFormatError, DataError
        From :func:`plan_outputs`, before any tracking.
    """
    planned = plan_outputs(videos, mesh)
    n_videos = len(planned)
    outcomes: list[VideoTracked] = []
    for index, (video, paths) in enumerate(planned.items()):
        job = facemesh.track_to_files(video, mesh=mesh, paths=paths)
        try:
            series, written = yield from relay(
                job,
                lambda step, index=index, video=video: FaceTrackingProgress(index, n_videos, *step, video=video),
            )
        except (DataError, FileFormatError) as error:
            outcome = VideoTracked(video, error=error)
        else:
            outcome = VideoTracked(video, series=series, paths=written)
        finally:
            job.close()
        outcomes.append(outcome)
        if outcome.error is not None:
            message = f"{video.name}: not tracked"
        else:
            message = f"{video.name}: wrote {outcome.paths['landmarks']}"
        yield FaceTrackingProgress(index + 1, n_videos, 0, 0, message, video=video, finished=outcome)
    return outcomes
