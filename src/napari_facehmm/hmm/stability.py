"""Would I get the same states again: re-fit with other seeds and see which states come back.

State numbers and even states themselves depend on the random start of EM.
:func:`seed_stability_progress` re-fits a fitted :class:`~.model.FaceHMM` with
the same settings (number of states, restarts, iterations, covariance,
sticky prior) and other seeds, decodes the same frames with every fit and
reports:

- agreement of the whole segmentation: the adjusted Rand index (ARI, 1 =
  the same partition of the frames, 0 = chance; label numbers do not matter)
  between each re-fit and the reference fit, and its mean over all pairs of
  fits (reference included);
- per state, its *recurrence*: the fraction of re-fits in which the state
  comes back. Each re-fit's states are matched one-to-one to the reference's
  by their Gaussians (:func:`~.matching.match_states`); reference state
  ``k`` is *back* in a re-fit when the frames of its matched state overlap
  the frames of ``k`` with a Jaccard index ``|A & B| / |A | B|`` of at least
  :data:`RECURRENCE_JACCARD` (0.5). A state with recurrence below
  :data:`UNSTABLE_BELOW` (0.6: back in fewer than 3 of 4 re-fits) is
  *unstable*.

The re-fit seeds are ``random_state + 1 .. random_state + n_seeds - 1`` of the
reference (each seeds its own restarts, :meth:`FaceHMM._restart_seeds`), so
the same reference fit always gets the same report. Cost: ``n_seeds - 1``
more fits of the same size as the reference fit.

Plain float arrays in, as the rest of :mod:`napari_facehmm.hmm`; Qt-free.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import DataError, FaceHMMError
from ..progress import Progress
from ..ranges import Setting

__all__ = [
    "RECURRENCE_JACCARD",
    "STABILITY_SEEDS",
    "UNSTABLE_BELOW",
    "StabilityReport",
    "seed_stability",
    "seed_stability_progress",
    "state_overlap",
]

#: fits with different seeds, the reference fit included; 0 or 1: no stability check
STABILITY_SEEDS = Setting(
    "stability_seeds",
    int,
    default=5,
    minimum=0,
    maximum=100,
    help="fits with different seeds (the reference fit included) to check that each state comes back; "
    "0 or 1: no check",
)

#: Jaccard overlap of frames from which a matched state counts as the same state
RECURRENCE_JACCARD = 0.5

#: states back in fewer than this fraction of the re-fits are flagged unstable
UNSTABLE_BELOW = 0.6


@dataclass(eq=False)
class StabilityReport:
    """Agreement of re-fits with other seeds with a reference fit.

    Attributes
    ----------
    seeds
        ``random_state`` of every fit, the reference first (``n_seeds`` values).
    ari
        ``(n_seeds - 1,)`` adjusted Rand index of each re-fit's states against
        the reference's, over the decoded frames.
    ari_pairwise_mean
        Mean ARI over all pairs of fits, the reference included.
    jaccard
        ``(n_seeds - 1, n_states)`` frame overlap of each reference state with
        its matched state in each re-fit.
    jaccard_threshold, recurrence_threshold
        The rule: back when ``jaccard >= jaccard_threshold``; unstable when
        the fraction of re-fits it is back in is below ``recurrence_threshold``.
    """

    seeds: list[int]
    ari: np.ndarray
    ari_pairwise_mean: float
    jaccard: np.ndarray
    jaccard_threshold: float = RECURRENCE_JACCARD
    recurrence_threshold: float = UNSTABLE_BELOW

    @property
    def n_seeds(self) -> int:
        return len(self.seeds)

    @property
    def n_refits(self) -> int:
        return len(self.seeds) - 1

    @property
    def n_back(self) -> np.ndarray:
        """``(n_states,)`` re-fits in which each reference state came back."""
        return (self.jaccard >= self.jaccard_threshold).sum(axis=0).astype(int)

    @property
    def recurrence(self) -> np.ndarray:
        """``(n_states,)`` fraction of re-fits in which each reference state came back."""
        return self.n_back / max(self.n_refits, 1)

    @property
    def unstable(self) -> np.ndarray:
        """``(n_states,)`` True for states that come back in too few re-fits."""
        return self.recurrence < self.recurrence_threshold

    @property
    def unstable_states(self) -> list[int]:
        return [int(k) for k in np.flatnonzero(self.unstable)]

    def describe_state(self, state: int) -> str:
        """``"stable: back in 4 of 4 re-fits"`` or ``"unstable: back in 1 of 4 re-fits"``."""
        word = "unstable" if self.unstable[state] else "stable"
        return f"{word}: back in {self.n_back[state]} of {self.n_refits} re-fits"

    def rule(self) -> str:
        return (
            f"a state is back in a re-fit when its matched state (Jeffreys divergence, Hungarian) covers "
            f"its frames with Jaccard >= {self.jaccard_threshold:g}; unstable when back in fewer than "
            f"{self.recurrence_threshold:.0%} of the {self.n_refits} re-fits"
        )

    def to_dict(self) -> dict[str, Any]:
        """The ``stability`` block of ``summary.json`` (JSON-ready)."""
        return {
            "n_seeds": self.n_seeds,
            "seeds": [int(s) for s in self.seeds],
            "ari": [round(float(a), 6) for a in self.ari],
            "ari_mean": round(float(np.mean(self.ari)), 6),
            "ari_min": round(float(np.min(self.ari)), 6),
            "ari_pairwise_mean": round(float(self.ari_pairwise_mean), 6),
            "recurrence": [round(float(r), 6) for r in self.recurrence],
            "n_back": [int(n) for n in self.n_back],
            "unstable_states": self.unstable_states,
            "jaccard_threshold": float(self.jaccard_threshold),
            "recurrence_threshold": float(self.recurrence_threshold),
            "rule": self.rule(),
        }


def state_overlap(reference_states: np.ndarray, other_states: np.ndarray, mapping: np.ndarray) -> np.ndarray:
    """Jaccard index of each reference state's frames with its matched state's frames.

    Parameters
    ----------
    reference_states, other_states
        ``(n_frames,)`` decoded states of the same frames.
    mapping
        ``(n_states,)`` state of the other fit matched to each reference state (-1: none).

    Returns
    -------
    ndarray, shape (n_states,)
        0 for a state without frames in the reference or without a match.
    """
    overlap = np.zeros(len(mapping))
    for state, matched in enumerate(mapping):
        mine = reference_states == state
        theirs = other_states == matched if matched >= 0 else np.zeros_like(mine)
        union = np.count_nonzero(mine | theirs)
        if mine.any() and union:
            overlap[state] = np.count_nonzero(mine & theirs) / union
    return overlap


def _refit(reference, seed: int):
    """A FaceHMM with the reference's settings and another seed (not fitted)."""
    from .model import FaceHMM

    settings = reference.get_params()
    # the refit's own names and metadata start empty, as a new model's
    settings.update(random_state=seed, state_names=None, metadata=None)
    refit = FaceHMM(**settings)
    refit.log_convergence = False  # the report says how the re-fits agree
    return refit


