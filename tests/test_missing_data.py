"""A state for every frame with a face: known truth from a synthetic session with 5% of 2D points dropped."""

import numpy as np
import pytest
from sklearn.metrics import adjusted_rand_score

from napari_facehmm.analysis import run_analysis
from napari_facehmm.features import FeatureSettings, build_features
from napari_facehmm.progress import run_to_end

TRUE_STATES = 4


@pytest.fixture(scope="module")
def dropped(tmp_path_factory):
    """A 60 s, 2-camera session (1800 frames, 4 true states), 5% of 2D points lost, triangulated to 3D."""
    from napari_facehmm.commands.demo import _triangulate
    from napari_facehmm.synthetic import generate_session

    folder = tmp_path_factory.mktemp("dropout")
    truth = generate_session(
        folder, n_cameras=2, seconds=60, fps=30, seed=3, render_video=False,
        n_states=TRUE_STATES, dropout_rate=0.05,
    )
    series, how = _triangulate(truth, folder)
    assert series is not None, how
    return truth, series


def test_most_2d_dropout_leaves_3d_frames_incomplete(dropped):
    """The case this is about: few points missing, but many frames with at least one of them missing."""
    _, series = dropped
    missing_points = np.isnan(series.positions).any(axis=2)
    assert missing_points.mean() < 0.15
    assert missing_points.any(axis=1).mean() > 0.5


def test_dropout_frames_get_states_that_match_the_truth(dropped):
    truth, series = dropped
    result = run_to_end(run_analysis(series, TRUE_STATES, None, n_restarts=2, seed=0, figures=False))
    has_state = result.states >= 0
    assert has_state.mean() >= 0.99
    assert adjusted_rand_score(truth.states[has_state], result.states[has_state]) >= 0.95
    # states.csv: a reason exactly where there is no state
    frames = result.frames
    assert list(frames.columns) == ["frame", "time_s", "state", "state_probability", "reason"]
    assert ((frames["reason"] != "") == frames["state"].isna()).all()
    # honest probabilities: frames missing more features are on average less sure
    observed = result.features.observed[has_state]
    probability = frames["state_probability"].to_numpy()[has_state]
    complete = observed == 1.0
    assert complete.any() and (~complete).any()
    assert probability[~complete].mean() <= probability[complete].mean() + 1e-9


def test_complete_frames_only_would_lose_many_frames(dropped):
    """The old rule (every feature observed, ``min_observed=1``) against the default 0.5."""
    _, series = dropped
    old = build_features(series, FeatureSettings(min_observed=1.0))
    new = build_features(series, FeatureSettings())
    assert new.valid.mean() >= 0.99
    assert old.valid.mean() < new.valid.mean() - 0.05
    reasons = old.reasons[~old.valid]
    assert all(r.endswith("of features observed (< 100%)") or r.startswith("in a run") for r in reasons)


def test_frames_with_too_little_observed_get_a_reason(dropped):
    _, series = dropped
    positions = series.positions.copy()
    positions[100:110] = np.nan  # no face
    positions[200:210, : series.n_keypoints - 3] = np.nan  # 3 of 21 landmarks left
    features = build_features(series.copy(positions=positions), FeatureSettings(max_gap_frames=0))
    assert not features.valid[100:110].any() and not features.valid[200:210].any()
    assert set(features.reasons[100:110]) == {"no face"}
    reason = features.reasons[205]
    assert reason.endswith("of features observed (< 50%)") and int(reason.split("%")[0]) < 50
