"""FastGaussianHMM fits exactly what hmmlearn's GaussianHMM fits.

Both classes start from the same parameters (``init_params=""``) and run the
same number of EM iterations (``tol=-inf``, so neither stops early); every
fitted parameter and the log-likelihood history must agree to 1e-8 relative.
"""

from __future__ import annotations

import numpy as np
import pytest
from hmmlearn.hmm import GaussianHMM
from hmmlearn.stats import log_multivariate_normal_density

from napari_facehmm.hmm import FastGaussianHMM
from napari_facehmm.hmm.fast import log_gaussian_density_full, weighted_outer_sums

RELATIVE_TOLERANCE = 1e-8


# tiny problems: BLAS and OpenMP on one thread (see conftest.one_thread)
pytestmark = pytest.mark.usefixtures("one_thread")


def sample_hmm(n_frames, n_features=5, n_states=3, seed=0, offset=0.0):
    """Frames from a random sticky Gaussian HMM with full covariances."""
    rng = np.random.default_rng(seed)
    means = rng.normal(scale=3.0, size=(n_states, n_features)) + offset
    factors = rng.normal(scale=0.5, size=(n_states, n_features, n_features))
    covars = factors @ factors.transpose(0, 2, 1) + 0.3 * np.eye(n_features)
    transmat = np.full((n_states, n_states), 0.05 / (n_states - 1))
    np.fill_diagonal(transmat, 0.95)
    states = np.zeros(n_frames, dtype=int)
    for t in range(1, n_frames):
        states[t] = rng.choice(n_states, p=transmat[states[t - 1]])
    noise = rng.standard_normal((n_frames, n_features))
    X = means[states] + np.einsum("tij,tj->ti", np.linalg.cholesky(covars)[states], noise)
    return X, states


def start_parameters(X, n_states, covariance_type, seed=1):
    rng = np.random.default_rng(seed)
    n_features = X.shape[1]
    pooled = np.cov(X.T) + 1e-3 * np.eye(n_features)
    covars = {
        "full": np.tile(pooled, (n_states, 1, 1)),
        "tied": pooled,
        "diag": np.tile(np.diag(pooled), (n_states, 1)),
        "spherical": np.full(n_states, np.diag(pooled).mean()),
    }[covariance_type]
    transmat = rng.dirichlet(np.ones(n_states), size=n_states)
    return {
        "startprob_": rng.dirichlet(np.ones(n_states)),
        "transmat_": transmat,
        "means_": X[rng.choice(len(X), n_states, replace=False)],
        "covars_": covars,
    }


def fit_from(model_class, X, lengths, start, n_iter, **options):
    model = model_class(
        n_components=len(start["startprob_"]),
        n_iter=n_iter,
        tol=-np.inf,
        init_params="",
        **options,
    )
    for name, value in start.items():
        setattr(model, name, np.array(value, copy=True))
    return model.fit(X, lengths)


def assert_same_fit(stock, ours, X, lengths):
    for name in ("startprob_", "transmat_", "means_", "covars_"):
        expected, actual = getattr(stock, name), getattr(ours, name)
        scale = np.max(np.abs(expected))
        np.testing.assert_allclose(actual, expected, rtol=0, atol=RELATIVE_TOLERANCE * scale, err_msg=name)
    np.testing.assert_allclose(
        list(ours.monitor_.history), list(stock.monitor_.history), rtol=RELATIVE_TOLERANCE
    )
    assert ours.score(X, lengths) == pytest.approx(stock.score(X, lengths), rel=RELATIVE_TOLERANCE)
    assert ours.monitor_.iter == stock.monitor_.iter


@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag", "spherical"])
def test_fast_equals_stock_single_sequence(covariance_type):
    X, _ = sample_hmm(600, n_features=5, n_states=3, seed=0)
    params = start_parameters(X, 3, covariance_type)
    options = dict(covariance_type=covariance_type)
    stock = fit_from(GaussianHMM, X, None, params, 8, **options)
    ours = fit_from(FastGaussianHMM, X, None, params, 8, **options)
    assert_same_fit(stock, ours, X, None)