def check_n_seeds(n_seeds: Any) -> int:
    """``n_seeds`` as an int within :data:`STABILITY_SEEDS`' range (:class:`DataError` naming it)."""
    return STABILITY_SEEDS.check(n_seeds, "stability seeds")


def seed_stability_progress(
    reference,
    X,
    lengths=None,
    n_seeds: int = 5,
    *,
    jaccard_threshold: float = RECURRENCE_JACCARD,
    recurrence_threshold: float = UNSTABLE_BELOW,
) -> Generator[Progress, None, StabilityReport]:
    """Re-fit ``reference`` with ``n_seeds - 1`` other seeds on ``X`` and compare the states.

    Parameters
    ----------
    reference : FaceHMM
        The fitted model whose states are checked.
    X : array-like, shape (n_frames, n_features)
        The frames it was fitted on (finite values), ``lengths`` its sequences.
    n_seeds
        Fits in all, the reference included; at least 2.
    jaccard_threshold, recurrence_threshold
        The rule (module docstring).

    Yields
    ------
    (done, total, message)
        One step per EM iteration of the re-fits. Cancel: stop iterating and
        close the generator.

    Returns
    -------
    StabilityReport
    """
    from sklearn.metrics import adjusted_rand_score

    from ._validation import check_features
    from .matching import match_states

    n_seeds = check_n_seeds(n_seeds)
    if n_seeds < 2:
        raise DataError(f"a stability check needs at least 2 seeds (the reference and a re-fit); got {n_seeds}")
    if getattr(reference, "model_", None) is None:
        raise FaceHMMError("the stability check needs a fitted model")
    X, lengths = check_features(X, lengths, n_features=reference.n_features_, feature_names=reference.feature_names)
    base = int(reference.random_state or 0)
    seeds = [base + i for i in range(n_seeds)]
    reference_states = np.asarray(reference.predict(X, lengths))
    all_states = [reference_states]
    jaccard = np.zeros((n_seeds - 1, reference.n_states))
    per_fit = reference.n_restarts * reference.n_iter
    total = per_fit * (n_seeds - 1)
    for number, seed in enumerate(seeds[1:]):
        refit = _refit(reference, seed)
        label = f"stability: re-fit {number + 1}/{n_seeds - 1} (seed {seed})"
        yield number * per_fit, total, label
        for step in refit.fit_progress(X, lengths):
            yield number * per_fit + min(step.done, per_fit), total, f"{label}, {step.message}"
        states = np.asarray(refit.predict(X, lengths))
        jaccard[number] = state_overlap(reference_states, states, match_states(reference, refit))
        all_states.append(states)
    ari = np.array([adjusted_rand_score(reference_states, states) for states in all_states[1:]])
    pairs = [
        adjusted_rand_score(all_states[i], all_states[j])
        for i in range(n_seeds)
        for j in range(i + 1, n_seeds)
    ]
    yield total, total, "stability: done"
    return StabilityReport(
        seeds=seeds,
        ari=ari,
        ari_pairwise_mean=float(np.mean(pairs)),
        jaccard=jaccard,
        jaccard_threshold=float(jaccard_threshold),
        recurrence_threshold=float(recurrence_threshold),
    )


def seed_stability(reference, X, lengths=None, n_seeds: int = 5, **rule) -> StabilityReport:
    """:func:`seed_stability_progress` without progress."""
    from ..progress import run_to_end

    return run_to_end(seed_stability_progress(reference, X, lengths, n_seeds, **rule))
