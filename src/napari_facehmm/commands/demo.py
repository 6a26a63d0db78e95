"""``facehmm demo``: the whole pipeline on a synthetic two-camera session, with a score.

Writes a synthetic session (videos, 2D tracks, calibration, truth) to
OUT/session, triangulates the 2D tracks to 3D with the Anipose adapter (or,
if that fails, uses the true 3D landmarks and says so), fits the HMM, writes
the analysis to OUT/analysis and scores the recovered states against the
true ones (adjusted Rand index).
"""

from __future__ import annotations

import time
from pathlib import Path

from ..progress import progress_bar, run_with_progress
from ._options import documented_parser
from .analyze import add_feature_arguments, add_stability_argument, analysis_options, print_summary
from .synth import add_session_arguments, session_options


def add_parser(subparsers) -> None:
    parser = documented_parser(
        subparsers, "demo", "run the whole pipeline on a synthetic two-camera session and score it", __doc__
    )
    parser.add_argument("--out", required=True, help="output folder (created)")
    add_session_arguments(parser, seed_flag="--session-seed", states_flag="--true-states")
    add_feature_arguments(parser)
    add_stability_argument(parser)
    parser.set_defaults(run=run, model=None)  # no --model: demo always fits


def _triangulate(truth, out_dir: Path):
    """3D landmarks from the session's 2D tracks; ``(series, how)``, or ``(None, why)``."""
    from ..errors import FaceHMMError

    try:
        from ..tracking.anipose import triangulate_files
    except ImportError as exc:
        return None, f"the Anipose adapter is not available ({exc})"
    output = out_dir / "pose-3d" / f"{truth.session}.csv"
    job = triangulate_files(
        {camera: truth.pose2d_paths[camera] for camera in truth.camera_names},
        truth.calibration_path,
        output_path=output,
        fps=truth.fps,
    )
    try:
        series = run_with_progress(job, "triangulate")
    except (FaceHMMError, ImportError, ValueError, RuntimeError) as exc:
        return None, f"triangulation failed: {exc}"
    return series, f"triangulated from {len(truth.camera_names)} cameras' 2D tracks -> {output}"


def score_states(true_states, states) -> dict:
    """Agreement of decoded ``states`` (-1 = none) with the truth.

    Returns the adjusted Rand index over frames that have a state, the
    fraction of frames that have one, and the purity (share of frames whose
    fitted state's most common true state is theirs).
    """
    import numpy as np
    from sklearn.metrics import adjusted_rand_score

    true_states = np.asarray(true_states)
    states = np.asarray(states)
    labelled = states >= 0
    ari = float(adjusted_rand_score(true_states[labelled], states[labelled]))
    majority = 0
    for state in np.unique(states[labelled]):
        members = true_states[states == state]
        majority += int(np.bincount(members).max())
    return {
        "adjusted_rand_index": ari,
        "fraction_with_state": float(labelled.mean()),
        "purity": majority / max(int(labelled.sum()), 1),
    }


def run(args) -> int:
    import numpy as np
    import pandas as pd

    from ..analysis import run_analysis, write_outputs
    from ..synthetic import generate_session

    from ..io._atomic import check_output_dir

    out_dir = check_output_dir(args.out, "--out")
    check_output_dir(out_dir / "analysis", "--out", result_set=True)
    started = time.perf_counter()
    session_dir = out_dir / "session"
    with progress_bar("synthetic session") as progress:
        truth = generate_session(session_dir, progress=progress, **session_options(args))
    print(
        f"synthetic session: {truth.n_frames} frames at {truth.fps:g} fps, cameras "
        f"{', '.join(truth.camera_names)}, {len(truth.state_names)} true states -> {session_dir}"
    )

    if len(truth.camera_names) == 1:
        from ..io.dlc import read_dlc_analysis

        camera = truth.camera_names[0]
        series = read_dlc_analysis(truth.pose2d_paths[camera], fps=truth.fps)
        how = f"one camera: 2D tracks of {camera} ({truth.pose2d_paths[camera]})"
        print(f"landmarks: {how}")
        three_d_source = f"2d:{camera}"
    else:
        series, how = _triangulate(truth, session_dir)
        three_d_source = "triangulated"
    if series is None:
        from ..io.anipose import read_pose3d

        print(f"3D source: ground truth {truth.pose3d_path} ({how})")
        series = read_pose3d(truth.pose3d_path, fps=truth.fps)
        three_d_source = "truth"
    elif three_d_source == "triangulated":
        print(f"3D source: {how}")

    n_states = args.states if args.states is not None else 9
    analysis_dir = out_dir / "analysis"
    job = run_analysis(
        series,
        n_states,
        None,  # written below, with the comparison to the truth, as one set
        **analysis_options(args, series.keypoints),
    )
    result = run_with_progress(job, "analyze")
    scores = score_states(truth.states, result.states)
    confusion = pd.crosstab(
        pd.Series(np.asarray(truth.state_names, dtype=object)[truth.states], name="true_state"),
        pd.Series(np.where(result.states >= 0, result.states.astype(str), "none"), name="state"),
    )
    result.info.update(scores, three_d_source=three_d_source, three_d_how=how, true_states=list(truth.state_names))
    writer = write_outputs(result, analysis_dir, figures=not args.no_figures,
                           extra_tables={"truth_confusion": confusion.reset_index()})
    run_with_progress(writer, "write")

    print_summary(result, time.perf_counter() - started)
    print(
        f"adjusted Rand index vs the {len(truth.state_names)} true states: "
        f"{scores['adjusted_rand_index']:.3f} ({result.n_states} states fitted; purity {scores['purity']:.3f}, "
        f"{scores['fraction_with_state']:.1%} of frames have a state; landmarks: {three_d_source})"
    )
    print(f"view it: facehmm view {session_dir} --model {analysis_dir / 'model.json'}")
    return 0
