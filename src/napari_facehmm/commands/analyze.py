"""``facehmm analyze``: landmarks -> HMM states, tables, model and figures."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from ..progress import run_with_progress


def add_feature_arguments(parser: argparse.ArgumentParser) -> None:
    """Options shared by ``analyze`` and ``demo``: states, features, fit."""
    parser.add_argument(
        "--states", type=int, default=None, help="number of HMM states (default 9, as the reference)"
    )
    parser.add_argument(
        "--features",
        choices=("expression", "expression+head"),
        default="expression+head",
        help="expression: head-centred landmarks only; expression+head: plus head speed "
        "(and angular speed with --align rigid). Default expression+head",
    )
    parser.add_argument(
        "--align",
        choices=("rigid", "egocentric"),
        default="rigid",
        help="rigid: remove head translation and rotation by aligning each frame to a template "
        "face (default); egocentric: subtract the reference landmark only, as the reference "
        "analysis does",
    )
    parser.add_argument("--reference", default=None, help="reference keypoint (default nose1)")
    parser.add_argument(
        "--rigid-keypoints",
        default=None,
        help="comma-separated keypoints for rigid alignment (default: nose, ears, eye corners)",
    )
    parser.add_argument(
        "--max-gap", type=int, default=5, help="fill gaps up to this many frames (default 5)"
    )
    parser.add_argument(
        "--min-confidence",
        type=float,
        default=0.0,
        help="treat points with a lower likelihood as missing (default 0: keep all)",
    )
    parser.add_argument(
        "--drop-empty-keypoints",
        action="store_true",
        help="drop keypoints never tracked instead of stopping with an error",
    )
    parser.add_argument("--restarts", type=int, default=3, help="EM restarts (default 3)")
    parser.add_argument("--iterations", type=int, default=100, help="EM iterations per restart")
    parser.add_argument("--seed", type=int, default=0, help="random seed of the fit (default 0)")
    parser.add_argument(
        "--covariance",
        choices=("full", "diag", "tied", "spherical"),
        default="full",
        help="HMM covariance type (default full)",
    )
    parser.add_argument("--no-figures", action="store_true", help="write tables and model only")


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "analyze",
        help="fit a Gaussian HMM to face landmarks and write states, statistics and figures",
        description=(
            "Read face landmarks (Anipose pose-3d CSV, DeepLabCut .h5/.csv, or OpenFace CSV), "
            "build head-centred features, fit a Gaussian HMM (or apply a saved one with --model) "
            "and write states.csv (frame,time_s,state,state_probability; empty state where a frame "
            "has no valid features), state_stats.csv, bouts.csv, transitions.csv, mean_faces.csv, "
            "model.json/.npz, summary.json and PNG figures."
        ),
    )
    parser.add_argument("input", help="landmark file")
    parser.add_argument("--out", required=True, help="output folder (created)")
    add_feature_arguments(parser)
    parser.add_argument(
        "--model", default=None, help="apply this saved model (model.json) instead of fitting"
    )
    parser.add_argument("--fps", type=float, default=None, help="override the frame rate")
    parser.add_argument("--camera", default=None, help="camera name to record with the series")
    parser.add_argument("--individual", default=None, help="individual of a multi-animal DLC file")
    parser.set_defaults(run=run)


def feature_settings_from_args(args, keypoints):
    """:class:`FeatureSettings` from the command-line options, fitted to ``keypoints``."""
    from ..features import settings_for_keypoints

    rigid = None
    if args.rigid_keypoints:
        rigid = tuple(k.strip() for k in args.rigid_keypoints.split(",") if k.strip())
    return settings_for_keypoints(
        keypoints,
        mode=args.align,
        feature_set=args.features,
        reference_keypoint=args.reference,
        rigid_keypoints=rigid,
        max_gap_frames=args.max_gap,
        min_confidence=args.min_confidence,
        drop_empty_keypoints=args.drop_empty_keypoints,
    )


def print_summary(result, elapsed_s: float) -> None:
    """A few lines a user reads after the run."""
    features = result.features
    verb = "fitted" if result.fitted else "applied saved model,"
    print(
        f"{verb} {result.n_states} states on {features.n_valid} of {features.n_frames} frames "
        f"({len(features.lengths)} segments, {features.values.shape[1]} features, "
        f"{features.settings.mode}, {features.settings.feature_set}); total time {elapsed_s:.1f} s"
    )
    print(f"  log-likelihood {result.log_likelihood:.6g}")
    table = result.state_stats
    for row in table.itertuples(index=False):
        print(
            f"  state {row.state}: {row.n_frames:6d} frames {row.fraction:6.1%}  "
            f"{row.n_bouts:4d} bouts, mean bout {row.bout_mean_s:.2f} s"
        )
    if result.files:
        folder = next(iter(result.files.values())).parent
        print(f"  wrote {len(result.files)} files to {folder}: "
              + ", ".join(sorted(p.name for p in result.files.values())))


def run(args) -> int:
    from ..analysis import load_series, run_analysis
    from ..errors import DataError
    from ..io._atomic import check_output_dir

    if args.states is not None and args.states < 1:
        raise DataError(f"--states must be at least 1; got {args.states}")
    check_output_dir(args.out, "--out", result_set=True)
    started = time.perf_counter()
    series = load_series(Path(args.input), fps=args.fps, camera=None, individual=args.individual)
    if args.camera is not None:
        series = series.copy(camera=args.camera)
    settings = None if args.model else feature_settings_from_args(args, series.keypoints)
    if args.model and args.states is not None:
        print("facehmm analyze: --states is ignored with --model (the model's states are used)",
              file=sys.stderr)
    job = run_analysis(
        series,
        args.states if args.states is not None else 9,
        Path(args.out),
        settings=settings,
        model=Path(args.model) if args.model else None,
        n_restarts=args.restarts,
        n_iter=args.iterations,
        seed=args.seed,
        figures=not args.no_figures,
        hmm_options={"covariance_type": args.covariance},
    )
    result = run_with_progress(job, "analyze")
    print_summary(result, time.perf_counter() - started)
    return 0
