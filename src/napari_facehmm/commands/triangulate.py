"""``facehmm triangulate DIR``: 2D DeepLabCut tracks of each camera -> Anipose 3D.

Reads ``DIR/pose-2d/<session>-<cam>.h5`` (sessions and cameras from the file
names by Anipose's ``cam_regex``), the calibration
``DIR/calibration/calibration.toml`` (or ``--calibration``) and the
``[triangulation]`` / ``[filter]`` settings of ``DIR/config.toml`` (options
override them), and writes ``DIR/pose-3d/<session>.csv`` in Anipose's
format. Prints each camera's reprojection error and warns about a camera
far above the others.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def _offset(text: str) -> tuple[str, int]:
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"--offset takes CAMERA=FRAMES, e.g. camB=3; got {text!r}")
    try:
        return name.strip(), int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--offset {text!r}: FRAMES must be a whole number") from None


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "triangulate",
        help="triangulate 2D tracks of 2+ cameras into Anipose pose-3d tables",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("project", type=Path, help="Anipose project folder (holds pose-2d/ and calibration/)")
    parser.add_argument(
        "--calibration", type=Path, help="calibration.toml (default PROJECT/calibration/calibration.toml)"
    )
    parser.add_argument("--pose-dir", type=Path, help="folder of 2D files (default PROJECT/pose-2d)")
    parser.add_argument("--output-dir", type=Path, help="folder of 3D tables (default PROJECT/pose-3d)")
    parser.add_argument("--session", action="append", default=[], help="only this session (repeatable)")
    parser.add_argument("--cam-regex", help="regular expression whose first group is the camera name")
    parser.add_argument(
        "--score-threshold",
        type=float,
        help="2D points below this likelihood are dropped (Anipose default 0.8)",
    )
    parser.add_argument(
        "--optim",
        action="store_true",
        default=None,
        help="refine with temporal and skeleton-length constraints (aniposelib triangulate_optim)",
    )
    parser.add_argument(
        "--ransac",
        action="store_true",
        default=None,
        help="per point, drop cameras that disagree (3+ cameras)",
    )
    parser.add_argument(
        "--filter",
        choices=["medfilt", "viterbi"],
        help="2D filter before triangulation (Anipose's filter step)",
    )
    parser.add_argument(
        "--offset",
        type=_offset,
        action="append",
        default=[],
        metavar="CAM=N",
        help="camera CAM started N frames early: drop its first N frames",
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
    parser.add_argument("--fps", type=float, default=30.0, help="frame rate of the videos (default 30)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import numpy as np

    from ..errors import DataError
    from ..tracking.anipose import (
        ANIPOSE_FILTER_DEFAULTS,
        ANIPOSE_TRIANGULATION_DEFAULTS,
        DEFAULT_CAM_REGEX,
        group_by_session,
        read_project_config,
        triangulate_files,
    )
    from .calibrate import run_with_progress

    project = args.project
    if not project.is_dir():
        raise DataError(f"{project}: project folder does not exist")
    config = read_project_config(project)
    pipeline = config.get("pipeline", {})
    tri = {**ANIPOSE_TRIANGULATION_DEFAULTS, **config.get("triangulation", {})}
    filter_config = {**ANIPOSE_FILTER_DEFAULTS, **config.get("filter", {})}
    cam_regex = args.cam_regex or tri.get("cam_regex", DEFAULT_CAM_REGEX)

    calibration = (
        args.calibration or project / pipeline.get("calibration_results", "calibration") / "calibration.toml"
    )
    pose_dir = args.pose_dir or project / pipeline.get("pose_2d", "pose-2d")
    output_dir = args.output_dir or project / pipeline.get("pose_3d", "pose-3d")
    if not pose_dir.is_dir():
        raise DataError(f"{pose_dir}: no 2D tracking folder (expected <session>-<cam>.h5 files)")
    pose_files = sorted(p for p in pose_dir.iterdir() if p.suffix.lower() in (".h5", ".csv"))
    if not pose_files:
        raise DataError(f"{pose_dir}: no DeepLabCut .h5/.csv files")
    sessions = group_by_session(pose_files, cam_regex)
    if args.session:
        unknown = sorted(set(args.session) - set(sessions))
        if unknown:
            raise DataError(f"no session(s) {unknown} in {pose_dir}; sessions: {sorted(sessions)}")
        sessions = {name: sessions[name] for name in args.session}

    constraints = None
    if args.dlc_config is not None:
        from ..io.dlc import read_dlc_config

        constraints = list(read_dlc_config(args.dlc_config).skeleton)
    elif tri.get("constraints"):
        constraints = [tuple(pair) for pair in tri["constraints"]]
    filter_name = args.filter
    if filter_name is None and filter_config.get("enabled"):
        filter_name = filter_config.get("type", "medfilt")
    filter_params = None
    if filter_name == "medfilt":
        filter_params = dict(
            kernel_frames=filter_config["medfilt"],
            offset_threshold_px=filter_config["offset_threshold"],
            score_threshold=filter_config["score_threshold"],
            spline=filter_config["spline"],
        )
    elif filter_name == "viterbi":
        filter_params = dict(
            n_back=filter_config["n_back"],
            offset_threshold_px=filter_config["offset_threshold"],
            score_threshold=filter_config["score_threshold"],
        )
    elif filter_name is not None:
        raise DataError(
            f"config.toml [filter] type {filter_name!r}: only 'medfilt' and 'viterbi' are supported"
        )

    options = dict(
        score_threshold=args.score_threshold
        if args.score_threshold is not None
        else float(tri["score_threshold"]),
        optim=args.optim if args.optim is not None else bool(tri.get("optim", False)),
        ransac=args.ransac if args.ransac is not None else bool(tri.get("ransac", False)),
        constraints=constraints,
        constraints_weak=[tuple(p) for p in tri.get("constraints_weak", [])],
        exclude_cameras=args.exclude_camera,
        offsets=dict(args.offset),
        filter_2d=filter_name,
        filter_params=filter_params,
        scale_smooth=float(tri["scale_smooth"]),
        scale_length=float(tri["scale_length"]),
        scale_length_weak=float(tri["scale_length_weak"]),
        reproj_error_threshold=float(tri["reproj_error_threshold"]),
        n_deriv_smooth=int(tri["n_deriv_smooth"]),
        optim_chunk_frames=int(tri["optim_chunking_size"]),
        axes=tri.get("axes"),
        reference_point=tri.get("reference_point"),
    )
    for session, files in sessions.items():
        output = output_dir / f"{session}.csv"
        result = run_with_progress(
            triangulate_files(files, calibration, output, fps=args.fps, **options),
            f"triangulating {session}",
            quiet=args.quiet,
        )
        valid = float(np.mean(np.isfinite(result.positions[:, :, 0]))) if result.n_frames else 0.0
        print(
            f"wrote {output}: {result.n_frames} frames x {result.n_keypoints} keypoints, "
            f"{100 * valid:.1f}% triangulated ({result.attrs['method']}, cameras {', '.join(result.attrs['cameras'])})"
        )
        for name, error in result.attrs["camera_errors_px"].items():
            print(f"  {name}: median reprojection error {error:.3f} px")
        for message in result.attrs["warnings"]:
            print(f"facehmm triangulate: warning: {session}: {message}", file=sys.stderr)
    return 0
