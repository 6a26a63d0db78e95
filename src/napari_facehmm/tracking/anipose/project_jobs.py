"""Project-level jobs: calibrate and triangulate, for ``facehmm calibrate/triangulate`` and the 3D dock.

:func:`calibrate_to_files` (videos per camera and a board -> ``calibration.toml``
and ``board-detections.csv``) and :func:`triangulate_session` (one session's 2D
files -> its ``pose-3d`` table, with the reprojection QC the dock shows) are the
jobs the viewer's 3D (Anipose) dock runs; :func:`calibrate_project` and
:func:`triangulate_project` run the same jobs on an Anipose project folder.
"""

from __future__ import annotations

from collections.abc import Generator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ...data import LandmarkSeries
from ...errors import DataError, FaceHMMError
from ...progress import Progress, relay
from .board import BoardSpec, save_board_detections
from .calibration import DEFAULT_DETECTION_SKIP, CalibrationResult, calibrate
from .layout import calibration_videos, check_cam_regex, project_layout, project_sessions, read_project_config
from .settings import triangulation_options
from .triangulation import triangulate_files


def _open_project(project_dir: str | Path, cam_regex: str | None):
    """``(project_dir, config, layout)`` of an Anipose project folder, as a job sees it.

    The layout's ``cam_regex`` is the job's ``cam_regex`` argument (checked)
    when one is given, else the project's. DataError if there is no such
    folder or a pattern is not a camera pattern.
    """
    project_dir = Path(project_dir)
    if not project_dir.is_dir():
        raise DataError(f"{project_dir}: project folder does not exist")
    config = read_project_config(project_dir)
    layout = project_layout(project_dir, config)
    if cam_regex:
        layout = replace(layout, cam_regex=check_cam_regex(cam_regex, "cam_regex"))
    return project_dir, config, layout


def calibrate_project(
    project_dir: str | Path,
    *,
    videos_dir: str | Path | None = None,
    output: str | Path | None = None,
    cam_regex: str | None = None,
    skip: int | None = None,
    fisheye: bool | None = None,
    intrinsics: Any = None,
    synchronize: bool = True,
    **board_overrides: Any,
) -> Generator[Progress, None, CalibrationResult]:
    """Calibrate an Anipose project folder, as ``anipose calibrate`` (and ``facehmm calibrate``).

    Videos: ``<project>/calibration/*.mp4|avi|mov|mkv`` (Anipose's
    ``pipeline.calibration_videos``), cameras named by ``cam_regex``
    (``config.toml [triangulation]``); board from ``[calibration]``, then
    ``board_overrides`` (:class:`BoardSpec` field names, None ignored).
    Writes ``calibration.toml`` into ``pipeline.calibration_results`` (where
    triangulation reads it; with a ``.bak`` of a previous one) and
    ``board-detections.csv`` beside it.

    Parameters
    ----------
    project_dir
        The project folder (``config.toml`` optional).
    videos_dir, output
        Override the video folder and the calibration file.
    cam_regex, skip, fisheye
        Override the config (``skip`` default 20, as aniposelib).
    intrinsics
        A ``calibration.toml`` whose intrinsics are kept (only the poses
        are fitted); None fits them too.
    synchronize
        Estimate and apply the videos' frame offsets first (:func:`calibrate`).

    Yields
    ------
    tuple
        ``(done, total, message)`` from :func:`calibrate`.

    Returns
    -------
    CalibrationResult
        With ``calibration_path`` and ``detections_path`` set.
    """
    project_dir, config, layout = _open_project(project_dir, cam_regex)
    board = BoardSpec.from_config(config, **board_overrides)
    videos_dir = Path(videos_dir) if videos_dir else layout.calibration_videos
    videos = calibration_videos(videos_dir, layout.cam_regex)
    if fisheye is None:
        fisheye = bool(config.get("calibration", {}).get("fisheye", False))
    # where triangulation (Anipose's and ours) looks for it: pipeline.calibration_results
    output = Path(output) if output else layout.calibration
    return (yield from calibrate_to_files(videos, board, output, skip=skip, fisheye=fisheye, intrinsics=intrinsics,
                                          synchronize=synchronize))


