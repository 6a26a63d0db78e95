"""Tidy tables of a state sequence: per frame, per state, per bout, per transition.

A state sequence is ``(n_frames,)`` integers, ``-1`` for frames without a state
(missing features). Bouts and transitions never cross a missing frame or a
jump in frame numbers: the face was not observed in between.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from ..errors import DataError


def _check_states(states: np.ndarray, n_states: int) -> np.ndarray:
    states = np.asarray(states)
    if states.ndim != 1:
        raise DataError(f"states must be a 1-D sequence; got shape {states.shape}")
    states = states.astype(np.int64)
    bad = (states >= n_states) | (states < -1)
    if bad.any():
        raise DataError(
            f"states must be -1 (missing) or 0..{n_states - 1}; found {sorted(set(states[bad]))}"
        )
    return states


def _run_starts(states: np.ndarray, frame_indices: np.ndarray | None) -> np.ndarray:
    """Rows where a new run of equal states begins (also after a frame jump)."""
    n = len(states)
    starts = np.ones(n, dtype=bool)
    if n > 1:
        starts[1:] = states[1:] != states[:-1]
        if frame_indices is not None:
            starts[1:] |= np.diff(np.asarray(frame_indices)) != 1
    return starts


def frame_table(
    states: np.ndarray,
    frame_indices: np.ndarray,
    fps: float,
    posterior: np.ndarray | None = None,
    reasons: np.ndarray | None = None,
) -> pd.DataFrame:
    """One row per frame: ``frame, time_s, state, state_probability, reason``.

    Parameters
    ----------
    states
        ``(n_frames,)`` states, -1 = none.
    frame_indices
        ``(n_frames,)`` video frame numbers.
    fps
        Frames per second.
    posterior
        ``(n_frames, n_states)`` state probabilities (NaN rows where no state).
    reasons
        ``(n_frames,)`` why a frame has no state ("" where it has one), as
        :func:`napari_facehmm.features.coverage.no_state_reasons` gives.

    Returns
    -------
    pandas.DataFrame
        ``state`` is a nullable integer (empty in CSV where missing);
        ``state_probability`` is the largest posterior (NaN where missing).
    """
    states = np.asarray(states, dtype=np.int64)
    frame_indices = np.asarray(frame_indices, dtype=np.int64)
    table = pd.DataFrame(
        {
            "frame": frame_indices,
            "time_s": frame_indices / float(fps),
            "state": pd.array(np.where(states >= 0, states, 0), dtype="Int64"),
        }
    )
    table.loc[states < 0, "state"] = pd.NA
    if posterior is not None:
        table["state_probability"] = state_probability(posterior, states)
    if reasons is not None:
        table["reason"] = np.where(states >= 0, "", np.asarray(reasons, dtype=object))
    return table


def state_probability(posterior: np.ndarray, states: np.ndarray | None = None) -> np.ndarray:
    """``(T,)`` probability of each frame's most likely state: the largest of ``posterior`` ``(T, n_states)``.

    NaN where the posterior row is NaN or, with ``states`` ``(T,)``, where the frame has no state (-1).
    """
    posterior = np.asarray(posterior, dtype=np.float64)
    best_any = np.where(np.isnan(posterior), -1.0, posterior).max(axis=1)
    has_state = best_any >= 0 if states is None else (np.asarray(states) >= 0) & (best_any >= 0)
    return np.where(has_state, best_any, np.nan)


def bout_table(states: np.ndarray, frame_indices: np.ndarray, fps: float) -> pd.DataFrame:
    """One row per bout (a run of one state): ``state, start_frame, end_frame, n_frames, duration_s``.

    ``end_frame`` is inclusive; ``duration_s = n_frames / fps``. Runs of
    missing frames are not bouts.
    """
    states = np.asarray(states, dtype=np.int64)
    frame_indices = np.asarray(frame_indices, dtype=np.int64)
    starts = np.flatnonzero(_run_starts(states, frame_indices))
    stops = np.append(starts[1:], len(states))
    keep = states[starts] >= 0 if len(starts) else np.zeros(0, dtype=bool)
    starts, stops = starts[keep], stops[keep]
    n_frames = stops - starts
    return pd.DataFrame(
        {
            "state": states[starts].astype(np.int64),
            "start_frame": frame_indices[starts] if len(starts) else np.zeros(0, np.int64),
            "end_frame": frame_indices[stops - 1] if len(starts) else np.zeros(0, np.int64),
            "n_frames": n_frames.astype(np.int64),
            "duration_s": n_frames / float(fps),
        }
    )


def transition_counts(
    states: np.ndarray, n_states: int, frame_indices: np.ndarray | None = None
) -> np.ndarray:
    """``(n_states, n_states)`` counts of frame-to-frame steps ``from -> to``.

    Only consecutive frames that both have a state count (self-steps included).
    """
    states = _check_states(states, n_states)
    counts = np.zeros((n_states, n_states), dtype=np.int64)
    if len(states) < 2:
        return counts
    step = (states[:-1] >= 0) & (states[1:] >= 0)
    if frame_indices is not None:
        step &= np.diff(np.asarray(frame_indices)) == 1
    np.add.at(counts, (states[:-1][step], states[1:][step]), 1)
    return counts


def _row_normalize(counts: np.ndarray) -> np.ndarray:
    totals = counts.sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(totals > 0, counts / np.where(totals > 0, totals, 1), np.nan)


def transition_table(
    states: np.ndarray, n_states: int, frame_indices: np.ndarray | None = None
) -> pd.DataFrame:
    """One row per (from, to) pair: ``from_state, to_state, count, probability, switch_count, switch_probability``.

    ``count``/``probability``: frame-to-frame steps, self-steps included (the
    empirical transition matrix). ``switch_*``: changes of state only (bout
    to next bout), self-pairs 0 and NaN.
    """
    counts = transition_counts(states, n_states, frame_indices)
    switches = counts.copy()
    np.fill_diagonal(switches, 0)
    switch_probability = _row_normalize(switches)
    np.fill_diagonal(switch_probability, np.nan)
    from_state, to_state = np.meshgrid(np.arange(n_states), np.arange(n_states), indexing="ij")
    return pd.DataFrame(
        {
            "from_state": from_state.ravel(),
            "to_state": to_state.ravel(),
            "count": counts.ravel(),
            "probability": _row_normalize(counts).ravel(),
            "switch_count": switches.ravel(),
            "switch_probability": switch_probability.ravel(),
        }
    )


def mean_faces(coords: np.ndarray, states: np.ndarray, n_states: int) -> tuple[np.ndarray, np.ndarray]:
    """Mean and SD of the head-centred face in each state.

    Parameters
    ----------
    coords
        ``(n_frames, n_keypoints, n_dims)`` head-centred coordinates.
    states
        ``(n_frames,)`` states, -1 = none.
    n_states
        Number of states.

    Returns
    -------
    mean, sd
        ``(n_states, n_keypoints, n_dims)`` each; NaN for states never visited.
    """
    states = _check_states(states, n_states)
    coords = np.asarray(coords, dtype=np.float64)
    mean = np.full((n_states,) + coords.shape[1:], np.nan)
    sd = np.full((n_states,) + coords.shape[1:], np.nan)
    for state in range(n_states):
        members = coords[states == state]
        if len(members):
            # keypoints missing in every frame of a state give an all-NaN slice
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                mean[state] = np.nanmean(members, axis=0)
                sd[state] = np.nanstd(members, axis=0)
    return mean, sd


def state_table(
    states: np.ndarray,
    n_states: int,
    fps: float,
    frame_indices: np.ndarray | None = None,
    head_speed: np.ndarray | None = None,
    angular_speed: np.ndarray | None = None,
    state_names: list[str] | None = None,
) -> pd.DataFrame:
    """One row per state: frequencies, bouts, dwell times and head motion.

    Parameters
    ----------
    states
        ``(n_frames,)`` states, -1 = none.
    n_states
        Number of states (states never visited get a row of zeros).
    fps
        Frames per second.
    frame_indices
        ``(n_frames,)`` video frames (bouts end at jumps).
    head_speed, angular_speed
        ``(n_frames,)`` head speed (units/s) and angular speed (deg/s) to average per state.
    state_names
        Optional names, one per state.

    Returns
    -------
    pandas.DataFrame
        Columns ``state, name, n_frames, time_s, fraction`` (of labelled
        frames), ``n_bouts, bout_mean_s, bout_median_s, bout_max_s``,
        ``mean_head_speed`` (and ``mean_angular_speed_deg_s``).
    """
    states = _check_states(states, n_states)
    if frame_indices is None:
        frame_indices = np.arange(len(states))
    n_labelled = int((states >= 0).sum())
    counts = np.bincount(states[states >= 0], minlength=n_states)
    bouts = bout_table(states, frame_indices, fps)
    rows = []
    for state in range(n_states):
        durations = bouts.loc[bouts["state"] == state, "duration_s"].to_numpy()
        member = states == state
        row = {
            "state": state,
            "name": state_names[state] if state_names is not None else f"state {state}",
            "n_frames": int(counts[state]),
            "time_s": counts[state] / float(fps),
            "fraction": counts[state] / n_labelled if n_labelled else np.nan,
            "n_bouts": int(len(durations)),
            "bout_mean_s": float(durations.mean()) if len(durations) else np.nan,
            "bout_median_s": float(np.median(durations)) if len(durations) else np.nan,
            "bout_max_s": float(durations.max()) if len(durations) else np.nan,
        }
        for column, values in (("mean_head_speed", head_speed), ("mean_angular_speed_deg_s", angular_speed)):
            if values is not None:
                selected = np.asarray(values, dtype=np.float64)[member]
                selected = selected[np.isfinite(selected)]
                row[column] = float(selected.mean()) if len(selected) else np.nan
        rows.append(row)
    return pd.DataFrame(rows)


def longest_bout_start(states: np.ndarray, frames: np.ndarray, state: int, fps: float = 30.0) -> int | None:
    """Video frame where the longest bout of ``state`` starts (None if never visited).

    ``states`` ``(T,)`` (-1 = none) at video frames ``frames`` ``(T,)``; bouts as
    :func:`bout_table`; of equally long bouts the first.
    """
    bouts = bout_table(states, frames, fps)
    bouts = bouts[bouts["state"] == state]
    if bouts.empty:
        return None
    return int(bouts.loc[bouts["n_frames"].idxmax(), "start_frame"])
