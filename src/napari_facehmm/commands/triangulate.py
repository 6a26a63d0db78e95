"""``facehmm triangulate DIR``: 2D DeepLabCut tracks of each camera -> Anipose 3D.

Reads ``DIR/pose-2d/<session>-<cam>.h5`` (sessions and cameras from the file
names by Anipose's ``cam_regex``), the calibration
``DIR/calibration/calibration.toml`` (or ``--calibration``) and the
``[triangulation]`` / ``[filter]`` settings of ``DIR/config.toml`` (options
override them), and writes ``DIR/pose-3d/<session>.csv`` in Anipose's
format, and beside each table ``<session>.meta.json`` (cameras used or
left out, errors, warnings). Prints each camera's reprojection error.

With three or more cameras, a camera that disagrees with the others (bad
calibration or tracking) is left out and the output says so, with the
median reprojection error without it and with it; ``--keep-all-cameras``
keeps it and only warns. With two cameras a large error is warned about
with both cameras' numbers.

Cameras started by hand are not synchronized: ``--offset camB=7`` drops the
first 7 frames of ``camB`` (it started 7 frames early); ``--offset auto``
estimates each session's offsets from the head motion, blinks and mouth
movements both cameras tracked, prints them, and applies them only when the
estimate is sure (otherwise it stops and asks for ``--offset CAMERA=FRAMES``).

The calibration is checked for sense first (cameras at the same place or
too close together for the scene distance, points that land behind a
camera, impossible focal lengths or principal points) and the result after
(a median reprojection error beyond sense): a calibration that fails stops
the run with exit 2 and the numbers, and nothing is written.
``--trust-calibration`` triangulates anyway and prints the problems as
warnings.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..tracking.anipose import options as A
from ._options import add_anipose_project, add_settings, documented_parser

#: ``--offset auto``: estimate the offsets from the 2D tracks.
AUTO = "auto"


def _offset(text: str) -> tuple[str, int] | str:
    if text.strip().lower() == AUTO:
        return AUTO
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"--offset takes CAMERA=FRAMES (e.g. camB=3) or auto; got {text!r}")
    try:
        return name.strip(), int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--offset {text!r}: FRAMES must be a whole number") from None


def add_parser(subparsers) -> None:
    parser = documented_parser(
        subparsers, "triangulate", "triangulate 2D tracks of 2+ cameras into Anipose pose-3d tables", __doc__
    )
    add_anipose_project(parser, "pose-2d/ and calibration/")
    parser.add_argument(
        "--calibration", type=Path, help="calibration.toml (default PROJECT/calibration/calibration.toml)"
    )
    parser.add_argument("--pose-dir", type=Path, help="folder of 2D files (default PROJECT/pose-2d)")
    parser.add_argument("--output-dir", type=Path, help="folder of 3D tables (default PROJECT/pose-3d)")
    parser.add_argument("--session", action="append", default=[], help="only this session (repeatable)")
    add_settings(parser, A.SCORE_THRESHOLD, A.OPTIM, A.RANSAC, A.FILTER)
    parser.add_argument(
        "--offset",
        type=_offset,
        action="append",
        default=[],
        metavar="CAM=N|auto",
        help=(
            "camera CAM started N frames early: drop its first N frames (repeatable); "
            "'auto' estimates each session's offsets from the head motion the cameras share, "
            "prints them and applies them when sure (else stops: give CAM=N). "
            "Without --offset the cameras are taken as synchronized"
        ),
    )
    parser.add_argument(
        "--exclude-camera",
        action="append",
        default=[],
        metavar="NAME",
        help="leave a camera out (repeatable)",
    )
    parser.add_argument(
        "--dlc-config",
        type=Path,
        help="DeepLabCut config.yaml whose skeleton gives the --optim length constraints",
    )
    add_settings(parser, A.TRUST_CALIBRATION, A.KEEP_ALL_CAMERAS, A.FPS)
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(run=run)


def _estimate_offsets(args: argparse.Namespace) -> dict[str, dict[str, int]]:
    """``{session: offsets}`` estimated from each session's 2D files; prints the estimates.

    Raises DataError naming the sessions whose estimate is unsure.
    """
    from ..errors import DataError
    from ..io.dlc import read_dlc_analysis
    from ..tracking.anipose import (
        TriangulationSettings,
        project_layout,
        project_sessions,
        read_project_config,
    )
    from ..tracking.sync import estimate_offsets

    if not args.project.is_dir():
        raise DataError(f"{args.project}: project folder does not exist")
    config = read_project_config(args.project)
    layout = project_layout(args.project, config)
    grouped = project_sessions(args.pose_dir or layout.pose_2d, args.cam_regex or layout.cam_regex, args.session)
    # the points the triangulation keeps are the ones whose motion counts
    score_threshold = TriangulationSettings.from_config(config, score_threshold=args.score_threshold).score_threshold
    excluded = set(args.exclude_camera)
    offsets_by_session, unsure = {}, []
    for session, files in grouped.items():
        series = {
            camera: read_dlc_analysis(path, fps=args.fps) for camera, path in files.items() if camera not in excluded
        }
        estimate = estimate_offsets(series, min_confidence=score_threshold)
        for line in estimate.describe().splitlines():
            print(f"{session}: {line}")
        if estimate.confident:
            offsets_by_session[session] = estimate.offsets
            applied = ", ".join(f"{camera}={frames}" for camera, frames in estimate.offsets.items())
            print(f"{session}: offsets {applied} (frames dropped at each camera's start)")
        else:
            unsure.append(session)
    if unsure:
        raise DataError(
            f"--offset auto: cannot tell the cameras' offset of {', '.join(unsure)} from the tracked "
            "head motion (see above); find it in the videos (a clap, a blink) and give it with "
            "--offset CAMERA=FRAMES, e.g. --offset camB=7 for a camB that started 7 frames early"
        )
    return offsets_by_session


def _triangulate(args: argparse.Namespace, options: dict, auto: bool) -> dict:
    """``{session: 3D series}``, triangulated and written."""
    from ..progress import run_with_progress
    from ..tracking.anipose import triangulate_project

    if not auto:
        job = triangulate_project(args.project, sessions=args.session, offsets=dict(args.offset) or None, **options)
        return run_with_progress(job, "triangulating", quiet=args.quiet)
    # each session has its own offsets: one triangulation per session,
    # started only once every session's estimate is sure
    results = {}
    for session, offsets in _estimate_offsets(args).items():
        job = triangulate_project(args.project, sessions=[session], offsets=offsets, **options)
        results.update(run_with_progress(job, f"triangulating {session}", quiet=args.quiet))
    return results


def run(args: argparse.Namespace) -> int:
    import numpy as np

    from ..errors import DataError
    from ..io._atomic import check_output_dir
    from ..tracking.calibration_checks import CalibrationCheckError

    auto = AUTO in args.offset
    if auto and len(args.offset) > 1:
        raise DataError("--offset auto estimates every camera's offset: give it alone, without CAMERA=FRAMES")
    if args.output_dir is not None:
        check_output_dir(args.output_dir, "--output-dir")
    else:
        check_output_dir(args.project / "pose-3d", "PROJECT/pose-3d")
    constraints = None
    if args.dlc_config is not None:
        from ..io.dlc import read_dlc_config

        constraints = list(read_dlc_config(args.dlc_config).skeleton)
    options = dict(
        calibration=args.calibration,
        pose_dir=args.pose_dir,
        output_dir=args.output_dir,
        cam_regex=args.cam_regex,
        fps=args.fps,
        score_threshold=args.score_threshold,
        optim=args.optim,
        ransac=args.ransac,
        filter_2d=args.filter,
        constraints=constraints,
        exclude_cameras=args.exclude_camera or None,
        check_calibration=not args.trust_calibration,
        keep_all_cameras=args.keep_all_cameras,
    )
    try:
        results = _triangulate(args, options, auto)
    except CalibrationCheckError as error:
        raise CalibrationCheckError(
            error.problems,
            error.calibration_label,
            hint="fix the calibration (facehmm calibrate) or, if you know better, add --trust-calibration",
        ) from None
    for session, result in results.items():
        valid = float(np.mean(np.isfinite(result.positions[:, :, 0]))) if result.n_frames else 0.0
        print(
            f"wrote {result.source}: {result.n_frames} frames x {result.n_keypoints} keypoints, "
            f"{100 * valid:.1f}% triangulated ({result.attrs['method']}, "
            f"cameras {', '.join(result.attrs['cameras'])})"
        )
        for name, error in result.attrs["camera_errors_px"].items():
            print(f"  {name}: median reprojection error {error:.3f} px")
        for name, figures in (result.attrs.get("dropped_cameras") or {}).items():
            print(
                f"  {name}: left out, it disagrees with the others ({figures['predicted_px']:.2f} px from their "
                f"points); median reprojection error {figures['error_px']:.3f} px without it, "
                f"{figures['error_all_cameras_px']:.3f} px with it (--keep-all-cameras keeps it)"
            )
        for message in result.attrs["warnings"]:
            print(f"facehmm triangulate: warning: {session}: {message}", file=sys.stderr)
    return 0
