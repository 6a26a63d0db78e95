"""Figures of a state analysis, drawn with matplotlib's object API (no pyplot, no Qt).

Every function returns a :class:`matplotlib.figure.Figure`; save it with
``fig.savefig(path)`` (the Agg canvas is attached here, so this works in a
batch job and in a worker thread).
"""

from __future__ import annotations

import warnings
from typing import Sequence

import numpy as np

from ..colors import MISSING_COLOR, state_color_array, state_colors


def _figure(width_in: float, height_in: float):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width_in, height_in), layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def _labels(n_states: int, state_names: Sequence[str] | None) -> list[str]:
    return list(state_names) if state_names is not None else [str(s) for s in range(n_states)]


def ethogram_figure(
    states: np.ndarray,
    n_states: int,
    times_s: np.ndarray,
    features: np.ndarray | None = None,
    feature_names: Sequence[str] | None = None,
    traces: dict[str, np.ndarray] | None = None,
    state_names: Sequence[str] | None = None,
):
    """States over time as a colored band, feature heatmap and traces below.

    Parameters
    ----------
    states
        ``(n_frames,)`` states, -1 = none (drawn grey).
    n_states
        Number of states.
    times_s
        ``(n_frames,)`` time of each frame.
    features
        ``(n_frames, D)`` standardized features (NaN where missing), drawn as
        a heatmap (one row per feature), as in the reference analysis' plot.
    feature_names
        ``D`` names for the heatmap's rows.
    traces
        Named ``(n_frames,)`` traces (e.g. head speed) drawn as lines.
    state_names
        Names for the legend.
    """
    states = np.asarray(states)
    times_s = np.asarray(times_s, dtype=np.float64)
    traces = traces or {}
    n_rows = 1 + (features is not None) + len(traces)
    ratios = [0.6] + ([3.0] if features is not None else []) + [1.0] * len(traces)
    figure = _figure(11, 1.2 + 1.3 * sum(ratios))
    axes = figure.subplots(n_rows, 1, sharex=True, gridspec_kw={"height_ratios": ratios})
    axes = np.atleast_1d(axes)
    extent_end = times_s[-1] + (times_s[1] - times_s[0] if len(times_s) > 1 else 1.0)
    band = state_color_array(states, n_states)[None, :, :]
    axes[0].imshow(
        band, aspect="auto", interpolation="nearest", extent=(times_s[0], extent_end, 0, 1)
    )
    axes[0].set_yticks([])
    axes[0].set_ylabel("state", rotation=0, ha="right", va="center")
    labels = _labels(n_states, state_names)
    from matplotlib.patches import Patch

    handles = [Patch(color=c, label=l) for c, l in zip(state_colors(n_states), labels)]
    if (states < 0).any():
        handles.append(Patch(color=MISSING_COLOR, label="no state"))
    axes[0].legend(
        handles=handles, loc="lower left", bbox_to_anchor=(0, 1.02), ncol=min(len(handles), 10),
        fontsize="small", frameon=False,
    )
    row = 1
    if features is not None:
        features = np.asarray(features, dtype=np.float64)
        shown = np.clip(features.T, -3, 3)
        image = axes[row].imshow(
            np.ma.masked_invalid(shown), aspect="auto", interpolation="nearest", cmap="RdBu_r",
            vmin=-3, vmax=3, extent=(times_s[0], extent_end, features.shape[1], 0),
        )
        if feature_names is not None and len(feature_names) <= 70:
            axes[row].set_yticks(np.arange(len(feature_names)) + 0.5)
            axes[row].set_yticklabels(feature_names, fontsize=4)
        axes[row].set_ylabel("features (z)")
        figure.colorbar(image, ax=axes[row], fraction=0.02, pad=0.01)
        row += 1
    for name, trace in traces.items():
        axes[row].plot(times_s, trace, color="0.2", linewidth=0.6)
        axes[row].set_ylabel(name)
        row += 1
    axes[-1].set_xlabel("time (s)")
    axes[-1].set_xlim(times_s[0], extent_end)
    return figure