def test_fast_equals_stock_with_lengths_priors_and_offset():
    # Several sequences (one of length 1: no transitions), a strong covariance
    # prior, a sticky transition prior, means prior, and a large offset of
    # the data (cancellation in X @ W - mu @ W would show here).
    X, _ = sample_hmm(700, n_features=6, n_states=4, seed=3, offset=1000.0)
    lengths = [300, 1, 250, 149]
    params = start_parameters(X, 4, "full", seed=5)
    options = dict(
        covariance_type="full",
        covars_prior=0.5,
        covars_weight=3.0,
        means_prior=np.full((4, 6), 1000.0),
        means_weight=2.0,
        transmat_prior=1.0 + 20.0 * np.eye(4),
        startprob_prior=2.0,
    )
    stock = fit_from(GaussianHMM, X, lengths, params, 6, **options)
    ours = fit_from(FastGaussianHMM, X, lengths, params, 6, **options)
    assert_same_fit(stock, ours, X, lengths)
    np.testing.assert_array_equal(ours.predict(X, lengths), stock.predict(X, lengths))
    np.testing.assert_allclose(ours.predict_proba(X, lengths), stock.predict_proba(X, lengths), atol=1e-9)


def test_fast_equals_stock_with_scaling_implementation():
    X, _ = sample_hmm(500, n_features=4, n_states=3, seed=9)
    params = start_parameters(X, 3, "full", seed=2)
    options = dict(covariance_type="full", implementation="scaling")
    stock = fit_from(GaussianHMM, X, [250, 250], params, 6, **options)
    ours = fit_from(FastGaussianHMM, X, [250, 250], params, 6, **options)
    assert_same_fit(stock, ours, X, [250, 250])


def test_emission_log_likelihood_and_outer_sums_match_hmmlearn():
    rng = np.random.default_rng(7)
    X = rng.normal(size=(500, 8)) * 5 + 40
    means = rng.normal(size=(3, 8)) + 40
    factors = rng.normal(size=(3, 8, 8))
    covars = factors @ factors.transpose(0, 2, 1) + np.eye(8)
    expected = log_multivariate_normal_density(X, means, covars, "full")
    np.testing.assert_allclose(log_gaussian_density_full(X, means, covars), expected, rtol=1e-11)
    weights = rng.dirichlet(np.ones(3), size=500)
    np.testing.assert_allclose(
        weighted_outer_sums(X, weights), np.einsum("ij,ik,il->jkl", weights, X, X), rtol=1e-12
    )
    # Sharp posteriors (as after a few EM iterations): each state's sum runs
    # over its own frames only; the left-out ones weigh 1e-30 each.
    sharp = np.full((500, 3), 1e-30)
    sharp[np.arange(500), rng.integers(0, 3, 500)] = 1.0
    sharp[:7, 2] = 1e-9  # small but above the threshold: leaving them out would show at 1e-13
    sharp /= sharp.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(
        weighted_outer_sums(X, sharp), np.einsum("ij,ik,il->jkl", sharp, X, X), rtol=1e-13
    )


def test_singular_covariance_uses_hmmlearn_jitter_and_error():
    X = np.random.default_rng(0).normal(size=(50, 3))
    singular = np.zeros((1, 3, 3))
    singular[0, 0, 0] = 1.0
    # Cholesky fails, the 1e-7 jitter makes it succeed: same values as stock.
    np.testing.assert_allclose(
        log_gaussian_density_full(X, np.zeros((1, 3)), singular),
        log_multivariate_normal_density(X, np.zeros((1, 3)), singular, "full"),
        rtol=1e-10,
    )
    negative = -np.eye(3)[None]
    with pytest.raises(ValueError, match="positive-definite"):
        log_gaussian_density_full(X, np.zeros((1, 3)), negative)


def test_forward_backward_falls_back_to_log_domain_on_underflow():
    # State 1 is unreachable (zero start and transition probabilities) and
    # explains the outlying frames best by far: in the scaled recursion the
    # reachable state's probability underflows to exactly zero there.
    X = np.r_[np.zeros((20, 1)), np.full((5, 1), 60.0), np.zeros((20, 1))]
    params = {
        "startprob_": np.array([1.0, 0.0]),
        "transmat_": np.array([[1.0, 0.0], [0.0, 1.0]]),
        "means_": np.array([[0.0], [60.0]]),
        "covars_": np.array([[[0.01]], [[0.01]]]),
    }
    stock = fit_from(GaussianHMM, X, None, params, 2, covariance_type="full", params="st")
    ours = fit_from(FastGaussianHMM, X, None, params, 2, covariance_type="full", params="st")
    np.testing.assert_allclose(list(ours.monitor_.history), list(stock.monitor_.history), rtol=1e-10)
    np.testing.assert_allclose(ours.transmat_, stock.transmat_)


