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
for all states and all patterns with as many missing features at once
(stacked numpy linear algebra: no per-pattern, per-state wrapper calls), and
used by both :meth:`MissingEStep.log_likelihood` and
:meth:`MissingEStep.accumulate`. Rows of many small patterns share
cache-sized blocks for the BLAS work; complete rows take the ordinary fast
path. A singular state covariance gets hmmlearn's jitter retry, as for
complete rows. ``bench/hmm_missing.py`` measures the speed-up.
"""

from __future__ import annotations

import numpy as np

__all__ = ["MissingEStep"]

# Patterns' factors are kept between the likelihood and the statistics up to
# this many float64 values in all (256 MB); beyond it (only when almost every
# row has its own pattern with many missing features) they are recomputed.
_KEPT_FACTOR_VALUES = 32_000_000


def _full_covars(model) -> np.ndarray:
    from hmmlearn.utils import fill_covars

    return fill_covars(model._covars_, model.covariance_type, model.n_components, model.means_.shape[1])


def _pattern_factors(precisions: np.ndarray, missing: np.ndarray):
    """``(gain, conditional, log_det_p_mm)`` of patterns for every state.

    ``missing`` (..., n_miss): missing column indices of one pattern, or of
    several with as many missing (leading axis: one row per pattern, then the
    results have an axis of patterns after the states'). ``gain``
    (n_states, ..., n_miss, n_features) is ``C_mm P_m.``: applied to a
    residual with zeros in the missing columns it gives ``C_mm P_mo r_o``,
    ``conditional`` (n_states, ..., n_miss, n_miss) is ``C_mm = P_mm^-1``,
    ``log_det_p_mm`` (n_states, ...) is ``log det P_mm``.
    """
    p_mm = precisions[:, missing[..., :, None], missing[..., None, :]]
    try:
        cholesky = np.linalg.cholesky(p_mm)
    except np.linalg.LinAlgError:
        raise ValueError("'covars' must be symmetric, positive-definite") from None
    log_det = 2.0 * np.log(np.diagonal(cholesky, axis1=-2, axis2=-1)).sum(axis=-1)
    conditional = np.linalg.inv(p_mm)
    conditional = 0.5 * (conditional + np.swapaxes(conditional, -1, -2))
    gain = conditional @ precisions[:, missing, :]
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
        by_count: dict[int, list[int]] = {}
        for index, (_, _, missing) in enumerate(self.patterns):
            by_count.setdefault(len(missing), []).append(index)
        # patterns with as many missing features: (indices, missing columns (n_p, n_miss))
        self._groups = [
            (np.array(indices), np.array([self.patterns[i][2] for i in indices])) for indices in by_count.values()
        ]
        self._factors = None
        self._group_conditionals = []
        if size <= _KEPT_FACTOR_VALUES:
            self._factors = {}
            for indices, missing in self._groups:  # one stacked computation per group
                gain, conditional, log_det = _pattern_factors(self.precisions, missing)
                self._group_conditionals.append(conditional)
                for j, index in enumerate(indices):
                    self._factors[index] = (gain[:, j], conditional[:, j], log_det[:, j])

    def _stacked_conditionals(self):
        """``(indices, missing, C_mm)`` per group of patterns, C_mm (n_states, n_p, n_miss, n_miss).

        The kept factors; when they were not kept, computed again in chunks
        of patterns that fit the memory budget.
        """
        for number, (indices, missing) in enumerate(self._groups):
            if self._factors is not None:
                yield indices, missing, self._group_conditionals[number]
                continue
            per_chunk = max(1, _KEPT_FACTOR_VALUES // (self.n_states * max(1, missing.shape[1]) * self.n_features))
            for start in range(0, len(indices), per_chunk):
                chunk = missing[start : start + per_chunk]
                yield indices[start : start + per_chunk], chunk, _pattern_factors(self.precisions, chunk)[1]

    def factors(self, index: int):
        """:func:`_pattern_factors` of pattern ``index``, computed once when they fit in memory."""
        if self._factors is not None and index in self._factors:
            return self._factors[index]
        factors = _pattern_factors(self.precisions, self.patterns[index][2])
        if self._factors is not None:
            self._factors[index] = factors
        return factors

    def _blocks(self, skip_unobserved: bool):
        """Incomplete rows in blocks of up to ``step``: ``(rows, residuals, pieces)``.

        ``residuals`` (n_states, n_rows, n_features) are ``xhat - mu``, each
        row completed by each state's conditional mean; rows of many (small)
        patterns share a block, so the BLAS work runs on blocks that fit in
        cache whatever the patterns. ``pieces`` lists ``(pattern index, start,
        stop, factors)`` of the block (factors: :func:`_pattern_factors`).
        The buffer is reused: use a block before the next.
        """
        buffer = np.empty((self.n_states, self.step, self.n_features))
        rows_of_block, pieces, filled = [], [], 0
        for index, (rows, observed, _) in enumerate(self.patterns):
            if skip_unobserved and not len(observed):
                continue
            factors = self.factors(index)
            start = 0
            while start < len(rows):
                part = rows[start : start + self.step - filled]
                rows_of_block.append(part)
                pieces.append((index, filled, filled + len(part), factors))
                filled += len(part)
                start += len(part)
                if filled == self.step:
                    yield self._fill(buffer, np.concatenate(rows_of_block), pieces)
                    rows_of_block, pieces, filled = [], [], 0
        if filled:
            yield self._fill(buffer[:, :filled], np.concatenate(rows_of_block), pieces)

    def _fill(self, block: np.ndarray, rows: np.ndarray, pieces: list):
        """``(rows, block, pieces)`` with ``block`` set to the completed residuals of ``rows``."""
        np.subtract(self.X[rows][None, :, :], self.means[:, None, :], out=block)
        for index, start, stop, (gain, _, _) in pieces:
            missing = self.patterns[index][2]
            piece = block[:, start:stop]
            piece[:, :, missing] = 0.0  # (was NaN): the gain then acts on the observed part only
            piece[:, :, missing] = -(piece @ gain.transpose(0, 2, 1))
        return rows, block, pieces

    def log_likelihood(self) -> np.ndarray:
        """``log N(x_o | mu_o, S_oo)``, shape (n_samples, n_states); 0 for rows with nothing observed."""
        from scipy.linalg import blas

        from .fast import log_gaussian_density_factored

        out = np.zeros((len(self.X), self.n_states))
        if len(self.complete):
            out[self.complete] = log_gaussian_density_factored(
                self.X[self.complete], self.means, self.inverses, self.log_dets
            )
        for rows, residuals, pieces in self._blocks(skip_unobserved=True):
            constant = np.empty((len(rows), self.n_states))
            for index, start, stop, (_, _, log_det_p_mm) in pieces:
                n_observed = len(self.patterns[index][1])
                constant[start:stop] = n_observed * np.log(2 * np.pi) + self.log_dets + log_det_p_mm
            for state in range(self.n_states):
                # residuals[state] is C-ordered (n, D): its transpose is the
                # Fortran (D, n) dtrmm overwrites with L^-1 (xhat - mu).
                whitened = blas.dtrmm(1.0, self.inverses[state], residuals[state].T, side=0, lower=1, overwrite_b=1)
                constant[:, state] += np.einsum("ij,ij->j", whitened, whitened)
            out[rows] = -0.5 * constant
        return out

    def accumulate(self, stats: dict, posteriors: np.ndarray, complete_path) -> None:
        """Add the emission statistics to hmmlearn's ``stats`` (see :func:`.missing.accumulate_missing_statistics`)."""
        from .fast import _NEGLIGIBLE_WEIGHT

        model = self.model
        if len(self.complete):
            complete_path(stats, self.X[self.complete], posteriors[self.complete])
        needs_mean = model._needs_sufficient_statistics_for_mean()
        needs_covars = model._needs_sufficient_statistics_for_covars()
        if not (needs_mean or needs_covars):
            return
        square_sums = model.covariance_type in ("spherical", "diag")
        outer = np.zeros((self.n_states, self.n_features, self.n_features))
        for rows, filled, pieces in self._blocks(skip_unobserved=False):
            filled += self.means[:, None, :]
            weights = posteriors[rows]  # (n, K)
            totals = weights.sum(axis=0)
            if needs_mean:  # as hmmlearn: "post" is counted with the means' statistics
                stats["post"] += totals
                stats["obs"] += np.einsum("nk,knd->kd", weights, filled)
            if not needs_covars:
                continue
            if square_sums:
                stats["obs**2"] += np.einsum("nk,knd->kd", weights, filled**2)
            else:
                for state in range(self.n_states):
                    # as fast.weighted_outer_sums: rows of negligible weight left out
                    weight = weights[:, state]
                    kept = weight > _NEGLIGIBLE_WEIGHT * totals[state] / len(rows)
                    values = filled[state][kept]
                    outer[state] += values.T @ (values * weight[kept, None])
        if not needs_covars or not self.patterns:
            return
        # + sum over rows of posterior * C_mm on each row's missing block:
        # posterior totals per pattern, then one scatter-add per group
        order = np.concatenate([rows for rows, _, _ in self.patterns])
        starts = np.cumsum([0] + [len(rows) for rows, _, _ in self.patterns[:-1]])
        pattern_totals = np.add.reduceat(posteriors[order], starts, axis=0)  # (n_patterns, K)
        sums = stats["obs**2"] if square_sums else outer
        states = np.arange(self.n_states)
        for indices, missing, conditional in self._stacked_conditionals():
            weighted = conditional * pattern_totals[indices].T[:, :, None, None]
            if square_sums:  # flat indices into (K, D)
                weighted = np.diagonal(weighted, axis1=2, axis2=3)
                flat = states[:, None, None] * self.n_features + missing[None]
            else:  # flat indices into (K, D, D)
                flat = (states[:, None, None, None] * self.n_features + missing[None, :, :, None]) * self.n_features
                flat = flat + missing[None, :, None, :]
            sums += np.bincount(flat.ravel(), weights=weighted.ravel(), minlength=sums.size).reshape(sums.shape)
        if not square_sums:
            stats["obs*obs.T"] += 0.5 * (outer + outer.transpose(0, 2, 1))