def _front_projection(mean_face: np.ndarray, keypoints: Sequence[str]) -> np.ndarray:
    """``(n_dims, 2)`` axes to draw a face: identity in 2D, the face's main plane in 3D."""
    n_dims = mean_face.shape[1]
    names = list(keypoints)
    finite = np.isfinite(mean_face).all(axis=1)
    if n_dims == 2:
        return np.eye(2)
    centred = mean_face[finite] - mean_face[finite].mean(axis=0)
    # a face is wide and tall but shallow: its two main axes span the front view
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    axes = vt[:2].T.copy()

    def point(name):
        return mean_face[names.index(name)] if name in names else None

    left, right = point("lear"), point("rear")
    if left is not None and right is not None and np.isfinite(left).all() and np.isfinite(right).all():
        horizontal = left - right
        # make the ear-to-ear axis the horizontal one
        if abs(horizontal @ axes[:, 1]) > abs(horizontal @ axes[:, 0]):
            axes = axes[:, ::-1].copy()
        if horizontal @ axes[:, 0] < 0:
            axes[:, 0] *= -1
    top = [point(k) for k in ("leyebrow2", "reyebrow2", "lefteye1", "righteye1")]
    top = [p for p in top if p is not None and np.isfinite(p).all()]
    bottom = point("chin") if point("chin") is not None else point("lowlip")
    if top and bottom is not None and np.isfinite(bottom).all():
        if (np.mean(top, axis=0) - bottom) @ axes[:, 1] < 0:
            axes[:, 1] *= -1
    return axes


