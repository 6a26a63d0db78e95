"""State order of :class:`~napari_facehmm.hmm.FaceHMM`: the canonical numbering after a fit, and renumbering.

Two fits of the same data give the same state numbers when the states are
ordered by occupancy or by a feature's state mean (``canonical_order``).
"""

from __future__ import annotations

import numpy as np

from ..errors import DataError


class StateOrderMixin:
    """Canonical order, :meth:`sort_states` and :meth:`permute_states` of :class:`~napari_facehmm.hmm.FaceHMM`."""

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
