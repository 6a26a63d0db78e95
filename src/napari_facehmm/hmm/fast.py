"""A faster drop-in replacement for :class:`hmmlearn.hmm.GaussianHMM`.

Same model, same EM updates, same results (to round-off); only the three
expensive steps of an EM iteration are computed differently:

* **M-step statistics** (full/tied covariance). hmmlearn sums the weighted
  outer products with ``np.einsum('ij,ik,il->jkl', posteriors, X, X)``, which
  numpy cannot hand to BLAS; at T=108,000, D=66, K=9 this single line takes
  about three quarters of an iteration. We compute the same sums
  ``X.T @ (X * posteriors[:, k])`` per state as BLAS products over row
  chunks, leaving out frames of negligible weight (together at most 1e-14 of
  the state's total: round-off level), which makes them about K times
  cheaper once posteriors are sharp.
* **Emission log-likelihoods** (full/tied covariance). hmmlearn solves a
  triangular system per state on ``(X - mu).T`` for the whole array at once
  (a threaded BLAS call with a large temporary). We invert each Cholesky
  factor once (LAPACK ``dtrtri``, D x D) and multiply row chunks of
  ``X - mu`` that fit in cache by it with BLAS ``dtrmm`` (a triangular
  product: half the arithmetic of a general one).
* **Forward-backward** (:mod:`.recursions`): hmmlearn's scaled C++ recursions
  on per-frame shifted likelihoods instead of the log-domain ones, in
  ``fit``, ``score``, ``score_samples`` and ``predict_proba`` alike, whatever
  ``implementation`` says. Viterbi (``predict``, ``decode``) stays in the log
  domain (it needs no ``exp``) but uses the fast emission densities.
* **Missing values** (NaN, :mod:`.missing_estep`): each missing-pattern is
  factorised once per E-step for all states and serves both the likelihood
  and the statistics; incomplete rows are whitened with the same ``L^-1``
  as complete rows, in shared cache-sized blocks (``bench/hmm_missing.py``).
* **Once per E-step**: emission log-likelihoods and statistics are computed
  on the concatenated X (the recursions run per sequence), and hmmlearn's
  per-call validation is not repeated inside the EM loop.
  :func:`estep_statistics` is that E-step as a function, for distributed EM.

``covars_prior``, ``covars_weight``, ``means_prior``, ``means_weight``,
``min_covar`` and the Dirichlet priors act exactly as in hmmlearn, because the
M-step itself (:meth:`_do_mstep`) is hmmlearn's, unchanged.
"""

from __future__ import annotations

import numpy as np
from hmmlearn.hmm import GaussianHMM
from hmmlearn.utils import fill_covars
from sklearn.utils import check_array
from sklearn.utils.validation import check_is_fitted
from scipy import linalg
from scipy.linalg import blas, lapack

from . import missing
from .missing_estep import MissingEStep
from .recursions import forward_backward, forward_score, sequence_bounds

__all__ = ["FastGaussianHMM", "estep_statistics"]

# Number of matrix elements a row chunk may produce in one product
# (chunk_rows * n_states * n_features): about 1 MB of float64 at K=9, D=66,
# so the chunk stays in cache between the product and the reductions after
# it (measured at T=108,000: 2,048 rows beat 3,400 and 512).
_CHUNK_ELEMENTS = 1_200_000

# Frames that together weigh at most this fraction of a state's posterior
# total are left out of its covariance statistics (see weighted_outer_sums).
_NEGLIGIBLE_WEIGHT = 1e-14

# hmmlearn's own fallback for a covariance whose Cholesky factorisation fails
# (see hmmlearn.stats._log_multivariate_normal_density_full): note that it is
# a fixed 1e-7, not the model's ``min_covar``.
_CHOLESKY_JITTER = 1.0e-7


