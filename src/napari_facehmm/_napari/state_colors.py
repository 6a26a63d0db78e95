"""Pure conversions of state sequences to napari colours: points coloured by state, the ethogram band.

Nothing here imports napari or Qt (the palette is :mod:`napari_facehmm.colors`).
"""

from __future__ import annotations

import numpy as np

from ..colors import state_color_array, state_index, state_palette
from ..errors import DataError


def states_to_point_colors(
    states: np.ndarray, rows: np.ndarray, n_states: int
) -> np.ndarray:
    """Color every point by the state of its frame.

    Parameters
    ----------
    states
        ``(T,)`` state per row of the series, -1 where a frame has no state.
    rows
        ``(N,)`` series row of each point (:attr:`.convert.PointsData.rows`).
    n_states
        Number of states of the model.

    Returns
    -------
    numpy.ndarray
        ``(N, 4)`` RGBA (float32, ready to assign to ``layer.face_color``).
    """
    states = np.asarray(states)
    rows = np.asarray(rows, dtype=np.intp)
    if len(rows) and rows.max() >= len(states):
        raise DataError(
            f"state sequence has {len(states)} frames but the points reach row {rows.max()}"
        )
    # palette row per frame (the last row = missing), then two np.take gathers:
    # about 3x faster than fancy-indexing an (T, 4) per-frame color table
    palette = state_palette(n_states).astype(np.float32)
    return np.take(palette, np.take(state_index(states, n_states), rows), axis=0)


def states_for_frames(
    states: np.ndarray, state_frames: np.ndarray, frames: np.ndarray
) -> np.ndarray:
    """States looked up by video frame.

    Parameters
    ----------
    states
        ``(T,)`` states, -1 where unknown.
    state_frames
        ``(T,)`` video frame of each state (sorted ascending).
    frames
        Frames to look up.

    Returns
    -------
    numpy.ndarray
        States at ``frames``, -1 where a frame has no state.
    """
    states = np.asarray(states)
    state_frames = np.asarray(state_frames, dtype=np.int64)
    frames = np.asarray(frames, dtype=np.int64)
    if len(state_frames) == 0:
        return np.full(frames.shape, -1, dtype=np.int64)
    pos = np.clip(np.searchsorted(state_frames, frames), 0, len(state_frames) - 1)
    return np.where(state_frames[pos] == frames, states[pos], -1)


def state_band_image(states: np.ndarray, n_states: int, width: int | None = None) -> np.ndarray:
    """An RGBA image strip of a state sequence (the ethogram band).

    Parameters
    ----------
    states
        ``(T,)`` states, -1 where unknown.
    n_states
        Number of states.
    width
        Output width in pixels; ``T`` when None. When smaller than ``T``
        each pixel shows the most frequent state of its frames.

    Returns
    -------
    numpy.ndarray
        ``(1, width, 4)`` uint8 RGBA.
    """
    states = np.asarray(states, dtype=np.int64)
    n_frames = len(states)
    if width is None or width >= n_frames or n_frames == 0:
        picked = states
    else:
        edges = np.linspace(0, n_frames, width + 1).astype(np.int64)
        # the most frequent state per pixel: count with one bincount over (pixel, state)
        pixel = np.repeat(np.arange(width), np.diff(edges))
        shifted = state_index(states, n_states)  # -1 and out-of-range states count as missing
        counts = np.bincount(pixel * (n_states + 1) + shifted, minlength=width * (n_states + 1))
        winner = counts.reshape(width, n_states + 1).argmax(axis=1)
        picked = np.where(winner == n_states, -1, winner)
    rgba = state_color_array(picked, n_states)
    return (rgba[None, :, :] * 255).round().astype(np.uint8)
