"""Known answers for hmm/missing_estep.py: the E-step with NaN against straightforward per-row formulas."""

import numpy as np
import pytest
from scipy.stats import multivariate_normal

from napari_facehmm.hmm import missing_estep
from napari_facehmm.hmm.fast import FastGaussianHMM
from napari_facehmm.hmm.missing import accumulate_missing_statistics, log_likelihood_missing, missing_patterns


def _model(covariance_type, n_states=3, n_features=6, seed=0):
    rng = np.random.default_rng(seed)
    model = FastGaussianHMM(n_components=n_states, covariance_type=covariance_type, init_params="")
    model.n_features = n_features
    model.startprob_ = np.full(n_states, 1.0 / n_states)
    model.transmat_ = np.full((n_states, n_states), 1.0 / n_states)
    model.means_ = rng.normal(scale=2.0, size=(n_states, n_features))
    a = rng.normal(size=(n_states, n_features, n_features))
    covars = a @ a.transpose(0, 2, 1) / n_features + 0.2 * np.eye(n_features)
    if covariance_type == "diag":
        covars = np.array([np.diag(c) for c in covars])
    model.covars_ = covars[0] if covariance_type == "tied" else covars
    return model


def _data(model, n_rows=400, seed=1):
    """Random rows with many missing-patterns, one pattern shared by 100 rows (the chunked dtrmm path)."""
    rng = np.random.default_rng(seed)
    X, _ = model.sample(n_rows, random_state=seed)
    X[rng.random(X.shape) < 0.25] = np.nan
    X[:100, 1] = np.nan
    X[:100, [0, 2, 3, 4, 5]] = rng.normal(size=(100, 5))
    X[150] = np.nan  # nothing observed
    X[151, 1:] = np.nan  # one feature observed
    return X


def _reference(model, X, posteriors):
    """Per row and state: scipy's marginal log-density, and textbook conditional moments for the statistics."""
    covars = model.covars_  # full matrices for every covariance type
    n_states, n_features = model.means_.shape
    log_lik = np.zeros((len(X), n_states))
    post = np.zeros(n_states)
    obs = np.zeros((n_states, n_features))
    second = np.zeros((n_states, n_features, n_features))
    for t, x in enumerate(X):
        o = np.flatnonzero(~np.isnan(x))
        m = np.flatnonzero(np.isnan(x))
        for k in range(n_states):
            mu, S = model.means_[k], covars[k]
            if len(o):
                log_lik[t, k] = multivariate_normal(mu[o], S[np.ix_(o, o)]).logpdf(x[o])
            solve = np.linalg.solve(S[np.ix_(o, o)], S[np.ix_(o, m)]) if len(o) else np.zeros((0, len(m)))
            filled = x.copy()
            filled[m] = mu[m] + solve.T @ (x[o] - mu[o])
            moment = np.outer(filled, filled)
            moment[np.ix_(m, m)] += S[np.ix_(m, m)] - S[np.ix_(m, o)] @ solve
            w = posteriors[t, k]
            post[k] += w
            obs[k] += w * filled
            second[k] += w * moment
    return log_lik, post, obs, second


@pytest.mark.parametrize("covariance_type", ["full", "diag", "tied"])
def test_likelihood_and_statistics_equal_per_row_formulas(covariance_type):
    model = _model(covariance_type)
    X = _data(model)
    assert len(missing_patterns(X)) > 50
    rng = np.random.default_rng(2)
    posteriors = rng.dirichlet(np.ones(model.n_components), size=len(X))
    want_ll, want_post, want_obs, want_second = _reference(model, X, posteriors)

    got_ll = log_likelihood_missing(model, X)
    np.testing.assert_allclose(got_ll, want_ll, rtol=1e-10, atol=1e-10)
    assert np.all(got_ll[150] == 0.0)

    stats = model._initialize_sufficient_statistics()
    accumulate_missing_statistics(model, stats, X, posteriors, model._accumulate_emission_statistics)
    np.testing.assert_allclose(stats["post"], want_post, rtol=1e-12)
    np.testing.assert_allclose(stats["obs"], want_obs, rtol=1e-10, atol=1e-10)
    if covariance_type == "diag":
        want = np.diagonal(want_second, axis1=1, axis2=2)
        np.testing.assert_allclose(stats["obs**2"], want, rtol=1e-10, atol=1e-10)
    else:
        np.testing.assert_allclose(stats["obs*obs.T"], want_second, rtol=1e-10, atol=1e-10)


def test_estep_shares_factors_and_equals_the_separate_hooks(monkeypatch):
    """_do_estep (one factorisation per pattern) = likelihood hook + statistics hook; also with factors recomputed."""
    model = _model("full", seed=3)
    X = _data(model, seed=4)
    calls = []
    original = missing_estep._pattern_factors

    def counting(precisions, missing):  # patterns factorised (one, or a stack of them)
        calls.extend([1] * (len(missing) if missing.ndim == 2 else 1))
        return original(precisions, missing)

    monkeypatch.setattr(missing_estep, "_pattern_factors", counting)
    stats, log_prob = model._do_estep(X, [150, 250])
    n_incomplete = sum(1 for _, observed in missing_patterns(X) if not observed.all())
    assert len(calls) == n_incomplete  # once per pattern, for likelihood and statistics together

    from napari_facehmm.hmm.recursions import forward_score

    log_lik = model._compute_log_likelihood(X)
    posteriors = np.concatenate(
        [forward_score(model.startprob_, model.transmat_, log_lik[a:b], compute_posteriors=True)[1] for a, b in [(0, 150), (150, 400)]]
    )
    separate = model._initialize_sufficient_statistics()
    model._accumulate_emission_statistics(separate, X, posteriors)
    assert log_prob == pytest.approx(model.score(X, [150, 250]), rel=1e-12)
    for name in ("post", "obs", "obs*obs.T"):
        np.testing.assert_allclose(stats[name], separate[name], rtol=1e-10)

    monkeypatch.setattr(missing_estep, "_KEPT_FACTOR_VALUES", 0)  # factors recomputed, same results
    calls.clear()
    recomputed, log_prob_again = model._do_estep(X, [150, 250])
    # likelihood (none for row 150: nothing observed), statistics' blocks, their C_mm sums
    assert len(calls) == 3 * n_incomplete - 1
    assert log_prob_again == log_prob
    for name in ("post", "obs", "obs*obs.T"):
        np.testing.assert_allclose(recomputed[name], stats[name], rtol=1e-13)
