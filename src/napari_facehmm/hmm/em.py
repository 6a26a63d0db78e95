"""The EM loop of :class:`~napari_facehmm.hmm.FaceHMM`: restarts, initialisation, re-seeding, progress, Cancel.

Each restart runs hmmlearn's own EM steps one iteration at a time, so a fit
can report progress after every iteration and be cancelled keeping the best
model so far. :class:`EMFitMixin` holds the methods; the estimator
(:mod:`.model`) provides ``_new_model`` and the settings, the state order
(:mod:`.ordering`) ``_check_canonical_order`` and ``_apply_canonical_order``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from ..errors import DataError
from ._validation import check_features, check_fittable
from .convergence import DecreaseCounter, convergence_report, log_report, quiet_monitor, restart_convergence
from .missing import impute_column_means, initial_rows

if TYPE_CHECKING:
    from .model import FaceHMM

_log = logging.getLogger(__name__)

# Self-transition probability of the initial transition matrix. Face states
# last many frames at video rates, so EM starts from long dwell times rather
# than from hmmlearn's random (Dirichlet(1/K)) rows, which mostly switch state
# every frame and need many iterations to unlearn that.
_INITIAL_SELF_TRANSITION = 0.9
# Frames k-means sees when initialising the means (a random subsample).
_KMEANS_MAX_FRAMES = 20_000
# A state whose expected number of frames falls below this has lost its data:
# at exactly zero hmmlearn's M-step divides 0 by 0 (NaN means, a transition
# row of zeros: "transmat_ rows must sum to 1"), and just above zero it blows
# the covariance up to covars_prior / posterior. Such a state is re-seeded.
_EMPTY_STATE_FRAMES = 1e-6
# Re-seeds of one state per restart after which EM is let to converge with
# the state parked where it was re-seeded (data with fewer distinct frames
# than states would otherwise re-seed it at every iteration).
_MAX_RESEEDS_PER_STATE = 3


class FitProgress(NamedTuple):
    """One step of :meth:`FaceHMM.fit_progress`.

    The first three fields follow the project's ``(done, total, message)``
    convention for progress bars.

    Attributes
    ----------
    done, total : int
        EM iterations done and the most there can be
        (``n_restarts * n_iter``; a restart that converges early skips ahead).
    message : str
        E.g. ``"restart 2/3, iteration 14: log-likelihood -1.234e+06"``.
    restart : int
        0-based index of the running restart.
    n_restarts : int
    iteration : int
        1-based EM iteration within the restart.
    log_likelihood : float
        Log-likelihood of the training data before this iteration's M-step
        (hmmlearn's ``monitor_.history`` value).
    """

    done: int
    total: int
    message: str
    restart: int
    n_restarts: int
    iteration: int
    log_likelihood: float


def _reconnect_states(model, states: list[int]) -> None:
    """After re-seeding: let ``states`` be entered and left again.

    The M-step gave an emptied state a transition row of zeros and every
    other state a zero chance to enter it; it gets the initial dwell
    (self-transition ``_INITIAL_SELF_TRANSITION``), and a start and entry
    probability of at least the initial ones, the rows renormalised.
    """
    n_states = model.n_components
    entry = (1.0 - _INITIAL_SELF_TRANSITION) / (n_states - 1)
    transmat = model.transmat_.copy()
    for state in states:
        transmat[state] = entry
        transmat[state, state] = _INITIAL_SELF_TRANSITION
    for state in states:
        column = transmat[:, state]
        others = np.arange(n_states) != state
        column[others] = np.maximum(column[others], entry)
    model.transmat_ = transmat / transmat.sum(axis=1, keepdims=True)
    startprob = model.startprob_.copy()
    startprob[states] = np.maximum(startprob[states], 1.0 / n_states)
    model.startprob_ = startprob / startprob.sum()


class EMFitMixin:
    """:meth:`fit`, :meth:`fit_progress` and :meth:`finish_cancelled` of :class:`~napari_facehmm.hmm.FaceHMM`."""

    def _initial_model(self, X: np.ndarray, seed: int):
        """A model with this restart's initial parameters, ready for EM.

        Means: k-means centres (best of 10 k-means runs seeded by ``seed``, as
        hmmlearn initialises, on at most ``_KMEANS_MAX_FRAMES`` frames drawn
        with ``seed``); covariance: the pooled covariance plus ``min_covar``
        (as hmmlearn); uniform start probabilities; self-transition 0.9.
        """
        from sklearn.cluster import KMeans

        n_states, n_features = self.n_states, X.shape[1]
        model = self._new_model(seed, n_features)
        model.n_features = n_features
        # A weak start (one k-means run) often ends EM in a poor local optimum
        # (merged states); 10 runs are cheap on a subsample and the centres
        # of 20,000 frames are as good as those of all frames.
        kmeans = KMeans(n_clusters=n_states, n_init=10, random_state=seed).fit(self._kmeans_sample(X, seed))
        model.means_ = kmeans.cluster_centers_
        pooled = self._pooled_covariance(X)
        if self.covariance_type == "full":
            model.covars_ = np.tile(pooled, (n_states, 1, 1))
        elif self.covariance_type == "tied":
            model.covars_ = pooled
        elif self.covariance_type == "diag":
            model.covars_ = np.tile(np.diag(pooled), (n_states, 1))
        else:
            model.covars_ = np.full(n_states, np.diag(pooled).mean())
        model.startprob_ = np.full(n_states, 1.0 / n_states)
        if n_states == 1:
            model.transmat_ = np.ones((1, 1))
        else:
            off = (1.0 - _INITIAL_SELF_TRANSITION) / (n_states - 1)
            model.transmat_ = np.full((n_states, n_states), off)
            np.fill_diagonal(model.transmat_, _INITIAL_SELF_TRANSITION)
        return model

    # Data hooks: the one place each reads the training data, so that a fit
    # whose data lives elsewhere (napari_facehmm.batch: sessions kept on Dask
    # workers) overrides these and reuses the loop, initialisation included.
    def _fit_data(self, X, lengths):
        """Checked ``(X, lengths)`` for :meth:`fit_progress`."""
        X, lengths = check_features(X, lengths, feature_names=self.feature_names)
        if self.feature_names is not None and len(self.feature_names) != X.shape[1]:
            raise DataError(
                f"{len(self.feature_names)} feature_names were given but X has {X.shape[1]} columns"
            )
        check_fittable(X, self.n_states, self.feature_names)
        return X, lengths

    def _kmeans_sample(self, X: np.ndarray, seed: int) -> np.ndarray:
        """The frames k-means sees: all, or ``_KMEANS_MAX_FRAMES`` drawn with ``seed`` (in frame order).

        With missing values (NaN): the complete frames (see :func:`.missing.initial_rows`).
        """
        X = initial_rows(X, self.n_states)
        if len(X) > _KMEANS_MAX_FRAMES:
            rows = np.random.default_rng(seed).choice(len(X), _KMEANS_MAX_FRAMES, replace=False)
            return X[np.sort(rows)]
        return X

    def _pooled_covariance(self, X: np.ndarray) -> np.ndarray:
        """Covariance of all frames (complete ones, with missing values) plus ``min_covar`` on the diagonal."""
        X = initial_rows(X, X.shape[1] + 1)
        return np.atleast_2d(np.cov(X.T)) + self.min_covar * np.eye(X.shape[1])

    def _reseed_candidates(self, running, X: np.ndarray, kept: np.ndarray, count: int):
        """``(frame, row)`` of the frames the ``kept`` states explain worst, worst first (ties: earlier frame).

        ``count`` is how many are needed at least (the loop stops early); the
        default yields every frame.
        """
        fit = running._compute_log_likelihood(X)[:, kept].max(axis=1)
        return ((int(frame), X[frame]) for frame in np.argsort(fit, kind="stable"))

    def _reseed_empty_states(self, running, X: np.ndarray, stats: dict) -> dict[int, int]:
        """Give states that lost all their frames one pseudo-frame each; ``{state: frame}``.

        An emptied state is moved onto the frame the other states explain
        worst (lowest best-state log-likelihood; the next worst distinct
        frame for a second emptied state), as k-means re-seeds an empty
        cluster, with the pooled covariance of the data: its sufficient
        statistics become those of one frame at ``X[t]`` spread by the pooled
        covariance, so the M-step (hmmlearn's, for every covariance type)
        gives mean ``X[t]`` and covariance ``pooled + covars_prior``.
        """
        posterior_frames = stats["post"]
        emptied = np.flatnonzero(~(posterior_frames >= _EMPTY_STATE_FRAMES))
        if len(emptied) == 0 or len(emptied) == self.n_states:
            return {}
        kept = np.setdiff1d(np.arange(self.n_states), emptied)
        pooled = self._pooled_covariance(X)
        chosen: dict[int, int] = {}
        rows: dict[int, np.ndarray] = {}
        worst = None
        candidates = iter(self._reseed_candidates(running, X, kept, len(emptied)))
        for state in emptied:
            for frame, x in candidates:
                worst = worst or (frame, x)
                if not any(np.array_equal(x, rows[other]) for other in chosen.values()):
                    break
            else:
                frame, x = worst
            x = impute_column_means(np.vstack([x, X]))[0] if np.isnan(x).any() else x
            chosen[int(state)] = int(frame)
            rows[int(frame)] = x
            stats["post"][state] = 1.0
            stats["obs"][state] = x
            if "obs**2" in stats:
                stats["obs**2"][state] = x**2 + np.diag(pooled)
            if "obs*obs.T" in stats:
                stats["obs*obs.T"][state] = np.outer(x, x) + pooled
        return chosen

    def _restart_seeds(self) -> list[int]:
        from sklearn.utils import check_random_state

        generator = check_random_state(self.random_state)
        return [int(seed) for seed in generator.randint(0, 2**31 - 1, size=self.n_restarts)]

    # ------------------------------------------------------------------- fit
    def fit(self, X, lengths=None) -> "FaceHMM":
        """Fit with all restarts and keep the best model.

        Parameters
        ----------
        X : array-like, shape (n_frames, n_features)
            Finite feature values (drop invalid frames first).
        lengths : array-like of int, shape (n_sequences,), optional
            Frames per contiguous sequence; must sum to ``n_frames``.

        Returns
        -------
        self
        """
        for _ in self.fit_progress(X, lengths):
            pass
        return self

    def fit_progress(self, X, lengths=None) -> Iterator[FitProgress]:
        """Fit like :meth:`fit`, yielding a :class:`FitProgress` after every EM iteration.

        Cancel: stop iterating and either close the generator
        (``generator.close()``, also what garbage collection does) or call
        :meth:`finish_cancelled`. Both keep the best model seen so far,
        whether its restart finished or not, and set ``cancelled_``; if no EM
        iteration ran yet, the model stays unfitted. napari's
        ``worker.quit()`` only stops iterating, so connect the worker's
        ``aborted`` signal to :meth:`finish_cancelled`. The generator returns
        ``self``.

        Each restart runs hmmlearn's own EM loop one iteration at a time
        (``_do_estep``, ``_do_mstep``, ``monitor_.report``, as
        ``BaseHMM.fit`` does), so the result equals a plain ``fit``.
        """
        X, lengths = self._fit_data(X, lengths)
        self._check_canonical_order(X.shape[1])
        seeds = self._restart_seeds()
        total = self.n_restarts * self.n_iter
        self.model_ = None
        self.cancelled_ = False
        self.restarts_ = []
        self.restart_models_ = []
        # What finish_cancelled() needs if the fit stops early; None when done.
        pending = {"X": X, "lengths": lengths, "seeds": seeds, "best": None, "running": None}
        self._pending_fit = pending
        try:
            for restart, seed in enumerate(seeds):
                running = self._initial_model(X, seed)
                running._init(X, lengths)  # init_params="": only checks, like fit()
                running._check()
                running.monitor_._reset()
                pending["running"] = running
                # hmmlearn's "not converging" lines are counted, not logged.
                pending["decreases"] = decreases = DecreaseCounter()
                reseeds = np.zeros(self.n_states, dtype=int)
                for iteration in range(1, self.n_iter + 1):
                    stats, log_prob = running._do_estep(X, lengths)
                    lower_bound = running._compute_lower_bound(log_prob)
                    reseeded = self._reseed_empty_states(running, X, stats)
                    running._do_mstep(stats)
                    note = ""
                    if reseeded:
                        _reconnect_states(running, list(reseeded))
                        reseeds[list(reseeded)] += 1
                        note = "; " + "; ".join(
                            f"state {k} lost all its frames, re-seeded at frame {t}" for k, t in reseeded.items()
                        )
                        _log.warning("restart %d, iteration %d%s", restart + 1, iteration, note)
                    with quiet_monitor(decreases):
                        running.monitor_.report(lower_bound)
                    if reseeded and (reseeds[list(reseeded)] <= _MAX_RESEEDS_PER_STATE).all():
                        # The re-seeded model starts lower; a drop is not convergence.
                        running.monitor_.history.clear()
                    yield FitProgress(
                        done=restart * self.n_iter + iteration,
                        total=total,
                        message=(
                            f"restart {restart + 1}/{self.n_restarts}, iteration {iteration}: "
                            f"log-likelihood {lower_bound:.6g}{note}"
                        ),
                        restart=restart,
                        n_restarts=self.n_restarts,
                        iteration=iteration,
                        log_likelihood=float(lower_bound),
                    )
                    if self._pending_fit is not pending:
                        return self  # finish_cancelled() already ended this fit
                    if running.monitor_.converged:
                        break
                    if (running.transmat_.sum(axis=1) == 0).any():
                        # The same warning hmmlearn's fit() logs.
                        _log.warning(
                            "Some rows of transmat_ have zero sum because no "
                            "transition from the state was ever observed."
                        )
                score = float(running.score(X, lengths))
                self.restarts_.append(
                    {
                        "restart": restart,
                        "seed": seed,
                        "log_likelihood": score,
                        **self._restart_convergence(running, decreases),
                        "completed": True,
                        "n_reseeded": int(reseeds.sum()),
                    }
                )
                self.restart_models_.append(running)
                pending["running"] = None
                if pending["best"] is None or score > pending["best"][0]:
                    pending["best"] = (score, restart)
        except GeneratorExit:
            if self._pending_fit is pending:
                self.finish_cancelled()
            raise
        except Exception:
            if self._pending_fit is pending:
                self._pending_fit = None  # a failed fit leaves nothing to keep
            raise
        self._pending_fit = None
        self._keep(pending["best"], X, lengths)
        return self

    def finish_cancelled(self) -> "FaceHMM":
        """End a :meth:`fit_progress` fit that was stopped early; keep the best model so far.

        Call it after the generator has stopped being iterated (e.g. from
        napari's ``worker.aborted`` signal). Among the finished restarts and
        the interrupted one (judged by its last log-likelihood), the best
        becomes ``model_`` in canonical order and ``cancelled_`` is set. Does
        nothing when no fit is pending (it finished, or was already ended).

        Returns
        -------
        self
        """
        pending = getattr(self, "_pending_fit", None)
        if pending is None:
            return self
        self._pending_fit = None
        self.cancelled_ = True
        best = pending["best"]
        running = pending["running"]
        if running is not None and running.monitor_.history:
            partial = float(running.monitor_.history[-1])
            index = len(self.restart_models_)
            self.restarts_.append(
                {
                    "restart": index,
                    "seed": pending["seeds"][index],
                    "log_likelihood": partial,
                    **self._restart_convergence(running, pending.get("decreases")),
                    "converged": False,
                    "completed": False,
                }
            )
            self.restart_models_.append(running)
            if best is None or partial > best[0]:
                best = (partial, index)
        if best is not None:
            self._keep(best, pending["X"], pending["lengths"])
        return self

    def _restart_convergence(self, running, decreases: DecreaseCounter | None) -> dict:
        """``converged``, ``n_iter``, ``final_delta``, ... of a restart (see :mod:`.convergence`)."""
        return restart_convergence(
            running.monitor_.history,
            running.monitor_.iter,
            self.tol,
            self.n_iter,
            decreases.count if decreases is not None else 0,
        )

    def _keep(self, best: tuple[float, int], X: np.ndarray, lengths: np.ndarray) -> None:
        """Adopt restart ``best[1]`` as the model, in canonical state order."""
        log_likelihood, restart = best
        source = self.restart_models_[restart]
        model = self._new_model(self.restarts_[restart]["seed"], X.shape[1])
        model.n_features = X.shape[1]
        model.startprob_ = source.startprob_.copy()
        model.transmat_ = source.transmat_.copy()
        model.means_ = source.means_.copy()
        model._covars_ = source._covars_.copy()
        model.monitor_ = source.monitor_
        self.model_ = model
        self.n_features_ = X.shape[1]
        self.best_restart_ = restart
        self.log_likelihood_ = float(log_likelihood)
        self.converged_ = bool(self.restarts_[restart]["converged"])
        self.convergence_ = convergence_report(self.restarts_, restart, self.tol)
        if self.log_convergence:
            log_report(_log, self.convergence_)
        self.n_frames_fitted_ = len(X)
        self._apply_canonical_order(X, lengths)
