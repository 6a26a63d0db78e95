"""Match the states of two fitted models (e.g. two sessions, two fits).

State numbers are arbitrary between fits; two models describe the same states
when their Gaussians are close. We pair states by minimising the summed
symmetric Kullback-Leibler (Jeffreys) divergence with the Hungarian algorithm.
"""

from __future__ import annotations

import numpy as np

from ..errors import DataError

__all__ = ["match_states", "gaussian_distances"]


def _gaussians(model) -> tuple[np.ndarray, np.ndarray]:
    """(means (K, D), full covariances (K, D, D)) of a FaceHMM or hmmlearn GaussianHMM."""
    hmm = getattr(model, "model_", model)
    if hmm is None or not hasattr(hmm, "means_"):
        raise DataError("match_states needs fitted models (FaceHMM or hmmlearn GaussianHMM)")
    means = np.asarray(hmm.means_, dtype=float)
    from hmmlearn.utils import fill_covars

    covars = fill_covars(hmm._covars_, hmm.covariance_type, len(means), means.shape[1])
    return means, np.asarray(covars, dtype=float)


def gaussian_distances(model_a, model_b) -> np.ndarray:
    """Jeffreys divergence between every state of ``model_a`` and of ``model_b``.

    ``J(a, b) = KL(a||b) + KL(b||a) = 0.5 * (tr(Sb^-1 Sa) + tr(Sa^-1 Sb)
    + d^T (Sa^-1 + Sb^-1) d) - D`` with ``d`` the difference of means.

    Returns
    -------
    ndarray, shape (n_states_a, n_states_b)
    """
    means_a, covars_a = _gaussians(model_a)
    means_b, covars_b = _gaussians(model_b)
    if means_a.shape[1] != means_b.shape[1]:
        raise DataError(
            f"the models have different feature counts ({means_a.shape[1]} vs {means_b.shape[1]})"
        )
    n_features = means_a.shape[1]
    inverse_a = np.linalg.inv(covars_a)
    inverse_b = np.linalg.inv(covars_b)
    distances = np.empty((len(means_a), len(means_b)))
    for i in range(len(means_a)):
        for j in range(len(means_b)):
            difference = means_a[i] - means_b[j]
            distances[i, j] = (
                0.5
                * (
                    np.trace(inverse_b[j] @ covars_a[i])
                    + np.trace(inverse_a[i] @ covars_b[j])
                    + difference @ (inverse_a[i] + inverse_b[j]) @ difference
                )
                - n_features
            )
    return distances


def match_states(model_a, model_b) -> np.ndarray:
    """Pair each state of ``model_a`` with the most similar state of ``model_b``.

    Parameters
    ----------
    model_a, model_b : FaceHMM or hmmlearn.hmm.GaussianHMM
        Fitted on the same features (same columns, same order).

    Returns
    -------
    mapping : ndarray of int, shape (n_states_a,)
        ``mapping[i]`` is the state of ``model_b`` matched to state ``i`` of
        ``model_a`` (a one-to-one assignment minimising the summed Jeffreys
        divergence); -1 for states left unmatched when ``model_b`` has fewer
        states. Relabel b's decoded states into a's numbering with
        ``np.argsort(mapping)[states_b]`` when the state counts are equal.
    """
    from scipy.optimize import linear_sum_assignment

    distances = gaussian_distances(model_a, model_b)
    rows, columns = linear_sum_assignment(distances)
    mapping = np.full(distances.shape[0], -1, dtype=int)
    mapping[rows] = columns
    return mapping
