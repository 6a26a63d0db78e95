"""``facehmm batch --states auto|A-B``: the number of states chosen from sessions kept on the workers.

The same selection as ``facehmm analyze --states auto``
(:func:`~napari_facehmm.analysis_selection.select_states`) over the
sessions' frames in order, done where the data is:

* the held-out frames are the same time blocks, counted within each session
  (:func:`~napari_facehmm.analysis_selection.heldout_blocks`); each worker
  cuts its sessions into training and held-out parts (:func:`split_part`);
* the same feature columns: the linearly independent ones of the training
  frames (their covariance summed over the workers);
* every candidate is fitted by distributed EM (:class:`.DistributedFaceHMM`)
  on the training parts with the selection settings (``SELECTION_N_ITER``,
  ``SELECTION_TOL`` per training frame, at least 2 restarts);
* the workers score the held-out runs one by one (for the paired standard
  error), the training log-likelihood, and the contingency tables of the
  restarts' decoded states (the adjusted Rand index is computed from their
  sum, :func:`adjusted_rand_from_contingency`);
* the client builds the table of :func:`~napari_facehmm.hmm.select_n_states`
  and applies :func:`~napari_facehmm.hmm.selection.choose_n_states`.

So, up to round-off, the table and the choice are those of the one-process
selection on the concatenated features (``tests/test_batch.py``).
"""

from __future__ import annotations

from collections.abc import Generator, Sequence
from itertools import combinations
from typing import Any

import numpy as np

from ..errors import DataError
from ..progress import Progress
from . import estep

__all__ = ["adjusted_rand_from_contingency", "select_states_on_workers", "split_part"]


