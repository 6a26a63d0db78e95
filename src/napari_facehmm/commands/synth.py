"""``facehmm synth``: write a synthetic face session with known truth.

Simulates a face switching between expression states while the head moves,
seen by calibrated cameras, and writes it in Anipose's project layout:
videos-raw/, pose-2d/ (DeepLabCut .h5), calibration/ (calibration.toml and
ChArUco videos), config.toml, and the ground truth in truth/.
"""

from __future__ import annotations

import argparse
import time

from ._options import documented_parser, fps, number, seed, whole_number

#: longest synthetic session (an hour at 30 fps is 108,000 frames; more is a typo)
MAX_SECONDS = 3600.0
#: smallest and largest rendered video (the face must fit; decoders cap sizes)
MIN_SIZE = (64, 48)
MAX_SIZE = (4096, 4096)


def _size(text: str) -> tuple[int, int]:
    try:
        width, height = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"size must be WIDTHxHEIGHT, e.g. 320x240; got {text!r}") from None
    if not (MIN_SIZE[0] <= width <= MAX_SIZE[0] and MIN_SIZE[1] <= height <= MAX_SIZE[1]):
        raise argparse.ArgumentTypeError(
            f"must be from {MIN_SIZE[0]}x{MIN_SIZE[1]} to {MAX_SIZE[0]}x{MAX_SIZE[1]}; got {width}x{height}"
        )
    return width, height


def add_parser(subparsers) -> None:
    parser = documented_parser(
        subparsers, "synth", "write a synthetic face session (videos, 2D tracks, calibration, truth)", __doc__
    )
    parser.add_argument("--out", required=True, help="output folder (created)")
    add_session_arguments(parser)
    parser.add_argument(
        "--size", type=_size, default=(320, 240),
        help=f"video size WxH, {MIN_SIZE[0]}x{MIN_SIZE[1]} to {MAX_SIZE[0]}x{MAX_SIZE[1]} (default 320x240)",
    )
    parser.add_argument(
        "--noise-px", type=number(0, 100), default=0.5, help="2D tracking noise in pixels, 0-100 (default 0.5)"
    )
    parser.add_argument(
        "--dropout-rate", type=number(0, 1, max_open=True), default=0.01,
        help="fraction of 2D points lost by the tracker, 0 to below 1 (default 0.01)",
    )
    parser.add_argument(
        "--head-motion", type=number(0, 10), default=1.0,
        help="scale of head rotation (10/6/4 deg) and translation (25/15/20 mm), 0-10; 0 = still head (default 1)",
    )
    parser.add_argument("--session", default="session1", help="session name used in file names")
    parser.set_defaults(run=run)


def add_session_arguments(parser, seed_flag: str = "--seed", states_flag: str = "--states") -> None:
    """The synthetic session's options, one definition for ``facehmm synth`` and ``facehmm demo``.

    The demo's own ``--seed`` and ``--states`` are the HMM fit's, so it
    passes ``--session-seed`` and ``--true-states`` as ``seed_flag`` and
    ``states_flag``; either way they land in ``args.session_seed`` and
    ``args.true_states``, which :func:`session_options` reads.
    """
    parser.add_argument("--cameras", type=whole_number(1, 8), default=2, help="number of cameras, 1-8 (default 2)")
    parser.add_argument(
        "--seconds", type=number(0, MAX_SECONDS, min_open=True), default=60.0,
        help=f"duration in seconds, above 0 and at most {MAX_SECONDS:g} (default 60)",
    )
    parser.add_argument("--fps", type=fps, default=30.0, help="frame rate, above 0 (default 30)")
    parser.add_argument(
        seed_flag, dest="session_seed", metavar="SEED", type=seed, default=0, help="seed of the synthetic session (default 0)"
    )
    parser.add_argument(
        states_flag, dest="true_states", metavar="K", type=whole_number(2, 10), default=6,
        help="expression states simulated, 2-10 (default 6)",
    )
    parser.add_argument(
        "--no-video", action="store_true",
        help="skip rendering the face and ChArUco videos (faster; `facehmm view` then shows points only)",
    )


def session_options(args) -> dict:
    """``generate_session`` keywords from the options of :func:`add_session_arguments`."""
    return {
        "n_cameras": args.cameras,
        "seconds": args.seconds,
        "fps": args.fps,
        "seed": args.session_seed,
        "n_states": args.true_states,
        "render_video": not args.no_video,
    }


def run(args) -> int:
    from ..io._atomic import check_output_dir
    from ..progress import progress_bar
    from ..synthetic import generate_session

    check_output_dir(args.out, "--out")
    started = time.perf_counter()
    with progress_bar("synth") as progress:
        truth = generate_session(
            args.out,
            size=args.size,
            progress=progress,
            session=args.session,
            noise_px=args.noise_px,
            dropout_rate=args.dropout_rate,
            head_motion_scale=args.head_motion,
            **session_options(args),
        )
    elapsed_s = time.perf_counter() - started
    counts = {name: int((truth.states == i).sum()) for i, name in enumerate(truth.state_names)}
    print(f"synthetic session {truth.session!r} in {truth.out_dir} ({elapsed_s:.1f} s)")
    print(
        f"  {truth.n_frames} frames at {truth.fps:g} fps, cameras {', '.join(truth.camera_names)}, "
        f"{args.size[0]}x{args.size[1]}, noise {args.noise_px:g} px, seed {args.session_seed}"
    )
    print("  frames per state: " + ", ".join(f"{name} {n}" for name, n in counts.items()))
    for key, path in truth.paths.items():
        print(f"  {key:<14} {path.relative_to(truth.out_dir)}")
    return 0