def _chunk_rows(n_states: int, n_features: int) -> int:
    return max(256, _CHUNK_ELEMENTS // max(1, n_states * n_features))


def _cholesky_like_hmmlearn(covariance: np.ndarray) -> np.ndarray:
    """Lower Cholesky factor, with hmmlearn's jitter retry and error message."""
    try:
        return linalg.cholesky(covariance, lower=True)
    except linalg.LinAlgError:
        try:
            return linalg.cholesky(covariance + _CHOLESKY_JITTER * np.eye(len(covariance)), lower=True)
        except linalg.LinAlgError:
            raise ValueError("'covars' must be symmetric, positive-definite") from None


def inverse_choleskys(covars: np.ndarray) -> tuple[list[np.ndarray], np.ndarray]:
    """Inverse lower Cholesky factors and log-determinants of a stack of covariances.

    Parameters
    ----------
    covars : ndarray, shape (n_states, n_features, n_features)

    Returns
    -------
    inverses : list of ndarray, shape (n_features, n_features)
        ``L_k^-1`` (lower triangular, Fortran-ordered for BLAS ``dtrmm``), with
        ``covars[k] = L_k L_k^T`` (hmmlearn's jitter retry if needed).
    log_dets : ndarray, shape (n_states,)
        ``log det covars[k]``.
    """
    inverses = []
    log_dets = np.empty(len(covars))
    for state, covariance in enumerate(covars):
        cholesky = _cholesky_like_hmmlearn(covariance)
        # LAPACK's triangular inverse: scipy's solve_triangular goes through a
        # threaded BLAS trsm whose start-up costs milliseconds on a busy machine.
        inverse, info = lapack.dtrtri(cholesky, lower=1)
        if info != 0:
            raise ValueError("'covars' must be symmetric, positive-definite")
        inverses.append(np.asfortranarray(np.tril(inverse)))
        log_dets[state] = 2.0 * np.sum(np.log(np.diagonal(cholesky)))
    return inverses, log_dets


def log_gaussian_density_full(X: np.ndarray, means: np.ndarray, covars: np.ndarray) -> np.ndarray:
    """Gaussian log-densities of every row of X under every state.

    Parameters
    ----------
    X : ndarray, shape (n_samples, n_features)
    means : ndarray, shape (n_states, n_features)
    covars : ndarray, shape (n_states, n_features, n_features)

    Returns
    -------
    ndarray, shape (n_samples, n_states)
        ``log N(X[t] | means[k], covars[k])``, equal to
        ``hmmlearn.stats.log_multivariate_normal_density(X, means, covars, "full")``.
    """
    return log_gaussian_density_factored(X, means, *inverse_choleskys(covars))


def log_gaussian_density_factored(
    X: np.ndarray, means: np.ndarray, inverses: list[np.ndarray], log_dets: np.ndarray
) -> np.ndarray:
    """:func:`log_gaussian_density_full` with the factors of :func:`inverse_choleskys` given."""
    X = np.asarray(X, dtype=float)
    n_samples, n_features = X.shape
    n_states = len(means)
    constant = n_features * np.log(2 * np.pi) + log_dets
    mahalanobis = np.empty((n_samples, n_states))
    step = _chunk_rows(n_states, n_features)
    for start in range(0, n_samples, step):
        stop = min(start + step, n_samples)
        rows = X[start:stop]
        for state in range(n_states):
            # (rows - mu).T is Fortran-ordered (D, n): dtrmm overwrites it
            # with L^-1 (x - mu) per column, no further copy.
            whitened = blas.dtrmm(
                1.0, inverses[state], (rows - means[state]).T, side=0, lower=1, overwrite_b=1
            )
            mahalanobis[start:stop, state] = np.einsum("ij,ij->j", whitened, whitened)
    mahalanobis += constant
    mahalanobis *= -0.5
    return mahalanobis


def weighted_outer_sums(X: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """``sum_t weights[t, k] * outer(X[t], X[t])`` for every k.

    Per state, a BLAS product ``X.T @ (X * w_k)`` over row chunks. Frames
    whose weight is below ``_NEGLIGIBLE_WEIGHT * sum_t w[t, k] / n_samples``
    are left out of that state's sum: together they weigh at most
    ``_NEGLIGIBLE_WEIGHT`` (1e-14) of the state's total, the order of the sums'
    own round-off. Posteriors of a fitted model are mostly that sharp, so
    each state's product then runs over its own frames only (about 1/K of the
    data); when more than half of the frames count, all are used.

    Parameters
    ----------
    X : ndarray, shape (n_samples, n_features)
    weights : ndarray, shape (n_samples, n_states)

    Returns
    -------
    ndarray, shape (n_states, n_features, n_features)
        Equal to ``np.einsum('ij,ik,il->jkl', weights, X, X)`` to round-off.
    """
    n_samples, n_features = X.shape
    n_states = weights.shape[1]
    sums = np.zeros((n_states, n_features, n_features))
    if n_samples == 0:
        return sums
    totals = weights.sum(axis=0)
    step = _chunk_rows(n_states, n_features)
    for state in range(n_states):
        weight = weights[:, state]
        kept = np.flatnonzero(weight > _NEGLIGIBLE_WEIGHT * totals[state] / n_samples)
        if len(kept) > n_samples // 2:
            rows_of_state, weight_of_state = X, weight
        else:
            rows_of_state, weight_of_state = X[kept], weight[kept]
        total = sums[state]
        for start in range(0, len(rows_of_state), step):
            rows = rows_of_state[start : start + step]
            total += rows.T @ (rows * weight_of_state[start : start + step, None])
    # Symmetrise: the exact sums are symmetric, and downstream Cholesky
    # factorisations and hmmlearn's validation expect it.
    return 0.5 * (sums + sums.transpose(0, 2, 1))


class FastGaussianHMM(missing.MissingValuesMixin, GaussianHMM):
    """:class:`hmmlearn.hmm.GaussianHMM` with faster E- and M-step arithmetic.

    Takes exactly the parameters of ``GaussianHMM`` and fits the same model
    from the same initial parameters. On small data parameters and
    log-likelihoods agree with the stock class to about 1e-10 relative. On
    long sequences the stock log-domain transition counts accumulate
    round-off (at T=108,000 their exact identity
    ``sum_j xi[i, j] = sum_t<T-1 gamma[t, i]`` is off by ~1e-6 relative, ours
    by ~1e-13), so fitted transition matrices differ from stock by ~1e-7
    while log-likelihoods still agree to ~1e-9 (see ``bench/hmm_em.py``).

    Speed-ups apply to ``covariance_type`` "full" and "tied" (emissions and
    M-step statistics) and to every covariance type (forward-backward in
    ``fit``, ``score``, ``score_samples``, ``predict_proba``).
    ``implementation`` ("log" or "scaling") no longer changes how anything is
    computed: both use the shifted scaled recursions. ``bench/hmm_em.py``
    measures the speed-ups against stock in one run.

    See the module docstring for what is computed differently and why.
    """

    def _compute_log_likelihood(self, X):
        if missing.has_missing(X):  # marginal over the observed features (hmm/missing.py)
            return missing.log_likelihood_missing(self, X)
        if self.covariance_type in ("full", "tied"):
            # Full matrices for both types (tied is broadcast to every state).
            covars = fill_covars(self._covars_, self.covariance_type, self.n_components, self.means_.shape[1])
            return log_gaussian_density_full(X, self.means_, covars)
        return super()._compute_log_likelihood(X)

    def _accumulate_emission_statistics(self, stats, X, posteriors):
        """The Gaussian part of hmmlearn's statistics, with the einsum replaced."""
        if missing.has_missing(X):  # EM with missing values (hmm/missing.py)
            return missing.accumulate_missing_statistics(
                self, stats, X, posteriors, self._accumulate_emission_statistics
            )
        if self._needs_sufficient_statistics_for_mean():
            stats["post"] += posteriors.sum(axis=0)
            stats["obs"] += posteriors.T @ X
        if self._needs_sufficient_statistics_for_covars():
            if self.covariance_type in ("spherical", "diag"):
                stats["obs**2"] += posteriors.T @ X**2
            elif self.covariance_type in ("tied", "full"):
                stats["obs*obs.T"] += weighted_outer_sums(X, posteriors)

    def _do_estep(self, X, lengths):
        """Statistics and log-likelihood of all sequences (see :func:`estep_statistics`)."""
        stats = self._initialize_sufficient_statistics()
        self._estep_begin()
        # With NaN: each missing-pattern factorised once for both the
        # likelihood and the statistics (hmm/missing_estep.py).
        with_missing = MissingEStep(self, X) if missing.has_missing(X) else None
        log_frameprob = self._compute_log_likelihood(X) if with_missing is None else with_missing.log_likelihood()
        posteriors = np.empty_like(log_frameprob)
        curr_logprob = 0.0
        for start, stop in sequence_bounds(lengths, len(X)):
            logprob, posteriors[start:stop], xi_sum = self._forward_backward(log_frameprob[start:stop])
            stats["nobs"] += 1
            if "s" in self.params:
                stats["start"] += posteriors[start]
            # A sequence of length 1 has no transitions (as in hmmlearn).
            if "t" in self.params and stop - start > 1:
                stats["trans"] += xi_sum
            curr_logprob += logprob
        if with_missing is None:
            self._accumulate_emission_statistics(stats, X, posteriors)
        else:
            with_missing.accumulate(stats, posteriors, self._accumulate_emission_statistics)
        return stats, curr_logprob

    def _forward_backward(self, log_frameprob):
        """Log-likelihood, posteriors and expected transition counts of one sequence.

        See :func:`.recursions.forward_backward`.
        """
        return forward_backward(self.startprob_, self.transmat_, log_frameprob)

    def _score(self, X, lengths=None, *, compute_posteriors):
        """``score``/``score_samples``/``predict_proba``: scaled recursions on the fast densities.

        Replaces hmmlearn's ``_score_log``/``_score_scaling`` (chosen by
        ``implementation``); results equal both to round-off.
        """
        check_is_fitted(self, "startprob_")
        self._check()
        # NaN marks a missing value (hmm/missing.py): the marginal density handles it.
        X = np.asarray(X, dtype=float) if missing.has_missing(X) else check_array(X)
        log_frameprob = self._compute_log_likelihood(X)
        log_prob = 0.0
        posteriors = np.empty_like(log_frameprob) if compute_posteriors else np.empty((0, self.n_components))
        for start, stop in sequence_bounds(lengths, len(X)):
            sub_log_prob, sub_posteriors = forward_score(
                self.startprob_, self.transmat_, log_frameprob[start:stop], compute_posteriors=compute_posteriors
            )
            log_prob += sub_log_prob
            if compute_posteriors:
                posteriors[start:stop] = sub_posteriors
        return log_prob, posteriors


def estep_statistics(model: FastGaussianHMM, X, lengths=None) -> tuple[dict, float]:
    """One E-step of ``model`` over the sequences of X: ``(stats, log_likelihood)``.

    The statistics (hmmlearn's dict: ``nobs``, ``start``, ``trans``,
    ``post``, ``obs``, ``obs*obs.T`` or ``obs**2``) and the log-likelihood
    are sums over sequences, so the E-step of a data set split into parts
    (whole sequences each) is the element-wise sum of the parts' results;
    ``model._do_mstep(summed_stats)`` then completes the EM iteration.

    Parameters
    ----------
    model : FastGaussianHMM
        With parameters set (``startprob_``, ``transmat_``, ``means_``, ``covars_``).
    X : ndarray, shape (n_frames, n_features)
    lengths : array-like of int, optional
        Frames per sequence; None: one sequence.
    """
    X = np.ascontiguousarray(X, dtype=float)
    model._check()  # validates the parameters and sets n_features
    stats, log_likelihood = model._do_estep(X, lengths)
    return stats, float(log_likelihood)