def _runs(mask: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Lengths of the runs of True in ``mask`` within each sequence of ``lengths``."""
    runs: list[int] = []
    for start, stop in zip(np.cumsum(lengths) - lengths, np.cumsum(lengths)):
        edges = np.flatnonzero(np.diff(np.concatenate(([0], mask[start:stop].astype(np.int8), [0]))))
        runs.extend((edges[1::2] - edges[::2]).tolist())
    return np.asarray(runs, dtype=np.int64)


def split_part(part, offset: int, block: int, period: int, held: bool):
    """The part's training (``held=False``) or held-out rows and their runs; blocks by global frame number."""
    X, lengths = part
    mask = ((offset + np.arange(len(X))) // block) % period == period - 1
    mask = mask if held else ~mask
    return X[mask], _runs(mask, lengths)


def _n_rows(part) -> int:
    return len(part[0])


def _lengths(part) -> np.ndarray:
    return part[1]


def _run_scores(part, model) -> np.ndarray:
    """Log-likelihood of each run (sequence) of the part alone."""
    X, lengths = part
    bounds = np.concatenate(([0], np.cumsum(lengths)))
    return np.array([model.score(X[a:b]) for a, b in zip(bounds[:-1], bounds[1:])])


def _contingencies(part, models) -> list[np.ndarray]:
    """For each pair of restart models: the table of the part's decoded states (rows: first, columns: second)."""
    X, lengths = part
    decoded = [model.predict(X, lengths) for model in models]
    n_states = models[0].n_components
    tables = []
    for a, b in combinations(decoded, 2):
        tables.append(np.bincount(a * n_states + b, minlength=n_states * n_states).reshape(n_states, n_states))
    return tables


def adjusted_rand_from_contingency(table: np.ndarray) -> float:
    """The adjusted Rand index of two labelings from their contingency table (as scikit-learn's)."""
    # the pair confusion matrix (pairs of frames together or apart in each labeling), then the index
    table = np.asarray(table, dtype=np.int64)
    n = int(table.sum())
    sum_squares = int((table**2).sum())
    tp = sum_squares - n
    fp = int((table @ table.sum(axis=0)).sum()) - sum_squares
    fn = int((table.T @ table.sum(axis=1)).sum()) - sum_squares
    tn = n * n - fp - fn - sum_squares
    if fn == 0 and fp == 0:
        return 1.0
    return 2.0 * (tp * tn - fn * fp) / ((tp + fn) * (fn + tn) + (tp + fp) * (fp + tn))


def _columns(part, columns):
    X, lengths = part
    return np.ascontiguousarray(X[:, columns]), lengths


def _subset(data, blocks, period, held, columns=None):
    """A :class:`.WorkerFeatures` of the parts' training or held-out rows (empty parts left out).

    ``blocks``: each part's (session's) block length; blocks are counted from
    the part's first frame, as :func:`~napari_facehmm.analysis_selection.heldout_blocks`
    counts them within each session. ``columns``: keep only these feature columns.
    """
    from .distributed_em import WorkerFeatures

    client = data.client
    parts = [client.submit(split_part, part, 0, int(block), period, held, pure=False)
             for part, block in zip(data.parts, blocks)]
    if columns is not None:
        parts = [client.submit(_columns, part, columns, pure=False) for part in parts]
    counts = client.gather([client.submit(_n_rows, part, pure=False) for part in parts])
    kept = [(part, count) for part, count in zip(parts, counts) if count]
    n_features = data.shape[1] if columns is None else len(columns)
    return WorkerFeatures(client, [p for p, _ in kept], [c for _, c in kept], n_features)


def select_states_on_workers(
    data,
    candidates: Sequence[int],
    *,
    n_restarts: int = 3,
    seed: int = 0,
    hmm_options: dict | None = None,
) -> Generator[Progress, None, Any]:
    """Fit each candidate on the training blocks of ``data`` (a :class:`.WorkerFeatures`); a ``Selection``.

    Yields ``(done, total, message)`` over the candidates' EM iterations.

    Raises
    ------
    DataError
        Too few frames for the largest candidate (as the one-process selection).
    """
    import pandas as pd

    from ..analysis_selection import HELDOUT_PERIOD, SELECTION_N_ITER, SELECTION_TOL, Selection, _block_frames
    from ..hmm.selection import COLUMNS, _gaps_to_best, choose_n_states, independent_columns_of_covariance
    from .distributed_em import DistributedFaceHMM

    candidates = sorted({int(k) for k in candidates})
    n_frames = len(data)
    if n_frames * (1 - 1 / HELDOUT_PERIOD) <= 10 * candidates[-1]:
        raise DataError(
            f"{candidates[-1]} states cannot be chosen among with {n_frames} frames of features "
            f"(the training part needs more than {10 * candidates[-1]}); give a smaller range"
        )
    blocks = [_block_frames([n_rows]) for n_rows in data.n_rows]
    train = _subset(data, blocks, HELDOUT_PERIOD, held=False)
    # as the one-process selection: the linearly independent columns of the training frames
    mode = train.initial_mode(train.shape[1] + 1)
    columns = np.arange(train.shape[1])
    if mode != "imputed":
        columns = independent_columns_of_covariance(train.mean_covariance(mode)[1])
    if len(columns) < train.shape[1]:
        train = _subset(data, blocks, HELDOUT_PERIOD, held=False, columns=columns)
    heldout = _subset(data, blocks, HELDOUT_PERIOD, held=True, columns=columns)
    client = data.client
    options = {k: v for k, v in (hmm_options or {}).items() if k not in ("n_iter", "tol")}
    if options.get("feature_names") is not None:
        options["feature_names"] = [options["feature_names"][c] for c in columns]
    n_restarts = max(2, n_restarts)
    per_fit = n_restarts * SELECTION_N_ITER
    total = len(candidates) * per_fit
    rows, segment_lls, heldout_lengths = [], {}, None
    for index, n_states in enumerate(candidates):
        estimator = DistributedFaceHMM(n_states=n_states, n_restarts=n_restarts, n_iter=SELECTION_N_ITER,
                                       tol=SELECTION_TOL * max(1, len(train)), random_state=seed, **options)
        estimator.log_convergence = False  # the table's "converged" column says it
        for item in estimator.fit_progress(train):
            yield (index * per_fit + item.done, total,
                   f"choosing the number of states: {n_states} states ({index + 1}/{len(candidates)}): {item.message}")
        model = estep.plain_model(estimator.model_)
        restarts = [estep.plain_model(m) for m in estimator.restart_models_]
        log_likelihood = train.score(model)
        tables = client.gather([client.submit(_contingencies, part, restarts, pure=False) for part in train.parts])
        agreements = [adjusted_rand_from_contingency(np.sum([t[pair] for t in tables], axis=0))
                      for pair in range(len(tables[0]))]
        run_lls = client.gather([client.submit(_run_scores, part, model, pure=False) for part in heldout.parts])
        segment_lls[n_states] = np.concatenate(run_lls) if run_lls else np.zeros(0)
        heldout_ll = float(segment_lls[n_states].sum()) if len(heldout) else np.nan
        n_parameters = estimator.n_parameters()
        rows.append({
            "n_states": n_states, "n_parameters": n_parameters, "log_likelihood": log_likelihood,
            "bic": -2 * log_likelihood + n_parameters * np.log(len(train)),
            "aic": -2 * log_likelihood + 2 * n_parameters,
            "heldout_log_likelihood": heldout_ll,
            "heldout_log_likelihood_per_frame": heldout_ll / len(heldout) if len(heldout) else np.nan,
            "restart_ari_mean": float(np.mean(agreements)), "restart_ari_min": float(np.min(agreements)),
            "converged": estimator.converged_, "n_train_frames": len(train), "n_heldout_frames": len(heldout),
            "n_features": len(columns),
        })
        if heldout_lengths is None:
            heldout_lengths = np.concatenate(client.gather(
                [client.submit(_lengths, part, pure=False) for part in heldout.parts]
            )) if heldout.parts else np.zeros(0, dtype=np.int64)
    table = pd.DataFrame(rows, columns=COLUMNS).set_index("n_states", drop=False)
    if len(heldout):
        table["heldout_gap_per_frame"], table["heldout_gap_se"] = _gaps_to_best(segment_lls, heldout_lengths)
    k, reason = choose_n_states(table)
    table["chosen"] = table["n_states"] == k
    return Selection(table.reset_index(drop=True), k, reason)
