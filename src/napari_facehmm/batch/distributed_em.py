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
  products), both on the same initial rows when features are missing
  (complete rows, or NaN replaced by column means), the empty-state
  re-seeding onto the globally worst frame;
* the M-step, convergence test, restart choice and canonical state order,
  which run on the client in the one loop.

What differs: the statistics are added part by part and worker by worker
(the one-process E-step sums over the concatenated frames), a difference in
round-off only. Each EM iteration sends the model once to each worker and
gets one set of statistics back (:meth:`WorkerFeatures.groups`), by a call
to the Dask actor that keeps the worker's group (:class:`_GroupActor`):
straight to the worker, not through the scheduler: on ``bench/batch.py``'s
features (14,400 frames, 65 features, 9 states) with 2 workers, 76-79 ms
per iteration against 90-97 ms with a task per worker (alternate fits on
one cluster, load average 0.8-1.1), the client's event loop 0.3 s against
0.5 s of CPU per 30 iterations.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..errors import DataError
from ..hmm import FaceHMM
from ..hmm.fast import FastGaussianHMM
from . import estep

__all__ = ["DistributedFaceHMM", "WorkerFeatures"]

_log = logging.getLogger(__name__)


class WorkerFeatures:
    """Training data held by Dask workers: one future of ``(X, lengths)`` per part.

    Every EM iteration is one call per worker (:meth:`estep`): on first use
    the parts are split into groups of about equal frames, one per worker,
    leaving each part where it is when that keeps the balance
    (:func:`balanced_groups`); a group is a future on its worker, kept by an
    actor there that the calls go to (:class:`_GroupActor`; after a lost
    worker, tasks: its group is rebuilt elsewhere by Dask; workers that join
    later get none). Sums over all rows (for the start of a fit) are one task
    per part.

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
        self._summary: dict[str, Any] | None = None
        self._spread: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
        self._groups: list[Any] | None = None
        self._group_workers: list[Any] = []
        self._actors: list[Any] = []  # futures of the groups' _GroupActor, and the actors
        self._actor_proxies: list[Any] = []
        self._use_actors = True

    def __len__(self) -> int:
        return self.shape[0]

    def _each_part(self, function, *args, **kwargs) -> list[Any]:
        """``function(part, *args)`` on every part where it lives; results in part order."""
        futures = [self.client.submit(function, part, *args, pure=False, **kwargs) for part in self.parts]
        return self.client.gather(futures)

    # ------------------------------------------------------- sums over all rows
    def summary(self) -> dict[str, Any]:
        """Rows, complete rows (per part) and per-column counts and sums of the observed values."""
        if self._summary is None:
            items = self._each_part(estep.part_summary)
            self._summary = {
                "n_complete": np.array([item["n_complete"] for item in items], dtype=np.int64),
                "n_empty": int(sum(item["n_empty"] for item in items)),
                **{key: np.sum([item[key] for item in items], axis=0)
                   for key in ("counts", "sums", "complete_sums")},
            }
        return self._summary

    def nanmean(self) -> np.ndarray:
        summary = self.summary()
        counts = summary["counts"]
        return np.divide(summary["sums"], counts, out=np.zeros(self.shape[1]), where=counts > 0)

    def initial_mode(self, at_least: int) -> str:
        """Which rows start a fit (as :func:`~napari_facehmm.hmm.missing.initial_rows`): all, complete or imputed."""
        n_complete = int(self.summary()["n_complete"].sum())
        if n_complete == len(self):
            return "all"
        return "complete" if n_complete >= max(at_least, 2) else "imputed"

    def initial_counts(self, mode: str) -> np.ndarray:
        """Initial rows (``mode``, see :meth:`initial_mode`) of each part."""
        return self.summary()["n_complete"] if mode == "complete" else self.n_rows

    def mean_covariance(self, mode: str = "all") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Mean and covariance (``np.cov``'s, n - 1) of the ``mode`` rows, and ``np.nanstd`` of every column."""
        if mode not in self._spread:
            summary, nanmean = self.summary(), self.nanmean()
            n_rows = int(self.initial_counts(mode).sum())
            if mode == "complete":
                mean = summary["complete_sums"] / n_rows
            else:
                mean = summary["sums"] / n_rows if mode == "all" else nanmean
            items = self._each_part(estep.part_centered_products, mean, mode, nanmean)
            products = np.sum([item[0] for item in items], axis=0)
            squares = np.sum([item[1] for item in items], axis=0)
            spread = np.sqrt(squares / np.maximum(summary["counts"], 1))
            self._spread[mode] = mean, products / max(n_rows - 1, 1), spread
        return self._spread[mode]

    def rows(self, global_rows: np.ndarray, mode: str = "all") -> np.ndarray:
        """Initial rows (``mode``) by their number over all parts (in the given order, which must be ascending)."""
        offsets = np.concatenate([[0], np.cumsum(self.initial_counts(mode))])
        fill = self.nanmean() if mode == "imputed" else None
        part_of = np.searchsorted(offsets, global_rows, side="right") - 1
        futures = []
        for part_index in np.unique(part_of):
            local = global_rows[part_of == part_index] - offsets[part_index]
            futures.append(self.client.submit(estep.part_rows, self.parts[part_index], local, mode, fill, pure=False))
        return np.concatenate(self.client.gather(futures))

    # ------------------------------------------------------- the EM loop's calls
    def groups(self) -> list[Any]:
        """One future per worker: its parts joined into one, which every E-step goes over."""
        if self._groups is None:
            from distributed import wait

            wait(self.parts)
            holders = self.client.who_has(self.parts)
            workers = sorted(self.client.scheduler_info()["workers"])
            where = [(holders.get(part.key) or [None])[0] for part in self.parts]
            split = balanced_groups(self.n_rows, where, workers)
            self._group_workers = [worker for worker, _ in split]
            self._groups = [
                self.client.submit(estep.group_parts, *[self.parts[i] for i in members], workers=[worker],
                                   allow_other_workers=True, pure=False)
                for worker, members in split
            ]
        return self._groups

    def _each_group(self, function, model) -> list[Any]:
        """``function(model, group)`` on every group, in group order.

        Through the groups' actors (:class:`_GroupActor`) while they work;
        once a worker is lost, as tasks, each asked of the worker its group
        was made on (loose: a lost worker's group is rebuilt elsewhere by
        Dask, and without the worker named, a group copied to the other
        worker could have both groups' tasks sent to one worker).
        """
        plain = estep.plain_model(model)
        groups = self.groups()
        if self._use_actors:
            try:
                return self._on_actors(function, plain)
            except _WorkerLost:
                _log.warning("a worker was lost: the EM steps go to the workers as tasks from now on")
                self._use_actors, self._actors, self._actor_proxies = False, [], []
        return self.client.gather([
            self.client.submit(function, plain, group, workers=None if worker is None else [worker],
                               allow_other_workers=True, pure=False)
            for group, worker in zip(groups, self._group_workers)
        ])

    def _on_actors(self, function, plain) -> list[Any]:
        """``function(plain, group)`` by each group's actor; :class:`_WorkerLost` if a worker is gone."""
        if not self._actors:
            self._actors = [
                self.client.submit(_GroupActor, group, workers=None if worker is None else [worker],
                                   actor=True, pure=False)
                for group, worker in zip(self.groups(), self._group_workers)
            ]
            self._actor_proxies = self.client.gather(self._actors)
        try:
            calls = [actor.run(function, plain) for actor in self._actor_proxies]
        except RuntimeError as error:  # "Worker holding Actor was lost"
            raise _WorkerLost from error
        results = []
        for call in calls:
            while True:
                try:
                    results.append(call.result(timeout=1.0))
                    break
                except TimeoutError:
                    # a lost worker's actor: its future is no longer finished (Dask
                    # would retry connecting to the worker for 30 s before failing)
                    if any(actor.status != "finished" for actor in self._actors):
                        raise _WorkerLost from None
                except OSError as error:  # the connection to the actor's worker closed
                    raise _WorkerLost from error
        return results

    def estep(self, model) -> tuple[dict[str, Any], float]:
        """Sufficient statistics and log-likelihood of all parts, added on the client."""
        return estep.add_statistics(self._each_group(estep.part_estep, model))

    def score(self, model) -> float:
        return float(sum(self._each_group(estep.part_score, model)))

    def occupancy(self, model) -> np.ndarray:
        """Frames decoded (Viterbi) in each state over all parts: one task per group (Viterbi runs per sequence)."""
        return np.sum(self._each_group(estep.part_occupancy, model), axis=0)

    def worst_frames(self, model, kept: np.ndarray, count: int):
        """``(global frame, row)`` of the ``count`` frames worst explained over all parts, worst first."""
        plain = estep.plain_model(model)
        fits, frames, rows = [], [], []
        for offset, (fit, local, part_rows) in zip(self.offsets, self._each_part(_worst_of_part, plain, kept, count)):
            fits.append(fit)
            frames.append(local + offset)
            rows.append(part_rows)
        fit, frame, row = np.concatenate(fits), np.concatenate(frames), np.concatenate(rows)
        # the one-process order: by fit, ties by frame number (a stable sort over all frames)
        order = np.lexsort((frame, fit))[:count]
        return [(int(frame[i]), row[i]) for i in order]