def calibrate_to_files(
    videos: Mapping[str, Any],
    board: BoardSpec,
    output: str | Path,
    *,
    skip: int | None = None,
    fisheye: bool = False,
    intrinsics: Any = None,
    synchronize: bool = True,
) -> Generator[Progress, None, CalibrationResult]:
    """Calibrate, then write ``output`` (``calibration.toml``) and ``board-detections.csv`` beside it.

    The job of ``facehmm calibrate`` (through :func:`calibrate_project`) and of
    the 3D dock's Calibrate tab. Both files are replaced together (a previous
    calibration is kept as ``.bak``); a job stopped early writes nothing.

    Parameters
    ----------
    videos
        ``{camera: video or [videos]}`` (:func:`calibrate`).
    board
        The board.
    output
        The calibration file to write (its folder is created).
    skip, fisheye, intrinsics, synchronize
        As for :func:`calibrate` (``skip`` None: 20, as aniposelib).

    Returns
    -------
    CalibrationResult
        With ``calibration_path`` and ``detections_path`` set.
    """
    from ...io._atomic import atomic_write_paths
    from ...io.anipose import write_calibration

    result = yield from calibrate(
        videos, board, skip=DEFAULT_DETECTION_SKIP if skip is None else skip, fisheye=fisheye,
        intrinsics=intrinsics, synchronize=synchronize,
    )
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    detections_path = output.with_name("board-detections.csv")
    # the calibration and the detections it came from are replaced together
    with atomic_write_paths([output, detections_path]) as (calibration_temp, detections_temp):
        write_calibration(result.calibration, calibration_temp)
        save_board_detections(result.detections, detections_temp)
    result.calibration_path, result.detections_path = output, detections_path
    return result


def triangulate_project(
    project_dir: str | Path,
    *,
    calibration: Any = None,
    pose_dir: str | Path | None = None,
    output_dir: str | Path | None = None,
    sessions: Sequence[str] | None = None,
    cam_regex: str | None = None,
    fps: float = 30.0,
    **overrides: Any,
) -> Generator[Progress, None, dict[str, LandmarkSeries]]:
    """Triangulate every session of an Anipose project (``facehmm triangulate``).

    Reads ``<project>/pose-2d/<session>-<cam>.h5``, the calibration
    ``<project>/calibration/calibration.toml`` and ``config.toml``; writes
    ``<project>/pose-3d/<session>.csv`` in Anipose's format, and beside it
    what the run did (cameras used or left out, errors, warnings) in
    ``<session>.meta.json``.

    Parameters
    ----------
    project_dir
        The project folder.
    calibration
        Calibration file or object (default: the project's).
    pose_dir, output_dir
        Override the 2D and 3D folders.
    sessions
        Only these sessions (default all).
    cam_regex
        Override ``[triangulation] cam_regex``.
    fps
        Frame rate of the videos.
    **overrides
        :func:`triangulate` keywords over the config (see
        :func:`triangulation_options`).

    Yields
    ------
    tuple
        ``(done, total, message)`` of the session being triangulated
        (message prefixed with the session).

    Returns
    -------
    dict
        ``{session: 3D LandmarkSeries}`` (``source`` = the written table).
    """
    project_dir, config, layout = _open_project(project_dir, cam_regex)
    if calibration is None:
        calibration = layout.calibration
    pose_dir = Path(pose_dir) if pose_dir else layout.pose_2d
    output_dir = Path(output_dir) if output_dir else layout.pose_3d
    grouped = project_sessions(pose_dir, layout.cam_regex, sessions)
    options = triangulation_options(config, **overrides)
    if options.get("check_calibration", True):
        # before any session is read: what the calibration alone shows
        # (intrinsics, cameras at the same place); each session is checked
        # again with its points by triangulate
        from ..anipose_qc import calibration_of
        from ..calibration_checks import check_calibration_geometry, refuse_or_note

        calibration_params = calibration_of(calibration)
        if isinstance(calibration, (str, Path)):
            options.setdefault("calibration_source", calibration)
        excluded = set(options.get("exclude_cameras") or ())
        used = [
            name
            for name in calibration_params.camera_names
            if name not in excluded and any(name in files for files in grouped.values())
        ]
        label = str(options.get("calibration_source") or "")
        refuse_or_note(check_calibration_geometry(calibration_params, camera_names=used), label, False, [])
        calibration = calibration_params  # read once
    results: dict[str, LandmarkSeries] = {}
    for i, (session, files) in enumerate(grouped.items()):
        triangulated = yield from relay(
            triangulate_session(files, calibration, None, fps=fps, reprojection_qc=False, **options),
            lambda step: (step[0], step[1], f"{session} ({i + 1}/{len(grouped)}): {step[2]}"),
        )
        results[session] = triangulated.series
    # every session's table is replaced together, once all are triangulated: an
    # interruption or a refused session leaves the earlier tables, never a mix
    from ...io._atomic import atomic_write_paths
    from ...io.anipose import write_pose3d
    from ...io.pose3d_metadata import pose3d_metadata_path, pose3d_metadata_text

    output_dir.mkdir(parents=True, exist_ok=True)
    paths = [output_dir / f"{session}.csv" for session in results]
    # each table with its <session>.meta.json, all replaced together
    with atomic_write_paths(paths + [pose3d_metadata_path(p) for p in paths], backup=False) as temps:
        for series, temp, meta in zip(results.values(), temps, temps[len(paths):]):
            write_pose3d(series, temp)
            meta.write_text(pose3d_metadata_text(series), encoding="utf-8")
    for series, path in zip(results.values(), paths):
        series.source = path
    return results


