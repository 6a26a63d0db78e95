"""One E-step on feature rows with missing values (NaN): factorise once, use for likelihood and statistics.

The quantities of :mod:`.missing` (marginal density over the observed part
``o``, conditional mean and covariance of the missing part ``m``) are computed
here from each state's precision matrix ``P = S^-1`` instead of the
sub-covariance ``S_oo``, because few features are usually missing:

* conditional covariance ``C_mm = (P_mm)^-1`` (an n_miss x n_miss inverse, not
  an n_obs x n_obs Cholesky factorisation),
* conditional mean ``xhat_m = mu_m - C_mm P_mo (x_o - mu_o)``,
* marginal Mahalanobis distance ``(x_o - mu_o)^T S_oo^-1 (x_o - mu_o) =
  |L^-1 (xhat - mu)|^2``, with ``xhat`` the row completed by its conditional
  mean and ``L`` the full covariance's Cholesky factor (the completed row
  minimises the full quadratic form over the missing part, and its minimum is
  the marginal one), so all rows are whitened with the same ``L^-1`` as
  complete rows,
* ``log det S_oo = log det S + log det P_mm``.

Each pattern's ``C_mm`` and gain ``C_mm P_mo`` are computed once per E-step,
for all states at once (stacked numpy linear algebra: no per-state wrapper
calls), and used by both :meth:`MissingEStep.log_likelihood` and
:meth:`MissingEStep.accumulate`; complete rows take the ordinary fast path.
"""

from __future__ import annotations

import numpy as np

__all__ = ["MissingEStep"]

# Patterns' factors are kept between the likelihood and the statistics up to
# this many float64 values in all (256 MB); beyond it (only when almost every
# row has its own pattern with many missing features) they are recomputed.
_KEPT_FACTOR_VALUES = 32_000_000

# Row chunks of a pattern below this size are whitened with one batched
# matrix product over all states (fewer calls); larger ones with BLAS dtrmm
# per state (a triangular product: half the arithmetic).
_SMALL_CHUNK_ROWS = 64


def _full_covars(model) -> np.ndarray:
    from hmmlearn.utils import fill_covars

    return fill_covars(model._covars_, model.covariance_type, model.n_components, model.means_.shape[1])


def _pattern_factors(precisions: np.ndarray, missing: np.ndarray, observed: np.ndarray):
    """``(gain, conditional, log_det_p_mm)`` of one pattern for every state.

    ``gain`` (n_states, n_miss, n_obs) is ``C_mm P_mo``, ``conditional``
    (n_states, n_miss, n_miss) is ``C_mm = P_mm^-1``, ``log_det_p_mm``
    (n_states,) is ``log det P_mm``.
    """
    p_mm = precisions[:, missing[:, None], missing]
    try:
        cholesky = np.linalg.cholesky(p_mm)
    except np.linalg.LinAlgError:
        raise ValueError("'covars' must be symmetric, positive-definite") from None
    log_det = 2.0 * np.log(np.diagonal(cholesky, axis1=1, axis2=2)).sum(axis=1)
    conditional = np.linalg.inv(p_mm)
    conditional = 0.5 * (conditional + conditional.transpose(0, 2, 1))
    gain = conditional @ precisions[:, missing[:, None], observed]
    return gain, conditional, log_det


