"""Pure conversions between :class:`LandmarkSeries` and napari layer data: points and skeleton.

Nothing here imports napari or Qt: every function takes and returns numpy
arrays, pandas tables and plain dicts, so it is tested without a window and
the reader, the widgets and the benchmarks share one code path. State colours
and bands are in :mod:`.state_colors`, the lazy video array in
:mod:`.video_frames`.

Layer layout (2D display, time as the first axis):

* points: ``(N, 3)`` ``[frame, y, x]`` rows, one per (frame, keypoint) that has
  a position; features ``keypoint`` (categorical), ``likelihood`` and
  ``frame``. The array is Fortran-ordered because napari reduces it column by
  column (min/max per axis for the extent, the frame column for slicing);
  a column-contiguous layout makes those reductions about 9x faster.
* skeleton: a vectors layer ``(M, 2, 3)``, each edge as ``[start, direction]``
  with a zero step along the frame axis, so it is sliced with the points.
* 3D series (Anipose ``pose-3d``) are shown as points of their front
  projection ``[frame, -y_mm, x_mm]`` when opened alone; in a session the
  full 3D series goes to the 3D view dock (see :mod:`napari_facehmm.widgets`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd

from ..colors import keypoint_colors
from ..data import LandmarkSeries
from ..errors import DataError

#: key of the dict this plugin keeps in ``layer.metadata``
METADATA_KEY = "facehmm"


# --------------------------------------------------------------------- points
@dataclass
class PointsData:
    """Points-layer arrays for one series.

    Attributes
    ----------
    data
        ``(N, 3)`` Fortran-ordered ``[frame, y, x]`` of the points that have a
        position (NaN rows dropped).
    features
        ``N``-row table: ``keypoint`` (categorical of the series' keypoints),
        ``likelihood`` and ``frame``.
    face_color
        ``(N, 4)`` RGBA, one color per keypoint.
    rows
        ``(N,)`` row of each point in the series (index into ``positions``).
    keypoint_ids
        ``(N,)`` keypoint index of each point.
    """

    data: np.ndarray
    features: pd.DataFrame
    face_color: np.ndarray
    rows: np.ndarray
    keypoint_ids: np.ndarray


def _display_yx(series: LandmarkSeries) -> np.ndarray:
    """``(T, K, 2)`` display coordinates (y, x) of a series.

    2D pixels map to (y, x) directly. 3D millimetres are projected onto the
    front (x, y) plane with y flipped, because world y points up while image
    rows grow downwards.
    """
    if series.n_dims == 2:
        return series.positions[:, :, ::-1]
    return np.stack([-series.positions[:, :, 1], series.positions[:, :, 0]], axis=2)


def series_to_points(
    series: LandmarkSeries, colors: np.ndarray | None = None
) -> PointsData:
    """Points-layer data, features and colors of a series.

    Parameters
    ----------
    series
        2D (pixels) or 3D (mm, shown as a front projection) landmarks.
    colors
        ``(n_keypoints, 4)`` RGBA per keypoint; :func:`keypoint_colors` by default.

    Returns
    -------
    PointsData

    See Also
    --------
    points_to_series : the inverse.

    Notes
    -----
    napari points cannot hold NaN coordinates, so rows of missing points are
    dropped here; :func:`points_to_series` puts NaN back in their place.
    """
    n_frames, n_keypoints, _ = series.positions.shape
    yx = _display_yx(series)
    present = ~np.isnan(yx).any(axis=2)
    rows, keypoint_ids = np.nonzero(present)
    data = np.empty((len(rows), 3), dtype=np.float64, order="F")
    data[:, 0] = series.frame_indices[rows]
    data[:, 1:] = yx[rows, keypoint_ids]
    if colors is None:
        colors = keypoint_colors(n_keypoints)
    colors = np.asarray(colors, dtype=np.float64)
    if colors.shape != (n_keypoints, 4):
        raise DataError(f"colors must have shape {(n_keypoints, 4)}; got {colors.shape}")
    likelihood = series.confidence[rows, keypoint_ids]
    features = pd.DataFrame(
        {
            "keypoint": pd.Categorical.from_codes(keypoint_ids, categories=list(series.keypoints)),
            "likelihood": np.where(np.isnan(likelihood), 1.0, likelihood),
            "frame": series.frame_indices[rows],
        }
    )
    return PointsData(
        data=data,
        features=features,
        face_color=colors[keypoint_ids],
        rows=rows.astype(np.int64),
        keypoint_ids=keypoint_ids.astype(np.int64),
    )


def series_metadata(series: LandmarkSeries, **extra: Any) -> dict:
    """The ``layer.metadata`` entry that lets widgets rebuild the series.

    It holds the series itself (the widgets read positions from it, not from
    the possibly edited layer) plus ``extra`` items such as ``session_dir``.
    """
    entry = {"series": series, "keypoints": series.keypoints, "skeleton": series.skeleton}
    entry.update(extra)
    return {METADATA_KEY: entry}


def points_layer_kwargs(
    series: LandmarkSeries, name: str, size: float | None = None, **metadata: Any
) -> dict:
    """Keyword arguments of ``napari.layers.Points`` for a series.

    ``size`` defaults to 1/25 of the larger extent of the positions
    (at least 3 data units), so points stay visible on any image size.
    """
    points = series_to_points(series)
    if size is None:
        extent = np.nanmax(points.data[:, 1:], axis=0) - np.nanmin(points.data[:, 1:], axis=0)
        size = max(3.0, float(np.max(extent)) / 25.0) if len(points.data) else 5.0
    meta = series_metadata(series, rows=points.rows, keypoint_ids=points.keypoint_ids, **metadata)
    return dict(
        data=points.data,
        features=points.features,
        face_color=points.face_color,
        border_width=0,
        size=size,
        name=name,
        metadata=meta,
    )


def points_to_series(
    data: np.ndarray,
    keypoints: Sequence[str],
    keypoint_per_point: Sequence[str] | np.ndarray,
    likelihood: np.ndarray | None = None,
    frame_indices: np.ndarray | None = None,
    fps: float = 30.0,
    skeleton: Sequence[tuple[str, str]] = (),
    camera: str | None = None,
    source: str | Path | None = None,
) -> LandmarkSeries:
    """The series held by a 2D points layer (the inverse of :func:`series_to_points`).

    Parameters
    ----------
    data
        ``(N, 3)`` ``[frame, y, x]`` points.
    keypoints
        Keypoint names of the series, in order.
    keypoint_per_point
        ``(N,)`` keypoint name of each point (the layer's ``keypoint`` feature).
    likelihood
        ``(N,)`` confidence of each point; 1 when None.
    frame_indices
        ``(T,)`` frames of the series; the sorted unique frames of ``data``
        when None. Frames without any point become all-NaN rows.
    fps, skeleton, camera, source
        Passed to :class:`LandmarkSeries`.

    Returns
    -------
    LandmarkSeries
        ``positions (T, K, 2)`` in pixels (x, y), NaN where no point exists.

    Raises
    ------
    DataError
        A point names a keypoint not in ``keypoints``, lies on a frame not in
        ``frame_indices``, or the shapes disagree.
    """
    data = np.asarray(data, dtype=np.float64).reshape(-1, np.shape(data)[-1] if np.ndim(data) else 3)
    if data.shape[1] != 3:
        raise DataError(f"points must be (N, 3) [frame, y, x]; got shape {data.shape}")
    return LandmarkSeries.from_points(
        data[:, [2, 1]],  # napari's (y, x) -> (x, y)
        np.rint(data[:, 0]).astype(np.int64),
        keypoint_per_point,
        keypoints,
        confidence=likelihood,
        frame_indices=frame_indices,
        fps=fps,
        skeleton=skeleton,
        camera=camera,
        source=source,
    )


def likelihood_shown(likelihood: np.ndarray, threshold: float) -> np.ndarray:
    """``(N,)`` bool: points whose likelihood reaches ``threshold`` (NaN counts as 1)."""
    likelihood = np.asarray(likelihood, dtype=float)
    return ~(likelihood < threshold)


# ------------------------------------------------------------------- skeleton
def skeleton_to_vectors(
    series: LandmarkSeries, color: Sequence[float] = (1.0, 1.0, 1.0, 0.8)
) -> tuple[np.ndarray, np.ndarray]:
    """Skeleton edges over time as napari vectors.

    Parameters
    ----------
    series
        Landmarks with a skeleton.
    color
        RGBA of every edge.

    Returns
    -------
    data
        ``(M, 2, 3)``: for each edge present in a frame, ``[[frame, y0, x0],
        [0, dy, dx]]``; edges with a missing end are left out.
    edge_color
        ``(M, 4)`` RGBA.
    """
    edges = series.skeleton_indices
    if len(edges) == 0:
        return np.zeros((0, 2, 3)), np.zeros((0, 4))
    yx = _display_yx(series)
    start = yx[:, edges[:, 0]]  # (T, E, 2)
    end = yx[:, edges[:, 1]]
    rows, edge_ids = np.nonzero(skeleton_edges_present(series))
    data = np.zeros((len(rows), 2, 3))
    data[:, 0, 0] = series.frame_indices[rows]
    data[:, 0, 1:] = start[rows, edge_ids]
    data[:, 1, 1:] = end[rows, edge_ids] - start[rows, edge_ids]
    edge_color = np.tile(np.asarray(color, dtype=float), (len(rows), 1))
    return data, edge_color


def skeleton_edges_present(series: LandmarkSeries) -> np.ndarray:
    """``(T, E)`` bool: skeleton edges with both ends present, one vector each in :func:`skeleton_to_vectors`."""
    edges = series.skeleton_indices
    if len(edges) == 0:
        return np.zeros((series.n_frames, 0), dtype=bool)
    present = ~np.isnan(_display_yx(series)).any(axis=2)  # (T, K), as drawn
    return present[:, edges[:, 0]] & present[:, edges[:, 1]]


def skeleton_vectors_shown(
    series: LandmarkSeries, threshold: float, edges_present: np.ndarray | None = None
) -> np.ndarray:
    """Which skeleton vectors of :func:`skeleton_to_vectors` have both ends shown.

    An end is shown when its likelihood reaches ``threshold`` (NaN or no
    confidence counts as 1, as in :func:`likelihood_shown`), so the edges
    of points hidden by the likelihood threshold can be hidden too.
    ``edges_present`` is :func:`skeleton_edges_present` of ``series``, which
    a caller moving a threshold slider keeps rather than recomputes.

    Returns
    -------
    np.ndarray
        ``(M,)`` bool, in the order of the vectors of :func:`skeleton_to_vectors`.
    """
    edges = series.skeleton_indices
    if len(edges) == 0:
        return np.zeros(0, dtype=bool)
    if edges_present is None:
        edges_present = skeleton_edges_present(series)
    if series.confidence is None:
        return np.ones(int(edges_present.sum()), dtype=bool)
    point_shown = likelihood_shown(series.confidence, threshold)  # (T, K)
    both_shown = point_shown[:, edges[:, 0]] & point_shown[:, edges[:, 1]]  # (T, E)
    return both_shown[edges_present]  # row-major, as np.nonzero orders the vectors
