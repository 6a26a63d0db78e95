"""Gaussian HMM emissions and EM statistics for feature rows with missing values (NaN).

A frame whose features are only partly observed still has an exact
likelihood under a Gaussian state: the marginal over the observed dimensions
``o``, ``N(x_o | mu_o, S_oo)`` (sub-vector of the mean, sub-matrix of the
covariance). Decoding with it gives every such frame a state, and its
posterior is naturally less sure when fewer features are observed.

Fitting uses EM with missing values, as for Gaussian mixtures with missing
data (Ghahramani & Jordan 1994): given state k, the missing part ``x_m`` of a
row is Gaussian with

* conditional mean ``xhat_m = mu_m + S_mo S_oo^-1 (x_o - mu_o)`` and
* conditional covariance ``C_mm = S_mm - S_mo S_oo^-1 S_om``,

so the expected sufficient statistics are ``post * xhat`` for the means and
``post * (xhat xhat^T + C)`` (C zero outside the missing block) for the
outer-product sums; hmmlearn's own M-step then gives the exact EM update.

Speed (:mod:`.missing_estep`): rows are grouped by their missing-pattern,
each pattern is factorised once per E-step for all states (from the
precision matrices: an n_miss x n_miss inverse) and the factors serve both
the likelihood and the statistics; complete rows go through the ordinary
(fast) path unchanged, and with no NaN at all nothing here runs (results are
identical to before).
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "MissingValuesMixin",
    "has_missing",
    "impute_column_means",
    "initial_rows",
    "log_likelihood_missing",
    "accumulate_missing_statistics",
    "missing_patterns",
]


def has_missing(X) -> bool:
    """Whether ``X`` (n_samples, n_features) has any NaN."""
    X = np.asarray(X)
    return X.dtype.kind == "f" and bool(np.isnan(X).any())


def missing_patterns(X: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """``[(rows, observed), ...]``: the rows sharing each missing-pattern and that pattern's observed columns.

    Parameters
    ----------
    X : ndarray, shape (n_samples, n_features)

    Returns
    -------
    list of (ndarray of int, ndarray of bool)
        ``rows`` indices into X (increasing), ``observed`` ``(n_features,)``;
        one entry per distinct pattern, complete rows included.
    """
    observed = ~np.isnan(X)
    if len(X) == 0:
        return []
    # one integer key per row (its observed-mask bits) when they fit in 64
    # bits: a 1-D sort, much faster than numpy's row-wise unique
    keys = np.packbits(observed, axis=1)
    width = -(-keys.shape[1] // 8) * 8
    keys = np.pad(keys, ((0, 0), (0, width - keys.shape[1]))).view(np.uint64)
    _, inverse = np.unique(keys[:, 0] if width == 8 else keys, axis=None if width == 8 else 0, return_inverse=True)
    inverse = np.asarray(inverse).reshape(-1)
    order = np.argsort(inverse, kind="stable")
    bounds = np.flatnonzero(np.diff(inverse[order])) + 1
    groups = np.split(order, bounds)
    return [(rows, observed[rows[0]]) for rows in groups]


def log_likelihood_missing(model, X: np.ndarray) -> np.ndarray:
    """``log N(x_o | mu_o, S_oo)`` of every row under every state of a Gaussian HMM.

    Parameters
    ----------
    model : hmmlearn GaussianHMM (any covariance type)
    X : ndarray, shape (n_samples, n_features), NaN = missing

    Returns
    -------
    ndarray, shape (n_samples, n_states)
        The marginal log-density of each row's observed values; 0 (no
        evidence) for a row with nothing observed. Equal to the full density
        for complete rows.
    """
    from .missing_estep import MissingEStep

    return MissingEStep(model, X).log_likelihood()


def accumulate_missing_statistics(model, stats: dict, X: np.ndarray, posteriors: np.ndarray, complete_path) -> None:
    """Add the emission statistics of rows with NaN to hmmlearn's ``stats``, as EM with missing values.

    Complete rows are passed to ``complete_path(stats, X_complete,
    posteriors_complete)`` (the model's ordinary accumulation). For a row
    with missing part m and each state k, the missing values are replaced by
    their conditional mean given the observed values, and the conditional
    covariance ``C_mm`` is added to the outer-product (or squares) sums,
    weighted by the posterior.

    Parameters
    ----------
    model : hmmlearn GaussianHMM
    stats : dict
        hmmlearn's sufficient statistics (``post``, ``obs``, ``obs**2`` or
        ``obs*obs.T``), updated in place.
    X : ndarray, shape (n_samples, n_features)
    posteriors : ndarray, shape (n_samples, n_states)
    complete_path : callable
    """
    from .missing_estep import MissingEStep

    if not has_missing(X):
        complete_path(stats, np.asarray(X, dtype=float), posteriors)
        return
    MissingEStep(model, X).accumulate(stats, posteriors, complete_path)


def impute_column_means(X: np.ndarray) -> np.ndarray:
    """X with every NaN replaced by its column's mean over the observed values (0 for an all-NaN column)."""
    X = np.asarray(X, dtype=float)
    if not np.isnan(X).any():
        return X
    counts = (~np.isnan(X)).sum(axis=0)
    sums = np.nansum(X, axis=0)
    column_means = np.divide(sums, counts, out=np.zeros(X.shape[1]), where=counts > 0)
    return np.where(np.isnan(X), column_means, X)


def initial_rows(X: np.ndarray, at_least: int) -> np.ndarray:
    """Rows to initialise a fit on (k-means centres, pooled covariance) when X may have NaN.

    The complete rows when there are at least ``at_least`` of them, else every
    row with its NaN replaced by the column mean (:func:`impute_column_means`).
    X itself when it has no NaN.
    """
    X = np.asarray(X, dtype=float)
    complete = ~np.isnan(X).any(axis=1)
    if complete.all():
        return X
    if complete.sum() >= max(at_least, 2):
        return X[complete]
    return impute_column_means(X)


class MissingValuesMixin:
    """Lets hmmlearn's ``decode``/``predict`` take NaN rows.

    hmmlearn checks its input with scikit-learn's ``check_array``, which
    rejects NaN; for input with NaN this runs the same recursion without
    that check (the emission hook handles NaN with the marginal density).
    ``score``/``predict_proba`` do the same in :meth:`FastGaussianHMM._score`.
    Input without NaN takes hmmlearn's path unchanged.
    """

    def decode(self, X, lengths=None, algorithm=None):
        if not has_missing(X):
            return super().decode(X, lengths, algorithm)
        from hmmlearn import _utils
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(self, "startprob_")
        self._check()
        algorithm = algorithm or self.algorithm
        decoders = {"viterbi": self._decode_viterbi, "map": self._decode_map}
        if algorithm not in decoders:
            raise ValueError(f"Unknown decoder {algorithm!r}")
        X = np.asarray(X, dtype=float)
        log_prob = 0.0
        sequences = []
        for sub_X in _utils.split_X_lengths(X, lengths):
            sub_log_prob, sub_states = decoders[algorithm](sub_X)
            log_prob += sub_log_prob
            sequences.append(sub_states)
        return log_prob, np.concatenate(sequences)
