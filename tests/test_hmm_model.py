"""FaceHMM: restarts, canonical order, progress/cancel, save/load, errors, selection.

Known-answer data: frames sampled from a 3-state Gaussian HMM with
well-separated means and unequal occupancies (stationary distribution about
0.5 / 0.3 / 0.2), so the decoded states and the frequency order are known.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.metrics import adjusted_rand_score

from napari_facehmm.errors import DataError, FaceHMMError, FileFormatError
from napari_facehmm.hmm import (
    FaceHMM,
    FastGaussianHMM,
    FitProgress,
    match_states,
    model_paths,
    select_n_states,
    select_n_states_progress,
    split_heldout,
)

TRUE_MEANS = np.array([[0.0, 0.0, 0.0], [4.0, 1.0, -2.0], [-3.0, 4.0, 2.0]])


# tiny problems: BLAS and OpenMP on one thread (see conftest.one_thread)
pytestmark = pytest.mark.usefixtures("one_thread")


def sample_known_hmm(n_frames=1500, seed=0, means=TRUE_MEANS, noise=0.7):
    rng = np.random.default_rng(seed)
    n_states, n_features = means.shape
    # Exits from each state split evenly; dwell times chosen so that
    # occupancy is unequal (state 0 most frequent, state 2 least).
    stay = np.array([0.97, 0.95, 0.925])[:n_states]
    transmat = np.empty((n_states, n_states))
    for k in range(n_states):
        transmat[k] = (1 - stay[k]) / (n_states - 1)
        transmat[k, k] = stay[k]
    states = np.zeros(n_frames, dtype=int)
    for t in range(1, n_frames):
        states[t] = rng.choice(n_states, p=transmat[states[t - 1]])
    mixing = np.eye(n_features) + 0.3 * rng.normal(size=(n_states, n_features, n_features))
    X = means[states] + noise * np.einsum(
        "tij,tj->ti", mixing[states], rng.standard_normal((n_frames, n_features))
    )
    return X, states


@pytest.fixture(scope="module")
def known():
    return sample_known_hmm()


@pytest.fixture(scope="module")
def fitted(known):
    X, _ = known
    return FaceHMM(n_states=3, n_restarts=2, n_iter=50, random_state=0).fit(X)


def test_recovers_known_states(known, fitted):
    X, truth = known
    predicted = fitted.predict(X)
    assert adjusted_rand_score(truth, predicted) >= 0.95
    assert fitted.predict_proba(X).shape == (len(X), 3)
    np.testing.assert_allclose(fitted.predict_proba(X).sum(axis=1), 1.0)
    # one pass gives both: the same numbers as score and predict_proba
    log_likelihood, posterior = fitted.score_samples(X)
    assert log_likelihood == pytest.approx(fitted.score(X), rel=1e-12)
    np.testing.assert_allclose(posterior, fitted.predict_proba(X), atol=1e-12)
    # Frequency order: state 0 is the most occupied.
    occupancy = np.bincount(predicted, minlength=3)
    assert list(occupancy) == sorted(occupancy, reverse=True)
    assert fitted.monitor_.iter >= 1 and fitted.converged_


def test_restarts_keep_the_best_score(known):
    X, _ = known
    # A harder problem (5 states for 3 true ones, few iterations) so restarts
    # end at different likelihoods.
    face_hmm = FaceHMM(n_states=5, n_restarts=3, n_iter=5, random_state=3).fit(X)
    scores = [restart["log_likelihood"] for restart in face_hmm.restarts_]
    assert len(scores) == 3 and len(face_hmm.restart_models_) == 3
    # With this seed neither the first nor the last restart is the best, so
    # keeping either of them by mistake would fail.
    assert len(set(scores)) > 1 and int(np.argmax(scores)) not in (0, 2)
    assert face_hmm.best_restart_ == int(np.argmax(scores))
    assert face_hmm.log_likelihood_ == max(scores)
    assert face_hmm.score(X) == pytest.approx(max(scores), rel=1e-12)
    for model, score in zip(face_hmm.restart_models_, scores, strict=True):
        assert model.score(X) == pytest.approx(score, rel=1e-12)


def test_different_seeds_give_the_same_canonical_labels(known, fitted):
    X, _ = known
    other = FaceHMM(n_states=3, n_restarts=2, n_iter=50, random_state=12345).fit(X)
    assert [r["seed"] for r in other.restarts_] != [r["seed"] for r in fitted.restarts_]
    np.testing.assert_array_equal(other.predict(X), fitted.predict(X))


def test_canonical_order_undoes_any_permutation(known, fitted, tmp_path):
    X, _ = known
    fitted.save(tmp_path / "model")
    shuffled = FaceHMM.load(tmp_path / "model")
    shuffled.permute_states([2, 0, 1])
    assert not np.array_equal(shuffled.predict(X), fitted.predict(X))
    shuffled._apply_canonical_order(X, np.array([len(X)]))
    np.testing.assert_array_equal(shuffled.predict(X), fitted.predict(X))


def test_order_by_feature_column_and_by_scores(known):
    X, _ = known
    names = ["mouth", "brow", "eye"]
    by_name = FaceHMM(n_states=3, n_restarts=1, n_iter=30, canonical_order="brow", feature_names=names).fit(X)
    assert np.all(np.diff(by_name.model_.means_[:, 1]) > 0)
    by_index = FaceHMM(n_states=3, n_restarts=1, n_iter=30, canonical_order=0).fit(X)
    assert np.all(np.diff(by_index.model_.means_[:, 0]) > 0)
    order = by_index.sort_states(by_index.model_.means_[:, 2], descending=True)
    assert sorted(order) == [0, 1, 2]
    assert np.all(np.diff(by_index.model_.means_[:, 2]) < 0)


def test_match_states_recovers_a_permutation(known, fitted, tmp_path):
    X, _ = known
    fitted.save(tmp_path / "a")
    permuted = FaceHMM.load(tmp_path / "a")
    order = np.array([1, 2, 0])  # new state i = old state order[i]
    permuted.permute_states(order)
    mapping = match_states(fitted, permuted)
    # old state order[i] is now state i, so state s of `fitted` is state argsort(order)[s].
    np.testing.assert_array_equal(mapping, np.argsort(order))
    # Also across two independent fits (plain hmmlearn models are accepted).
    independent = FastGaussianHMM(3, "full", n_iter=30, random_state=7).fit(X)
    mapping = match_states(fitted, independent)
    relabelled = np.argsort(mapping)[independent.predict(X)]
    assert np.mean(relabelled == fitted.predict(X)) > 0.99


def test_save_load_round_trip(known, fitted, tmp_path):
    X, _ = known
    fitted.state_names = ["neutral", "smile", "frown"]
    fitted.metadata = {
        "features": {"egocentric": True, "smoothing_s": 0.1},
        "fps": 30.0,
        "scaler_mean": np.array([0.5, 1.5]),  # numpy values are stored as lists/numbers
        "n_keypoints": np.int64(21),
    }
    json_path, npz_path = fitted.save(tmp_path / "face_model.json")  # suffix is dropped
    assert (json_path.name, npz_path.name) == ("face_model.json", "face_model.npz")
    assert model_paths(tmp_path / "face_model.npz") == (json_path, npz_path)
    loaded = FaceHMM.load(tmp_path / "face_model")
    np.testing.assert_array_equal(loaded.predict(X), fitted.predict(X))
    assert loaded.score(X) == pytest.approx(fitted.score(X), rel=1e-12)
    assert loaded.state_names == ["neutral", "smile", "frown"]
    assert loaded.metadata == {
        "features": {"egocentric": True, "smoothing_s": 0.1},
        "fps": 30.0,
        "scaler_mean": [0.5, 1.5],
        "n_keypoints": 21,
    }
    assert loaded.n_states == 3 and loaded.covariance_type == "full"
    assert list(loaded.monitor_.history) == list(fitted.monitor_.history)
    # Saving again keeps the previous version as a backup.
    fitted.save(tmp_path / "face_model")
    assert (tmp_path / "face_model.json.bak").is_file()
    fitted.state_names = None


@pytest.mark.parametrize("covariance_type", ["diag", "spherical", "tied"])
def test_save_load_round_trip_other_covariance_types(known, covariance_type, tmp_path):
    X, _ = known
    face_hmm = FaceHMM(n_states=3, n_restarts=1, n_iter=10, covariance_type=covariance_type).fit(X)
    face_hmm.save(tmp_path / covariance_type)
    loaded = FaceHMM.load(tmp_path / covariance_type)
    np.testing.assert_array_equal(loaded.predict(X), face_hmm.predict(X))
    assert loaded.score(X) == pytest.approx(face_hmm.score(X), rel=1e-12)


def test_load_errors_name_the_file(fitted, tmp_path):
    json_path, npz_path = fitted.save(tmp_path / "m")
    good_json = json_path.read_text()
    npz_path.unlink()
    with pytest.raises(FileFormatError, match=r"m\.npz.*missing"):
        FaceHMM.load(tmp_path / "m")
    fitted.save(tmp_path / "m")
    json_path.write_text("{not json")
    with pytest.raises(FileFormatError, match=r"m\.json.*not valid JSON"):
        FaceHMM.load(tmp_path / "m")
    settings = json.loads(good_json)
    settings["n_features"] = 4
    json_path.write_text(json.dumps(settings))
    with pytest.raises(FileFormatError, match=r"m\.npz.*'means' has shape \(3, 3\), expected \(3, 4\)"):
        FaceHMM.load(tmp_path / "m")
    settings = json.loads(good_json)
    settings["fit"]["sticky"] = -1
    json_path.write_text(json.dumps(settings))
    with pytest.raises(FileFormatError, match=r"m\.json.*invalid fit settings.*sticky"):
        FaceHMM.load(tmp_path / "m")
    json_path.write_text(good_json)
    arrays = dict(np.load(npz_path))
    arrays["transmat"] = np.ones((3, 3))
    np.savez(npz_path, **arrays)
    with pytest.raises(FileFormatError, match=r"m\.npz.*transmat"):
        FaceHMM.load(tmp_path / "m")
    json_path.unlink()
    with pytest.raises(FileFormatError, match=r"m\.json.*missing"):
        FaceHMM.load(tmp_path / "m")


def test_wrong_feature_count_says_expected_and_got(known, tmp_path):
    X, _ = known
    model = FaceHMM(n_states=2, n_restarts=1, n_iter=5, feature_names=["a", "b", "c"]).fit(X)
    with pytest.raises(DataError, match=r"expects 3 features \(a, b, c\) but X has 2 columns"):
        model.predict(X[:, :2])
    with pytest.raises(DataError, match="metadata must be JSON"):
        model.metadata = {"bad": object()}
        model.save(tmp_path / "x")


@pytest.mark.parametrize(
    "make_input, message",
    [
        (lambda X: (X[:2], None), "cannot fit 3 states to 2 frames"),
        (
            lambda X: (np.where(np.arange(len(X))[:, None] == 5, np.nan, X), None),
            "no observed feature.*row 5.*drop invalid frames",
        ),
        (lambda X: (np.where(np.arange(len(X))[:, None] == 7, np.inf, X), None), "inf values.*row 7"),
        (lambda X: (np.c_[X, np.full(len(X), 2.0)], None), r"feature columns 3 \(d\) do not vary"),
        (lambda X: (X, [100, 100]), "lengths sum to 200 but X has 300 frames"),
        (lambda X: (X, [0, 300]), "lengths must all be positive"),
        (lambda X: (X[:, 0], None), "must be 2-D"),
    ],
)
def test_input_errors(make_input, message):
    X, _ = sample_known_hmm(300, seed=2)
    bad_X, lengths = make_input(X)
    names = ["a", "b", "c", "d"] if bad_X.ndim == 2 and bad_X.shape[1] == 4 else None
    with pytest.raises(DataError, match=message):
        FaceHMM(n_states=3, n_restarts=1, n_iter=5, feature_names=names).fit(bad_X, lengths)


def test_not_fitted_is_a_clear_error():
    with pytest.raises(FaceHMMError, match="not fitted"):
        FaceHMM().predict(np.zeros((3, 2)))


def test_fit_progress_yields_and_equals_a_plain_hmmlearn_fit(known):
    X, _ = known
    lengths = [700, 800]
    face_hmm = FaceHMM(n_states=3, n_restarts=1, n_iter=40, tol=1e-4, canonical_order="none")
    steps = list(face_hmm.fit_progress(X, lengths))
    assert all(isinstance(step, FitProgress) for step in steps)
    assert [step.iteration for step in steps] == list(range(1, len(steps) + 1))
    assert steps[-1].done == len(steps) and steps[0].total == 40
    done, total, message = steps[0][:3]
    assert "restart 1/1, iteration 1" in message
    # The same EM through hmmlearn's own fit(), from the same initial model.
    reference = face_hmm._initial_model(X, face_hmm.restarts_[0]["seed"])
    reference.fit(X, lengths)
    for name in ("startprob_", "transmat_", "means_", "covars_"):
        np.testing.assert_array_equal(getattr(face_hmm.model_, name), getattr(reference, name))
    assert list(face_hmm.monitor_.history) == list(reference.monitor_.history)
    assert [s.log_likelihood for s in steps] == list(reference.monitor_.history)
    assert face_hmm.monitor_.iter == reference.monitor_.iter == len(steps)


def test_cancel_keeps_the_best_fit_so_far(known):
    X, _ = known
    face_hmm = FaceHMM(n_states=3, n_restarts=3, n_iter=50, tol=-np.inf)
    generator = face_hmm.fit_progress(X)
    for step in generator:
        if step.restart == 1 and step.iteration == 3:
            break
    generator.close()
    assert face_hmm.cancelled_
    assert [r["completed"] for r in face_hmm.restarts_] == [True, False]
    assert face_hmm.log_likelihood_ == max(r["log_likelihood"] for r in face_hmm.restarts_)
    assert face_hmm.predict(X).shape == (len(X),)
    # napari's worker.quit() stops iterating without closing the generator;
    # the widget then calls finish_cancelled().
    abandoned = FaceHMM(n_states=3, n_restarts=2, n_iter=50, tol=-np.inf)
    generator = abandoned.fit_progress(X)
    for _ in zip(range(4), generator, strict=False):
        pass
    assert abandoned.model_ is None
    abandoned.finish_cancelled()
    assert abandoned.cancelled_ and abandoned.restarts_[0]["n_iter"] == 4
    assert abandoned.predict(X).shape == (len(X),)
    with pytest.raises(StopIteration):
        next(generator)  # resuming after finish_cancelled() ends the fit
    assert abandoned.restarts_[0]["completed"] is False and len(abandoned.restarts_) == 1
    # Cancelled before any iteration: nothing to keep.
    untouched = FaceHMM(n_states=3, n_restarts=1, n_iter=5)
    generator = untouched.fit_progress(X)
    generator.close()
    with pytest.raises(FaceHMMError, match="not fitted"):
        untouched.predict(X)


def test_sticky_prior_lengthens_dwell_times(known):
    X, _ = known
    X_noisy = X + np.random.default_rng(5).normal(scale=1.5, size=X.shape)
    plain = FaceHMM(n_states=3, n_restarts=1, n_iter=30).fit(X_noisy)
    sticky = FaceHMM(n_states=3, n_restarts=1, n_iter=30, sticky=0.2 * len(X) / 3).fit(X_noisy)
    assert np.diag(sticky.model_.transmat_).mean() > np.diag(plain.model_.transmat_).mean()
    switches = [np.count_nonzero(np.diff(m.predict(X_noisy))) for m in (plain, sticky)]
    assert switches[1] <= switches[0]


def test_split_heldout_tail_and_alternate():
    train, train_lengths, held_lengths, held = split_heldout(np.array([10, 20]), 0.2, "tail")
    assert train_lengths.tolist() == [8, 16] and held_lengths.tolist() == [2, 4]
    assert held[8:10].all() and held[26:].all() and train.sum() == 24
    train, train_lengths, held_lengths, _ = split_heldout(np.array([25]), 0.5, "alternate", segment_frames=5)
    assert train_lengths.tolist() == [5, 5, 5] and held_lengths.tolist() == [5, 5]


def test_select_n_states_bic_is_lowest_at_the_true_count():
    X, _ = sample_known_hmm(1200, seed=4, means=TRUE_MEANS[:, :2] * 1.5, noise=0.5)
    table = select_n_states(X, [600, 600], range(1, 6), n_restarts=2, n_iter=40, heldout_fraction=0.25)
    assert list(table["n_states"]) == [1, 2, 3, 4, 5]
    assert int(table["bic"].idxmin()) == 3
    assert table.loc[3, "heldout_log_likelihood_per_frame"] > table.loc[2, "heldout_log_likelihood_per_frame"]
    assert table.loc[3, "restart_ari_mean"] > 0.95
    assert (table["n_train_frames"] == 900).all() and (table["n_heldout_frames"] == 300).all()
    steps = []
    generator = select_n_states_progress(
        X, None, [2, 3], n_restarts=1, n_iter=10, heldout="alternate", segment_frames=100
    )
    while True:
        try:
            steps.append(next(generator))
        except StopIteration as stop:
            result = stop.value
            break
    assert len(result) == 2 and np.isnan(result["restart_ari_mean"]).all()
    assert steps[-1][:2] == (20, 20)


def test_state_names_follow_permutations_and_bad_order_is_rejected_early(known, tmp_path):
    X, _ = known
    face_hmm = FaceHMM(n_states=3, n_restarts=1, n_iter=20, state_names=["a", "b", "c"]).fit(X)
    assert face_hmm.state_names == ["a", "b", "c"]  # names given up front name canonical positions
    means = face_hmm.model_.means_.copy()
    face_hmm.permute_states([2, 0, 1])
    assert face_hmm.state_names == ["c", "a", "b"]
    np.testing.assert_array_equal(face_hmm.model_.means_, means[[2, 0, 1]])
    with pytest.raises(DataError, match="state_names has 2 names for 3 states"):
        face_hmm.state_names = ["x", "y"]
    with pytest.raises(DataError, match="canonical_order 'mouth'"):
        next(FaceHMM(n_states=3, canonical_order="mouth").fit_progress(X))


def test_get_params_rebuilds_a_model_with_the_same_settings():
    settings = dict(
        n_states=4, covariance_type="diag", n_restarts=2, n_iter=17, tol=1e-4, sticky=0.5, random_state=7,
        canonical_order="none", min_covar=2e-3, covars_prior=0.05, covars_weight=2.0,
        state_names=["a", "b", "c", "d"], feature_names=["f0", "f1"], metadata={"note": "x"},
    )
    params = FaceHMM(**settings).get_params()
    assert params == settings  # every constructor argument, as given
    assert FaceHMM(**params).get_params() == settings
