"""Segments, gap filling and head kinematics (per second, never per frame)."""

from __future__ import annotations

import numpy as np

from .geometry import rotation_between_deg


def segments(valid: np.ndarray, frame_indices: np.ndarray | None = None) -> list[tuple[int, int]]:
    """Runs of consecutive valid rows.

    Parameters
    ----------
    valid
        ``(n_frames,)`` bool.
    frame_indices
        ``(n_frames,)`` video frame of each row; a jump (difference != 1)
        also ends a run, because the rows are then not neighbours in time.

    Returns
    -------
    list of (start, stop)
        Half-open row ranges ``[start, stop)``, in order.
    """
    valid = np.asarray(valid, dtype=bool)
    if len(valid) == 0:
        return []
    # a run starts where a valid row follows an invalid one or a frame jump
    starts = valid.copy()
    starts[1:] &= ~valid[:-1]
    if frame_indices is not None and len(valid) > 1:
        jump = np.diff(np.asarray(frame_indices)) != 1
        starts[1:] |= valid[1:] & jump
    start_rows = np.flatnonzero(starts)
    stops = np.empty_like(start_rows)
    # each run ends at the next start or the next invalid row, whichever comes first
    invalid_rows = np.append(np.flatnonzero(~valid), len(valid))
    stop_invalid = invalid_rows[np.searchsorted(invalid_rows, start_rows)]
    stops[:-1] = np.minimum(start_rows[1:], stop_invalid[:-1])
    if len(start_rows):
        stops[-1] = stop_invalid[-1]
    return [(int(a), int(b)) for a, b in zip(start_rows, stops)]


def interpolate_gaps(
    values: np.ndarray, max_gap: int, frame_indices: np.ndarray | None = None
) -> np.ndarray:
    """Fill short interior NaN gaps linearly, column by column.

    Parameters
    ----------
    values
        ``(n_frames, ...)`` array; each trailing column (e.g. one keypoint
        coordinate) is filled on its own.
    max_gap
        Longest gap (in frames) to fill. Longer gaps, and gaps at the start or
        end, stay NaN: inventing a face for seconds would invent states.
    frame_indices
        ``(n_frames,)`` video frames; a gap is never filled across a jump in
        frame numbers.

    Returns
    -------
    numpy.ndarray
        A copy of ``values`` with short gaps filled.
    """
    values = np.array(values, dtype=np.float64, copy=True)
    if max_gap <= 0 or len(values) < 3:
        return values
    shape = values.shape
    flat = values.reshape(shape[0], -1)
    rows = np.arange(shape[0])
    blocks = segments(np.ones(shape[0], dtype=bool), frame_indices)
    for column in range(flat.shape[1]):
        series = flat[:, column]
        missing = np.isnan(series)
        if not missing.any() or missing.all():
            continue
        for start, stop in blocks:
            block_missing = missing[start:stop]
            if not block_missing.any():
                continue
            for gap_start, gap_stop in segments(block_missing):
                gap_start += start
                gap_stop += start
                if gap_start == start or gap_stop == stop or gap_stop - gap_start > max_gap:
                    continue
                before, after = gap_start - 1, gap_stop
                series[gap_start:gap_stop] = np.interp(
                    rows[gap_start:gap_stop], [before, after], [series[before], series[after]]
                )
    return flat.reshape(shape)


def _gradient_per_segment(
    values: np.ndarray, fps: float, runs: list[tuple[int, int]]
) -> np.ndarray:
    """d(values)/dt in units per second, computed inside each run only; NaN elsewhere."""
    out = np.full(values.shape, np.nan)
    spacing_s = 1.0 / fps
    for start, stop in runs:
        n = stop - start
        if n < 2:
            continue  # a single frame has no velocity
        # edge_order=2 keeps the ends second-order accurate (exact for quadratics)
        out[start:stop] = np.gradient(
            values[start:stop], spacing_s, axis=0, edge_order=2 if n >= 3 else 1
        )
    return out


def kinematics(
    position_track: np.ndarray,
    fps: float,
    valid: np.ndarray | None = None,
    frame_indices: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """Position, velocity, acceleration and speed of one tracked point.

    Parameters
    ----------
    position_track
        ``(n_frames, n_dims)`` positions (pixels or mm).
    fps
        Frames per second; derivatives are per second (spacing ``1 / fps``).
    valid
        ``(n_frames,)`` bool; derivatives never cross an invalid frame.
        Default: rows where the position is finite.
    frame_indices
        ``(n_frames,)`` video frames; derivatives never cross a jump.

    Returns
    -------
    dict
        ``position (T, D)``, ``velocity (T, D)`` units/s, ``acceleration (T, D)``
        units/s², ``speed (T,)`` units/s; NaN outside valid runs of >= 2 frames.
    """
    position_track = np.asarray(position_track, dtype=np.float64)
    if valid is None:
        valid = np.isfinite(position_track).all(axis=1)
    valid = np.asarray(valid, dtype=bool) & np.isfinite(position_track).all(axis=1)
    runs = segments(valid, frame_indices)
    velocity = _gradient_per_segment(position_track, fps, runs)
    acceleration = _gradient_per_segment(velocity, fps, runs)
    position = np.where(valid[:, None], position_track, np.nan)
    return {
        "position": position,
        "velocity": velocity,
        "acceleration": acceleration,
        "speed": np.linalg.norm(velocity, axis=1),
    }


def angular_kinematics(
    rotations: np.ndarray,
    fps: float,
    valid: np.ndarray | None = None,
    frame_indices: np.ndarray | None = None,
) -> np.ndarray:
    """Angular speed of a rotation track in degrees per second.

    Central differences of the rotation itself (the angle of
    ``R[t-1]^T R[t+1]`` over two frames), one-sided at run ends, so angle
    wrap-around never produces spikes.

    Parameters
    ----------
    rotations
        ``(n_frames, n_dims, n_dims)``.
    fps
        Frames per second.
    valid, frame_indices
        As in :func:`kinematics`.

    Returns
    -------
    numpy.ndarray
        ``(n_frames,)`` degrees/s; NaN outside valid runs of >= 2 frames.
    """
    rotations = np.asarray(rotations, dtype=np.float64)
    finite = np.isfinite(rotations).all(axis=(1, 2))
    valid = finite if valid is None else (np.asarray(valid, dtype=bool) & finite)
    out = np.full(len(rotations), np.nan)
    for start, stop in segments(valid, frame_indices):
        n = stop - start
        if n < 2:
            continue
        block = rotations[start:stop]
        speed = np.empty(n)
        speed[0] = rotation_between_deg(block[:1], block[1:2])[0] * fps
        speed[-1] = rotation_between_deg(block[-2:-1], block[-1:])[0] * fps
        if n >= 3:
            speed[1:-1] = rotation_between_deg(block[:-2], block[2:]) * fps / 2.0
        out[start:stop] = speed
    return out
