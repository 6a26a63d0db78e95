"""One HMM over sessions kept on Dask workers: FaceHMM's own EM loop, with the E-step done where the data is.

:class:`DistributedFaceHMM` is :class:`~napari_facehmm.hmm.FaceHMM` with the
data hooks of its EM loop (:mod:`napari_facehmm.hmm.em`) answered by the
workers: the training data is a :class:`WorkerFeatures` (one future per
session part, see :mod:`.estep`), not an array. What is the same as the
one-process fit, and so gives the same model (equal log-likelihood to about
1e-12 relative on small data, see ``tests/test_batch.py``):

* the restarts' seeds, the k-means start on the same frames (the sample rows
  are drawn by global frame number and fetched from their parts) and the
  pooled covariance (two passes: the global mean, then the parts' centred
  products), the empty-state re-seeding onto the globally worst frame;
* the M-step, convergence test, restart choice and canonical state order,
  which run on the client in the one loop.

What differs: the parts' statistics are added part by part (the one-process
E-step adds them sequence by sequence), a difference in round-off only.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..errors import DataError
from ..hmm import FaceHMM
from ..hmm.fast import FastGaussianHMM
from . import estep

__all__ = ["DistributedFaceHMM", "WorkerFeatures"]


class WorkerFeatures:
    """Training data held by Dask workers: one future of ``(X, lengths)`` per part.

    Parameters
    ----------
    client
        A ``distributed.Client``.
    parts
        Futures of ``(X: (n_rows, n_features), lengths)``, one per session.
    n_rows
        Rows of each part (valid frames of the session).
    n_features
        Columns of every part.
    """

    def __init__(self, client, parts: Sequence[Any], n_rows: Sequence[int], n_features: int):
        self.client = client
        self.parts = list(parts)
        self.n_rows = np.asarray(n_rows, dtype=np.int64)
        self.offsets = np.concatenate([[0], np.cumsum(self.n_rows)])
        self.shape = (int(self.offsets[-1]), int(n_features))
        self._mean_covariance: dict[bool, tuple[np.ndarray, np.ndarray]] = {}
        self._complete_rows: np.ndarray | None = None

    def __len__(self) -> int:
        return self.shape[0]

    def _map(self, function, *args, **kwargs) -> list[Any]:
        """``function(part, ...)`` on every part where it lives; results in part order."""
        futures = [self.client.submit(function, *args, part, pure=False, **kwargs) for part in self.parts]
        return self.client.gather(futures)

    def estep(self, model) -> tuple[dict[str, Any], float]:
        """Sufficient statistics and log-likelihood of all parts, added on the client."""
        plain = estep.plain_model(model)
        return estep.add_statistics(self._map(estep.part_estep, plain))

    def score(self, model) -> float:
        return float(sum(self._map(estep.part_score, estep.plain_model(model))))

    def occupancy(self, model) -> np.ndarray:
        return np.sum(self._map(estep.part_occupancy, estep.plain_model(model)), axis=0)

    def complete_rows(self) -> np.ndarray:
        """Global frame numbers of the rows without a missing value (NaN), ascending."""
        if self._complete_rows is None:
            masks = self._map(estep.part_complete)
            self._complete_rows = np.concatenate(
                [np.flatnonzero(mask) + offset for mask, offset in zip(masks, self.offsets)]
            ).astype(np.int64)
        return self._complete_rows

    def mean_covariance(self, complete_only: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """Mean and covariance (``np.cov``'s, n - 1) of all rows (or the complete ones), two passes over the parts."""
        if complete_only not in self._mean_covariance:
            n_frames = len(self.complete_rows()) if complete_only else len(self)
            mean = np.sum(self._map(estep.part_sums, complete_only=complete_only), axis=0) / n_frames
            futures = [
                self.client.submit(estep.part_centered_products, part, mean, complete_only, pure=False)
                for part in self.parts
            ]
            products = np.sum(self.client.gather(futures), axis=0)
            self._mean_covariance[complete_only] = mean, products / max(n_frames - 1, 1)
        return self._mean_covariance[complete_only]

    def rows(self, global_rows: np.ndarray) -> np.ndarray:
        """Rows by global frame number (in the given order, which must be ascending)."""
        part_of = np.searchsorted(self.offsets, global_rows, side="right") - 1
        futures = []
        for part_index in np.unique(part_of):
            local = global_rows[part_of == part_index] - self.offsets[part_index]
            futures.append(self.client.submit(estep.part_rows, self.parts[part_index], local, pure=False))
        return np.concatenate(self.client.gather(futures))

    def worst_frames(self, model, kept: np.ndarray, count: int):
        """``(global frame, row)`` of the ``count`` frames worst explained over all parts, worst first."""
        plain = estep.plain_model(model)
        futures = [
            self.client.submit(estep.part_worst_frames, plain, part, kept, count, pure=False) for part in self.parts
        ]
        fits, frames, rows = [], [], []
        for offset, (fit, local, part_rows) in zip(self.offsets, self.client.gather(futures)):
            fits.append(fit)
            frames.append(local + offset)
            rows.append(part_rows)
        fit, frame, row = np.concatenate(fits), np.concatenate(frames), np.concatenate(rows)
        # the one-process order: by fit, ties by frame number (a stable sort over all frames)
        order = np.lexsort((frame, fit))[:count]
        return [(int(frame[i]), row[i]) for i in order]


class _WorkerEStepHMM(FastGaussianHMM):
    """The running model of a distributed restart: its E-step and score go to the workers."""

    def _init(self, X, lengths=None):
        self._check_and_set_n_features(np.empty((0, X.shape[1])))

    def _do_estep(self, X, lengths):
        return X.estep(self)

    def score(self, X, lengths=None):
        if isinstance(X, WorkerFeatures):
            return X.score(self)
        return super().score(X, lengths)


class DistributedFaceHMM(FaceHMM):
    """:class:`FaceHMM` fitted on a :class:`WorkerFeatures`; :meth:`as_face_hmm` gives the plain estimator."""

    def _new_model(self, seed, n_features):
        return _WorkerEStepHMM(**super()._new_model(seed, n_features).get_params())

    def _fit_data(self, X, lengths):
        if not isinstance(X, WorkerFeatures):
            raise DataError("DistributedFaceHMM fits WorkerFeatures (features kept on Dask workers)")
        n_frames, n_features = X.shape
        if self.feature_names is not None and len(self.feature_names) != n_features:
            raise DataError(f"{len(self.feature_names)} feature_names were given but the parts have {n_features} columns")
        if n_frames < self.n_states:
            raise DataError(f"cannot fit {self.n_states} states to {n_frames} frames: need at least one frame per state")
        mean, covariance = X.mean_covariance()
        spread = np.sqrt(np.maximum(np.diag(covariance), 0.0) * (n_frames - 1) / n_frames)
        constant = np.flatnonzero(spread <= 1e-10 * np.maximum(1.0, np.abs(mean)))
        if len(constant):
            names = [self.feature_names[i] for i in constant] if self.feature_names else constant.tolist()
            raise DataError(f"feature columns {names} do not vary (zero variance); remove them before fitting")
        return X, None

    def _kmeans_sample(self, X, seed):
        """As the one-process fit: the complete frames (no NaN), or a sample of them drawn with ``seed``."""
        from ..hmm.em import _KMEANS_MAX_FRAMES

        rows = self._complete(X, self.n_states)
        if len(rows) > _KMEANS_MAX_FRAMES:
            rows = rows[np.sort(np.random.default_rng(seed).choice(len(rows), _KMEANS_MAX_FRAMES, replace=False))]
        return X.rows(rows)

    def _pooled_covariance(self, X):
        complete_only = len(self._complete(X, X.shape[1] + 1)) < len(X)
        return np.atleast_2d(X.mean_covariance(complete_only)[1]) + self.min_covar * np.eye(X.shape[1])

    @staticmethod
    def _complete(X, at_least: int) -> np.ndarray:
        """Global numbers of the complete frames; a clear error where the one-process fit would impute means."""
        rows = X.complete_rows()
        if len(rows) < max(at_least, 2):
            raise DataError(
                f"only {len(rows)} frames over all sessions have every feature observed; the distributed fit "
                f"starts from complete frames and needs at least {max(at_least, 2)}: fit these sessions with "
                "facehmm analyze, or lower the missing data (e.g. --min-observed)"
            )
        return rows

    def _reseed_candidates(self, running, X, kept, count):
        # a few more than the emptied states: candidates equal to an already chosen frame are skipped
        return X.worst_frames(running, kept, count + 16)

    def _apply_canonical_order(self, X, lengths):
        if isinstance(self.canonical_order, str) and self.canonical_order == "frequency":
            occupancy = X.occupancy(self.model_)
            # as StateOrderMixin: most frequent first, ties by the first feature's mean
            self._permute(np.lexsort((self.model_.means_[:, 0], -occupancy)), move_names=False)
            return
        super()._apply_canonical_order(X, lengths)

    def as_face_hmm(self) -> FaceHMM:
        """The fitted estimator as a plain :class:`FaceHMM` (no client inside; picklable, saved as usual)."""
        plain = FaceHMM.__new__(FaceHMM)
        plain.__dict__.update(self.__dict__)
        plain._pending_fit = None
        if self.model_ is not None:
            plain.model_ = estep.plain_model(self.model_)
            plain.model_.monitor_ = self.model_.monitor_
        plain.restart_models_ = [estep.plain_model(m) for m in getattr(self, "restart_models_", [])]
        return plain