@pytest.mark.parametrize("implementation", ["log", "scaling"])
@pytest.mark.parametrize("covariance_type", ["full", "diag"])
def test_decode_score_and_posteriors_equal_stock(covariance_type, implementation):
    # Parameters fitted by stock EM, then copied into both classes: the
    # applying methods must give stock's answers whatever ``implementation``.
    X, _ = sample_hmm(900, n_features=5, n_states=3, seed=11, offset=50.0)
    lengths = [400, 1, 499]
    params = start_parameters(X, 3, covariance_type, seed=4)
    fitted = fit_from(GaussianHMM, X, lengths, params, 5, covariance_type=covariance_type)
    models = {}
    for cls in (GaussianHMM, FastGaussianHMM):
        model = cls(n_components=3, covariance_type=covariance_type, implementation=implementation)
        for name in ("startprob_", "transmat_", "means_", "_covars_"):
            setattr(model, name, getattr(fitted, name).copy())
        model.n_features = X.shape[1]
        models[cls] = model
    stock, ours = models[GaussianHMM], models[FastGaussianHMM]
    np.testing.assert_array_equal(ours.predict(X, lengths), stock.predict(X, lengths))
    assert ours.score(X, lengths) == pytest.approx(stock.score(X, lengths), rel=1e-8)
    ours_ll, ours_post = ours.score_samples(X, lengths)
    stock_ll, stock_post = stock.score_samples(X, lengths)
    assert ours_ll == pytest.approx(stock_ll, rel=1e-8)
    np.testing.assert_allclose(ours_post, stock_post, rtol=0, atol=1e-8)
    np.testing.assert_allclose(ours.predict_proba(X, lengths), stock.predict_proba(X, lengths), rtol=0, atol=1e-8)
    # The posteriors are not trivially uniform: the states are told apart.
    assert np.mean(ours_post.max(axis=1) > 0.9) > 0.5


def test_score_falls_back_to_log_domain_where_the_scaled_pass_underflows():
    # As in the fit test above: an unreachable state explains the outliers.
    X = np.r_[np.zeros((20, 1)), np.full((5, 1), 60.0), np.zeros((20, 1))]
    models = []
    for cls in (GaussianHMM, FastGaussianHMM):
        model = cls(n_components=2, covariance_type="full")
        model.startprob_ = np.array([1.0, 0.0])
        model.transmat_ = np.eye(2)
        model.means_ = np.array([[0.0], [60.0]])
        model.covars_ = np.array([[[0.01]], [[0.01]]])
        models.append(model)
    stock, ours = models
    assert np.isfinite(ours.score(X))
    assert ours.score(X) == pytest.approx(stock.score(X), rel=1e-10)
    np.testing.assert_allclose(ours.predict_proba(X), stock.predict_proba(X), atol=1e-10)


def test_estep_statistics_of_parts_add_up_to_the_whole():
    from napari_facehmm.hmm.fast import estep_statistics

    X, _ = sample_hmm(800, n_features=4, n_states=3, seed=21)
    lengths = [300, 200, 300]
    model = FastGaussianHMM(n_components=3, covariance_type="full")
    for name, value in start_parameters(X, 3, "full", seed=6).items():
        setattr(model, name, value)
    whole, whole_ll = estep_statistics(model, X, lengths)
    first, first_ll = estep_statistics(model, X[:500], [300, 200])
    second, second_ll = estep_statistics(model, X[500:], [300])
    assert whole_ll == pytest.approx(first_ll + second_ll, rel=1e-12)
    assert {"nobs", "start", "trans", "post", "obs", "obs*obs.T"} <= set(whole)
    for key in whole:
        np.testing.assert_allclose(whole[key], first[key] + second[key], rtol=1e-12, atol=1e-12, err_msg=key)
    # And they are stock hmmlearn's statistics of the whole.
    stock = GaussianHMM(n_components=3, covariance_type="full", implementation="scaling")
    for name in ("startprob_", "transmat_", "means_", "covars_"):
        setattr(stock, name, getattr(model, name))
    stock._check()
    stock_stats, stock_ll = stock._do_estep(X, lengths)
    assert whole_ll == pytest.approx(stock_ll, rel=1e-10)
    for key in whole:
        np.testing.assert_allclose(whole[key], stock_stats[key], rtol=1e-9, atol=1e-9, err_msg=key)
