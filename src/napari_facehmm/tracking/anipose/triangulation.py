"""Triangulation: per-camera 2D series (or DLC files) and a calibration -> a 3D series with Anipose's columns."""

from __future__ import annotations

import dataclasses
from collections.abc import Generator, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from ...data import LandmarkSeries
from ...errors import DataError
from ...progress import Progress, relay, run_to_end
from .align import align_cameras
from .bad_camera import leave_one_out, two_cameras_note
from .dlt import (
    _best_pair_errors,
    _mean_over_cameras,
    _ransac_select,
    _reprojection_px,
    _subset_group,
    _triangulate_dlt,
    camera_error_warnings,
)
from .filters import filter_2d_median, filter_2d_viterbi
from .optimize import _optimize
from .settings import TriangulationSettings
from .world_frame import coordinate_frame


def triangulate(
    series_by_camera: Mapping[str, LandmarkSeries],
    calibration,
    settings: TriangulationSettings | None = None,
    *,
    offsets: Mapping[str, int] | None = None,
    sources: Mapping[str, str | Path] | None = None,
    calibration_source: str | Path | None = None,
    **options: Any,
) -> Generator[Progress, None, LandmarkSeries]:
    """Triangulate per-camera 2D tracks into 3D, as ``anipose triangulate`` does.

    Steps: the calibration checked for sense (intrinsics, camera pairs; see
    :mod:`~napari_facehmm.tracking.calibration_checks`); optional 2D filter
    per camera; points with confidence below ``score_threshold`` become
    NaN; DLT with undistortion over the cameras that see each point
    (aniposelib ``CameraGroup.triangulate``), or the best camera subset
    (``ransac``, 3+ cameras); optionally refined by aniposelib's
    ``optim_points`` (temporal smoothness plus constant skeleton-edge
    lengths); last, the median reprojection error checked for sense.

    With three or more cameras, a camera that disagrees with the others
    (a bad calibration or bad tracking; found by leaving each camera out in
    turn, see :mod:`~napari_facehmm.tracking.anipose.bad_camera`) is left
    out before the DLT, and a warning says so with the errors with and
    without it; ``keep_all_cameras=True`` keeps it and only warns. With two
    cameras whose median reprojection error is over ``bad_camera_min_px``,
    a warning gives both cameras' errors (which one is wrong cannot be told). Points
    seen by fewer than two cameras are NaN, also after ``optim`` (which
    would otherwise interpolate them).

    Parameters
    ----------
    series_by_camera
        ``{camera: 2D series (T, K, 2)}``; cameras are matched to the
        calibration by name.
    calibration
        ``calibration.toml`` path, :class:`~napari_facehmm.io.anipose.Calibration`
        or aniposelib ``CameraGroup``.
    settings
        How to triangulate (:class:`TriangulationSettings`: score threshold,
        ``optim`` and its weights, ``ransac``, 2D filter, excluded cameras,
        output frame, calibration check); None: the defaults.
    offsets
        ``{camera: frames to drop at its start}``, see :func:`align_cameras`.
    sources
        File of each camera, for error messages.
    calibration_source
        The calibration's file, for messages, when ``calibration`` is an object.
    **options
        :class:`TriangulationSettings` fields (``score_threshold=0.5``,
        ``optim=True``, ...): they build the settings, or override those of
        ``settings``.

    Yields
    ------
    tuple
        ``(done, total, message)``.

    Returns
    -------
    LandmarkSeries
        3D series ``(T, K, 3)`` in the calibration's world frame (mm for a
        board measured in mm), or the ``axes``/``reference_point`` frame;
        ``confidence`` and ``attrs["score"]`` = the
        lowest 2D score among the cameras used; ``attrs["error"]`` mean
        reprojection error (px), ``attrs["ncams"]``, ``attrs["M"]``
        ``(T, 3, 3)`` and ``attrs["center"]`` ``(T, 3)`` (Anipose's columns), plus
        ``attrs["camera_errors_px"]`` (median reprojection error per camera),
        ``attrs["camera_pair_errors_px"]`` (each camera's two-view error with
        its best partner camera; 3+ cameras, NaN otherwise), ``attrs["cameras"]``,
        ``attrs["method"]`` and ``attrs["warnings"]`` (e.g. a camera whose
        best-pair error is over 3x the others' median), ``attrs["camera_check_px"]``
        (each camera left out in turn, :mod:`~napari_facehmm.tracking.anipose.bad_camera`)
        ``attrs["bad_camera"]`` (the camera found to disagree, left out or
        kept; None) and ``attrs["dropped_cameras"]`` (``{camera: figures}`` of a camera
        left out because it disagrees with the others: its error against
        the others' points, how well they agree without and with it, the
        median reprojection error with all cameras and without it).

    Raises
    ------
    DataError
        Cameras absent from the calibration, fewer than two cameras left,
        different keypoints or frame counts (see :func:`align_cameras`).
    CalibrationCheckError
        (a DataError) The calibration failed a sense check, before any work
        (or, for the reprojection error, before anything is returned);
        the message names the calibration, the cameras and the numbers.
    FileFormatError
        A calibration file that is missing or lacks a field.
    """
    from ...face import FACE_SKELETON
    from ..anipose_qc import calibration_of
    from ..calibration_checks import check_calibration_geometry, check_reprojection, refuse_or_note

    settings = (
        TriangulationSettings(**options) if settings is None else dataclasses.replace(settings, **options)
    )
    # the settings the steps below use by name (ransac is turned off below for two cameras)
    score_threshold, chunk_points = settings.score_threshold, settings.chunk_points
    optim, optim_chunk_frames = settings.optim, settings.optim_chunk_frames
    constraints, constraints_weak = settings.constraints, settings.constraints_weak
    ransac, filter_2d = settings.ransac, settings.filter_2d
    notes: list[str] = []
    excluded = set(settings.exclude_cameras)
    unknown_excluded = sorted(excluded - set(series_by_camera))
    if unknown_excluded:
        raise DataError(
            f"--exclude-camera {unknown_excluded}: no such camera; cameras: {list(series_by_camera)}"
        )
    kept = {n: s for n, s in series_by_camera.items() if n not in excluded}
    if len(kept) < 2:
        raise DataError(f"triangulation needs at least two cameras; left after exclusion: {list(kept)}")
    if calibration_source is None and isinstance(calibration, (str, Path)):
        calibration_source = calibration
    calibration_label = str(calibration_source or "")
    calibration_params = calibration_of(calibration)
    group_all = calibration_params.to_aniposelib()
    _subset_group(group_all, list(kept), calibration_label)

    # the calibration is checked before any work, with the points it is to triangulate
    aligned = align_cameras(kept, offsets, sources)
    check_points = np.where((aligned[3] < score_threshold)[..., None], np.nan, aligned[2])
    refuse_or_note(
        check_calibration_geometry(calibration_params, check_points.reshape(len(aligned[0]), -1, 2), aligned[0]),
        calibration_label,
        not settings.check_calibration,
        notes,
    )
    del check_points

    if filter_2d:
        filters = {"medfilt": filter_2d_median, "viterbi": filter_2d_viterbi}
        filtered = {}
        for i, (name, series) in enumerate(kept.items()):
            yield i, len(kept), f"2D filter ({filter_2d}), camera {name}"
            filtered[name] = filters[filter_2d](series, **dict(settings.filter_params or {}))
        kept = filtered
        aligned = align_cameras(kept, offsets, sources)

    names, keypoints, points_px, scores, reference = aligned
    group = _subset_group(group_all, names, calibration_label)
    n_cams, n_frames, n_keypoints, _ = points_px.shape

    # a camera that disagrees with the others is left out before the 3D is made
    flat_all = np.where((scores < score_threshold)[..., None], np.nan, points_px).reshape(n_cams, -1, 2)
    check = leave_one_out(group, names, flat_all, chunk_points)
    bad = check.bad_camera(settings.bad_camera_ratio, settings.bad_camera_min_px)
    dropped: dict[str, dict[str, float]] = {}
    if bad is not None and settings.keep_all_cameras:
        notes.append(
            f"camera {bad!r} disagrees with the others: {check.describe(bad)}; kept "
            f"(--keep-all-cameras); leave it out with --exclude-camera {bad}"
        )
    elif bad is not None:
        c = names.index(bad)
        all_3d = run_to_end(_triangulate_dlt(group, flat_all, chunk_points))
        dropped[bad] = {
            "predicted_px": check.predicted_px[bad],
            "others_agree_px": check.rest_px[bad],
            "others_agree_with_it_px": min(v for n, v in check.rest_px.items() if n != bad),
            "error_all_cameras_px": float(np.nanmedian(_mean_over_cameras(_reprojection_px(group, all_3d, flat_all)))),
        }
        keep = [i for i in range(n_cams) if i != c]
        names = [names[i] for i in keep]
        points_px, scores = points_px[keep], scores[keep]
        group = _subset_group(group_all, names, calibration_label)
        n_cams = len(names)

    if ransac and n_cams < 3:
        notes.append(
            f"RANSAC needs three or more cameras to reject one; with {n_cams} ({', '.join(names)}) "
            "plain DLT is used"
        )
        ransac = False

    # Anipose: bad = scores < score_threshold -> NaN (NaN scores keep the point, as there)
    points_px = points_px.copy()
    points_px[scores < score_threshold] = np.nan
    points_flat = points_px.reshape(n_cams, n_frames * n_keypoints, 2)
    n_points = points_flat.shape[1]
    seen = np.isfinite(points_flat[:, :, 0])

    n_dlt_steps = (2**n_cams - n_cams - 1) if ransac else 1
    n_dlt_units = n_dlt_steps * max(1, -(-n_points // chunk_points))
    n_optim_units = (-(-n_frames // max(optim_chunk_frames, 1))) if optim else 0
    total = n_dlt_units + n_optim_units + 1
    done = 0
    label = "RANSAC triangulation" if ransac else "DLT triangulation"
    if ransac:
        per_subset = max(1, -(-n_points // chunk_points))
        points_3d, used, _ = yield from relay(
            _ransac_select(group, points_flat, settings.ransac_threshold_px, chunk_points),
            lambda n: (n * per_subset, total, f"{label}: camera subset {n}/{n_dlt_steps}"),
        )
    else:
        points_3d = yield from relay(
            _triangulate_dlt(group, points_flat, chunk_points),
            lambda n: (-(-n // chunk_points), total, f"{label}: {n}/{n_points} points"),
        )
        used = seen
    done = n_dlt_units

    if optim:
        if constraints is None:
            edges = reference.skeleton or FACE_SKELETON
        else:
            edges = constraints
        index = {k: i for i, k in enumerate(keypoints)}
        # the default skeleton may name landmarks this series lacks (they are
        # skipped); constraints the user gave must all be tracked
        given = (list(edges) if constraints is not None else []) + list(constraints_weak)
        for pair in given:
            for name in pair:
                if name not in index:
                    raise DataError(
                        f"constraint {tuple(pair)} names {name!r}, not a tracked bodypart {list(keypoints)}"
                    )
        strong = [(index[a], index[b]) for a, b in edges if a in index and b in index]
        weak = [(index[a], index[b]) for a, b in constraints_weak]
        optim_points_2d = np.where(used[:, :, None], points_flat, np.nan).reshape(points_px.shape)
        job = _optimize(
            group,
            optim_points_2d,
            points_3d.reshape(n_frames, n_keypoints, 3),
            strong,
            weak,
            dict(
                scale_smooth=settings.scale_smooth,
                scale_length=settings.scale_length,
                scale_length_weak=settings.scale_length_weak,
                reproj_error_threshold=settings.reproj_error_threshold,
                n_deriv_smooth=settings.n_deriv_smooth,
            ),
            max(int(optim_chunk_frames), 1),
            notes,
        )
        optimized = yield from relay(
            job, lambda n: (done + n, total, f"optimizing: chunk {n}/{n_optim_units}")
        )
        points_3d = optimized.reshape(-1, 3)
        done += n_optim_units

    # Anipose's output columns: error against the points used, ncams, min score
    errors_per_camera = _reprojection_px(group, points_3d, np.where(used[:, :, None], points_flat, np.nan))
    error = _mean_over_cameras(errors_per_camera)
    ncams = used.sum(axis=0).astype(np.float64)
    scores_flat = scores.reshape(n_cams, -1)
    score = np.where(used, scores_flat, 2.0).min(axis=0)
    few = ncams < 2
    points_3d = points_3d.copy()
    points_3d[few] = np.nan
    error[few] = np.nan
    score[few] = np.nan
    ncams[few] = np.nan

    camera_errors = {
        name: (
            float(np.nanmedian(errors_per_camera[c]))
            if np.isfinite(errors_per_camera[c]).any()
            else float("nan")
        )
        for c, name in enumerate(names)
    }
    refuse_or_note(
        check_reprojection(
            error,
            calibration_params,
            camera_errors,
            {n: (sources or {}).get(n) or series_by_camera[n].source for n in names},
        ),
        calibration_label,
        not settings.check_calibration,
        notes,
    )
    best_pair = _best_pair_errors(group, np.where(used[:, :, None], points_flat, np.nan), chunk_points)
    camera_pair_errors = {name: float(best_pair[c]) for c, name in enumerate(names)}
    # the leave-one-out check already spoke about the camera it flagged
    notes.extend(w for w in camera_error_warnings(camera_pair_errors) if bad is None or f"{bad!r}" not in w)
    finite_error = error[np.isfinite(error)]
    median_error = float(np.median(finite_error)) if finite_error.size else float("nan")
    for name, figures in dropped.items():
        figures["error_px"] = median_error
        notes.append(
            f"camera {name!r} disagrees with the others ({check.describe(name)}): left out. "
            f"Median reprojection error {median_error:.2f} px with {', '.join(names)}; "
            f"{figures['error_all_cameras_px']:.2f} px with all {n_cams + 1} cameras "
            "(--keep-all-cameras keeps it)"
        )
    if n_cams == 2 and median_error > settings.bad_camera_min_px:
        notes.append(two_cameras_note(median_error, camera_errors, settings.bad_camera_min_px))
    n_valid = int(np.isfinite(points_3d[:, 0]).sum())
    if n_valid == 0:
        notes.append(
            f"no point was seen by two cameras with score >= {score_threshold}: the 3D output is all NaN"
        )

    shape = (n_frames, n_keypoints)
    positions, frame_rotation, frame_center = coordinate_frame(
        points_3d.reshape(n_frames, n_keypoints, 3), keypoints, settings.axes, settings.reference_point
    )
    result = LandmarkSeries(
        positions=positions,
        keypoints=keypoints,
        confidence=score.reshape(shape),
        skeleton=reference.skeleton
        or tuple((a, b) for a, b in FACE_SKELETON if a in keypoints and b in keypoints),
        fps=reference.fps,
        frame_indices=reference.frame_indices,
        camera=None,
        attrs={
            "error": error.reshape(shape),
            "ncams": ncams.reshape(shape),
            "score": score.reshape(shape),
            "M": np.broadcast_to(frame_rotation, (n_frames, 3, 3)).copy(),
            "center": np.broadcast_to(frame_center, (n_frames, 3)).copy(),
            "camera_errors_px": camera_errors,
            "camera_pair_errors_px": camera_pair_errors,
            "cameras": tuple(names),
            "warnings": notes,
            "dropped_cameras": dropped,
            "bad_camera": bad,
            "camera_check_px": {"predicted": check.predicted_px, "others_agree": check.rest_px},
            "method": ("ransac" if ransac else "dlt") + ("+optim" if optim else ""),
        },
    )
    yield total, total, f"triangulated {n_valid}/{n_points} points"
    return result


def triangulate_files(
    pose_files: Mapping[str, str | Path],
    calibration,
    output_path: str | Path | None = None,
    fps: float = 30.0,
    **options: Any,
) -> Generator[Progress, None, LandmarkSeries]:
    """Read DLC 2D files per camera, triangulate, optionally write a ``pose-3d`` CSV.

    Parameters
    ----------
    pose_files
        ``{camera: DLC .h5/.csv}``; a :class:`LandmarkSeries` already read
        may stand for its file.
    calibration
        ``calibration.toml`` path or calibration object.
    output_path
        Where to write the Anipose ``pose-3d`` table (None: do not write);
        what the run did goes beside it in ``<stem>.meta.json``
        (:mod:`~napari_facehmm.io.pose3d_metadata`).
    fps
        Frame rate of the videos (DLC files do not store it).
    **options
        Passed to :func:`triangulate`.

    Returns
    -------
    LandmarkSeries
        As :func:`triangulate`, with ``source`` = ``output_path``.
    """
    from ...io.anipose import write_pose3d
    from ...io.dlc import read_dlc_analysis
    from ...io.pose3d_metadata import write_pose3d_metadata

    series, sources = {}, {}
    for name, item in pose_files.items():
        if isinstance(item, LandmarkSeries):
            series[name], sources[name] = item, item.source
            continue
        yield 0, len(pose_files) + 1, f"reading {Path(item).name}"
        series[name], sources[name] = read_dlc_analysis(item, fps=fps), Path(item)
    result = yield from triangulate(series, calibration, sources=sources, **options)
    if output_path is not None:
        output_path = Path(output_path)
        output_path.parent.mkdir(parents=True, exist_ok=True)
        write_pose3d(result, output_path)
        write_pose3d_metadata(result, output_path)
        result.source = output_path
    return result
