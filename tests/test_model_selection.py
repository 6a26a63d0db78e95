"""Choosing the number of states (``--states auto`` / ``A-B``): parsing, held-out blocks, the rule, known answers.

Known answers come from synthetic sessions (``generate_session(..., n_states=K)``)
through the real selection path (``facehmm analyze --states ...``). Budget:
the fast tests take seconds; the end-to-end ones fit three candidates on one
minute of frames (diagonal covariance; about a minute apiece on 2 busy cores);
the issue's known answers with the default full covariance need long sessions
(4, 6 and 9 true states in 15, 30 and 60 minutes of frames), marked slow.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from napari_facehmm.analysis_selection import HELDOUT_PERIOD, heldout_blocks
from napari_facehmm.errors import Cancelled, DataError
from napari_facehmm.hmm.selection import (
    AUTO_STATES,
    choose_n_states,
    heldout_runs,
    independent_columns,
    parse_states,
    split_heldout,
)


# ------------------------------------------------------------------ parsing
@pytest.mark.parametrize(
    "text, expected",
    [("9", 9), (" 4 ", 4), ("auto", AUTO_STATES), ("AUTO", AUTO_STATES), ("4-12", tuple(range(4, 13))),
     ("3-3", (3,)), ("2 - 5", (2, 3, 4, 5))],
)
def test_parse_states(text, expected):
    assert parse_states(text) == expected


@pytest.mark.parametrize("text", ["12-4", "0", "0-3", "-3", "x", "4-", "3.5", "2-x", ""])
def test_parse_states_rejects(text):
    with pytest.raises(DataError, match="states"):
        parse_states(text)


def test_auto_is_2_to_12():
    assert AUTO_STATES == tuple(range(2, 13))


def test_cli_states_option_rejects_before_any_work(capsys):
    from napari_facehmm.cli import main

    assert main(["analyze", "missing.csv", "--states", "9-4"]) == 2
    assert "argument --states" in capsys.readouterr().err


# ------------------------------------------------------------ held-out blocks
def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """(start, length) of the runs of True in mask."""
    edges = np.flatnonzero(np.diff(np.concatenate(([0], mask.astype(np.int8), [0]))))
    return [(int(a), int(b - a)) for a, b in zip(edges[::2], edges[1::2])]


def test_blocks_are_time_blocks_not_random_frames():
    lengths = np.array([1000])
    train, train_lengths, heldout_lengths, held = split_heldout(lengths, 0.2, "blocks", segment_frames=40)
    assert np.array_equal(train, ~held)
    # every 5th block of 40 consecutive frames, from the start to the end of the recording
    assert _runs(held) == [(160 + 200 * i, 40) for i in range(5)]
    assert heldout_lengths.tolist() == [40] * 5
    assert train_lengths.sum() == 800 and heldout_lengths.sum() == 200


def test_blocks_run_over_sequences_and_runs_stay_within_them():
    lengths = np.array([30, 100, 25, 45])  # segments between gaps, shorter than a few blocks
    train, train_lengths, heldout_lengths, held = split_heldout(lengths, 0.2, "blocks", segment_frames=20)
    position = np.arange(lengths.sum())
    assert np.array_equal(held, (position // 20) % 5 == 4)
    assert train_lengths.sum() + heldout_lengths.sum() == lengths.sum()
    # no run spans two sequences: the runs of each part, cut at the sequence bounds
    bounds = set(np.cumsum(lengths)[:-1].tolist())
    for part, runs in ((held, heldout_lengths), (~held, train_lengths)):
        expected = []
        for start, length in _runs(part):
            cuts = sorted(b for b in bounds if start < b < start + length)
            points = [start, *cuts, start + length]
            expected.extend(np.diff(points).tolist())
        assert runs.tolist() == expected


def test_heldout_blocks_are_counted_within_each_session():
    short, long = np.array([100]), np.array([600, 400])
    held = heldout_blocks(np.concatenate([short, long]), sessions=[short, long])
    short_held, long_held = held[:100], held[100:]
    # each session has held-out frames from its own recording, about 1/HELDOUT_PERIOD of them
    assert 0 < short_held.sum() <= 100 / HELDOUT_PERIOD + 30
    assert abs(long_held.mean() - 1 / HELDOUT_PERIOD) < 0.05
    # blocks restart at the session's first frame: the same layout as that session alone
    assert np.array_equal(long_held, heldout_blocks(long))
    assert np.array_equal(short_held, heldout_blocks(short))
    with pytest.raises(DataError, match="do not add up"):
        heldout_blocks(np.array([100, 600]), sessions=[short, long])


def test_heldout_runs_of_a_mask():
    mask = np.array([0, 0, 1, 1, 1, 0, 1, 1, 0, 0], dtype=bool)
    train, held = heldout_runs(mask, np.array([4, 6]))
    assert train.tolist() == [2, 1, 2] and held.tolist() == [2, 1, 2]
    with pytest.raises(DataError, match="9 frames"):
        heldout_runs(mask[:9], np.array([4, 6]))


# ---------------------------------------------------------------- the rule
def _table(gaps, errors, bic=None, start=2):
    k = np.arange(start, start + len(gaps))
    table = pd.DataFrame(
        {
            "n_states": k,
            "bic": bic if bic is not None else np.zeros(len(k)),
            "heldout_log_likelihood_per_frame": -np.asarray(gaps, dtype=float),
            "heldout_gap_per_frame": gaps,
            "heldout_gap_se": errors,
        }
    )
    return table.set_index("n_states", drop=False)


def test_one_standard_error_rule_takes_the_fewest_states_close_to_the_best():
    # best at 6; 4 is within its standard error (0.3 <= 0.4), 3 is not (1.0 > 0.5)
    k, reason = choose_n_states(_table([5.0, 1.0, 0.3, 0.25, 0.0, 0.2], [1.0, 0.5, 0.4, 0.5, 0.0, 0.3]))
    assert k == 4
    assert "within one standard error of the best (7 states" not in reason
    assert "4 states" in reason and "6 states" in reason and "standard error" in reason


def test_rule_takes_the_best_when_nothing_smaller_is_close():
    k, reason = choose_n_states(_table([3.0, 2.0, 0.0, 0.1], [0.5, 0.4, 0.0, 0.5]))
    assert k == 4
    assert reason == "4 states: the best held-out log-likelihood per frame"


def test_rule_without_heldout_frames_takes_the_lowest_bic():
    table = _table([0.0] * 4, [np.nan] * 4, bic=[10.0, 7.0, 3.0, 5.0])
    k, reason = choose_n_states(table)
    assert k == 4 and "lowest BIC" in reason


# ----------------------------------------------------- dependent feature columns
def test_independent_columns_drop_linear_combinations_and_constants():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(500, 5))
    X = np.column_stack([X, X[:, 0] + 2 * X[:, 3], np.full(500, 7.0), X[:, 1] - X[:, 2]])
    keep = independent_columns(X)
    assert len(keep) == 5  # the rank: 5 random columns, two combinations of them, a constant
    assert np.linalg.matrix_rank(np.cov(X[:, keep], rowvar=False)) == 5
    assert 6 not in keep  # the constant column
    # every dropped column is a linear function of the kept ones
    for column in set(range(X.shape[1])) - set(keep.tolist()):
        design = np.column_stack([X[:, keep], np.ones(len(X))])
        residual = X[:, column] - design @ np.linalg.lstsq(design, X[:, column], rcond=None)[0]
        assert np.abs(residual).max() < 1e-8
    # missing values: complete rows decide; too few complete rows keep everything
    X_missing = X.copy()
    X_missing[::3, 2] = np.nan
    assert len(independent_columns(X_missing)) == 5
    assert np.array_equal(independent_columns(X[:5]), np.arange(X.shape[1]))


# ------------------------------------------------------------- end to end
TRUE_STATES = 4


@pytest.fixture(scope="module")
def sessions(tmp_path_factory):
    """Two synthetic sessions with 4 true states (60 s and 40 s, tracks and truth, no video), as pose-3d CSVs."""
    import shutil

    from napari_facehmm.synthetic import generate_session

    out = tmp_path_factory.mktemp("selection_sessions")
    paths, truths = [], []
    for name, seconds, seed in (("first", 60.0, 0), ("second", 40.0, 1)):
        truth = generate_session(
            out / name, n_cameras=1, seconds=seconds, seed=seed, render_video=False, n_states=TRUE_STATES
        )
        path = out / f"{name}.csv"
        shutil.copy(truth.pose3d_path, path)
        paths.append(path)
        truths.append(truth)
    return paths, truths


def _ari(a, b) -> float:
    from sklearn.metrics import adjusted_rand_score

    return float(adjusted_rand_score(a, b))


def test_analyze_states_range_chooses_the_true_count_and_fits_it(sessions, tmp_path, capsys):
    """``facehmm analyze --states 3-5``: the table, the figure, the choice and why, then the fit with that K.

    The range holds the true count with one on either side, so a selection
    that always takes the fewest or the most candidates fails.
    """
    from napari_facehmm.cli import main

    paths, truths = sessions
    out = tmp_path / "out"
    code = main(["analyze", str(paths[0]), "--states", "3-5", "--covariance", "diag", "--restarts", "2",
                 "--out", str(out)])
    assert code == 0
    printed = capsys.readouterr().out
    table = pd.read_csv(out / "model_selection.csv")
    assert table["n_states"].tolist() == [3, 4, 5]
    assert table["chosen"].sum() == 1
    chosen = int(table.loc[table["chosen"], "n_states"].iloc[0])
    with capsys.disabled():
        print("\n" + table[["n_states", "heldout_log_likelihood_per_frame", "heldout_gap_per_frame",
                            "heldout_gap_se", "bic"]].round(3).to_string(index=False))
    assert chosen == TRUE_STATES
    assert (out / "model_selection.png").stat().st_size > 10_000
    # rigid alignment ties 6 coordinates to the rest: the selection fits the independent ones
    assert (table["n_features"] == 59).all()
    assert (table["n_heldout_frames"] > 0.15 * 1800).all()
    summary = json.loads((out / "summary.json").read_text())
    assert summary["model_selection"]["chosen"] == chosen
    assert summary["model_selection"]["candidates"] == [3, 4, 5]
    assert f"states chosen among 3-5: {chosen} states" in printed
    # the fit continued with the chosen K, on every frame
    assert summary["n_states"] == chosen
    model = json.loads((out / "model.json").read_text())
    assert model["n_states"] == chosen
    states = pd.read_csv(out / "states.csv")
    labelled = states["state"].notna().to_numpy()
    assert states["state"].max() == chosen - 1
    assert _ari(truths[0].states[labelled], states["state"][labelled].astype(int)) >= 0.9


def test_selection_is_cancelled_between_fits(sessions, tmp_path):
    from napari_facehmm.analysis import run_analysis

    paths, _ = sessions
    stop = {"asked": False}
    job = run_analysis(paths[0], (2, 3, 4), tmp_path / "out", fps=30.0, should_stop=lambda: stop["asked"],
                       hmm_options={"covariance_type": "diag"})
    messages = []
    with pytest.raises(Cancelled):
        for _, _, message in job:
            messages.append(message)
            if "choosing the number of states: 2 states" in message and "iteration 2" in message:
                stop["asked"] = True
    assert stop["asked"]
    assert "iteration 3" not in messages[-1] and "3 states" not in messages[-1]  # stopped at once
    assert not (tmp_path / "out").exists()


def test_selection_has_its_share_of_the_progress_bar(sessions):
    """The selection moves the bar over most of the fitting range, in order, and the fit goes on after it.

    Three candidates get half of 5-75 (each costs about a third of the final fit), so the bar does not
    sit at one value through the longest step of ``--states auto``.
    """
    from napari_facehmm.analysis import run_analysis
    from napari_facehmm.analysis_selection import selection_progress_end

    paths, _ = sessions
    items = list(run_analysis(paths[0], (2, 3, 4), None, fps=30.0, figures=False,
                              hmm_options={"covariance_type": "diag"}))
    done = [item[0] for item in items]
    assert done == sorted(done) and done[-1] == items[-1][1] == 100
    choosing = [d for d, _, message in items if message.startswith("choosing the number of states")]
    assert selection_progress_end(3, 5, 75) == 40
    assert min(choosing) <= 6 and max(choosing) == 40 and len(set(choosing)) > 8
    fitting = [d for d, _, message in items if d > 40 and d <= 75]
    assert min(fitting) < 45 and max(fitting) == 75 and len(set(fitting)) > 2  # the final fit: 40 to 75
    assert selection_progress_end(11, 5, 75) == 60 and selection_progress_end(0, 5, 75) == 5


def test_states_larger_than_the_frames_allow_is_refused_before_fitting(sessions):
    from napari_facehmm.analysis import run_analysis
    from napari_facehmm.io.anipose import read_pose3d

    paths, _ = sessions
    short = read_pose3d(paths[0]).select_frames(slice(0, 40))
    job = run_analysis(short, (2, 3, 5), None, fps=30.0)
    with pytest.raises(DataError, match="5 states cannot be chosen among with 40 frames"):
        for _, _, message in job:
            assert "choosing" not in message


def test_several_sessions_choose_one_count_from_blocks_of_each(sessions, tmp_path, capsys):
    from napari_facehmm.cli import main

    paths, truths = sessions
    out = tmp_path / "both"
    code = main(["analyze", str(paths[0]), str(paths[1]), "--states", "3-5", "--covariance", "diag",
                 "--restarts", "2", "--out", str(out)])
    assert code == 0
    printed = capsys.readouterr().out
    table = pd.read_csv(out / "model_selection.csv")
    assert (out / "model_selection.png").stat().st_size > 10_000
    chosen = int(table.loc[table["chosen"], "n_states"].iloc[0])
    assert chosen == TRUE_STATES
    # held-out blocks within each session: about a fifth of each session's frames
    assert table["n_heldout_frames"].iloc[0] == pytest.approx((1800 + 1200) / HELDOUT_PERIOD, rel=0.1)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["model_selection"]["chosen"] == chosen == summary["n_states"]
    assert f"states chosen among 3-5: {chosen} states" in printed
    sessions_table = pd.read_csv(out / "sessions.csv")
    assert sorted(sessions_table["state"].unique()) == list(range(chosen))
    for name, truth in zip(("first", "second"), truths):
        states = pd.read_csv(out / name / "states.csv")
        labelled = states["state"].notna().to_numpy()
        assert _ari(truth.states[labelled], states["state"][labelled].astype(int)) >= 0.9
        assert not (out / name / "model_selection.csv").exists()


# ------------------------------------------------------- the known answers
@pytest.mark.slow
@pytest.mark.parametrize(
    "true_states, minutes", [(4, 15), (6, 30), (9, 60)]
)
def test_selection_finds_the_true_number_of_states(true_states, minutes, capsys):
    """Synthetic sessions with 4, 6 and 9 true states: the selection chooses the true count.

    The real path of ``facehmm analyze --states A-B`` with the default
    full covariance (features as the analysis builds them,
    :func:`select_states`), among the true count and one on either side, on
    sessions as long as full covariance needs here (README, "How many
    states": shorter ones give fewer states, tied or diagonal covariances
    more). The truth is the one ``facehmm synth --states K`` writes
    (:func:`simulate_face`, seed 0). On 2 busy cores (load 3-5) the three
    took 3.6, 2.6 and 5.9 minutes; alone on the machine they take a few
    minutes together.
    """
    from napari_facehmm.analysis_selection import select_states
    from napari_facehmm.features import FeatureSettings, build_features
    from napari_facehmm.progress import run_to_end
    from napari_facehmm.synthetic.face import simulate_face

    simulation = simulate_face(int(minutes * 60 * 30), fps=30.0, seed=0, n_states=true_states)
    features = build_features(simulation.to_series(), FeatureSettings())
    candidates = (true_states - 1, true_states, true_states + 1)
    selection = run_to_end(select_states(features.values, features.lengths, candidates, n_restarts=3, seed=0))
    with capsys.disabled():
        print(f"\n{true_states} true states, {minutes} min: {selection.reason}")
    assert selection.n_states == true_states, selection.table.to_string()