class MissingEStep:
    """An E-step's emission work on X with NaN, factorised once for the model's current parameters.

    Parameters
    ----------
    model : hmmlearn GaussianHMM (any covariance type)
    X : ndarray, shape (n_samples, n_features), NaN = missing
    """

    def __init__(self, model, X):
        from .fast import _chunk_rows, inverse_choleskys
        from .missing import missing_patterns

        self.model = model
        self.X = np.asarray(X, dtype=float)
        self.means = model.means_
        self.covars = _full_covars(model)
        self.n_states, self.n_features = self.means.shape
        self.step = _chunk_rows(self.n_states, self.n_features)
        self.inverses, self.log_dets = inverse_choleskys(self.covars)
        inverse = np.array(self.inverses)
        self.precisions = inverse.transpose(0, 2, 1) @ inverse
        self.complete = np.empty(0, dtype=int)
        self.patterns = []  # (rows, observed index, missing index)
        for rows, observed in missing_patterns(self.X):
            if observed.all():
                self.complete = rows
            else:
                self.patterns.append((rows, np.flatnonzero(observed), np.flatnonzero(~observed)))
        size = sum(self.n_states * len(m) * self.n_features for _, _, m in self.patterns)
        self._factors = {} if size <= _KEPT_FACTOR_VALUES else None

    def factors(self, index: int):
        """:func:`_pattern_factors` of pattern ``index``, computed once when they fit in memory."""
        if self._factors is not None and index in self._factors:
            return self._factors[index]
        _, observed, missing = self.patterns[index]
        factors = _pattern_factors(self.precisions, missing, observed)
        if self._factors is not None:
            self._factors[index] = factors
        return factors

    def _completed_residuals(self, x: np.ndarray, observed, missing, gain) -> np.ndarray:
        """``xhat - mu`` (n_states, n_rows, n_features): rows completed by each state's conditional mean."""
        residuals = x[None, :, :] - self.means[:, None, :]
        residuals[:, :, missing] = -(residuals[:, :, observed] @ gain.transpose(0, 2, 1))
        return residuals

    def log_likelihood(self) -> np.ndarray:
        """``log N(x_o | mu_o, S_oo)``, shape (n_samples, n_states); 0 for rows with nothing observed."""
        from scipy.linalg import blas

        from .fast import log_gaussian_density_factored

        out = np.zeros((len(self.X), self.n_states))
        if len(self.complete):
            out[self.complete] = log_gaussian_density_factored(
                self.X[self.complete], self.means, self.inverses, self.log_dets
            )
        inverse_t = np.array(self.inverses).transpose(0, 2, 1)
        for index, (rows, observed, missing) in enumerate(self.patterns):
            if not len(observed):
                continue  # nothing observed: no evidence
            gain, _, log_det_p_mm = self.factors(index)
            constant = len(observed) * np.log(2 * np.pi) + self.log_dets + log_det_p_mm
            for start in range(0, len(rows), self.step):
                chunk = rows[start : start + self.step]
                residuals = self._completed_residuals(self.X[chunk], observed, missing, gain)
                if len(chunk) < _SMALL_CHUNK_ROWS:
                    whitened = residuals @ inverse_t
                    mahalanobis = np.einsum("knd,knd->nk", whitened, whitened)
                else:
                    mahalanobis = np.empty((len(chunk), self.n_states))
                    for state in range(self.n_states):
                        whitened = blas.dtrmm(
                            1.0, self.inverses[state], residuals[state].T, side=0, lower=1, overwrite_b=1
                        )
                        mahalanobis[:, state] = np.einsum("ij,ij->j", whitened, whitened)
                out[chunk] = -0.5 * (mahalanobis + constant)
        return out

    def accumulate(self, stats: dict, posteriors: np.ndarray, complete_path) -> None:
        """Add the emission statistics to hmmlearn's ``stats`` (see :func:`.missing.accumulate_missing_statistics`)."""
        model = self.model
        if len(self.complete):
            complete_path(stats, self.X[self.complete], posteriors[self.complete])
        needs_mean = model._needs_sufficient_statistics_for_mean()
        needs_covars = model._needs_sufficient_statistics_for_covars()
        if not (needs_mean or needs_covars):
            return
        square_sums = model.covariance_type in ("spherical", "diag")
        for index, (rows, observed, missing) in enumerate(self.patterns):
            gain, conditional, _ = self.factors(index)
            for start in range(0, len(rows), self.step):
                chunk = rows[start : start + self.step]
                weights = posteriors[chunk]  # (n, K)
                totals = weights.sum(axis=0)
                filled = self._completed_residuals(self.X[chunk], observed, missing, gain)
                filled += self.means[:, None, :]
                if needs_mean:  # as hmmlearn: "post" is counted with the means' statistics
                    stats["post"] += totals
                    stats["obs"] += np.einsum("nk,knd->kd", weights, filled)
                if not needs_covars:
                    continue
                if square_sums:
                    squares = np.einsum("nk,knd->kd", weights, filled**2)
                    squares[:, missing] += totals[:, None] * np.diagonal(conditional, axis1=1, axis2=2)
                    stats["obs**2"] += squares
                else:
                    outer = filled.transpose(0, 2, 1) @ (filled * weights.T[:, :, None])
                    outer[:, missing[:, None], missing] += totals[:, None, None] * conditional
                    stats["obs*obs.T"] += 0.5 * (outer + outer.transpose(0, 2, 1))
