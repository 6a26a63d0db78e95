"""Which frames get a state: the fraction of features observed per frame, and why a frame gets none.

A frame keeps its missing features (NaN) and gets a state from the HMM's
marginal over the observed ones (:mod:`napari_facehmm.hmm.missing`) when at
least ``min_observed`` of its features are observed; frames below that, with
no face at all, or in a run of such frames shorter than ``min_segment_frames``
get no state, and :func:`no_state_reasons` says why (the ``reason`` column of
``states.csv``).
"""

from __future__ import annotations

import numpy as np

from ..ranges import Setting

__all__ = [
    "DEFAULT_MIN_OBSERVED",
    "MIN_OBSERVED",
    "check_min_observed",
    "observed_fraction",
    "frames_with_state",
    "no_state_reasons",
]

#: Default of ``FeatureSettings.min_observed`` (``--min-observed``): a frame
#: needs at least half of its features observed to get a state.
DEFAULT_MIN_OBSERVED = 0.5

#: The setting as the CLI (``--min-observed``) and the forms show it.
MIN_OBSERVED = Setting(
    "min_observed",
    float,
    default=DEFAULT_MIN_OBSERVED,
    minimum=0.0,
    maximum=1.0,
    min_open=True,
    help="a frame gets a state when at least this fraction of its features is observed "
    "(the HMM uses the observed ones); 1: complete frames only",
)


def check_min_observed(value) -> float:
    """``value`` as a float in (0, 1]; :class:`DataError` naming the setting otherwise."""
    return MIN_OBSERVED.check(value)


def observed_fraction(values: np.ndarray) -> np.ndarray:
    """``(T,)`` fraction of finite values in each row of ``values`` ``(T, D)``."""
    values = np.asarray(values, dtype=float)
    if values.shape[1] == 0:
        return np.zeros(len(values))
    return np.isfinite(values).mean(axis=1)


def frames_with_state(
    fraction: np.ndarray,
    min_observed: float,
    frame_indices: np.ndarray,
    min_segment_frames: int,
) -> tuple[np.ndarray, list[tuple[int, int]]]:
    """Frames that get a state, and their runs.

    Parameters
    ----------
    fraction
        ``(T,)`` from :func:`observed_fraction`.
    min_observed
        A frame needs at least this fraction observed.
    frame_indices
        ``(T,)`` video frames (a skipped frame number breaks a run).
    min_segment_frames
        Runs shorter than this get no state.

    Returns
    -------
    valid : ndarray of bool, shape (T,)
    runs : list of (start, stop)
        Row ranges of the kept runs, in order.
    """
    from .kinematics import segments

    enough = np.asarray(fraction) >= min_observed - 1e-12
    runs = [(a, b) for a, b in segments(enough, frame_indices) if b - a >= min_segment_frames]
    valid = np.zeros(len(enough), dtype=bool)
    for a, b in runs:
        valid[a:b] = True
    return valid, runs


def no_state_reasons(
    fraction: np.ndarray,
    valid: np.ndarray,
    face_present: np.ndarray,
    min_observed: float,
    min_segment_frames: int,
) -> np.ndarray:
    """``(T,)`` strings: empty where a frame has a state, else why it has none.

    ``"no face"`` (no landmark tracked in the frame),
    ``"12% of features observed (< 50%)"``, or
    ``"in a run of frames with features shorter than 3 frames"``.
    """
    fraction = np.asarray(fraction, dtype=float)
    reasons = np.full(len(fraction), "", dtype=object)
    for t in np.flatnonzero(~np.asarray(valid, dtype=bool)):
        if not face_present[t]:
            reasons[t] = "no face"
        elif fraction[t] < min_observed - 1e-12:
            reasons[t] = f"{_percent(fraction[t])} of features observed (< {_percent(min_observed)})"
        else:
            reasons[t] = f"in a run of frames with features shorter than {min_segment_frames} frames"
    return reasons


def _percent(value: float) -> str:
    """``0.123 -> "12%"``; never rounds a value below the threshold up to it (``0.499 -> "49%"``)."""
    return f"{int(np.floor(value * 100 + 1e-9))}%"
