"""``facehmm calibrate DIR``: Anipose camera calibration from board videos.

Reads ``DIR/calibration/*.mp4`` (or ``.avi``, ``.mov``, ``.mkv``), one or
more videos per camera named by Anipose's ``cam_regex``, and the board from
``DIR/config.toml`` ``[calibration]`` (options override it). Writes
``DIR/calibration/calibration.toml`` (aniposelib's layout) and
``DIR/calibration/board-detections.csv`` (the corners found, for QC), and
prints each camera's reprojection error.

Cameras not started together: each camera's frame offset is estimated from
the board's motion first (it turns and moves the same in every view); a sure
offset is applied and printed, an unsure one printed as a warning.
``--frames-in-sync`` matches frames by number, as Anipose does.
``--intrinsics known.toml`` keeps those intrinsics bit-for-bit and
calibrates the cameras' poses only.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..progress import run_with_progress
from ..tracking.anipose import options as A
from ._options import add_anipose_project, add_settings, argument, documented_parser


def add_parser(subparsers) -> None:
    parser = documented_parser(
        subparsers, "calibrate", "calibrate cameras from ChArUco/checkerboard videos (Anipose)", __doc__
    )
    add_anipose_project(parser, "calibration/ and config.toml")
    board = parser.add_argument_group(
        "board (defaults: config.toml [calibration], else 10x7 ChArUco, 25/18.75 mm, 4x4_50)"
    )
    board.add_argument("--board-type", choices=["charuco", "checkerboard"])
    board.add_argument(A.BOARD_SIZE.flag, **argument(A.BOARD_SIZE, nargs=2, metavar=("X", "Y")))
    board.add_argument(A.SQUARE_LENGTH.flag, **argument(A.SQUARE_LENGTH, metavar="MM"))
    board.add_argument(A.MARKER_LENGTH.flag, **argument(A.MARKER_LENGTH, metavar="MM"))
    add_settings(board, A.MARKER_BITS)
    board.add_argument(A.DICT_NUMBER.flag, **argument(A.DICT_NUMBER, type=int))
    board.add_argument(
        "--legacy-pattern",
        action="store_true",
        default=None,
        help="board printed with OpenCV < 4.6 (even rows)",
    )
    parser.add_argument(
        "--videos", type=Path, help="folder of calibration videos (default PROJECT/calibration)"
    )
    parser.add_argument("--output", type=Path, help="calibration file (default PROJECT/calibration/calibration.toml, or config.toml's pipeline.calibration_results)")
    add_settings(parser, A.SKIP, A.FISHEYE)
    parser.add_argument(
        "--intrinsics",
        type=Path,
        metavar="TOML",
        help="calibration.toml whose intrinsics (camera matrix, distortion, image size) are kept as they are: "
        "only the cameras' poses are calibrated",
    )
    parser.add_argument(
        "--frames-in-sync",
        action="store_true",
        help="match the cameras' frames by number without estimating their offset from the board's motion",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..errors import FaceHMMError
    from ..io._atomic import check_output_dir
    from ..tracking.anipose import calibrate_project

    if (args.square_length is not None and args.marker_length is not None
            and args.marker_length >= args.square_length):
        raise FaceHMMError(
            f"--marker-length {args.marker_length:g} must be less than --square-length {args.square_length:g} "
            "(the marker sits inside a square)"
        )
    if args.output is not None:
        if args.output.is_dir():
            raise FaceHMMError(f"--output {args.output}: is a folder; give the calibration file's path")
        check_output_dir(args.output.parent, "--output")
    else:
        check_output_dir(args.project / "calibration", "PROJECT/calibration")
    job = calibrate_project(
        args.project,
        videos_dir=args.videos,
        output=args.output,
        cam_regex=args.cam_regex,
        skip=args.skip,
        fisheye=args.fisheye,
        intrinsics=args.intrinsics,
        synchronize=not args.frames_in_sync,
        board_type=args.board_type,
        squares_x=args.board_size[0] if args.board_size else None,
        squares_y=args.board_size[1] if args.board_size else None,
        square_length_mm=args.square_length,
        marker_length_mm=args.marker_length,
        marker_bits=args.marker_bits,
        dict_number=args.dict_number,
        legacy_pattern=args.legacy_pattern,
    )
    result = run_with_progress(job, "calibrating", quiet=args.quiet)
    print(f"wrote {result.calibration_path}")
    print(f"wrote {result.detections_path}")
    for name, error in result.camera_errors_px.items():
        detections = result.detections[name]
        print(
            f"  {name}: reprojection error {error:.3f} px "
            f"(board in {detections.n_detections} of {detections.n_frames_read} frames)"
        )
    print(f"  median error (aniposelib): {result.error_px:.3f} px")
    for message in result.warnings:
        print(f"facehmm calibrate: warning: {message}", file=sys.stderr)
    if args.intrinsics is not None:
        print(f"  intrinsics kept from {args.intrinsics}; only the cameras' poses were calibrated")
    return 0
