"""What a worker computes for distributed EM: E-step statistics and other sums over its part of the data.

A *part* is ``(X, lengths)``: the valid-frame features of one session
(``X: (n_frames, n_features)``, ``lengths``: frames per contiguous segment),
kept in a worker's memory. Every function here takes a part and returns
something small (statistics of size ``n_states x n_features^2`` at most), so
the features never travel to the client. The client adds the parts' results
in a fixed order (:func:`add_statistics`).

The E-step is :class:`~napari_facehmm.hmm.fast.FastGaussianHMM`'s own
(``estep_statistics``, or ``_do_estep`` where that function is not there
yet: the fast emission densities, scaled forward-backward and BLAS
outer-product sums), on a plain copy of the running model
(:func:`plain_model`), so a part's statistics are the one-process fit's
statistics of the same sequences.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = [
    "add_statistics",
    "part_centered_products",
    "part_estep",
    "part_occupancy",
    "part_rows",
    "part_score",
    "part_sums",
    "part_worst_frames",
    "plain_model",
]

#: the fitted parameters a plain copy carries
_PARAMETERS = ("startprob_", "transmat_", "means_", "_covars_")


def plain_model(model: Any):
    """A :class:`FastGaussianHMM` with ``model``'s settings and parameters (nothing else travels to workers)."""
    from ..hmm.fast import FastGaussianHMM

    copy = FastGaussianHMM(**model.get_params())
    copy.n_features = model.n_features
    for name in _PARAMETERS:
        if hasattr(model, name):
            setattr(copy, name, np.array(getattr(model, name), copy=True))
    return copy


def part_estep(model: Any, part: tuple[np.ndarray, np.ndarray]) -> tuple[dict[str, Any], float]:
    """E-step sufficient statistics and log-likelihood of one part under ``model``.

    ``hmm.fast.estep_statistics`` when the package has it (the E-step as a
    public function), else the model's own ``_do_estep``: the same sums.
    """
    X, lengths = part
    try:
        from ..hmm.fast import estep_statistics
    except ImportError:
        return model._do_estep(X, lengths)
    return estep_statistics(model, X, lengths)


def add_statistics(items: list[tuple[dict[str, Any], float]]) -> tuple[dict[str, Any], float]:
    """The sum of the parts' ``(statistics, log_likelihood)``, in the given order."""
    stats = {key: (value.copy() if isinstance(value, np.ndarray) else value) for key, value in items[0][0].items()}
    log_likelihood = float(items[0][1])
    for part_stats, part_log_likelihood in items[1:]:
        for key, value in part_stats.items():
            stats[key] = stats[key] + value
        log_likelihood += float(part_log_likelihood)
    return stats, log_likelihood


def part_score(model: Any, part: tuple[np.ndarray, np.ndarray]) -> float:
    """Log-likelihood of one part (``model.score``)."""
    X, lengths = part
    return float(model.score(X, lengths))


def part_occupancy(model: Any, part: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """Frames decoded (Viterbi) in each state, ``(n_states,)``."""
    X, lengths = part
    return np.bincount(model.predict(X, lengths), minlength=model.n_components)


def part_complete(part: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """Which of the part's rows have no missing value (NaN), ``(n_rows,)`` bool."""
    return ~np.isnan(part[0]).any(axis=1)


def part_sums(part: tuple[np.ndarray, np.ndarray], complete_only: bool = False) -> np.ndarray:
    """Column sums of the part's features (of its complete rows only), ``(n_features,)``."""
    X = part[0][part_complete(part)] if complete_only else part[0]
    return X.sum(axis=0)


def part_centered_products(
    part: tuple[np.ndarray, np.ndarray], mean: np.ndarray, complete_only: bool = False
) -> np.ndarray:
    """``(X - mean).T @ (X - mean)``: the part's share of the pooled covariance (times n - 1)."""
    X = part[0][part_complete(part)] if complete_only else part[0]
    centered = X - mean
    return centered.T @ centered


def part_rows(part: tuple[np.ndarray, np.ndarray], rows: np.ndarray) -> np.ndarray:
    """The part's feature rows ``rows`` (local indices)."""
    return part[0][rows]


def part_worst_frames(
    model: Any, part: tuple[np.ndarray, np.ndarray], kept: np.ndarray, count: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The ``count`` frames the ``kept`` states explain worst: best-state log-likelihoods, local indices, rows."""
    X = part[0]
    fit = model._compute_log_likelihood(X)[:, kept].max(axis=1)
    order = np.argsort(fit, kind="stable")[:count]
    return fit[order], order, X[order]
