"""FaceHMM: a Gaussian HMM of facial-expression features, sklearn style.

The facade adds to hmmlearn what an analysis of face videos needs: several
restarts keeping the best likelihood, a sticky transition prior, iteration
progress with Cancel, a canonical state order (so two fits give the same state
numbers), input checks with clear messages, and saving without pickle.
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from ..errors import DataError, FaceHMMError, FileFormatError
from ._validation import check_features, check_fittable

_log = logging.getLogger(__name__)

__all__ = ["FaceHMM", "FitProgress", "model_paths", "FORMAT_NAME", "FORMAT_VERSION"]

FORMAT_NAME = "napari-facehmm/hmm"
FORMAT_VERSION = 1
COVARIANCE_TYPES = ("full", "diag", "spherical", "tied")

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


def model_paths(path: str | Path) -> tuple[Path, Path]:
    """The two files a saved model consists of.

    Parameters
    ----------
    path
        A stem such as ``results/face_model``; a trailing ``.json`` or ``.npz``
        is removed, so the path of either file also works.

    Returns
    -------
    json_path, npz_path
        ``<stem>.json`` (settings, names, metadata) and ``<stem>.npz``
        (parameter arrays).
    """
    path = Path(path)
    if path.suffix.lower() in (".json", ".npz"):
        path = path.with_suffix("")
    return path.with_name(path.name + ".json"), path.with_name(path.name + ".npz")


def _numpy_to_json(value: Any) -> Any:
    # numpy scalars and arrays (feature means, SDs...) become numbers and lists.
    if isinstance(value, (np.generic, np.ndarray)):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def _json_ready(value: Any, what: str) -> Any:
    try:
        return json.loads(json.dumps(value, default=_numpy_to_json))
    except (TypeError, ValueError) as error:
        raise DataError(
            f"{what} must be JSON-serialisable (numbers, strings, lists, dicts): {error}"
        ) from None


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


class FaceHMM:
    """Gaussian HMM over face features with restarts and a canonical state order.

    Parameters
    ----------
    n_states : int
        Number of hidden states (9 in the reference analysis).
    covariance_type : {"full", "diag", "spherical", "tied"}
    n_restarts : int
        EM runs from different initialisations; the one with the highest
        training log-likelihood is kept.
    n_iter : int
        Most EM iterations per restart.
    tol : float
        EM stops when the log-likelihood gains less than this.
    sticky : float
        Dirichlet pseudo-counts added to every self-transition
        (``transmat_prior = 1 + sticky * I``). 0 is plain maximum likelihood;
        values comparable to the frames per state (e.g. ``0.1 * n_frames /
        n_states``) favour longer, more realistic dwell times.
    random_state : int or None
        Seed of the restarts; the same seed gives the same fit.
    canonical_order : "frequency", "none", int, str or callable
        How states are numbered after fitting. "frequency": by decoded
        occupancy, most frequent first. An int or a feature name: by that
        feature's state mean, ascending (e.g. a mouth-opening column).
        A callable ``f(face_hmm) -> scores (n_states,)``: by score, ascending.
        "none": as EM left them.
    min_covar, covars_prior, covars_weight : float
        Passed to :class:`hmmlearn.hmm.GaussianHMM`; ``min_covar`` is added
        to the diagonal of the initial covariance. For full and tied
        covariances ``covars_prior`` is passed as ``covars_prior * I`` so it
        acts as a ridge on the diagonal (hmmlearn would add a scalar to
        every element, which does not regularise linearly dependent features).
    state_names : sequence of str, optional
        Names of the states in canonical order; default "state 0", ...
    feature_names : sequence of str, optional
        Names of the feature columns; used in messages and saved.
    metadata : dict, optional
        JSON-able settings saved with the model, e.g. the feature settings
        needed to apply it to a new video.

    Attributes
    ----------
    model_ : FastGaussianHMM
        The fitted hmmlearn model, states in canonical order.
    monitor_ : hmmlearn.base.ConvergenceMonitor
        Convergence history of the kept restart.
    log_likelihood_ : float
        Training log-likelihood of the kept model.
    restarts_ : list of dict
        Per restart: ``restart``, ``seed``, ``log_likelihood``, ``n_iter``,
        ``converged``, ``completed``.
    restart_models_ : list of FastGaussianHMM
        Every restart's model (EM state numbering), in restart order.
    best_restart_ : int
    converged_ : bool
    cancelled_ : bool
        True if :meth:`fit_progress` was closed before finishing.
    n_features_ : int
    """

    def __init__(
        self,
        n_states: int = 9,
        covariance_type: str = "full",
        n_restarts: int = 3,
        n_iter: int = 100,
        tol: float = 1e-3,
        sticky: float = 0.0,
        random_state: int | None = 0,
        canonical_order: str | int | Callable = "frequency",
        *,
        min_covar: float = 1e-3,
        covars_prior: float = 1e-2,
        covars_weight: float = 1.0,
        state_names: Sequence[str] | None = None,
        feature_names: Sequence[str] | None = None,
        metadata: dict | None = None,
    ):
        if covariance_type not in COVARIANCE_TYPES:
            raise ValueError(f"covariance_type must be one of {COVARIANCE_TYPES}, got {covariance_type!r}")
        if n_states < 1 or n_restarts < 1 or n_iter < 1:
            raise ValueError("n_states, n_restarts and n_iter must be at least 1")
        if sticky < 0:
            raise ValueError(f"sticky must be >= 0, got {sticky}")
        self.n_states = int(n_states)
        self.covariance_type = covariance_type
        self.n_restarts = int(n_restarts)
        self.n_iter = int(n_iter)
        self.tol = float(tol)
        self.sticky = float(sticky)
        self.random_state = random_state
        self.canonical_order = canonical_order
        self.min_covar = float(min_covar)
        self.covars_prior = float(covars_prior)
        self.covars_weight = float(covars_weight)
        self.feature_names = list(feature_names) if feature_names is not None else None
        self.metadata = dict(metadata) if metadata is not None else {}
        self.state_names = state_names
        self.model_ = None
        self.cancelled_ = False
        self._pending_fit = None

    # ------------------------------------------------------------------ names
    @property
    def state_names(self) -> list[str]:
        """Names of the states in canonical order (editable; saved with the model)."""
        return self._state_names

    @state_names.setter
    def state_names(self, names: Sequence[str] | None) -> None:
        if names is None:
            names = [f"state {k}" for k in range(self.n_states)]
        names = [str(name) for name in names]
        if len(names) != self.n_states:
            raise DataError(f"state_names has {len(names)} names for {self.n_states} states")
        self._state_names = names

    # ------------------------------------------------------------- hmmlearn
    def _transmat_prior(self) -> np.ndarray | float:
        if self.sticky == 0:
            return 1.0
        return 1.0 + self.sticky * np.eye(self.n_states)

    def _covars_prior(self, n_features: int) -> float | np.ndarray:
        """``covars_prior`` as hmmlearn's M-step needs it to act as a ridge.

        For full and tied covariances hmmlearn adds ``covars_prior`` to the
        scatter matrix; a scalar is added to *every* element (a rank-one
        matrix), which leaves singular directions singular. Linearly dependent
        features are common here (rigid alignment removes six degrees of
        freedom), so we pass ``covars_prior * I``: a proper inverse-Wishart
        scale that keeps every covariance positive definite.
        """
        if self.covariance_type == "full":
            return np.tile(self.covars_prior * np.eye(n_features), (self.n_states, 1, 1))
        if self.covariance_type == "tied":
            return self.covars_prior * np.eye(n_features)
        return self.covars_prior

    def _new_model(self, seed: int | None, n_features: int):
        from .fast import FastGaussianHMM

        return FastGaussianHMM(
            n_components=self.n_states,
            covariance_type=self.covariance_type,
            min_covar=self.min_covar,
            covars_prior=self._covars_prior(n_features),
            covars_weight=self.covars_weight,
            transmat_prior=self._transmat_prior(),
            random_state=seed,
            n_iter=self.n_iter,
            tol=self.tol,
            params="stmc",
            init_params="",
            implementation="log",
        )

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
        sample = X
        if len(X) > _KMEANS_MAX_FRAMES:
            rows = np.random.default_rng(seed).choice(len(X), _KMEANS_MAX_FRAMES, replace=False)
            sample = X[np.sort(rows)]
        kmeans = KMeans(n_clusters=n_states, n_init=10, random_state=seed).fit(sample)
        model.means_ = kmeans.cluster_centers_
        pooled = np.atleast_2d(np.cov(X.T)) + self.min_covar * np.eye(n_features)
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
        fit = running._compute_log_likelihood(X)[:, kept].max(axis=1)
        n_features = X.shape[1]
        pooled = np.atleast_2d(np.cov(X.T)) + self.min_covar * np.eye(n_features)
        chosen: dict[int, int] = {}
        candidates = iter(np.argsort(fit, kind="stable"))
        for state in emptied:
            for frame in candidates:
                if not any(np.array_equal(X[frame], X[other]) for other in chosen.values()):
                    break
            else:
                frame = int(np.argmin(fit))
            x = X[frame]
            chosen[int(state)] = int(frame)
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
        X, lengths = check_features(X, lengths, feature_names=self.feature_names)
        if self.feature_names is not None and len(self.feature_names) != X.shape[1]:
            raise DataError(
                f"{len(self.feature_names)} feature_names were given but X has {X.shape[1]} columns"
            )
        check_fittable(X, self.n_states, self.feature_names)
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
                        "n_iter": running.monitor_.iter,
                        "converged": bool(running.monitor_.converged),
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
                    "n_iter": running.monitor_.iter,
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
        self.n_frames_fitted_ = len(X)
        self._apply_canonical_order(X, lengths)

    # --------------------------------------------------------- state order
    def _check_canonical_order(self, n_features: int) -> None:
        """Reject an unusable ``canonical_order`` before spending time on EM."""
        order_by = self.canonical_order
        if order_by is None or callable(order_by) or order_by in ("none", "frequency"):
            return
        self._feature_index(order_by, n_features)

    def _apply_canonical_order(self, X: np.ndarray, lengths: np.ndarray) -> None:
        """Renumber the fitted states by ``canonical_order``.

        ``state_names`` stay in place: names given before fitting name the
        canonical positions.
        """
        order_by = self.canonical_order
        if order_by is None or (isinstance(order_by, str) and order_by == "none"):
            return
        if isinstance(order_by, str) and order_by == "frequency":
            states = self.model_.predict(X, lengths)
            occupancy = np.bincount(states, minlength=self.n_states)
            # Ties (e.g. empty states) are broken by the first feature's mean
            # so the order does not depend on EM's numbering.
            order = np.lexsort((self.model_.means_[:, 0], -occupancy))
        elif callable(order_by):
            order = self._order_from_scores(order_by(self))
        else:
            column = self._feature_index(order_by, self.n_features_)
            order = self._order_from_scores(self.model_.means_[:, column])
        self._permute(order, move_names=False)

    def _feature_index(self, feature: int | str, n_features: int) -> int:
        if isinstance(feature, (int, np.integer)) and not isinstance(feature, bool):
            if not 0 <= feature < n_features:
                raise DataError(f"canonical_order: feature column {feature} out of range 0..{n_features - 1}")
            return int(feature)
        if isinstance(feature, str) and self.feature_names is not None and feature in self.feature_names:
            return self.feature_names.index(feature)
        raise DataError(
            f"canonical_order {feature!r} is neither 'frequency', 'none', a callable, "
            "a feature column index nor one of feature_names"
        )

    def _order_from_scores(self, scores, descending: bool = False) -> np.ndarray:
        scores = np.asarray(scores, dtype=float)
        if scores.shape != (self.n_states,):
            raise DataError(f"need one score per state ({self.n_states}), got shape {scores.shape}")
        return np.argsort(-scores if descending else scores, kind="stable")

    def sort_states(self, scores, descending: bool = False) -> np.ndarray:
        """Renumber states by a score per state (ascending unless ``descending``).

        Parameters
        ----------
        scores : array-like, shape (n_states,)
            E.g. ``model_.means_[:, mouth_column]``.
        descending : bool

        Returns
        -------
        order : ndarray, shape (n_states,)
            ``order[new] = old`` state number. Names follow their states
            (see :meth:`permute_states`).
        """
        order = self._order_from_scores(scores, descending)
        self.permute_states(order)
        return order

    def permute_states(self, order) -> None:
        """Renumber states so that new state ``i`` is old state ``order[i]``.

        Custom ``state_names`` follow their states; default names
        ("state 0", ...) stay numbered in order.
        """
        self._permute(order, move_names=True)

    def _permute(self, order, move_names: bool) -> None:
        self._require_fitted()
        order = np.asarray(order, dtype=int)
        if sorted(order.tolist()) != list(range(self.n_states)):
            raise DataError(f"order must be a permutation of 0..{self.n_states - 1}, got {order.tolist()}")
        model = self.model_
        model.startprob_ = model.startprob_[order]
        model.transmat_ = model.transmat_[np.ix_(order, order)]
        model.means_ = model.means_[order]
        if self.covariance_type != "tied":
            model._covars_ = model._covars_[order]
        defaults = [f"state {k}" for k in range(self.n_states)]
        if move_names and self._state_names != defaults:
            self._state_names = [self._state_names[old] for old in order]

    # ------------------------------------------------------------- applying
    def _require_fitted(self) -> None:
        if self.model_ is None:
            raise FaceHMMError("the model is not fitted (fit it, or load a saved model)")

    def _checked(self, X, lengths):
        self._require_fitted()
        return check_features(X, lengths, n_features=self.n_features_, feature_names=self.feature_names)

    def predict(self, X, lengths=None) -> np.ndarray:
        """Most likely state sequence (Viterbi).

        Parameters
        ----------
        X : array-like, shape (n_frames, n_features)
        lengths : array-like of int, shape (n_sequences,), optional

        Returns
        -------
        ndarray of int, shape (n_frames,)
        """
        X, lengths = self._checked(X, lengths)
        return self.model_.predict(X, lengths)

    def predict_proba(self, X, lengths=None) -> np.ndarray:
        """Posterior state probabilities, shape (n_frames, n_states)."""
        X, lengths = self._checked(X, lengths)
        return self.model_.predict_proba(X, lengths)

    def score_samples(self, X, lengths=None) -> tuple[float, np.ndarray]:
        """Log-likelihood of X and the posterior state probabilities, from one forward-backward pass."""
        X, lengths = self._checked(X, lengths)
        log_likelihood, posterior = self.model_.score_samples(X, lengths)
        return float(log_likelihood), posterior

    def score(self, X, lengths=None) -> float:
        """Log-likelihood of X under the model (sum over frames)."""
        X, lengths = self._checked(X, lengths)
        return float(self.model_.score(X, lengths))

    def n_parameters(self) -> int:
        """Free scalar parameters (start, transitions, means, covariances)."""
        self._require_fitted()
        return int(sum(self.model_._get_n_fit_scalars_per_param().values()))

    def bic(self, X, lengths=None) -> float:
        """Bayesian information criterion ``-2 log L + n_parameters * log(n_frames)``."""
        X, lengths = self._checked(X, lengths)
        return float(-2 * self.model_.score(X, lengths) + self.n_parameters() * np.log(len(X)))

    @property
    def monitor_(self):
        self._require_fitted()
        return self.model_.monitor_

    # ---------------------------------------------------------- save / load
    def save(self, path: str | Path) -> tuple[Path, Path]:
        """Write the fitted model as ``<path>.json`` + ``<path>.npz`` (no pickle).

        Parameters
        ----------
        path
            A stem (see :func:`model_paths`); the folder must exist. Existing
            files are replaced atomically, the previous version kept as ``.bak``.

        Returns
        -------
        json_path, npz_path
        """
        from ..io._atomic import atomic_write_path

        self._require_fitted()
        json_path, npz_path = model_paths(path)
        settings = {
            "format": FORMAT_NAME,
            "format_version": FORMAT_VERSION,
            "n_states": self.n_states,
            "n_features": self.n_features_,
            "covariance_type": self.covariance_type,
            "state_names": list(self.state_names),
            "feature_names": self.feature_names,
            "metadata": _json_ready(self.metadata, "metadata"),
            "fit": {
                "n_restarts": self.n_restarts,
                "n_iter": self.n_iter,
                "tol": self.tol,
                "sticky": self.sticky,
                # A RandomState object or a callable order cannot be written
                # as JSON; the saved states are already in their final order.
                "random_state": self.random_state if isinstance(self.random_state, int) else None,
                "canonical_order": (
                    self.canonical_order if isinstance(self.canonical_order, (str, int)) else "none"
                ),
                "min_covar": self.min_covar,
                "covars_prior": self.covars_prior,
                "covars_weight": self.covars_weight,
                "log_likelihood": self.log_likelihood_,
                "n_frames": self.n_frames_fitted_,
                "converged": self.converged_,
                "cancelled": self.cancelled_,
                "monitor_history": [float(v) for v in self.monitor_.history],
                "monitor_iter": int(self.monitor_.iter),
            },
            "software": _software_versions(),
        }
        text = json.dumps(settings, indent=2, allow_nan=True)
        buffer = io.BytesIO()
        np.savez(
            buffer,
            startprob=self.model_.startprob_,
            transmat=self.model_.transmat_,
            means=self.model_.means_,
            covars=self._stored_covars(),
        )
        with atomic_write_path(npz_path) as temp:
            temp.write_bytes(buffer.getvalue())
        with atomic_write_path(json_path) as temp:
            temp.write_text(text, encoding="utf-8")
        return json_path, npz_path

    def _stored_covars(self) -> np.ndarray:
        """Covariances in the documented shape of ``covariance_type``.

        hmmlearn's M-step leaves spherical variances tiled to (n_states,
        n_features); one value per state is the parameter.
        """
        covars = np.asarray(self.model_._covars_)
        if self.covariance_type == "spherical" and covars.ndim == 2:
            return covars[:, 0].copy()
        return covars

    @classmethod
    def load(cls, path: str | Path) -> "FaceHMM":
        """Read a model written by :meth:`save`.

        Raises
        ------
        FileFormatError
            A file is missing, is not valid JSON / npz, or holds arrays of the
            wrong shape or invalid probabilities; the message names the file.
        """
        json_path, npz_path = model_paths(path)
        settings = _read_settings(json_path)
        n_states = settings["n_states"]
        n_features = settings["n_features"]
        covariance_type = settings["covariance_type"]
        arrays = _read_arrays(npz_path, n_states, n_features, covariance_type)
        fit = settings.get("fit") or {}
        try:
            face_hmm = cls(
                n_states=n_states,
                covariance_type=covariance_type,
                n_restarts=int(fit.get("n_restarts", 1)),
                n_iter=int(fit.get("n_iter", 100)),
                tol=float(fit.get("tol", 1e-3)),
                sticky=float(fit.get("sticky", 0.0)),
                random_state=fit.get("random_state", 0),
                canonical_order=fit.get("canonical_order", "frequency"),
                min_covar=float(fit.get("min_covar", 1e-3)),
                covars_prior=float(fit.get("covars_prior", 1e-2)),
                covars_weight=float(fit.get("covars_weight", 1.0)),
                state_names=settings["state_names"],
                feature_names=settings["feature_names"],
                metadata=settings["metadata"],
            )
        except (TypeError, ValueError) as error:
            raise FileFormatError(json_path, f"invalid fit settings: {error}") from None
        model = face_hmm._new_model(None, n_features)
        model.n_features = n_features
        try:
            model.startprob_ = arrays["startprob"]
            model.transmat_ = arrays["transmat"]
            model.means_ = arrays["means"]
            model.covars_ = arrays["covars"]
            model._check()
        except ValueError as error:
            raise FileFormatError(npz_path, f"invalid model parameters: {error}") from None
        model.monitor_.history.extend(fit.get("monitor_history", []))
        model.monitor_.iter = int(fit.get("monitor_iter", 0))
        face_hmm.model_ = model
        face_hmm.n_features_ = n_features
        face_hmm.log_likelihood_ = fit.get("log_likelihood")
        face_hmm.n_frames_fitted_ = fit.get("n_frames")
        face_hmm.converged_ = bool(fit.get("converged", False))
        face_hmm.cancelled_ = bool(fit.get("cancelled", False))
        face_hmm.restarts_ = []
        face_hmm.restart_models_ = []
        face_hmm.best_restart_ = None
        return face_hmm

    def __repr__(self) -> str:
        fitted = "fitted" if self.model_ is not None else "not fitted"
        return (
            f"FaceHMM(n_states={self.n_states}, covariance_type={self.covariance_type!r}, "
            f"n_restarts={self.n_restarts}, sticky={self.sticky}, {fitted})"
        )


def _software_versions() -> dict[str, str]:
    import hmmlearn

    from .. import __version__

    return {"napari_facehmm": __version__, "hmmlearn": hmmlearn.__version__, "numpy": np.__version__}


def _read_settings(json_path: Path) -> dict:
    if not json_path.is_file():
        raise FileFormatError(json_path, "model settings file is missing (expected beside the .npz)")
    try:
        settings = json.loads(json_path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise FileFormatError(json_path, f"not valid JSON: {error}") from None
    if not isinstance(settings, dict):
        raise FileFormatError(json_path, "expected a JSON object at the top level")
    if settings.get("format") != FORMAT_NAME:
        raise FileFormatError(json_path, f"not a napari-facehmm model (format is {settings.get('format')!r})")
    if not isinstance(settings.get("format_version"), int) or settings["format_version"] > FORMAT_VERSION:
        raise FileFormatError(
            json_path,
            f"model format version {settings.get('format_version')!r} is newer than this "
            f"napari-facehmm reads ({FORMAT_VERSION}); update napari-facehmm",
        )
    for key in ("n_states", "n_features"):
        value = settings.get(key)
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise FileFormatError(json_path, f"{key!r} must be a positive integer, got {value!r}")
    if settings.get("covariance_type") not in COVARIANCE_TYPES:
        raise FileFormatError(
            json_path,
            f"covariance_type must be one of {COVARIANCE_TYPES}, got {settings.get('covariance_type')!r}",
        )
    names = settings.get("state_names")
    if (
        not isinstance(names, list)
        or len(names) != settings["n_states"]
        or not all(isinstance(n, str) for n in names)
    ):
        raise FileFormatError(json_path, f"state_names must be a list of {settings['n_states']} strings")
    feature_names = settings.get("feature_names")
    if feature_names is not None and (
        not isinstance(feature_names, list)
        or len(feature_names) != settings["n_features"]
        or not all(isinstance(n, str) for n in feature_names)
    ):
        raise FileFormatError(
            json_path, f"feature_names must be null or a list of {settings['n_features']} strings"
        )
    if not isinstance(settings.get("metadata", {}), dict):
        raise FileFormatError(json_path, "metadata must be a JSON object")
    settings.setdefault("metadata", {})
    if not isinstance(settings.get("fit", {}), dict):
        raise FileFormatError(json_path, "'fit' must be a JSON object")
    return settings


def _read_arrays(npz_path: Path, n_states: int, n_features: int, covariance_type: str) -> dict:
    if not npz_path.is_file():
        raise FileFormatError(npz_path, "model parameter file is missing (expected beside the .json)")
    expected = {
        "startprob": (n_states,),
        "transmat": (n_states, n_states),
        "means": (n_states, n_features),
        "covars": {
            "full": (n_states, n_features, n_features),
            "diag": (n_states, n_features),
            "spherical": (n_states,),
            "tied": (n_features, n_features),
        }[covariance_type],
    }
    try:
        with np.load(npz_path, allow_pickle=False) as archive:
            missing = sorted(set(expected) - set(archive.files))
            if missing:
                raise FileFormatError(npz_path, f"missing arrays {missing}")
            arrays = {name: np.asarray(archive[name], dtype=float) for name in expected}
    except FileFormatError:
        raise
    except (OSError, ValueError) as error:
        raise FileFormatError(npz_path, f"not a readable .npz archive: {error}") from None
    for name, shape in expected.items():
        if arrays[name].shape != shape:
            raise FileFormatError(
                npz_path,
                f"array {name!r} has shape {arrays[name].shape}, expected {shape} "
                f"({n_states} states, {n_features} features, {covariance_type} covariance)",
            )
        if not np.isfinite(arrays[name]).all():
            raise FileFormatError(npz_path, f"array {name!r} contains NaN or inf")
    return arrays
