"""``facehmm analyze``: landmarks -> HMM states, tables, model and figures.

Reads face landmarks (Anipose pose-3d CSV, DeepLabCut .h5/.csv, OpenFace CSV,
NWB .nwb with ndx-pose, or movement's netCDF .nc), builds head-centred
features, fits a Gaussian HMM (or applies a saved one with --model) and
writes states.csv (frame, time_s, state, state_probability; an empty state
where a frame has no valid features), state_stats.csv, bouts.csv,
transitions.csv, mean_faces.csv, model.json/.npz, summary.json and PNG
figures.

Several inputs: one model over all of them (each its own sequence, features
scaled over all); model.json/.npz and sessions.csv in --out, and each
session's results in --out/<session>/ (session = the file's stem, or its
folder's name when stems clash). --groups adds groups.csv and group_tests.csv
(a permutation test of each state's fraction between groups).
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

# the most HMM states a fit takes: the core's, as the dock's form
from ..analysis_settings import MAX_STATES
from ..progress import run_with_progress
from ._options import add_settings, argument, documented_parser, fps, whole_number

#: most relabelings of the group permutation test
MAX_PERMUTATIONS = 1_000_000


def states_option(text: str):
    """``--states``: a whole number, ``auto`` or a range ``A-B`` (argparse ``type``)."""
    from ..errors import DataError
    from ..hmm.selection import parse_states

    whole = f"must be a whole number (from 1 to {MAX_STATES})"
    if text.strip().lstrip("-").isdigit():
        if not 1 <= int(text) <= MAX_STATES:
            raise argparse.ArgumentTypeError(f"{whole}; got {int(text)}")
        return int(text)
    try:
        value = parse_states(text)
    except DataError:
        raise argparse.ArgumentTypeError(f"{whole}, 'auto' or a range like 4-12; got {text!r}") from None
    if max(value) > MAX_STATES:
        raise argparse.ArgumentTypeError(f"at most {MAX_STATES} states; got {text}")
    return value


states_option.__name__ = "states"


def add_feature_arguments(parser: argparse.ArgumentParser) -> None:
    """Options shared by ``analyze`` and ``demo``: states, features, fit."""
    parser.add_argument(
        "--states", type=states_option, default=None, metavar="K|auto|A-B",
        help=f"number of HMM states, 1-{MAX_STATES} (default 9, as the reference); 'auto' chooses among "
        "2-12 from held-out time blocks, 'A-B' among A to B (writes model_selection.csv and .png)",
    )
    from .. import analysis_settings as options

    add_settings(parser, *options.FEATURE_OPTIONS, *options.FIT_OPTIONS)
    parser.add_argument("--no-figures", action="store_true", help="write tables and model only")


def add_stability_argument(parser: argparse.ArgumentParser) -> None:
    """``--stability-seeds`` of the commands that fit one model (``analyze``, ``run``, ``demo``)."""
    from ..hmm.stability import STABILITY_SEEDS

    parser.add_argument(STABILITY_SEEDS.flag, **argument(
        STABILITY_SEEDS, help=f"{STABILITY_SEEDS.help}; each costs one more fit; "
        f"{STABILITY_SEEDS.describe()} (default {STABILITY_SEEDS.default})",
    ))


def add_parser(subparsers) -> None:
    parser = documented_parser(
        subparsers, "analyze", "fit a Gaussian HMM to face landmarks and write states, statistics and figures", __doc__
    )
    parser.add_argument("inputs", nargs="+", metavar="input", help="landmark file(s); several: one model over all")
    parser.add_argument("--out", required=True, help="output folder (created)")
    add_feature_arguments(parser)
    add_stability_argument(parser)
    parser.add_argument(
        "--model", default=None, help="apply this saved model (model.json) instead of fitting"
    )
    parser.add_argument("--fps", type=fps, default=None, help="override the frame rate (above 0)")
    parser.add_argument(
        "--camera", default=None,
        help="camera name to record with the series; of an NWB (.nwb) or movement (.nc) file, the camera's track to read",
    )
    parser.add_argument("--individual", default=None, help="individual of a multi-animal DLC or movement file")
    parser.add_argument(
        "--groups", default=None, metavar="CSV",
        help="with several inputs: a CSV 'session,group' naming every session once; writes groups.csv "
        "and group_tests.csv",
    )
    parser.add_argument(
        "--permutations", type=whole_number(1, MAX_PERMUTATIONS), default=10_000,
        help="relabelings of the group permutation test (all of them when fewer exist; seeded by --seed); "
        f"1-{MAX_PERMUTATIONS} (default 10000)",
    )
    parser.set_defaults(run=run)


def feature_settings_from_args(args, keypoints):
    """:class:`FeatureSettings` from the command-line options, fitted to ``keypoints``.

    ``--reference`` and ``--rigid-keypoints`` must name keypoints of the data
    (:class:`DataError` naming the option and listing the keypoints);
    :func:`~napari_facehmm.analysis_settings.feature_settings`, as the dock.
    """
    from ..analysis_settings import FEATURE_OPTIONS, feature_settings

    return feature_settings(keypoints, **{setting.name: getattr(args, setting.name) for setting in FEATURE_OPTIONS})


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
    from ..analysis_stability import state_stability_label

    table = result.state_stats
    stability = result.info.get("stability")
    for row in table.itertuples(index=False):
        label = state_stability_label(stability, row.state)[0]
        note = f", {label}" if label else ""
        print(
            f"  state {row.state}: {row.n_frames:6d} frames {row.fraction:6.1%}  "
            f"{row.n_bouts:4d} bouts, mean bout {row.bout_mean_s:.2f} s{note}"
        )
    print_stability(stability)
    print_selection(result.info.get("model_selection"))
    if result.files:
        folder = next(iter(result.files.values())).parent
        print(f"  wrote {len(result.files)} files to {folder}: "
              + ", ".join(sorted(p.name for p in result.files.values())))


def print_selection(selection: dict | None) -> None:
    """Which number of states ``--states auto`` / ``A-B`` chose, and why."""
    if selection:
        candidates = selection["candidates"]
        print(f"  states chosen among {candidates[0]}-{candidates[-1]}: {selection['reason']}")


def print_stability(stability: dict | None) -> None:
    """One line on the seed stability check (``summary.json``'s ``stability`` block), if one was made."""
    from ..analysis_stability import stability_sentence

    if stability:
        print(f"  {stability_sentence(stability)}")


def read_input(reader, *args, **kwargs):
    """``reader(*args, **kwargs)``; what the reader repaired is printed as one ``warning:`` line each."""
    from ..io._checks import RepairedInputWarning

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", RepairedInputWarning)
        result = reader(*args, **kwargs)
    for warning in caught:
        if issubclass(warning.category, RepairedInputWarning):
            print(f"facehmm: warning: {warning.message}", file=sys.stderr)
        else:
            warnings.showwarning(warning.message, warning.category, warning.filename, warning.lineno)
    return result


def run(args) -> int:
    from ..analysis import run_analysis
    from ..io._atomic import check_output_dir

    check_output_dir(args.out, "--out", result_set=True)
    if len(args.inputs) > 1 or args.groups:
        return run_sessions_command(args)
    started = time.perf_counter()
    series = read_series(args, args.inputs[0])
    job = run_analysis(
        series,
        args.states if args.states is not None else 9,
        Path(args.out),
        **analysis_options(args, series.keypoints),
    )
    result = run_with_progress(job, "analyze")
    print_summary(result, time.perf_counter() - started)
    return 0


def read_series(args, path):
    """One input as the options say (``--fps``, ``--individual``, ``--camera``), repairs printed."""
    from ..analysis import load_series

    path = Path(path)
    if path.suffix.lower() in (".nwb", ".nc"):
        # these files hold several tracks (cameras, 3D): --camera chooses one
        return read_input(load_series, path, fps=args.fps, camera=args.camera, individual=args.individual)
    series = read_input(load_series, path, fps=args.fps, individual=args.individual)
    return series.copy(camera=args.camera) if args.camera is not None else series


def analysis_options(args, keypoints) -> dict:
    """The arguments of ``run_analysis`` / ``run_sessions`` that the fit and output options give.

    Says on stderr that ``--states`` is ignored when ``--model`` is given.
    """
    if args.model and args.states is not None:
        print("facehmm analyze: --states is ignored with --model (the model's states are used)",
              file=sys.stderr)
    return dict(
        settings=None if args.model else feature_settings_from_args(args, keypoints),
        model=Path(args.model) if args.model else None,
        n_restarts=args.restarts,
        n_iter=args.iterations,
        seed=args.seed,
        figures=not args.no_figures,
        hmm_options={"covariance_type": args.covariance},
        stability_seeds=0 if args.model else args.stability_seeds,
    )


def run_sessions_command(args) -> int:
    """``facehmm analyze IN1 IN2 ...``: one model over all inputs, results per session."""
    from ..analysis_sessions import check_session_groups, run_sessions, session_names
    from ..errors import DataError
    from ..io.groups import read_groups

    if len(args.inputs) < 2:
        raise DataError("--groups compares sessions: give at least two inputs")
    started = time.perf_counter()
    names, notes = session_names(args.inputs)
    for note in notes:
        print(f"facehmm analyze: note: {note}")
    groups = None
    if args.groups:
        groups = read_groups(args.groups)
        check_session_groups(groups, names, args.groups)
    series_list = [read_series(args, path) for path in args.inputs]
    job = run_sessions(
        series_list,
        args.states if args.states is not None else 9,
        Path(args.out),
        names=names,
        notes=notes,
        groups=groups,
        groups_source=args.groups,
        n_permutations=args.permutations,
        **analysis_options(args, series_list[0].keypoints),
    )
    result = run_with_progress(job, "analyze")
    print_sessions_summary(result, time.perf_counter() - started)
    return 0


def print_sessions_summary(result, elapsed_s: float) -> None:
    """A few lines a user reads after a multi-session run: the fit, each session's fractions, the tests."""
    features = [r.features for r in result.results]
    first = features[0]
    verb = "fitted" if result.fitted else "applied saved model,"
    print(
        f"{verb} {result.n_states} states on {len(result.names)} sessions "
        f"({sum(f.n_valid for f in features)} of {sum(f.n_frames for f in features)} frames, "
        f"{first.values.shape[1]} features, {first.settings.mode}, {first.settings.feature_set}); "
        f"total time {elapsed_s:.1f} s"
    )
    print(f"  log-likelihood {result.log_likelihood:.6g}")
    print_stability(result.info.get("stability"))
    print_selection(result.info.get("model_selection"))
    for name, session in zip(result.names, result.results):
        fractions = " ".join(f"{f:4.0%}" for f in session.state_stats["fraction"])
        print(f"  {name}: {session.features.n_valid} frames with a state; fraction per state {fractions}")
    if result.group_tests is not None:
        for row in result.group_tests.itertuples(index=False):
            print(f"  state {row.state}: {row.test} = {row.statistic:.3g}, p = {row.p_value:.3g} "
                  f"({row.n_permutations} {'relabelings, exact' if row.exact else 'permutations'})")
    if result.files:
        folder = next(iter(result.files.values())).parent
        print(f"  wrote {', '.join(sorted(p.name for p in result.files.values()))} and "
              f"{len(result.names)} session folders to {folder}")
