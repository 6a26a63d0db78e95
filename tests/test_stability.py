"""Known answers for the seed stability check (hmm/stability.py, analysis_stability.py).

Clear states come back in every re-fit (ARI ~1, none unstable); too many states
for the data, or one cluster split arbitrarily, are flagged; the same seeds give
the same states. Budget: about a minute on 2 idle cores (small fits).
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from napari_facehmm.analysis import analyze, run_analysis
from napari_facehmm.errors import Cancelled, DataError
from napari_facehmm.hmm import FaceHMM
from napari_facehmm.hmm.stability import (
    RECURRENCE_JACCARD,
    UNSTABLE_BELOW,
    seed_stability,
    seed_stability_progress,
    state_overlap,
)

N_TRUE_STATES = 4


@pytest.fixture(scope="module")
def simulation():
    """40 s of a synthetic 3D face with 4 clear expression states."""
    from napari_facehmm.synthetic import simulate_face

    return simulate_face(1200, fps=30.0, seed=3, n_states=N_TRUE_STATES)


def _ari(a, b) -> float:
    from sklearn.metrics import adjusted_rand_score

    return float(adjusted_rand_score(a, b))


def test_state_overlap_is_the_jaccard_index_of_matched_frames():
    reference = np.array([0, 0, 0, 0, 1, 1, 2, 2])
    other = np.array([5, 5, 5, 3, 3, 3, 4, 4])
    # reference state 0 -> other 5: 3 shared of 4 frames in either; 1 -> 3: 2 of 3; 2 -> 4: 2 of 2
    overlap = state_overlap(reference, other, np.array([5, 3, 4]))
    np.testing.assert_allclose(overlap, [3 / 4, 2 / 3, 1.0])
    # unmatched (-1) and a state without frames count as not back
    np.testing.assert_allclose(state_overlap(reference, other, np.array([5, -1, 4, 3]))[[1, 3]], [0.0, 0.0])


def test_clear_states_come_back_in_every_refit(simulation, tmp_path):
    result = analyze(
        simulation.to_series(), N_TRUE_STATES, tmp_path, n_restarts=1, stability_seeds=4, figures=False
    )
    assert _ari(simulation.states, result.states) > 0.95  # the fit itself finds the truth
    block = result.info["stability"]
    assert block["n_seeds"] == 4 and block["seeds"] == [0, 1, 2, 3]
    assert block["ari_min"] > 0.95 and block["ari_pairwise_mean"] > 0.95
    assert block["unstable_states"] == []
    assert block["n_back"] == [3] * N_TRUE_STATES

    table = pd.read_csv(tmp_path / "state_stats.csv")
    assert list(table["recurrence"]) == [1.0] * N_TRUE_STATES
    assert not table["unstable"].any()
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["stability"]["unstable_states"] == []
    assert f"Jaccard >= {RECURRENCE_JACCARD:g}" in summary["stability"]["rule"]

    # the check is saved with the model; applying it keeps its states' flags
    applied = analyze(simulation.to_series(), None, None, model=tmp_path / "model.json")
    assert applied.info["stability"] == block
    assert list(applied.state_stats["recurrence"]) == list(table["recurrence"])


def test_more_states_than_the_truth_are_flagged_unstable(simulation):
    result = analyze(simulation.to_series(), 12, None, n_restarts=1, n_iter=30, stability_seeds=4)
    block = result.info["stability"]
    assert block["ari_mean"] < 0.9  # 12 states over 4 true ones are cut differently by every seed
    assert len(block["unstable_states"]) >= 3
    table = result.state_stats
    flagged = table.loc[table["unstable"], "recurrence"]
    assert (flagged < UNSTABLE_BELOW).all() and len(flagged) == len(block["unstable_states"])


def test_a_cluster_split_arbitrarily_is_flagged_and_the_clear_ones_are_not():
    """Two tight, distinct clusters and one broad round one, fit with 4 states: the round
    cluster is cut in two, and in 20 dimensions many cuts are about equally good, so each
    seed picks its own (measured: the split states come back in 0-3 of 5 re-fits for data
    seeds 0-3, the clear ones in 5 of 5)."""
    rng = np.random.default_rng(0)
    n_features, block_frames = 20, 60
    centres = np.zeros((3, n_features))
    centres[0, 0], centres[1, 1] = 30.0, 30.0  # cluster 2 (the round one) sits at the origin
    spread = np.array([0.3, 0.3, 3.0])
    labels = np.repeat(rng.permutation(np.tile(np.arange(3), 6)), block_frames)
    X = centres[labels] + rng.normal(size=(len(labels), n_features)) * spread[labels, None]
    reference = FaceHMM(n_states=4, n_restarts=1, n_iter=50, random_state=0).fit(X)
    report = seed_stability(reference, X, n_seeds=6)

    states = reference.predict(X)
    for cluster in (0, 1):
        state = np.bincount(states[labels == cluster]).argmax()
        assert report.recurrence[state] == 1.0, report.to_dict()
    split = sorted(set(states[labels == 2]))
    assert len(split) == 2  # the round cluster took the two other states
    assert report.unstable[split].any(), report.to_dict()
    assert "unstable: back in" in report.describe_state(int(split[np.argmax(report.unstable[split])]))


def test_the_same_seeds_give_the_same_states(simulation, tmp_path):
    from napari_facehmm.cli import main

    pose = tmp_path / "pose-3d.csv"
    from napari_facehmm.io.anipose import write_pose3d

    write_pose3d(simulation.to_series(), pose)
    outputs = []
    for run in ("a", "b"):
        out = tmp_path / run
        code = main(["analyze", str(pose), "--states", "5", "--restarts", "2", "--iterations", "30",
                     "--stability-seeds", "3", "--seed", "7", "--no-figures", "--out", str(out)])
        assert code == 0
        outputs.append(out)
    a, b = outputs
    assert (a / "states.csv").read_bytes() == (b / "states.csv").read_bytes()
    assert (a / "state_stats.csv").read_bytes() == (b / "state_stats.csv").read_bytes()
    summary_a, summary_b = (json.loads((o / "summary.json").read_text()) for o in outputs)
    assert summary_a["stability"] == summary_b["stability"]
    assert summary_a["stability"]["seeds"] == [7, 8, 9]


def test_stability_progress_and_cancel(simulation):
    series = simulation.to_series()
    messages = []

    def stop_in_stability() -> bool:
        return any("stability" in m for m in messages)

    job = run_analysis(series, 3, None, n_restarts=1, n_iter=5, stability_seeds=3, should_stop=stop_in_stability)
    with pytest.raises(Cancelled):
        for done, total, message in job:
            messages.append(message)
    assert any("re-fit 1/2" in m for m in messages)

    done = [p[0] for p in run_analysis(series, 3, None, n_restarts=1, n_iter=5, stability_seeds=3)]
    assert done == sorted(done)


def test_off_and_bad_seed_counts():
    from napari_facehmm.synthetic import simulate_face

    series = simulate_face(200, fps=30.0, seed=1, n_states=2).to_series()
    result = analyze(series, 2, None, n_restarts=1, n_iter=5, stability_seeds=1)
    assert "stability" not in result.info and "recurrence" not in result.state_stats
    with pytest.raises(DataError, match="stability seeds"):
        analyze(series, 2, None, n_restarts=1, n_iter=5, stability_seeds=-1)
    reference = FaceHMM(n_states=2, n_restarts=1, n_iter=5).fit(np.random.default_rng(0).normal(size=(100, 3)))
    with pytest.raises(DataError, match="at least 2 seeds"):
        next(seed_stability_progress(reference, np.zeros((100, 3)), n_seeds=1))


def test_cli_refuses_a_negative_seed_count(capsys):
    from napari_facehmm.cli import main

    assert main(["analyze", "x.csv", "--out", "y", "--stability-seeds", "-1"]) == 2
    assert "--stability-seeds" in capsys.readouterr().err


def test_multi_session_fit_reports_stability(simulation, tmp_path):
    from napari_facehmm.analysis_sessions import run_sessions
    from napari_facehmm.progress import run_to_end
    from napari_facehmm.synthetic import simulate_face

    other = simulate_face(900, fps=30.0, seed=5, n_states=N_TRUE_STATES).to_series()
    result = run_to_end(run_sessions(
        [simulation.to_series(), other], N_TRUE_STATES, tmp_path, names=["one", "two"],
        n_restarts=1, n_iter=30, stability_seeds=3, figures=False,
    ))
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["stability"]["n_seeds"] == 3
    for name in ("one", "two"):
        table = pd.read_csv(tmp_path / name / "state_stats.csv")
        assert list(table["recurrence"]) == summary["stability"]["recurrence"]
        assert list(table["unstable"]) == [s in summary["stability"]["unstable_states"] for s in table["state"]]
    assert result.info["stability"] == summary["stability"]
