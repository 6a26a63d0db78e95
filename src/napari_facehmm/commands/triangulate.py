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

    from ..tracking.anipose import triangulate_project
    from ..progress import run_with_progress

    constraints = None
    if args.dlc_config is not None:
        from ..io.dlc import read_dlc_config

        constraints = list(read_dlc_config(args.dlc_config).skeleton)
    job = triangulate_project(
        args.project,
        calibration=args.calibration,
        pose_dir=args.pose_dir,
        output_dir=args.output_dir,
        sessions=args.session,
        cam_regex=args.cam_regex,
        fps=args.fps,
        score_threshold=args.score_threshold,
        optim=args.optim,
        ransac=args.ransac,
        filter_2d=args.filter,
        constraints=constraints,
        exclude_cameras=args.exclude_camera or None,
        offsets=dict(args.offset) or None,
    )
    results = run_with_progress(job, "triangulating", quiet=args.quiet)
    for session, result in results.items():
        valid = float(np.mean(np.isfinite(result.positions[:, :, 0]))) if result.n_frames else 0.0
        print(
            f"wrote {result.source}: {result.n_frames} frames x {result.n_keypoints} keypoints, "
            f"{100 * valid:.1f}% triangulated ({result.attrs['method']}, "
            f"cameras {', '.join(result.attrs['cameras'])})"
        )
        for name, error in result.attrs["camera_errors_px"].items():
            print(f"  {name}: median reprojection error {error:.3f} px")
        for message in result.attrs["warnings"]:
            print(f"facehmm triangulate: warning: {session}: {message}", file=sys.stderr)
    return 0
