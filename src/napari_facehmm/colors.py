"""The color palettes shared by figures, the viewer and the synthetic videos (Qt-free, no matplotlib).

One fixed palette of states, so that state 3 has the same color in the
ethogram PNG, in the napari points layer and in the state widget; and one
palette of keypoints (:func:`keypoint_colors`), so that a keypoint has the
same color in the viewer's layers, in the labeling dock and on the marks of
a rendered synthetic video.
"""

from __future__ import annotations

import colorsys

import numpy as np

# matplotlib's tab10 followed by the light half of tab20: distinct, colorblind-aware
# enough for up to 20 states, and familiar from the reference figures.
_PALETTE_HEX = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
    "#aec7e8",
    "#ffbb78",
    "#98df8a",
    "#ff9896",
    "#c5b0d5",
    "#c49c94",
    "#f7b6d2",
    "#c7c7c7",
    "#dbdb8d",
    "#9edae5",
)

#: RGBA of frames without a state (missing features): light grey, half transparent.
MISSING_COLOR = np.array([0.85, 0.85, 0.85, 0.5])


def _hex_to_rgba(code: str) -> tuple[float, float, float, float]:
    code = code.lstrip("#")
    return (int(code[0:2], 16) / 255, int(code[2:4], 16) / 255, int(code[4:6], 16) / 255, 1.0)


def state_colors(n_states: int) -> np.ndarray:
    """Fixed, distinct colors for states ``0..n_states-1``.

    Parameters
    ----------
    n_states
        Number of states (>= 0).

    Returns
    -------
    numpy.ndarray
        ``(n_states, 4)`` RGBA floats in [0, 1]. The first 20 colors are
        tab10 then tab20's light shades; further states get evenly spaced hues
        (golden-ratio steps) so they stay distinct and deterministic.
    """
    n_states = int(n_states)
    if n_states < 0:
        raise ValueError(f"n_states must be >= 0; got {n_states}")
    colors = [_hex_to_rgba(c) for c in _PALETTE_HEX[:n_states]]
    golden = 0.618033988749895
    for i in range(len(colors), n_states):
        hue = (i * golden) % 1.0
        saturation = 0.65 if i % 2 else 0.45
        value = 0.85 if i % 3 else 0.65
        colors.append((*colorsys.hsv_to_rgb(hue, saturation, value), 1.0))
    return np.array(colors, dtype=np.float64).reshape(n_states, 4)


def keypoint_colors(n_keypoints: int) -> np.ndarray:
    """Distinct colors for keypoints ``0..n_keypoints-1``, all far apart from each other.

    Saturated hues in golden-ratio steps around the colour wheel, alternating
    full and dimmed brightness so neighbours in the list differ in two ways.
    Keypoint ``k`` has the same color whatever ``n_keypoints`` is.

    Returns
    -------
    numpy.ndarray
        ``(n_keypoints, 4)`` RGBA floats in [0, 1].

    See Also
    --------
    keypoint_colors_rgb8 : the same colors as 8-bit RGB, for drawing into frames.
    """
    colors = np.ones((int(n_keypoints), 4))
    for i in range(int(n_keypoints)):
        # golden-ratio hue steps keep successive colours far apart
        hue = (i * 0.618034) % 1.0
        value = 1.0 if i % 2 == 0 else 0.62
        saturation = 1.0 if i % 3 != 2 else 0.75
        colors[i, :3] = colorsys.hsv_to_rgb(hue, saturation, value)
    return colors


def keypoint_colors_rgb8(n_keypoints: int) -> np.ndarray:
    """``(n_keypoints, 3)`` uint8 RGB: :func:`keypoint_colors` for drawing into video frames."""
    return np.round(keypoint_colors(n_keypoints)[:, :3] * 255).astype(np.uint8)


def state_index(states: np.ndarray, n_states: int) -> np.ndarray:
    """Row of each state in :func:`state_palette`: the state itself, ``n_states`` (missing) for -1 or out of range."""
    states = np.asarray(states)
    return np.where((states >= 0) & (states < n_states), states, n_states).astype(np.intp)


def state_palette(n_states: int) -> np.ndarray:
    """``(n_states + 1, 4)`` RGBA: the state colors, then :data:`MISSING_COLOR` for "no state"."""
    return np.vstack([state_colors(n_states), MISSING_COLOR[None, :]])


def state_color_array(states: np.ndarray, n_states: int) -> np.ndarray:
    """Per-frame RGBA for a state sequence; missing states (< 0) get :data:`MISSING_COLOR`.

    Parameters
    ----------
    states
        ``(n_frames,)`` integer states, -1 where a frame has no state.
    n_states
        Number of states of the model.

    Returns
    -------
    numpy.ndarray
        ``(n_frames, 4)`` RGBA floats.
    """
    return state_palette(n_states)[state_index(states, n_states)]
