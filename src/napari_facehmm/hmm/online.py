"""Decoding one frame at a time, for live use: filtering and fixed-lag smoothing.

Offline, a frame's state comes from the whole recording (forward-backward or
Viterbi). Live, only the frames so far are known. :class:`OnlineDecoder`
runs the normalized forward recursion, one step per frame,

    alpha_t  is proportional to  (alpha_{t-1} @ A) * p(x_t | state),

so ``alpha_t`` is the filtered distribution ``p(state_t | x_1..t)``. With a
fixed lag ``L`` the state of frame ``t - L`` is decided at frame ``t`` from
``p(state_{t-L} | x_1..t)``: the filtered ``alpha_{t-L}`` times a backward
pass over the last ``L`` frames. ``L`` frames later, that is what the full
forward-backward gives once the frames after ``t`` hardly matter (a few
frames for sticky states); ``L = 0`` is plain filtering. Each step costs
``O(L K^2)``.

A frame without features (no face, or ``None``) is a step without evidence:
the distribution moves by the transitions only, and the frame is decided as
"no state" (-1), as offline analysis leaves it.

Likelihoods come from the model's own emission densities (the fast path,
and the marginal over observed features where some are missing), so the
same frames give the same numbers as offline decoding.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

from ..errors import DataError

__all__ = ["OnlineDecoder", "Decided"]


@dataclass(frozen=True)
class Decided:
    """The decision about one frame.

    Attributes
    ----------
    frame
        The frame's number (0 for the first frame pushed).
    state
        The most probable state, -1 where the frame had no features.
    probability
        That state's probability (0 for -1).
    posterior
        ``(n_states,)``: ``p(state | frames up to frame + lag)``.
    """

    frame: int
    state: int
    probability: float
    posterior: np.ndarray


class OnlineDecoder:
    """Filtered (``lag=0``) or fixed-lag state probabilities of a fitted model, one frame at a time.

    Parameters
    ----------
    model
        A fitted :class:`~napari_facehmm.hmm.FaceHMM` (its hmmlearn model is
        used: ``startprob_``, ``transmat_`` and the emission densities).
    lag
        Frames to wait before deciding a frame (0: decide at once).

    Examples
    --------
    >>> decoder = OnlineDecoder(model, lag=5)          # doctest: +SKIP
    >>> for row in feature_rows:                        # doctest: +SKIP
    ...     for decided in decoder.push(row):
    ...         show(decided.frame, decided.state)
    >>> remaining = decoder.flush()                    # doctest: +SKIP
    """

    def __init__(self, model, lag: int = 0):
        hmm = getattr(model, "model_", None)
        if hmm is None:
            raise DataError("live decoding needs a fitted model (fit one, or load a saved model)")
        if int(lag) != lag or lag < 0:
            raise DataError(f"lag must be a whole number of frames, at least 0; got {lag!r}")
        self.model = model
        self.lag = int(lag)
        self._hmm = hmm
        self.n_states = int(hmm.n_components)
        self.n_features = int(getattr(model, "n_features_", hmm.means_.shape[1]))
        self._transmat = np.asarray(hmm.transmat_, dtype=float)
        self._startprob = np.asarray(hmm.startprob_, dtype=float)
        self.reset()

    def reset(self) -> None:
        """Forget every frame pushed: the next frame is the first of a new sequence."""
        self._alpha: np.ndarray | None = None
        # the last lag + 1 frames: (frame, alpha, scaled likelihoods or None where no evidence)
        self._window: deque = deque()
        self.frames_pushed = 0

    def log_likelihood(self, row) -> np.ndarray | None:
        """``(n_states,)`` emission log-likelihoods of one feature row; None for a frame without features."""
        if row is None:
            return None
        row = np.asarray(row, dtype=float).reshape(1, -1)
        if row.shape[1] != self.n_features:
            raise DataError(f"a frame has {row.shape[1]} features; the model was fit on {self.n_features}")
        if not np.isfinite(row).any():
            return None
        return self._hmm._compute_log_likelihood(row)[0]

    def push(self, row) -> list[Decided]:
        """Add one frame's features ``(n_features,)`` (None or all-NaN: no face); return the frames decided now.

        With ``lag = 0`` that is this frame; with ``lag = L`` it is frame
        ``t - L`` once ``L`` frames have followed it (none before that).
        """
        log_likelihood = self.log_likelihood(row)
        prior = self._startprob if self._alpha is None else self._alpha @ self._transmat
        if log_likelihood is None:
            likelihood = None
            alpha = prior
        else:
            likelihood = np.exp(log_likelihood - np.max(log_likelihood))
            alpha = prior * likelihood
            total = alpha.sum()
            if not np.isfinite(total) or total <= 0:  # every state impossible: restart from the prior
                alpha = prior
            else:
                alpha = alpha / total
        self._alpha = alpha
        frame = self.frames_pushed
        self.frames_pushed += 1
        self._window.append((frame, alpha, likelihood))
        if len(self._window) <= self.lag:
            return []
        decided = self._decide(0)
        self._window.popleft()
        return [decided]

    def flush(self) -> list[Decided]:
        """Decide the frames still waiting for their lag (at the end of a recording), oldest first."""
        decided = [self._decide(i) for i in range(len(self._window))]
        self._window.clear()
        return decided

    def _decide(self, index: int) -> Decided:
        """The decision about the ``index``-th frame of the window, from every later frame in it."""
        frame, alpha, likelihood = self._window[index]
        beta = np.ones(self.n_states)
        for _, _, later in reversed(list(self._window)[index + 1:]):
            beta = self._transmat @ (beta if later is None else beta * later)
            beta = beta / beta.sum()
        posterior = alpha * beta
        posterior = posterior / posterior.sum()
        if likelihood is None:
            return Decided(frame, -1, 0.0, posterior)
        state = int(np.argmax(posterior))
        return Decided(frame, state, float(posterior[state]), posterior)
