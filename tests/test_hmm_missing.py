"""Known-answer tests of hmm/missing.py: the Gaussian marginal over observed features and EM with missing values."""

import numpy as np
import pytest
from scipy.stats import multivariate_normal
from sklearn.metrics import adjusted_rand_score

from napari_facehmm.hmm import FaceHMM
from napari_facehmm.hmm.fast import FastGaussianHMM
from napari_facehmm.hmm.missing import accumulate_missing_statistics, impute_column_means, log_likelihood_missing, missing_patterns


def _random_model(n_states=3, n_features=5, covariance_type="full", seed=0):
    rng = np.random.default_rng(seed)
    model = FastGaussianHMM(n_components=n_states, covariance_type=covariance_type, init_params="")
    model.n_features = n_features
    model.startprob_ = np.full(n_states, 1.0 / n_states)
    transmat = np.full((n_states, n_states), 0.05 / (n_states - 1))
    np.fill_diagonal(transmat, 0.95)
    model.transmat_ = transmat
    model.means_ = rng.normal(scale=3.0, size=(n_states, n_features))
    covars = []
    for _ in range(n_states):
        a = rng.normal(size=(n_features, n_features))
        covars.append(a @ a.T / n_features + 0.3 * np.eye(n_features))
    covars = np.array(covars)
    if covariance_type == "diag":
        covars = np.array([np.diag(c) for c in covars])
    model.covars_ = covars
    return model


def _drop_at_random(X, rate, seed):
    rng = np.random.default_rng(seed)
    X = X.copy()
    X[rng.random(X.shape) < rate] = np.nan
    return X


def test_missing_patterns_group_rows():
    X = np.array([[1, np.nan, 3], [1, 2, 3], [np.nan, np.nan, 1], [4, np.nan, 5.0]])
    groups = {tuple(obs): rows.tolist() for rows, obs in missing_patterns(X)}
    assert groups == {(True, False, True): [0, 3], (True, True, True): [1], (False, False, True): [2]}


@pytest.mark.parametrize("covariance_type", ["full", "diag"])
def test_marginal_density_equals_scipy_on_observed_subvector(covariance_type):
    model = _random_model(covariance_type=covariance_type)
    X, _ = model.sample(200, random_state=1)
    X = _drop_at_random(X, 0.3, seed=2)
    X[5] = np.nan  # nothing observed: no evidence
    got = log_likelihood_missing(model, X)
    covars = model.covars_  # full matrices for every covariance type
    for t in range(len(X)):
        observed = ~np.isnan(X[t])
        for k in range(model.n_components):
            if not observed.any():
                assert got[t, k] == 0.0
                continue
            want = multivariate_normal(
                model.means_[k, observed], covars[k][np.ix_(observed, observed)]
            ).logpdf(X[t, observed])
            assert got[t, k] == pytest.approx(want, rel=1e-9, abs=1e-9)
    # and the model's own hook uses it
    np.testing.assert_allclose(model._compute_log_likelihood(X), got, rtol=1e-12)


def test_no_nan_gives_results_identical_to_the_complete_path():
    model = _random_model()
    X, _ = model.sample(500, random_state=3)
    np.testing.assert_array_equal(log_likelihood_missing(model, X), model._compute_log_likelihood(X))
    posteriors = model.predict_proba(X)
    via_missing = model._initialize_sufficient_statistics()
    accumulate_missing_statistics(model, via_missing, X, posteriors, model._accumulate_emission_statistics)
    plain = model._initialize_sufficient_statistics()
    model._accumulate_emission_statistics(plain, X, posteriors)
    for name in ("post", "obs", "obs*obs.T"):
        np.testing.assert_array_equal(via_missing[name], plain[name])
    # and with one NaN, every complete row still takes the ordinary path
    X[0, 0] = np.nan
    assert np.array_equal(model._compute_log_likelihood(X)[1:], plain_ll := model._compute_log_likelihood(X[1:]))
    assert plain_ll.shape == (499, 3)


def test_expected_statistics_of_one_row_are_conditional_moments():
    """One row, one state: E[x] and E[x x^T] given the observed part, by the textbook formulas."""
    model = _random_model(n_states=2, n_features=4)
    x = np.array([0.5, np.nan, -1.0, np.nan])
    stats = model._initialize_sufficient_statistics()
    posteriors = np.array([[1.0, 0.0]])
    model._accumulate_emission_statistics(stats, x[None, :], posteriors)
    mu, S = model.means_[0], model.covars_[0]
    o, m = np.array([0, 2]), np.array([1, 3])
    cond_mean = mu[m] + S[np.ix_(m, o)] @ np.linalg.solve(S[np.ix_(o, o)], x[o] - mu[o])
    cond_cov = S[np.ix_(m, m)] - S[np.ix_(m, o)] @ np.linalg.solve(S[np.ix_(o, o)], S[np.ix_(o, m)])
    expected = x.copy()
    expected[m] = cond_mean
    second = np.outer(expected, expected)
    second[np.ix_(m, m)] += cond_cov
    np.testing.assert_allclose(stats["obs"][0], expected, rtol=1e-10)
    np.testing.assert_allclose(stats["obs*obs.T"][0], second, rtol=1e-10)
    assert stats["post"].tolist() == [1.0, 0.0]
    assert not stats["obs*obs.T"][1].any()


def test_em_with_values_removed_at_random_recovers_the_known_hmm():
    truth = _random_model(n_states=3, n_features=5, seed=4)
    X, states = truth.sample(3000, random_state=5)
    X = _drop_at_random(X, 0.2, seed=6)
    assert np.isnan(X).any(axis=1).mean() > 0.5  # most frames are incomplete
    hmm = FaceHMM(n_states=3, n_restarts=2, random_state=0).fit(X)
    predicted = hmm.predict(X)
    assert adjusted_rand_score(states, predicted) > 0.97
    # match fitted states to true ones by their means, then compare parameters
    fitted = hmm.model_
    order = [int(np.argmin(((fitted.means_ - mu) ** 2).sum(axis=1))) for mu in truth.means_]
    assert sorted(order) == [0, 1, 2]
    np.testing.assert_allclose(fitted.means_[order], truth.means_, atol=0.15)
    np.testing.assert_allclose(fitted.covars_[order], truth.covars_, atol=0.25)
    # complete-case-free imputation would shrink variances; EM with missing values does not
    naive = np.cov(impute_column_means(X)[states == 0].T)
    true_var = np.diag(truth.covars_[0])
    assert np.abs(np.diag(fitted.covars_[order[0]]) - true_var).max() < np.abs(np.diag(naive) - true_var).max()


def test_posteriors_are_less_sure_with_fewer_observed_features():
    truth = _random_model(n_states=3, n_features=6, seed=7)
    X, _ = truth.sample(2000, random_state=8)
    few = X.copy()
    few[:, 1:] = np.nan  # one feature of six
    sure_all = truth.predict_proba(X).max(axis=1).mean()
    sure_few = truth.predict_proba(few).max(axis=1).mean()
    assert sure_few < sure_all
    assert np.isfinite(truth.score(few))
    assert len(truth.predict(few)) == len(few)
