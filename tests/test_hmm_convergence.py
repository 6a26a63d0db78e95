"""EM convergence is reported once, in the project's words; hmmlearn's warnings stay off the log."""

from __future__ import annotations

import logging

import numpy as np
import pytest
from hmmlearn.base import ConvergenceMonitor

from napari_facehmm.hmm import FaceHMM
from napari_facehmm.hmm.convergence import (
    DecreaseCounter,
    convergence_report,
    quiet_monitor,
    restart_convergence,
)

pytestmark = pytest.mark.usefixtures("one_thread")


def test_hmmlearn_decrease_warning_is_counted_not_logged(caplog):
    monitor = ConvergenceMonitor(tol=1e-3, n_iter=10, verbose=False)
    counter = DecreaseCounter()
    with caplog.at_level(logging.WARNING, logger="hmmlearn.base"):
        with quiet_monitor(counter):
            monitor.report(-1.0e7)
            monitor.report(-1.0e7 - 0.01)  # a round-off drop: hmmlearn warns
        assert counter.count == 1
        assert not [r for r in caplog.records if "not converging" in r.getMessage()]
        # Outside the block hmmlearn logs as before (the filter is removed).
        monitor.report(-1.0e7 - 0.02)
    assert [r for r in caplog.records if "not converging" in r.getMessage()]


def test_restart_convergence_tells_convergence_from_the_iteration_limit():
    converged = restart_convergence([-100.0, -100.0005], 12, tol=1e-3, max_iter=50, n_decreases=1)
    assert converged == {
        "converged": True,
        "n_iter": 12,
        "hit_iteration_limit": False,
        "final_delta": pytest.approx(-0.0005),
        "n_decreases": 1,
    }
    limited = restart_convergence([-100.0, -99.0], 50, tol=1e-3, max_iter=50, n_decreases=0)
    assert not limited["converged"] and limited["hit_iteration_limit"]
    report = convergence_report(
        [{"restart": 0, **converged, "completed": True}, {"restart": 1, **limited, "completed": True}], 0, 1e-3
    )
    assert report["converged"] and report["best_restart"] == 0
    assert "restart 1/2 (kept) converged after 12 iterations" in report["message"]
    assert "restart 2/2 did not converge within 50 iterations" in report["message"]
    assert "fell slightly 1 time(s)" in report["message"]


def test_fit_reports_convergence_once_and_per_restart(caplog):
    rng = np.random.default_rng(0)
    states = np.repeat(rng.integers(0, 3, 60), 25)
    means = np.array([[0.0, 0.0], [4.0, 0.0], [0.0, 4.0]])
    X = means[states] + rng.normal(scale=0.7, size=(len(states), 2))
    with caplog.at_level(logging.INFO):
        face_hmm = FaceHMM(n_states=3, n_restarts=2, n_iter=60, random_state=0).fit(X)
    report = face_hmm.convergence_
    assert report["converged"] is True and face_hmm.converged_
    assert report["best_restart"] == face_hmm.best_restart_
    assert [row["restart"] for row in report["restarts"]] == [0, 1]
    for row, restart in zip(report["restarts"], face_hmm.restarts_):
        assert row["n_iter"] == restart["n_iter"] == face_hmm.restart_models_[row["restart"]].monitor_.iter
        assert row["converged"] and row["final_delta"] < face_hmm.tol and row["n_iter"] < 60
    ours = [r for r in caplog.records if r.getMessage().startswith("EM: ")]
    assert len(ours) == 1 and ours[0].getMessage() == report["message"]
    assert not [r for r in caplog.records if "not converging" in r.getMessage()]


def test_fit_stopped_by_the_iteration_limit_is_not_called_converged():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(400, 3))
    face_hmm = FaceHMM(n_states=4, n_restarts=1, n_iter=2, tol=1e-12, random_state=0).fit(X)
    assert face_hmm.convergence_["converged"] is False and not face_hmm.converged_
    assert face_hmm.convergence_["restarts"][0]["hit_iteration_limit"] is True
    assert "did not converge within 2 iterations" in face_hmm.convergence_["message"]


def test_selection_and_stability_fits_report_in_their_tables_not_the_log(caplog):
    """``--states auto`` fits many candidates: their convergence goes to the ``converged`` column, not
    one log line each; the stability re-fits go into the stability report. The final fit logs once."""
    from napari_facehmm.hmm import select_n_states
    from napari_facehmm.hmm.stability import seed_stability

    rng = np.random.default_rng(0)
    states = np.repeat(rng.integers(0, 3, 60), 25)
    X = np.array([[0.0, 0.0], [4.0, 0.0], [0.0, 4.0]])[states] + rng.normal(scale=0.7, size=(len(states), 2))
    with caplog.at_level(logging.INFO):
        table = select_n_states(X, n_states_range=(2, 3, 4), n_restarts=2, n_iter=3, tol=1e-12)
        reference = FaceHMM(n_states=3, n_restarts=1, n_iter=30, random_state=0).fit(X)
        seed_stability(reference, X, n_seeds=2)
    assert table["converged"].tolist() == [False, False, False]  # 3 iterations: said in the table
    ours = [r.getMessage() for r in caplog.records if r.getMessage().startswith("EM: ")]
    assert ours == [reference.convergence_["message"]]
