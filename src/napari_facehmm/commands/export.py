"""``facehmm export``: a session and its analysis as NWB, a movement dataset or a video with the states.

Exports a session folder (the layout facehmm synth and facehmm run write) and
its analysis folder (what facehmm analyze writes):

  nwb       an NWB file (ndx-pose) with every track, the states as intervals
            and per frame, and the settings
  movement  movement's poses dataset (netCDF) of one track with the
            per-frame states
  video     the session video with the landmarks coloured by state and an
            ethogram strip

Refuses an analysis of another session (frame counts differ) and an output
that exists (unless --overwrite) before any work; the output is written
whole or not at all.
"""

from __future__ import annotations

import time
from pathlib import Path

from ._options import documented_parser


def add_parser(subparsers) -> None:
    from ..export.formats import EXPORT_FORMATS

    parser = documented_parser(
        subparsers, "export", "a session and its analysis as NWB, a movement dataset (netCDF) or a video with the states", __doc__
    )
    parser.add_argument("session", type=Path, metavar="SESSION", help="session folder (pose-2d/, pose-3d/, videos-raw/)")
    parser.add_argument("--analysis", type=Path, required=True, metavar="DIR", help="the session's analysis folder (states.csv)")
    parser.add_argument("--to", required=True, choices=list(EXPORT_FORMATS), help="format: " + ", ".join(EXPORT_FORMATS))
    parser.add_argument(
        "--out", type=Path, required=True, metavar="FILE",
        help="output file (" + ", ".join(f"{k}: {v}" for k, v in EXPORT_FORMATS.items()) + ")",
    )
    parser.add_argument("--overwrite", action="store_true", help="replace FILE when it exists")
    parser.add_argument(
        "--track", default=None, metavar="3d|CAMERA",
        help="movement: the track to export (default: 3d when the session has it, else the first camera)",
    )
    parser.add_argument(
        "--cameras", default=None, metavar="CAM,CAM",
        help="video: comma-separated cameras side by side, in this order (default: all)",
    )
    parser.set_defaults(run=run)


def run(args) -> int:
    from ..export.formats import export_session
    from ..progress import run_with_progress

    started = time.perf_counter()
    cameras = [c.strip() for c in args.cameras.split(",") if c.strip()] if args.cameras else None
    options = {"cameras": cameras} if cameras else {}
    job = export_session(
        args.session, args.analysis, args.to, args.out, overwrite=args.overwrite, track=args.track, **options
    )
    out = run_with_progress(job, f"export {args.to}")
    size_mb = Path(out).stat().st_size / 1e6
    print(f"wrote {out} ({args.to}, {size_mb:.1f} MB) in {time.perf_counter() - started:.1f} s")
    return 0
