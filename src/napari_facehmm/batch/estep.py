"""What a worker computes for distributed EM: E-step statistics and other sums over its part of the data.

A *part* is ``(X, lengths)``: the valid-frame features of one session
(``X: (n_frames, n_features)``, NaN where a feature is missing, ``lengths``:
frames per contiguous segment), kept in a worker's memory. A *group* is the
parts one worker holds for the EM loop, joined into one (:func:`group_parts`):
every EM iteration is one task per group (:func:`part_estep` on it), whatever
the number of sessions. Every function here
returns something small (statistics of size ``n_states x n_features^2`` at
most), so the features never travel to the client. The client adds the
results in a fixed order (:func:`add_statistics`).

Rows with missing values (NaN) start a fit as in the one-process
:func:`~napari_facehmm.hmm.missing.initial_rows`: the *initial rows* are
all rows (no NaN anywhere), the complete rows (enough of them), or all rows
with NaN replaced by the column means (:func:`initial_part`).

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
    "group_parts",
    "initial_part",
    "part_centered_products",
    "part_estep",
    "part_summary",
    "part_occupancy",
    "part_rows",
    "part_score",
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
    """E-step sufficient statistics and log-likelihood of one part (or a worker's group) under ``model``."""
    from ..hmm.fast import estep_statistics

    X, lengths = part
    return estep_statistics(model, X, lengths)


def group_parts(*parts: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """The parts one worker keeps for the EM loop, as one part (rows and segments in part order).

    One array per worker makes an E-step one pass over it: the missing-value
    patterns that recur across sessions are handled once per iteration, not
    once per session. It is a copy (the sessions' own features stay for decoding).
    """
    if len(parts) == 1:
        return parts[0]
    return np.concatenate([part[0] for part in parts]), np.concatenate([part[1] for part in parts])


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
    """Log-likelihood of one part (or a worker's group), ``model.score``."""
    X, lengths = part
    return float(model.score(X, lengths))


def part_occupancy(model: Any, part: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """Frames decoded (Viterbi) in each state, ``(n_states,)``."""
    X, lengths = part
    return np.bincount(model.predict(X, lengths), minlength=model.n_components)


def part_summary(part: tuple[np.ndarray, np.ndarray]) -> dict[str, Any]:
    """Counts and sums of the part's rows: all, complete (no NaN) and per observed value."""
    X = part[0]
    observed = ~np.isnan(X)
    complete = observed.all(axis=1)
    return {
        "n_rows": len(X),
        "n_complete": int(complete.sum()),
        "n_empty": int((~observed.any(axis=1)).sum()),
        "counts": observed.sum(axis=0),
        "sums": np.nansum(X, axis=0),
        "complete_sums": X[complete].sum(axis=0),
    }


def initial_part(X: np.ndarray, mode: str, fill: np.ndarray | None = None) -> np.ndarray:
    """The part's initial rows: ``mode`` "all", "complete" (rows without NaN) or "imputed" (NaN -> ``fill``)."""
    if mode == "complete":
        return X[~np.isnan(X).any(axis=1)]
    if mode == "imputed":
        return np.where(np.isnan(X), fill, X)
    return X


def part_centered_products(
    part: tuple[np.ndarray, np.ndarray], mean: np.ndarray, mode: str = "all", nanmean: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """The part's shares of the pooled covariance and of the spread check.

    Returns ``(rows - mean).T @ (rows - mean)`` over the initial rows
    (``mode``; times n - 1 of the covariance) and, per column, the sum of
    squared deviations of the observed values from ``nanmean`` (``np.nanstd``'s).
    """
    X = part[0]
    centered = initial_part(X, mode, mean) - mean
    squares = np.nansum((X - (mean if nanmean is None else nanmean)) ** 2, axis=0)
    return centered.T @ centered, squares


def part_rows(
    part: tuple[np.ndarray, np.ndarray], rows: np.ndarray, mode: str = "all", fill: np.ndarray | None = None
) -> np.ndarray:
    """The part's initial rows ``rows`` (local indices among the ``mode`` rows)."""
    return initial_part(part[0], mode, fill)[rows]


def part_worst_frames(
    model: Any, part: tuple[np.ndarray, np.ndarray], kept: np.ndarray, count: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The ``count`` frames the ``kept`` states explain worst: best-state log-likelihoods, local indices, rows."""
    X = part[0]
    fit = model._compute_log_likelihood(X)[:, kept].max(axis=1)
    order = np.argsort(fit, kind="stable")[:count]
    return fit[order], order, X[order]