@dataclass
class SessionTriangulation:
    """What :func:`triangulate_session` made of one session.

    Attributes
    ----------
    series
        The 3D :class:`LandmarkSeries` (``source`` = the written table, if any).
    tracks_2d
        ``{camera: 2D series}`` of the cameras the triangulation used.
    calibration
        The calibration used (:class:`~napari_facehmm.io.anipose.Calibration`).
    reprojection_errors
        ``{camera: (T, K) px}`` (:func:`~napari_facehmm.tracking.anipose_qc.reprojection_errors`);
        empty when not asked for or when the QC failed.
    qc_failure
        Why the reprojection QC failed (None when it did not; the 3D result stands).
    """

    series: LandmarkSeries
    tracks_2d: dict[str, LandmarkSeries]
    calibration: Any
    reprojection_errors: dict[str, Any] = field(default_factory=dict)
    qc_failure: str | None = None


def triangulate_session(
    files: Mapping[str, str | Path | LandmarkSeries],
    calibration: Any,
    output: str | Path | None = None,
    *,
    fps: float = 30.0,
    reprojection_qc: bool = True,
    **options: Any,
) -> Generator[Progress, None, SessionTriangulation]:
    """Triangulate one session's 2D tracks and write its ``pose-3d`` table; each file is read once.

    The job of the 3D dock's Triangulate tab and, for every session, of
    :func:`triangulate_project` (``facehmm triangulate``).

    Parameters
    ----------
    files
        ``{camera: DeepLabCut .h5/.csv}`` (or a 2D series already read).
    calibration
        ``calibration.toml`` path or calibration object.
    output
        The ``pose-3d`` CSV to write (None: write nothing).
    fps
        Frame rate of the videos (DeepLabCut files store none).
    reprojection_qc
        Also reproject the 3D points into each camera
        (:attr:`SessionTriangulation.reprojection_errors`).
    **options
        :func:`triangulate` keywords.
    """
    from ...io.dlc import read_dlc_analysis
    from ..anipose_qc import calibration_of, reprojection_errors

    tracks_2d = {}
    for camera, item in files.items():
        if isinstance(item, LandmarkSeries):
            tracks_2d[camera] = item
            continue
        yield 0, len(files) + 1, f"reading {Path(item).name}"
        tracks_2d[camera] = read_dlc_analysis(item, fps=fps)
    if isinstance(calibration, (str, Path)):
        options.setdefault("calibration_source", calibration)
    calibration = calibration_of(calibration)
    series = yield from triangulate_files(tracks_2d, calibration, output, fps=fps, **options)
    used = series.attrs.get("cameras", tuple(tracks_2d))
    outcome = SessionTriangulation(
        series, {camera: track for camera, track in tracks_2d.items() if camera in used}, calibration
    )
    if reprojection_qc:
        try:
            outcome.reprojection_errors = reprojection_errors(series, outcome.tracks_2d, calibration)
        except FaceHMMError as exc:
            outcome.qc_failure = str(exc)
    return outcome
