"""Benchmark: EM iteration, decoding and scoring, stock hmmlearn GaussianHMM vs FastGaussianHMM.

Generates data from a random 9-state HMM with full covariances (T=108,000
frames, D=66 features: one hour of 30 fps video with the feature count of the
reference analysis; fixed seed), then runs stock
:class:`hmmlearn.hmm.GaussianHMM` and our
:class:`napari_facehmm.hmm.FastGaussianHMM` for the same few EM iterations from
the SAME initial parameters (``init_params=""`` with preset parameters), in one
process, on one thread (BLAS/OpenMP thread counts are set to 1 before numpy is
imported, and threadpoolctl enforces it).

Usage::

    python bench/hmm_em.py            # full size, 5 iterations (stock takes ~1 min)
    python bench/hmm_em.py --quick    # T=12,000, 3 iterations: smoke test
    python bench/hmm_em.py --frames 50000 --iterations 4

Then, with the parameters EM fitted, both classes (hmmlearn's default
``implementation="log"``) decode (``predict``: Viterbi), ``score`` and
``predict_proba`` the same X, each timed as the best of 2 calls.

The last lines printed are exactly::

    stock_s_per_iter <float>
    ours_s_per_iter <float>
    speedup <stock/ours>
    loglik_rel_diff <float>
    decode_speedup <stock/ours>  (states_equal <fraction of frames>)
    score_speedup <stock/ours>  (rel_diff <float>)
    predict_proba_speedup <stock/ours>  (max_abs_diff <float>)

``loglik_rel_diff`` is the largest relative difference between the two models'
per-iteration log-likelihoods (``monitor_.history``). Printed above those
lines: the largest relative difference of the fitted parameters, and
``xi_consistency`` of each implementation, the relative mismatch of an exact
identity (expected transitions out of a state = its posterior occupancy
before the last frame). At T=108,000 stock's log-domain transition counts
miss it by ~1e-7 (ours ~1e-14), which is why fitted transition matrices can
differ from stock by ~1e-7 while log-likelihoods agree to ~1e-10.
"""

from __future__ import annotations

import os

for _variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_variable] = "1"

import argparse  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402


def make_data(n_frames: int, n_features: int, n_states: int, seed: int):
    """Sample (X, states, true_model_params) from a random sticky HMM."""
    rng = np.random.default_rng(seed)
    means = rng.normal(scale=2.0, size=(n_states, n_features))
    factors = rng.normal(scale=0.3, size=(n_states, n_features, n_features))
    covars = factors @ factors.transpose(0, 2, 1) + 0.5 * np.eye(n_features)
    transmat = rng.dirichlet(np.ones(n_states), size=n_states) * 0.05
    transmat[np.diag_indices(n_states)] += 0.95
    transmat /= transmat.sum(axis=1, keepdims=True)
    states = np.empty(n_frames, dtype=int)
    states[0] = rng.integers(n_states)
    uniforms = rng.random(n_frames)
    cumulative = np.cumsum(transmat, axis=1)
    for t in range(1, n_frames):
        states[t] = min(np.searchsorted(cumulative[states[t - 1]], uniforms[t]), n_states - 1)
    choleskys = np.linalg.cholesky(covars)
    noise = rng.standard_normal((n_frames, n_features))
    X = means[states] + np.einsum("tij,tj->ti", choleskys[states], noise)
    return X, states


def initial_parameters(X: np.ndarray, n_states: int, seed: int) -> dict:
    """Deliberately imperfect start: means of random frames, pooled covariance."""
    rng = np.random.default_rng(seed + 1)
    n_features = X.shape[1]
    return {
        "startprob_": np.full(n_states, 1.0 / n_states),
        "transmat_": np.full((n_states, n_states), 0.1 / (n_states - 1))
        + np.eye(n_states) * (0.9 - 0.1 / (n_states - 1)),
        "means_": X[rng.choice(len(X), n_states, replace=False)],
        "covars_": np.tile(np.cov(X.T) + 1e-3 * np.eye(n_features), (n_states, 1, 1)),
    }


def run(model_class, X, params, n_iterations):
    model = model_class(
        n_components=len(params["startprob_"]),
        covariance_type="full",
        n_iter=n_iterations,
        tol=-np.inf,  # never stop early: both run exactly n_iterations
        init_params="",
        params="stmc",
    )
    for name, value in params.items():
        setattr(model, name, value.copy())
    start = time.perf_counter()
    model.fit(X)
    elapsed = time.perf_counter() - start
    return model, elapsed / model.monitor_.iter