def _worst_of_part(part, model, kept, count):
    return estep.part_worst_frames(model, part, kept, count)


class _WorkerLost(Exception):
    """A group's actor cannot be reached: its worker is gone."""


class _GroupActor:
    """A worker's group, kept by a Dask actor: the EM loop's calls go to the worker directly.

    A task goes client -> scheduler -> worker and back, with the scheduler's
    bookkeeping of a new key every iteration; an actor's call goes to the
    worker and back. Measured with the E-step's payloads (a 9-state,
    65-feature model out, its statistics back) on a LocalCluster of 2
    workers: 21 ms per round trip with tasks, 5 ms with actors, and the
    client's CPU 9 ms against 3 ms per iteration. An actor is lost with its
    worker (Dask does not move it); :meth:`WorkerFeatures._each_group` then
    goes back to tasks, which Dask recovers.
    """

    def __init__(self, group):
        self.group = group

    def run(self, function, model):
        return function(model, self.group)


def balanced_groups(
    sizes: Sequence[int], holders: Sequence[Any], workers: Sequence[Any]
) -> list[tuple[Any, list[int]]]:
    """``[(worker, part indices), ...]``: parts split over workers in groups of about equal size.

    A part stays with its holder while that worker's group is below an even
    share (plus 5%); the others go, largest first, to the least loaded
    worker. Groups list their parts in index order; empty groups are left out.
    """
    workers = list(workers) or [None]
    target = 1.05 * float(np.sum(sizes)) / len(workers)
    load = {worker: 0 for worker in workers}
    members: dict[Any, list[int]] = {worker: [] for worker in workers}
    rest = []
    for index in np.argsort(-np.asarray(sizes), kind="stable"):
        holder = holders[index]
        if holder in load and (not members[holder] or load[holder] + sizes[index] <= target):
            members[holder].append(int(index))
            load[holder] += int(sizes[index])
        else:
            rest.append(int(index))
    for index in rest:
        worker = min(workers, key=lambda w: load[w])
        members[worker].append(index)
        load[worker] += int(sizes[index])
    return [(worker, sorted(members[worker])) for worker in workers if members[worker]]


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
        summary = X.summary()
        # the one-process checks (hmm._validation): no empty frame, every column observed and varying
        if summary["n_empty"]:
            raise DataError(f"the parts have {summary['n_empty']} frames with no observed feature (all NaN)")
        for problem, columns in (
            ("are never observed (all NaN)", np.flatnonzero(summary["counts"] == 0)),
            ("do not vary (zero variance)", np.flatnonzero(
                X.mean_covariance(X.initial_mode(n_features + 1))[2] <= 1e-10 * np.maximum(1.0, np.abs(X.nanmean()))
            )),
        ):
            if len(columns):
                names = [self.feature_names[i] for i in columns] if self.feature_names else columns.tolist()
                raise DataError(f"feature columns {names} {problem}; remove them before fitting")
        return X, None

    def _kmeans_sample(self, X, seed):
        from ..hmm.em import _KMEANS_MAX_FRAMES

        mode = X.initial_mode(self.n_states)
        n_rows = int(X.initial_counts(mode).sum())
        if n_rows > _KMEANS_MAX_FRAMES:
            rows = np.random.default_rng(seed).choice(n_rows, _KMEANS_MAX_FRAMES, replace=False)
            return X.rows(np.sort(rows), mode)
        return X.rows(np.arange(n_rows), mode)

    def _pooled_covariance(self, X):
        covariance = X.mean_covariance(X.initial_mode(X.shape[1] + 1))[1]
        return np.atleast_2d(covariance) + self.min_covar * np.eye(X.shape[1])

    def _reseed_candidates(self, running, X, kept, count):
        # a few more than the emptied states: candidates equal to an already chosen frame are skipped
        summary = X.summary()
        for frame, row in X.worst_frames(running, kept, count + 16):
            observed = ~np.isnan(row)
            if not observed.all():
                # as the one-process loop: NaN -> column means over all rows and this one
                means = (summary["sums"] + np.where(observed, row, 0.0)) / (summary["counts"] + observed)
                row = np.where(observed, row, means)
            yield frame, row

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
