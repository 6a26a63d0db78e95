"""The Expression states dock chooses the number of states as ``facehmm analyze --states auto`` does.

A 60 s 3D synthetic face with 4 true states. Known answers: ``auto`` chooses
4 (diagonal covariances), and the dock's choice and states are those of the
core's :func:`run_analysis` with the same options (the dock computes nothing
itself); a K picked on the curve is fitted exactly as a fixed K; Cancel
during the choice keeps the states shown; a loaded model's options replace
the form's. The dock's PNG goes to ``$FACEHMM_SCREENSHOT_DIR`` when set (to
look at it; docs/screenshot-model-selection.png is one), else to the tmp folder.
Budget: about two minutes on the busy 2-core machine (one restart, few iterations; auto is 11 fits).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.gui

N_FRAMES, TRUE_STATES = 1800, 4
FIT = dict(n_restarts=1, n_iter=15)
COVARIANCE = "diag"


@pytest.fixture(scope="module")
def face():
    from napari_facehmm.synthetic import simulate_face

    return simulate_face(N_FRAMES, fps=30.0, seed=3, n_states=TRUE_STATES).to_series()


@pytest.fixture(autouse=True, scope="module")
def one_thread_per_library():
    """OpenMP/BLAS on one thread: on the busy 2-core machine, k-means' two threads made the
    candidates' fits 10x slower (measured 3.2 s vs 46 s for five candidates at load 10)."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):
        yield


def _dock(make_napari_viewer, series, show=False):
    from napari_facehmm._napari.layers import add_layer_data
    from napari_facehmm._napari.readers import landmark_layers
    from napari_facehmm.widgets.app import add_docks

    viewer = make_napari_viewer(show=show)
    add_layer_data(viewer, landmark_layers(series, "face"))
    docks = add_docks(viewer)
    states = docks["states"]
    states.set_tracks([states.tracks.item(0).text()])
    states.form.set_values({"restarts": FIT["n_restarts"], "iterations": FIT["n_iter"], "stability_seeds": 0,
                            "covariance": COVARIANCE})
    return viewer, docks, states


def _wait(qtbot, worker, timeout_ms=240_000):
    with qtbot.waitSignal(worker.finished, timeout=timeout_ms):
        pass


def _click(curve, n_states: int) -> None:
    """A mouse press on the curve at ``n_states`` (matplotlib's event, as a click makes it)."""
    from matplotlib.backend_bases import MouseEvent

    ax = curve.figure.axes[0]
    x, y = ax.transData.transform((n_states, np.mean(ax.get_ylim())))
    MouseEvent("button_press_event", curve.canvas, x, y, button=1)._process()