def overall_mean_face(coords: np.ndarray, states: np.ndarray) -> np.ndarray:
    """``(n_keypoints, n_dims)`` mean of the head-centred face over the frames with a state (NaN if none)."""
    coords = np.asarray(coords, dtype=np.float64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # keypoints never seen, or no frame with a state
        return np.nanmean(coords[np.asarray(states) >= 0], axis=0)


def mean_face_drawing(
    mean: np.ndarray, keypoints: Sequence[str], overall_mean: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """2D drawing coordinates of per-state mean faces: the one projection of every mean-face drawing.

    Parameters
    ----------
    mean
        ``(n_states, n_keypoints, n_dims)`` per-state mean faces.
    keypoints
        Keypoint names.
    overall_mean
        ``(n_keypoints, n_dims)`` face that sets the view (default: the mean of ``mean``).

    Returns
    -------
    faces_2d, reference_2d
        ``(n_states, n_keypoints, 2)`` and ``(n_keypoints, 2)``: 2D faces as
        they are (image coordinates: the caller flips the vertical axis), 3D
        faces seen from the front (:func:`_front_projection`). NaN kept.
    """
    mean = np.asarray(mean, dtype=np.float64)
    reference = np.nanmean(mean, axis=0) if overall_mean is None else np.asarray(overall_mean, dtype=np.float64)
    projection = _front_projection(reference, list(keypoints))
    return mean @ projection, reference @ projection


def state_face_drawing(
    coords: np.ndarray, states: np.ndarray, n_states: int, keypoints: Sequence[str]
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`mean_face_drawing` of a state sequence's mean faces, as the analysis' figure draws them.

    ``coords`` ``(n_frames, n_keypoints, n_dims)`` head-centred coordinates,
    ``states`` ``(n_frames,)`` (-1 = none). The viewer's state summary draws these.
    """
    from .tables import mean_faces

    mean, _ = mean_faces(coords, states, n_states)
    return mean_face_drawing(mean, keypoints, overall_mean_face(coords, states))


def mean_faces_figure(
    mean: np.ndarray,
    sd: np.ndarray,
    keypoints: Sequence[str],
    skeleton: Sequence[tuple[str, str]] = (),
    state_names: Sequence[str] | None = None,
    overall_mean: np.ndarray | None = None,
    image_coordinates: bool = False,
):
    """Grid of the mean face of each state, with the face skeleton.

    Parameters
    ----------
    mean, sd
        ``(n_states, n_keypoints, n_dims)`` per-state mean and SD of the
        head-centred coordinates.
    keypoints
        Keypoint names.
    skeleton
        Edges as pairs of names.
    state_names
        Panel titles.
    overall_mean
        ``(n_keypoints, n_dims)`` drawn in grey under every panel for comparison.
    image_coordinates
        2D pixel data: y grows downwards, so the vertical axis is flipped.

    Notes
    -----
    3D faces are drawn as a front view: the projection onto the face's two
    main axes (ear to ear horizontal, brows above the chin).
    """
    n_states = mean.shape[0]
    names = list(keypoints)
    faces_2d, reference_2d = mean_face_drawing(mean, names, overall_mean)
    reference = overall_mean if overall_mean is not None else np.nanmean(mean, axis=0)
    projection = _front_projection(reference, names)
    colors = state_colors(n_states)
    labels = _labels(n_states, state_names)
    n_cols = min(n_states, 3 if n_states <= 9 else 4)
    n_rows = int(np.ceil(n_states / n_cols))
    figure = _figure(3.2 * n_cols, 3.0 * n_rows)
    axes = np.atleast_1d(figure.subplots(n_rows, n_cols, squeeze=False)).ravel()
    edges = [(names.index(a), names.index(b)) for a, b in skeleton if a in names and b in names]
    all_2d = np.concatenate([faces_2d.reshape(-1, 2), reference_2d])
    finite = np.isfinite(all_2d).all(axis=1)
    low, high = all_2d[finite].min(axis=0), all_2d[finite].max(axis=0)
    margin = 0.1 * (high - low).max() if finite.any() else 1.0
    for state, ax in enumerate(axes):
        if state >= n_states:
            ax.set_axis_off()
            continue
        face_2d = faces_2d[state]
        spread_2d = np.sqrt((sd[state] ** 2) @ (projection**2))
        for a, b in edges:
            ax.plot(*reference_2d[[a, b]].T, color="0.8", linewidth=1.0)
            ax.plot(*face_2d[[a, b]].T, color=colors[state], linewidth=1.6)
        ax.errorbar(
            face_2d[:, 0], face_2d[:, 1], xerr=spread_2d[:, 0], yerr=spread_2d[:, 1],
            fmt="o", markersize=2.5, color=colors[state], ecolor="0.4", elinewidth=0.6,
        )
        ax.set_title(labels[state], color=colors[state])
        ax.set_aspect("equal")
        if finite.any():
            ax.set_xlim(low[0] - margin, high[0] + margin)
            ax.set_ylim(low[1] - margin, high[1] + margin)
        if image_coordinates:
            ax.invert_yaxis()
        ax.set_xticks([])
        ax.set_yticks([])
    figure.suptitle("mean face per state (grey: overall mean; bars: ±1 SD)")
    return figure


def frequencies_figure(state_table, state_names: Sequence[str] | None = None):
    """Bars of time spent (s) and relative frequency per state.

    Parameters
    ----------
    state_table
        Output of :func:`~napari_facehmm.stats.state_table`.
    """
    n_states = len(state_table)
    colors = state_colors(n_states)
    labels = _labels(n_states, state_names)
    figure = _figure(max(6, 0.7 * n_states + 3), 3.4)
    left, right = figure.subplots(1, 2)
    positions = np.arange(n_states)
    left.bar(positions, state_table["time_s"], color=colors)
    left.set_ylabel("time in state (s)")
    right.bar(positions, state_table["fraction"], color=colors)
    right.set_ylabel("fraction of labelled frames")
    for ax in (left, right):
        ax.set_xticks(positions)
        ax.set_xticklabels(labels, rotation=45 if state_names is not None else 0, ha="right" if state_names is not None else "center")
        ax.set_xlabel("state")
    return figure


def transitions_figure(
    probability: np.ndarray,
    counts: np.ndarray | None = None,
    state_names: Sequence[str] | None = None,
    switch_probability: np.ndarray | None = None,
):
    """Heatmap of the transition matrix (row = from, column = to), annotated.

    Parameters
    ----------
    probability
        ``(n_states, n_states)`` frame-to-frame probabilities, row-normalized
        (NaN rows for states never left).
    counts
        ``(n_states, n_states)`` frame-to-frame counts, printed in the cells.
    switch_probability
        ``(n_states, n_states)`` probabilities of the next state when the state
        changes (diagonal NaN). If given, the colors show these (the
        frame-to-frame matrix is nearly diagonal at video rates) and the
        diagonal cells print the probability of staying.
    """
    n_states = probability.shape[0]
    labels = _labels(n_states, state_names)
    shown = switch_probability if switch_probability is not None else probability
    figure = _figure(2.2 + 0.75 * n_states, 1.2 + 0.7 * n_states)
    ax = figure.subplots()
    image = ax.imshow(np.ma.masked_invalid(shown), cmap="viridis", vmin=0, vmax=1)
    for i in range(n_states):
        for j in range(n_states):
            if switch_probability is not None and i == j:
                if np.isfinite(probability[i, j]):
                    ax.text(j, i, f"stay\n{probability[i, j]:.2f}", ha="center", va="center", fontsize=6)
                continue
            if np.isfinite(shown[i, j]):
                text = f"{shown[i, j]:.2f}"
                if counts is not None:
                    text += f"\n{int(counts[i, j])}"
                ax.text(j, i, text, ha="center", va="center", fontsize=6,
                        color="white" if shown[i, j] < 0.6 else "black")
    ax.set_xticks(range(n_states))
    ax.set_yticks(range(n_states))
    ax.set_xticklabels(labels, fontsize=7, rotation=45 if n_states > 6 else 0)
    ax.set_yticklabels(labels, fontsize=7)
    ax.set_xlabel("to state")
    ax.set_ylabel("from state")
    if switch_probability is not None:
        ax.set_title("next state when the state changes\n(probability, count of frames)", fontsize=9)
    else:
        ax.set_title("frame-to-frame transition probability (count)", fontsize=9)
    figure.colorbar(image, ax=ax, fraction=0.046)
    return figure


def kinematics_figure(
    states: np.ndarray,
    n_states: int,
    times_s: np.ndarray,
    traces: dict[str, np.ndarray],
    state_names: Sequence[str] | None = None,
):
    """Head kinematics per state: traces colored by state, and per-state histograms.

    Parameters
    ----------
    states
        ``(n_frames,)`` states, -1 = none.
    n_states
        Number of states.
    times_s
        ``(n_frames,)`` time of each frame.
    traces
        Named ``(n_frames,)`` quantities, e.g. ``{"head speed (mm/s)": ...}``.
    """
    states = np.asarray(states)
    colors = state_colors(n_states)
    labels = _labels(n_states, state_names)
    n_rows = max(len(traces), 1)
    figure = _figure(12, 2.6 * n_rows)
    axes = figure.subplots(n_rows, 2, squeeze=False, gridspec_kw={"width_ratios": [3, 1]})
    frame_colors = state_color_array(states, n_states)
    for row, (name, values) in enumerate(traces.items()):
        values = np.asarray(values, dtype=np.float64)
        trace_ax, hist_ax = axes[row]
        trace_ax.plot(times_s, values, color="0.75", linewidth=0.5, zorder=1)
        trace_ax.scatter(times_s, values, c=frame_colors, s=2, linewidths=0, zorder=2)
        trace_ax.set_ylabel(name)
        finite = np.isfinite(values)
        if finite.any():
            bins = np.linspace(np.min(values[finite]), np.percentile(values[finite], 99.5), 40)
            for state in range(n_states):
                member = finite & (states == state)
                if member.sum() > 1:
                    hist_ax.hist(values[member], bins=bins, histtype="step", density=True,
                                 color=colors[state], label=labels[state], linewidth=1.2)
        hist_ax.set_xlabel(name)
        hist_ax.set_ylabel("density")
        if row == 0:
            hist_ax.legend(fontsize="x-small", frameon=False)
    axes[-1][0].set_xlabel("time (s)")
    if not traces:
        axes[0][0].text(0.5, 0.5, "no kinematics", ha="center", va="center")
    return figure
