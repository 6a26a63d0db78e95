"""Checks of feature matrices and sequence lengths before they reach hmmlearn.

hmmlearn and scikit-learn raise generic ``ValueError`` messages (or silently
produce NaN parameters) for inputs a user can easily fix; these checks say
what is wrong in the project's own :class:`~napari_facehmm.errors.DataError`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..errors import DataError


def _describe_columns(columns: np.ndarray, feature_names: Sequence[str] | None) -> str:
    shown = [
        f"{int(c)} ({feature_names[c]})" if feature_names is not None else str(int(c)) for c in columns[:10]
    ]
    more = f" and {len(columns) - 10} more" if len(columns) > 10 else ""
    return ", ".join(shown) + more


def check_features(
    X,
    lengths=None,
    *,
    n_features: int | None = None,
    feature_names: Sequence[str] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Validate a feature matrix and its sequence lengths.

    Parameters
    ----------
    X : array-like, shape (n_frames, n_features)
        Feature matrix, one row per frame.
    lengths : array-like of int, shape (n_sequences,), optional
        Frames per sequence (contiguous runs of valid frames); ``None`` means
        one sequence.
    n_features : int, optional
        The number of columns a fitted model expects.
    feature_names : sequence of str, optional
        Column names, used in messages.

    Returns
    -------
    X : ndarray, shape (n_frames, n_features), float64, C-contiguous
    lengths : ndarray, shape (n_sequences,), int64

    Raises
    ------
    DataError
        Not a 2-D numeric array, no frames, inf values, frames with every
        value NaN (NaN alone marks a missing value), a column count
        other than ``n_features``, or lengths that are not positive or do not
        sum to ``n_frames``.
    """
    try:
        X = np.ascontiguousarray(X, dtype=float)
    except (TypeError, ValueError) as error:
        raise DataError(f"X must be a numeric array of shape (n_frames, n_features): {error}") from None
    if X.ndim != 2:
        raise DataError(f"X must be 2-D (n_frames, n_features), got shape {X.shape}")
    if len(X) == 0:
        raise DataError("X has no frames")
    if n_features is not None and X.shape[1] != n_features:
        names = ""
        if feature_names is not None:
            names = f" ({', '.join(map(str, feature_names))})"
        raise DataError(
            f"the model expects {n_features} features{names} but X has {X.shape[1]} columns; "
            "build the features with the settings the model was fitted with"
        )
    infinite = np.isinf(X)
    if infinite.any():
        bad_rows = np.flatnonzero(infinite.any(axis=1))
        bad_columns = np.flatnonzero(infinite.any(axis=0))
        raise DataError(
            f"X has {len(bad_rows)} frames with inf values (first at row {bad_rows[0]}; "
            f"columns {_describe_columns(bad_columns, feature_names)}); drop invalid frames "
            "before fitting or predicting and pass `lengths` of the remaining contiguous runs"
        )
    # NaN marks a missing value: the model uses the observed features of a
    # frame (hmm/missing.py), but a frame needs at least one of them.
    empty = np.isnan(X).all(axis=1)
    if empty.any():
        bad_rows = np.flatnonzero(empty)
        raise DataError(
            f"X has {len(bad_rows)} frames with no observed feature (all NaN; first at row {bad_rows[0]}); "
            "drop invalid frames before fitting or predicting and pass `lengths` of the remaining "
            "contiguous runs"
        )
    if lengths is None:
        lengths = np.array([len(X)], dtype=np.int64)
    else:
        lengths = np.asarray(lengths)
        if lengths.ndim != 1 or len(lengths) == 0 or not np.issubdtype(lengths.dtype, np.integer):
            raise DataError(f"lengths must be a 1-D sequence of integers, got {lengths!r}")
        lengths = lengths.astype(np.int64)
        if (lengths <= 0).any():
            raise DataError(f"lengths must all be positive, got {lengths.tolist()}")
        if lengths.sum() != len(X):
            raise DataError(f"lengths sum to {int(lengths.sum())} but X has {len(X)} frames")
    return X, lengths


def check_fittable(
    X: np.ndarray,
    n_states: int,
    feature_names: Sequence[str] | None = None,
) -> None:
    """Further checks before fitting ``n_states`` Gaussian states to X.

    Raises
    ------
    DataError
        Fewer frames than states, or features that never vary (their
        covariance would be singular).
    """
    if n_states < 1:
        raise DataError(f"n_states must be at least 1, got {n_states}")
    if len(X) < n_states:
        raise DataError(f"cannot fit {n_states} states to {len(X)} frames: need at least one frame per state")
    observed = (~np.isnan(X)).sum(axis=0)
    never = np.flatnonzero(observed == 0)
    if len(never):
        raise DataError(
            f"feature columns {_describe_columns(never, feature_names)} are never observed (all NaN); "
            "remove them before fitting"
        )
    spread = np.nanstd(X, axis=0)
    scale = np.maximum(1.0, np.abs(np.nanmean(X, axis=0)))
    constant = np.flatnonzero(spread <= 1e-10 * scale)
    if len(constant):
        raise DataError(
            f"feature columns {_describe_columns(constant, feature_names)} do not vary "
            "(zero variance); remove them before fitting"
        )