def test_auto_chooses_the_states_shows_the_curve_and_refits_a_picked_k(make_napari_viewer, face, tmp_path, qtbot):
    import imageio.v2 as imageio

    from napari_facehmm import analysis_settings as O
    from napari_facehmm.analysis import run_analysis
    from napari_facehmm.hmm.selection import AUTO_STATES
    from napari_facehmm.progress import run_to_end

    viewer, docks, states = _dock(make_napari_viewer, face, show=True)
    viewer.window._qt_window.resize(1400, 950)
    form = states.form
    form.states_mode.value = "auto"
    worker = states.fit()
    progress = []
    worker.yielded.connect(lambda step: progress.append(step))
    _wait(qtbot, worker)

    # the core's analysis with the same options chooses the same K and gives the same states
    hmm_options = {"covariance_type": COVARIANCE}
    expected = run_to_end(run_analysis(
        face, AUTO_STATES, None, settings=O.feature_settings(face.keypoints), hmm_options=hmm_options, **FIT,
    ))
    chosen = expected.info["model_selection"]["chosen"]
    assert chosen == TRUE_STATES
    curve = states.curve
    assert not curve.isHidden()
    assert curve.candidates == list(AUTO_STATES) and curve.chosen == chosen == states.session.n_states
    np.testing.assert_array_equal(states.session.states, expected.states)
    assert any("choosing the number of states" in message for _, _, message in progress)
    assert states.status.text().startswith(f"chose {chosen} states")
    assert states.legend.rowCount() == chosen

    # the curve: held-out log-likelihood (blue) and BIC (orange) are drawn; the dock is not cramped
    out = Path(os.environ.get("FACEHMM_SCREENSHOT_DIR", tmp_path))
    out.mkdir(parents=True, exist_ok=True)
    qtbot.wait(300)
    states.grab().toImage().save(str(out / "screenshot-model-selection.png"))
    image = imageio.imread(out / "screenshot-model-selection.png")[..., :3].astype(int)
    for rgb in ((0x4F, 0xC3, 0xF7), (0xFF, 0xB7, 0x4D)):
        assert (np.abs(image - rgb).sum(axis=-1) < 40).sum() > 30, f"no curve drawn in {rgb}"
    assert curve.canvas.height() >= 150

    # pick another K on the curve and refit it: the states of a fixed-K fit with that K
    other = next(k for k in (chosen + 1, chosen - 1) if k in curve.candidates)
    assert not curve.refit_button.isEnabled()
    _click(curve, other)
    assert curve.picked == other and curve.refit_button.isEnabled()
    assert curve.refit_button.text() == f"Refit with {other} states"
    curve.refit_button.click()
    _wait(qtbot, states.worker)
    assert states.session.n_states == other and states.legend.rowCount() == other
    assert (curve.chosen, curve.shown) == (chosen, other) and not curve.isHidden()
    assert f"picked {other} states" in states.status.text()
    fixed = run_to_end(run_analysis(
        face, other, None, settings=O.feature_settings(face.keypoints), hmm_options=hmm_options, **FIT
    ))
    np.testing.assert_array_equal(states.session.states, fixed.states)
    assert form.states_text() == "auto"  # the form still says what was asked


def test_cancel_during_the_choice_keeps_the_states(make_napari_viewer, face, qtbot):
    from napari_facehmm.widgets.app import fit_now

    viewer, docks, states = _dock(make_napari_viewer, face)
    fit_now(states, n_states=2, n_restarts=1, show_progress=False)
    shown = states.session.states.copy()
    states.form.states_mode.value = "auto"
    worker = states.fit()
    with qtbot.waitSignal(worker.finished, timeout=120_000):
        qtbot.waitUntil(lambda: "choosing the number of states" in states.status.text(), timeout=60_000)
        states.cancel()
    assert "cancel" in states.status.text()
    np.testing.assert_array_equal(states.session.states, shown)
    assert states.fit_button.isEnabled() and states.curve.isHidden()


def test_load_model_shows_its_options(make_napari_viewer, face, tmp_path):
    from napari_facehmm import analysis_settings as O
    from napari_facehmm.analysis import run_analysis
    from napari_facehmm.progress import run_to_end

    options = dict(align="egocentric", features="expression", max_gap=8, min_confidence=0.1, min_observed=0.7)
    run_to_end(run_analysis(
        face, 4, tmp_path / "out", settings=O.feature_settings(face.keypoints, **options), n_restarts=1, n_iter=6,
        seed=5, hmm_options={"covariance_type": "diag"}, figures=False,
    ))
    viewer, docks, states = _dock(make_napari_viewer, face)
    form = states.form
    form.states_mode.value = "auto"
    assert form.value("align") == O.ALIGN.default != options["align"]  # the defaults, before
    assert states.load_model(tmp_path / "out" / "model.json")
    for name, value in {**options, "covariance": "diag", "seed": 5, "iterations": 6, "restarts": 1}.items():
        assert form.value(name) == value, name
    assert form.states_text() == "4" and states.session.n_states == 4
    assert states.curve.isHidden()


def test_an_option_that_does_not_fit_the_data_is_refused_before_any_work(make_napari_viewer, face, notifications):
    viewer, docks, states = _dock(make_napari_viewer, face)
    states.form.set_values({"reference": "tail"})
    assert states.fit() is None and states.worker is None
    assert any("--reference: no keypoint 'tail'" in message for message in notifications), notifications
    assert states.session.states is None and states.fit_button.isEnabled()