def transition_count_consistency(model_class, X, params) -> float:
    """How well expected transition counts agree with the posteriors (exactly equal in theory).

    ``sum_j xi_sum[i, j]`` must equal ``sum_{t < T-1} gamma[t, i]``; the
    relative mismatch measures the round-off of the forward-backward pass.
    """
    from hmmlearn import _hmmc

    model = model_class(n_components=len(params["startprob_"]), covariance_type="full")
    for name, value in params.items():
        setattr(model, name, value.copy())
    model._check()
    if hasattr(model, "_forward_backward"):
        _, posteriors, xi_sum = model._forward_backward(model._compute_log_likelihood(X))
    else:
        log_frameprob, _, posteriors, fwdlattice, bwdlattice = model._fit_log(X)
        xi_sum = np.exp(_hmmc.compute_log_xi_sum(fwdlattice, model.transmat_, bwdlattice, log_frameprob))
    expected = posteriors[:-1].sum(axis=0)
    return float(np.max(np.abs(xi_sum.sum(axis=1) - expected)) / np.max(expected))


def best_time(function, repeats: int = 2):
    """(result, seconds): the best of ``repeats`` calls."""
    best = np.inf
    for _ in range(repeats):
        start = time.perf_counter()
        result = function()
        best = min(best, time.perf_counter() - start)
    return result, best


def applying_speedups(fitted, X) -> dict:
    """Stock vs ours on predict / score / predict_proba with the same (fitted) parameters."""
    from hmmlearn.hmm import GaussianHMM

    from napari_facehmm.hmm import FastGaussianHMM

    models = []
    for model_class in (GaussianHMM, FastGaussianHMM):
        model = model_class(n_components=fitted.n_components, covariance_type="full")
        for name in ("startprob_", "transmat_", "means_", "_covars_"):
            setattr(model, name, getattr(fitted, name).copy())
        model.n_features = X.shape[1]
        models.append(model)
    stock, ours = models
    results = {}
    for name in ("predict", "score", "predict_proba"):
        stock_value, stock_s = best_time(lambda: getattr(stock, name)(X))
        ours_value, ours_s = best_time(lambda: getattr(ours, name)(X))
        results[name] = (stock_s / ours_s, stock_value, ours_value)
        print(f"{name}: stock {stock_s:.3f} s, ours {ours_s:.3f} s", flush=True)
    return results


def relative_difference(a, b) -> float:
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(a)), np.finfo(float).tiny))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="T=12,000 and 3 iterations")
    parser.add_argument("--frames", type=int, default=None)
    parser.add_argument("--features", type=int, default=66)
    parser.add_argument("--states", type=int, default=9)
    parser.add_argument("--iterations", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    n_frames = args.frames or (12_000 if args.quick else 108_000)
    n_iterations = args.iterations or (3 if args.quick else 5)

    from hmmlearn.hmm import GaussianHMM

    from napari_facehmm.hmm import FastGaussianHMM

    with threadpool_limits(limits=1):
        X, _ = make_data(n_frames, args.features, args.states, args.seed)
        params = initial_parameters(X, args.states, args.seed)
        print(
            f"T={n_frames} D={args.features} K={args.states} full covariance, "
            f"{n_iterations} EM iterations, 1 thread",
            flush=True,
        )
        stock, stock_s = run(GaussianHMM, X, params, n_iterations)
        print(f"stock done: {stock_s:.3f} s/iter", flush=True)
        ours, ours_s = run(FastGaussianHMM, X, params, n_iterations)
        print(f"ours done: {ours_s:.3f} s/iter", flush=True)

    parameter_diff = max(
        relative_difference(getattr(stock, name), getattr(ours, name))
        for name in ("startprob_", "transmat_", "means_", "covars_")
    )
    loglik_diff = relative_difference(list(stock.monitor_.history), list(ours.monitor_.history))
    with threadpool_limits(limits=1):
        stock_consistency = transition_count_consistency(GaussianHMM, X, params)
        ours_consistency = transition_count_consistency(FastGaussianHMM, X, params)
    # Parameters can differ from stock by more than the log-likelihood does:
    # stock's log-domain transition counts carry round-off growing with T
    # (shown by this exact identity), ours come from scaled recursions.
    print(f"xi_consistency stock {stock_consistency:.3e} ours {ours_consistency:.3e}")
    print(f"parameter_rel_diff {parameter_diff:.3e}")
    print(f"stock_s_per_iter {stock_s:.4f}")
    print(f"ours_s_per_iter {ours_s:.4f}")
    print(f"speedup {stock_s / ours_s:.2f}")
    print(f"loglik_rel_diff {loglik_diff:.3e}")
    with threadpool_limits(limits=1):
        applying = applying_speedups(ours, X)
    ratio, stock_states, ours_states = applying["predict"]
    print(f"decode_speedup {ratio:.2f}  (states_equal {np.mean(stock_states == ours_states):.6f})")
    ratio, stock_score, ours_score = applying["score"]
    print(f"score_speedup {ratio:.2f}  (rel_diff {abs(ours_score - stock_score) / abs(stock_score):.3e})")
    ratio, stock_post, ours_post = applying["predict_proba"]
    print(f"predict_proba_speedup {ratio:.2f}  (max_abs_diff {np.max(np.abs(ours_post - stock_post)):.3e})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
