"""Choose the number of states: BIC, held-out likelihood, agreement of restarts.

For every candidate state count the model is fitted (with restarts) to a
training part of the data and judged three ways:

* **BIC** on the training part (lower is better);
* **held-out log-likelihood** per frame on the held-out part (higher is
  better): the last fraction of every sequence ("tail") or every n-th
  segment of each sequence ("alternate");
* **restart agreement**: adjusted Rand index between the restarts' decoded
  states (1 = every restart found the same partition; low values mean the
  state count is not well determined by the data).

Features that are exact linear combinations of others (rigid alignment ties
six coordinates to the rest; a constant column) are left out of the
candidates' fits (:func:`independent_columns`). A Gaussian has no density in
such a direction: its variance there is only the covariance prior spread over
a state's frames, so every state's log-likelihood gains ``log`` of its frame
count per such direction, and splitting the data into more states loses
``log(2)`` per direction and frame: measured, rigid features (6 such
directions) lost 2.1 log-likelihood per frame from 2 to 4 states from this
alone, which made the true 4 states lose to 2. The dropped columns carry no
information beyond the kept ones.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from itertools import combinations

import numpy as np

from ..errors import DataError
from ._validation import check_features
from .model import FaceHMM

__all__ = [
    "select_n_states", "select_n_states_progress", "split_heldout", "heldout_runs", "choose_n_states", "parse_states", "AUTO_STATES",
    "independent_columns", "independent_columns_of_covariance",
]

COLUMNS = [
    "n_states",
    "n_parameters",
    "log_likelihood",
    "bic",
    "aic",
    "heldout_log_likelihood",
    "heldout_log_likelihood_per_frame",
    "restart_ari_mean",
    "restart_ari_min",
    "converged",
    "n_train_frames",
    "n_heldout_frames",
    "n_features",
]


def independent_columns(X: np.ndarray, rtol: float = 1e-9) -> np.ndarray:
    """Indices (ascending) of columns of ``X`` none of which is a linear combination of the others.

    From the covariance of the complete rows (:func:`independent_columns_of_covariance`).
    With fewer complete rows than columns the covariance cannot tell, and
    every column is kept.
    """
    X = np.asarray(X, dtype=float)
    complete = X[np.isfinite(X).all(axis=1)]
    if len(complete) <= X.shape[1]:
        return np.arange(X.shape[1])
    return independent_columns_of_covariance(np.atleast_2d(np.cov(complete, rowvar=False)), rtol)


def independent_columns_of_covariance(covariance: np.ndarray, rtol: float = 1e-9) -> np.ndarray:
    """Indices (ascending) of the linearly independent columns of data with this covariance.

    Rank-revealing (pivoted) QR of the covariance: a column whose pivot is
    below ``rtol`` times the largest is dependent on the columns before it
    (or constant).
    """
    from scipy.linalg import qr

    covariance = np.atleast_2d(np.asarray(covariance, dtype=float))
    _, r, pivots = qr(covariance, pivoting=True)
    pivot_size = np.abs(np.diag(r))
    if pivot_size[0] == 0:
        return np.arange(len(covariance))
    rank = int(np.sum(pivot_size > rtol * pivot_size[0]))
    return np.sort(pivots[:rank])


def split_heldout(
    lengths: np.ndarray,
    fraction: float,
    scheme: str = "tail",
    segment_frames: int = 300,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Split sequences into training and held-out runs of frames.

    Parameters
    ----------
    lengths : ndarray of int, shape (n_sequences,)
    fraction : float
        Share of frames to hold out, in [0, 1).
    scheme : {"tail", "alternate", "blocks"}
        "tail": the last ``fraction`` of each sequence. "alternate": cut each
        sequence into segments of ``segment_frames`` and hold out every
        ``round(1 / fraction)``-th segment. "blocks": the same with blocks of
        ``segment_frames`` over all frames in order (sequences shorter than a
        few blocks, as between gaps, still give held-out frames).
    segment_frames : int
        Segment length for "alternate" and "blocks" (e.g. 300 = 10 s at 30 fps).

    Returns
    -------
    train_mask : ndarray of bool, shape (n_frames,)
    train_lengths, heldout_lengths : ndarray of int
        Lengths of the contiguous runs of ``X[train_mask]`` and ``X[~train_mask]``.
    heldout_mask : ndarray of bool, shape (n_frames,)
    """
    if not 0 <= fraction < 1:
        raise DataError(f"heldout fraction must be in [0, 1), got {fraction}")
    if scheme not in ("tail", "alternate", "blocks"):
        raise DataError(f"heldout scheme must be 'tail', 'alternate' or 'blocks', got {scheme!r}")
    held_parts = []
    start = 0
    for length in lengths:
        length = int(length)
        held = np.zeros(length, dtype=bool)
        if fraction > 0:
            if scheme == "blocks":  # time blocks over all frames, whatever the sequences' lengths
                period = max(2, int(round(1 / fraction)))
                position = start + np.arange(length)
                held = (position // max(1, int(segment_frames))) % period == period - 1
            elif scheme == "tail":
                n_held = int(np.floor(length * fraction))
                if n_held:
                    held[length - n_held :] = True
            else:
                period = max(2, int(round(1 / fraction)))
                segment = np.arange(length) // max(1, int(segment_frames))
                held = segment % period == period - 1
        held_parts.append(held)
        start += length
    heldout_mask = np.concatenate(held_parts) if held_parts else np.zeros(0, dtype=bool)
    train_lengths, heldout_lengths = heldout_runs(heldout_mask, lengths)
    return ~heldout_mask, train_lengths, heldout_lengths, heldout_mask


def heldout_runs(heldout_mask: np.ndarray, lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Lengths of the contiguous runs of training and of held-out frames, within each sequence.

    Parameters
    ----------
    heldout_mask : ndarray of bool, shape (n_frames,)
    lengths : ndarray of int, shape (n_sequences,), summing to ``n_frames``

    Returns
    -------
    train_lengths, heldout_lengths : ndarray of int
        The sequences of ``X[~heldout_mask]`` and of ``X[heldout_mask]``: a
        run never spans two sequences.
    """
    heldout_mask = np.asarray(heldout_mask, dtype=bool)
    if len(heldout_mask) != int(np.sum(lengths)):
        raise DataError(f"the held-out mask has {len(heldout_mask)} frames, the sequences {int(np.sum(lengths))}")
    train_lengths: list[int] = []
    heldout_lengths: list[int] = []
    start = 0
    for length in lengths:
        held = heldout_mask[start : start + int(length)]
        for part, out in ((~held, train_lengths), (held, heldout_lengths)):
            if part.any():
                edges = np.flatnonzero(np.diff(np.concatenate(([0], part.astype(np.int8), [0]))))
                out.extend((edges[1::2] - edges[::2]).tolist())
        start += int(length)
    return np.asarray(train_lengths, dtype=np.int64), np.asarray(heldout_lengths, dtype=np.int64)


def select_n_states_progress(
    X,
    lengths=None,
    n_states_range: Iterable[int] = range(2, 13),
    *,
    heldout_fraction: float = 0.2,
    heldout: str = "tail",
    segment_frames: int = 300,
    n_restarts: int = 3,
    n_iter: int = 100,
    tol: float = 1e-3,
    random_state: int | None = 0,
    heldout_mask: np.ndarray | None = None,
    **face_hmm_options,
) -> Iterator[tuple[int, int, str]]:
    """Generator form of :func:`select_n_states`.

    ``heldout_mask`` (bool, one per frame), when given, says which frames are
    held out instead of ``heldout_fraction``, ``heldout`` and
    ``segment_frames`` (e.g. time blocks within each of several sessions).

    Yields ``(done, total, message)`` after every EM iteration (``total`` =
    state counts x restarts x ``n_iter``, an upper bound); returns the
    DataFrame (``StopIteration.value``; napari's ``thread_worker`` passes it
    to ``returned``).
    """
    import pandas as pd
    from sklearn.metrics import adjusted_rand_score

    X, lengths = check_features(X, lengths)
    candidates = [int(k) for k in n_states_range]
    if not candidates:
        raise DataError("n_states_range is empty")
    if heldout_mask is None:
        train_mask, train_lengths, heldout_lengths, heldout_mask = split_heldout(
            lengths, heldout_fraction, heldout, segment_frames
        )
    else:
        heldout_mask = np.asarray(heldout_mask, dtype=bool)
        train_mask = ~heldout_mask
        train_lengths, heldout_lengths = heldout_runs(heldout_mask, lengths)
        if not train_mask.any():
            raise DataError("every frame is held out: nothing to fit the candidates to")
    columns = independent_columns(X[train_mask])
    if np.isnan(X[:, columns]).all(axis=1).any():  # a frame seen only in dropped columns: keep them all
        columns = np.arange(X.shape[1])
    X = X[:, columns]
    if face_hmm_options.get("feature_names") is not None:
        face_hmm_options["feature_names"] = [face_hmm_options["feature_names"][c] for c in columns]
    X_train, X_heldout = X[train_mask], X[heldout_mask]
    per_fit = n_restarts * n_iter
    total = len(candidates) * per_fit
    rows = []
    segment_lls: dict[int, np.ndarray] = {}
    for index, n_states in enumerate(candidates):
        face_hmm = FaceHMM(
            n_states=n_states,
            n_restarts=n_restarts,
            n_iter=n_iter,
            tol=tol,
            random_state=random_state,
            **face_hmm_options,
        )
        face_hmm.log_convergence = False  # the table's "converged" column says it
        for progress in face_hmm.fit_progress(X_train, train_lengths):
            yield (
                index * per_fit + progress.done,
                total,
                f"{n_states} states ({index + 1}/{len(candidates)}): {progress.message}",
            )
        yield ((index + 1) * per_fit, total, f"{n_states} states: scoring")
        n_parameters = face_hmm.n_parameters()
        log_likelihood = face_hmm.score(X_train, train_lengths)
        decoded = [model.predict(X_train, train_lengths) for model in face_hmm.restart_models_]
        agreements = [adjusted_rand_score(a, b) for a, b in combinations(decoded, 2)]
        heldout_ll = face_hmm.score(X_heldout, heldout_lengths) if len(X_heldout) else np.nan
        if len(X_heldout):
            bounds = np.concatenate(([0], np.cumsum(heldout_lengths)))
            segment_lls[n_states] = np.array(
                [face_hmm.score(X_heldout[a:b]) for a, b in zip(bounds[:-1], bounds[1:])]
            )
        rows.append(
            {
                "n_states": n_states,
                "n_parameters": n_parameters,
                "log_likelihood": log_likelihood,
                "bic": -2 * log_likelihood + n_parameters * np.log(len(X_train)),
                "aic": -2 * log_likelihood + 2 * n_parameters,
                "heldout_log_likelihood": heldout_ll,
                "heldout_log_likelihood_per_frame": heldout_ll / len(X_heldout) if len(X_heldout) else np.nan,
                "restart_ari_mean": float(np.mean(agreements)) if agreements else np.nan,
                "restart_ari_min": float(np.min(agreements)) if agreements else np.nan,
                "converged": face_hmm.converged_,
                "n_train_frames": len(X_train),
                "n_heldout_frames": len(X_heldout),
                "n_features": X.shape[1],
            }
        )
    table = pd.DataFrame(rows, columns=COLUMNS).set_index("n_states", drop=False)
    if segment_lls:
        table["heldout_gap_per_frame"], table["heldout_gap_se"] = _gaps_to_best(segment_lls, heldout_lengths)
    return table


def _gaps_to_best(segment_lls: dict[int, np.ndarray], segment_frames: np.ndarray) -> tuple[list, list]:
    """Per candidate: held-out log-likelihood per frame below the best candidate's, and its standard error.

    The standard error is that of the paired difference over the held-out
    segments (the same frames score every candidate), so it says how much of
    a gap the held-out data can tell apart.
    """
    frames = np.asarray(segment_frames, dtype=float)
    best = max(segment_lls, key=lambda k: segment_lls[k].sum())
    gaps, errors = [], []
    for k in segment_lls:
        difference = (segment_lls[best] - segment_lls[k]) / frames  # per frame, per segment
        weights = frames / frames.sum()
        mean = float(np.sum(weights * difference))
        n = len(difference)
        spread = float(np.sqrt(np.sum(weights * (difference - mean) ** 2) / max(n - 1, 1))) if n > 1 else np.inf
        gaps.append(mean)
        errors.append(spread)
    return gaps, errors


#: ``--states auto``: the state counts tried
AUTO_STATES = tuple(range(2, 13))


def choose_n_states(table) -> tuple[int, str]:
    """The state count a selection table points to, and why, in words.

    Rule (the one-standard-error rule of cross-validation): among the
    candidates whose held-out log-likelihood per frame is within one
    standard error of the best (paired over held-out segments), the
    smallest. More states that do not predict unseen time blocks better
    than that are not supported by the data. Without held-out frames: the
    lowest BIC.
    """
    if "heldout_gap_se" not in table or table["heldout_gap_se"].isna().all():
        k = int(table["bic"].idxmin())
        return k, f"{k} states: the lowest BIC (no held-out frames)"
    best = int(table["heldout_gap_per_frame"].idxmin())
    close = table[table["heldout_gap_per_frame"] <= table["heldout_gap_se"]]
    k = int(close["n_states"].min())
    if k == best:
        return k, f"{k} states: the best held-out log-likelihood per frame"
    gap = float(table.loc[k, "heldout_gap_per_frame"])
    return k, (
        f"{k} states: held-out log-likelihood within one standard error of the best ({best} states; "
        f"{gap:.3g} per frame lower, standard error {float(table.loc[k, 'heldout_gap_se']):.3g}), "
        "and fewer states"
    )


def parse_states(text: str) -> int | tuple[int, ...]:
    """``"9"`` -> 9; ``"auto"`` -> :data:`AUTO_STATES`; ``"4-12"`` -> ``(4, ..., 12)``.

    Raises
    ------
    DataError
        Anything else, a range whose ends are reversed or below 1.
    """
    text = str(text).strip().lower()
    if text == "auto":
        return AUTO_STATES
    try:
        if "-" in text:
            low, high = (int(part) for part in text.split("-", 1))
            if low < 1 or high < low:
                raise ValueError
            return tuple(range(low, high + 1))
        value = int(text)
    except ValueError:
        raise DataError(
            f"states must be a whole number, 'auto' or a range like 4-12; got {text!r}"
        ) from None
    if value < 1:
        raise DataError(f"states must be at least 1; got {value}")
    return value


def select_n_states(X, lengths=None, n_states_range: Iterable[int] = range(2, 13), **options):
    """Fit every state count in ``n_states_range`` and tabulate how well each does.

    Parameters
    ----------
    X : array-like, shape (n_frames, n_features)
    lengths : array-like of int, shape (n_sequences,), optional
    n_states_range : iterable of int
    heldout_fraction : float, default 0.2
        Share of frames held out for the held-out likelihood (0: none; then
        BIC is computed on all frames).
    heldout : {"tail", "alternate", "blocks"}, default "tail"
    segment_frames : int, default 300
        Segment length for ``heldout="alternate"`` and ``"blocks"``.
    heldout_mask : ndarray of bool, optional
        The held-out frames, instead of the three options above.
    n_restarts, n_iter, tol, random_state
        As in :class:`FaceHMM`; other keyword arguments go to FaceHMM too
        (e.g. ``covariance_type``, ``sticky``).

    Returns
    -------
    pandas.DataFrame
        One row per state count, indexed by ``n_states``, with columns
        ``n_states, n_parameters, log_likelihood`` (training),
        ``bic, aic`` (training; lower is better),
        ``heldout_log_likelihood, heldout_log_likelihood_per_frame`` (higher
        is better), ``restart_ari_mean, restart_ari_min`` (NaN with one
        restart), ``converged, n_train_frames, n_heldout_frames``,
        ``n_features`` (the linearly independent columns fitted, see
        :func:`independent_columns`); with held-out frames also
        ``heldout_gap_per_frame, heldout_gap_se`` (below the best candidate,
        and the standard error of that paired difference over the held-out runs).
    """
    from ..progress import run_to_end

    return run_to_end(select_n_states_progress(X, lengths, n_states_range, **options))
