"""FaceHMM: a Gaussian HMM of facial-expression features, sklearn style.

The facade adds to hmmlearn what an analysis of face videos needs: several
restarts keeping the best likelihood, a sticky transition prior, iteration
progress with Cancel, a canonical state order (so two fits give the same state
numbers), input checks with clear messages, and saving without pickle.

This module is the estimator (settings, the hmmlearn model, applying a fitted
model); its other jobs are in their own modules and mixed in: the EM loop
(:mod:`.em`), the state order (:mod:`.ordering`) and saving and loading
(:mod:`.persistence`).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence

import numpy as np

from ..errors import DataError, FaceHMMError
from ._validation import check_features

# The names of the single module this was (private ones included) stay importable from here.
from .em import (
    _EMPTY_STATE_FRAMES,
    _INITIAL_SELF_TRANSITION,
    _KMEANS_MAX_FRAMES,
    _MAX_RESEEDS_PER_STATE,
    EMFitMixin,
    FitProgress,
    _reconnect_states,
)
from .ordering import StateOrderMixin
from .persistence import (
    COVARIANCE_TYPES,
    FORMAT_NAME,
    FORMAT_VERSION,
    PersistenceMixin,
    _json_ready,
    _numpy_to_json,
    _read_arrays,
    _read_settings,
    _software_versions,
    model_paths,
)

__all__ = ["FaceHMM", "FitProgress", "model_paths", "FORMAT_NAME", "FORMAT_VERSION"]


class FaceHMM(EMFitMixin, StateOrderMixin, PersistenceMixin):
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
        ``converged``, ``hit_iteration_limit``, ``final_delta``,
        ``n_decreases``, ``completed``.
    restart_models_ : list of FastGaussianHMM
        Every restart's model (EM state numbering), in restart order.
    best_restart_ : int
    converged_ : bool
        The kept restart's last log-likelihood gain was below ``tol`` (not
        merely: it ran out of iterations).
    convergence_ : dict
        How EM converged, per restart and as one sentence
        (:func:`.convergence.convergence_report`); hmmlearn's "Model is not
        converging" lines are counted there (``n_decreases``) instead of logged.
    cancelled_ : bool
        True if :meth:`fit_progress` was closed before finishing.
    n_features_ : int
    log_convergence : bool
        Log :attr:`convergence_`'s sentence once when a fit ends (default).
        The fits whose convergence is reported otherwise set it False: the
        candidates of a model selection (the ``converged`` column of
        ``model_selection.csv``) and the re-fits of a stability check.
    """

    log_convergence: bool = True

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

    def get_params(self) -> dict:
        """The constructor's arguments as this model holds them (as scikit-learn's ``get_params``).

        ``FaceHMM(**model.get_params())`` is an unfitted model with the same settings.
        """
        names = inspect.signature(type(self).__init__).parameters
        return {name: getattr(self, name) for name in names if name != "self"}

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

    def __repr__(self) -> str:
        fitted = "fitted" if self.model_ is not None else "not fitted"
        return (
            f"FaceHMM(n_states={self.n_states}, covariance_type={self.covariance_type!r}, "
            f"n_restarts={self.n_restarts}, sticky={self.sticky}, {fitted})"
        )
