"""Forward-backward on log-likelihoods, in the scaled domain, with a log-domain fallback.

hmmlearn's log-domain C++ recursions call ``exp``/``log`` for every (frame,
state, state) triple. Here each frame's log-likelihoods are shifted by their
maximum and exponentiated once, hmmlearn's *scaled* C++ recursions run on
them, and the shifts are added back to the log-likelihood. Posteriors and
expected transition counts are invariant to a per-frame factor, so they are
the same quantities (to round-off; the scaled pass is in fact the more
accurate at long sequences). If a scaled pass underflows (possible only when
transitions or start probabilities are exactly zero, or a frame is
impossible under every state), that sequence falls back to the log domain.

Every function takes ``log_frameprob`` of ONE sequence, shape
``(n_frames, n_states)``, as computed by a model's
``_compute_log_likelihood``; :func:`sequence_bounds` splits a concatenation.
"""

from __future__ import annotations

import numpy as np
from hmmlearn import _hmmc
from hmmlearn.utils import log_normalize, normalize

__all__ = ["forward_backward", "forward_score", "sequence_bounds"]


def sequence_bounds(lengths, n_samples: int) -> list[tuple[int, int]]:
    """``(start, stop)`` row ranges of the sequences of a concatenated X.

    ``lengths`` None means one sequence. Like hmmlearn, the lengths must sum
    to ``n_samples``.
    """
    if lengths is None:
        return [(0, n_samples)]
    lengths = np.asarray(lengths, dtype=int)
    stops = np.cumsum(lengths)
    if len(lengths) and stops[-1] != n_samples:
        raise ValueError(f"lengths array {lengths} doesn't sum to {n_samples} samples")
    starts = stops - lengths
    return [(int(a), int(b)) for a, b in zip(starts, stops)]


def _scaled(log_frameprob: np.ndarray):
    """``(frameprob, shift_sum)`` or None if some frame is impossible under every state."""
    shift = log_frameprob.max(axis=1, keepdims=True)
    if not np.all(np.isfinite(shift)):
        return None
    with np.errstate(under="ignore"):
        frameprob = np.exp(log_frameprob - shift)
    return frameprob, float(shift.sum())


def _scaled_forward(startprob, transmat, log_frameprob):
    """The scaled forward pass: ``(frameprob, shift_sum, log_prob, fwdlattice, scaling)``.

    None when the scaled domain cannot be used (a frame impossible under every
    state, or the scaled pass underflows): the caller then works in the log domain.
    """
    scaled = _scaled(log_frameprob)
    if scaled is None:
        return None
    frameprob, shift = scaled
    try:
        log_prob, fwdlattice, scaling = _hmmc.forward_scaling(startprob, transmat, frameprob)
    except ValueError:
        return None  # underflow: log domain
    return frameprob, shift, log_prob, fwdlattice, scaling


def _scaled_posteriors(startprob, transmat, frameprob, fwdlattice, scaling):
    """Posteriors and backward lattice of a scaled forward pass."""
    bwdlattice = _hmmc.backward_scaling(startprob, transmat, frameprob, scaling)
    posteriors = fwdlattice * bwdlattice
    normalize(posteriors, axis=1)
    return posteriors, bwdlattice


def forward_score(startprob, transmat, log_frameprob, *, compute_posteriors: bool):
    """Log-likelihood of one sequence and, if asked, its posteriors.

    Returns
    -------
    log_prob : float
    posteriors : ndarray, shape (n_frames, n_states), or None
    """
    scaled = _scaled_forward(startprob, transmat, log_frameprob)
    if scaled is not None:
        frameprob, shift, log_prob, fwdlattice, scaling = scaled
        if not compute_posteriors:
            return log_prob + shift, None
        posteriors, _ = _scaled_posteriors(startprob, transmat, frameprob, fwdlattice, scaling)
        return log_prob + shift, posteriors
    log_prob, fwdlattice = _hmmc.forward_log(startprob, transmat, log_frameprob)
    if not compute_posteriors:
        return log_prob, None
    bwdlattice = _hmmc.backward_log(startprob, transmat, log_frameprob)
    return log_prob, _log_posteriors(fwdlattice, bwdlattice)


def _log_posteriors(fwdlattice, bwdlattice):
    log_gamma = fwdlattice + bwdlattice
    log_normalize(log_gamma, axis=1)
    with np.errstate(under="ignore"):
        return np.exp(log_gamma)


def forward_backward(startprob, transmat, log_frameprob):
    """Log-likelihood, posteriors and expected transition counts of one sequence.

    Returns
    -------
    log_prob : float
    posteriors : ndarray, shape (n_frames, n_states)
    xi_sum : ndarray, shape (n_states, n_states)
        ``sum_t P(state_t = i, state_t+1 = j | X)``.
    """
    scaled = _scaled_forward(startprob, transmat, log_frameprob)
    if scaled is not None:
        frameprob, shift, log_prob, fwdlattice, scaling = scaled
        posteriors, bwdlattice = _scaled_posteriors(startprob, transmat, frameprob, fwdlattice, scaling)
        xi_sum = _hmmc.compute_scaling_xi_sum(fwdlattice, transmat, bwdlattice, frameprob)
        return log_prob + shift, posteriors, xi_sum
    log_prob, fwdlattice = _hmmc.forward_log(startprob, transmat, log_frameprob)
    bwdlattice = _hmmc.backward_log(startprob, transmat, log_frameprob)
    posteriors = _log_posteriors(fwdlattice, bwdlattice)
    with np.errstate(under="ignore"):
        xi_sum = np.exp(_hmmc.compute_log_xi_sum(fwdlattice, transmat, bwdlattice, log_frameprob))
    return log_prob, posteriors, xi_sum
