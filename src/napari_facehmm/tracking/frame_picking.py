"""Frames worth relabeling: where the 3D reconstruction or the HMM disagree with the 2D tracking.

Pure numpy on a :class:`~napari_facehmm.data.LandmarkSeries` or a posterior
array (and one reader of the files they come in); no DeepLabCut. The chosen
frames go to :func:`napari_facehmm.tracking.dlc.add_frames_to_labeled_data`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import DataError, FileFormatError
from ..ranges import Setting

__all__ = ["reprojection_outlier_frames", "uncertain_state_frames", "refinement_frames"]

# the settings of refinement_frames (``facehmm dlc add-frames`` and the Tracking dock's Refine tab)
ERROR_PX = Setting("error_px", float, 10.0, minimum=0.0, maximum=10_000.0, min_open=True, unit="px",
                   help="3D: frames whose reprojection error is above this")
PROBABILITY = Setting("probability", float, 0.6, minimum=0.0, maximum=1.0,
                      help="HMM: frames whose state probability is below this")
MAX_FRAMES = Setting("max_frames", int, None, minimum=1, maximum=100_000,
                     help="at most this many frames, evenly spread")


def reprojection_outlier_frames(series_3d, threshold_px: float = 10.0) -> np.ndarray:
    """Frames whose 3D reconstruction disagrees with the 2D tracking.

    Parameters
    ----------
    series_3d
        A 3D :class:`~napari_facehmm.data.LandmarkSeries` from
        triangulation, with ``attrs["error"]`` ``(n_frames, n_keypoints)``
        reprojection errors in pixels.
    threshold_px
        A frame is an outlier when the error of any of its keypoints exceeds
        this: one badly placed landmark is reason enough to label the frame
        again, even when the frame's mean error (what the QC docks rank by,
        :func:`~napari_facehmm.tracking.frame_quality.rank_frames`) is small.
        Frames without any error are not picked.

    Returns
    -------
    numpy.ndarray
        ``(n_outliers,)`` video frame indices (``series_3d.frame_indices``),
        in the series' order.
    """
    error = series_3d.attrs.get("error")
    if error is None:
        raise DataError("this 3D series has no reprojection errors (attrs['error']); triangulate it first")
    error = np.asarray(error, dtype=float)
    if error.shape != (series_3d.n_frames, series_3d.n_keypoints):
        raise DataError(f"reprojection errors must be (n_frames, n_keypoints); got {error.shape}")
    with np.errstate(invalid="ignore"):
        worst_keypoint_px = np.max(np.where(np.isnan(error), -np.inf, error), axis=1)
    return series_3d.frame_indices[worst_keypoint_px > threshold_px]


def uncertain_state_frames(
    state_probabilities: np.ndarray, frame_indices: np.ndarray | None = None, threshold: float = 0.6
) -> np.ndarray:
    """Frames where the HMM is unsure which expression state holds.

    Parameters
    ----------
    state_probabilities
        ``(n_frames, n_states)`` posterior probabilities (``predict_proba``).
    frame_indices
        ``(n_frames,)`` video frame of each row; default ``0..n_frames-1``.
    threshold
        A frame is uncertain when its most likely state has probability below this.

    Returns
    -------
    numpy.ndarray
        ``(n_uncertain,)`` video frame indices.
    """
    probabilities = np.asarray(state_probabilities, dtype=float)
    if probabilities.ndim != 2:
        raise DataError(f"state probabilities must be (n_frames, n_states); got shape {probabilities.shape}")
    if frame_indices is None:
        frame_indices = np.arange(probabilities.shape[0])
    frame_indices = np.asarray(frame_indices)
    if frame_indices.shape != (probabilities.shape[0],):
        raise DataError(f"frame_indices must have shape ({probabilities.shape[0]},); got {frame_indices.shape}")
    return frame_indices[probabilities.max(axis=1) < threshold]


def _spread(frames: np.ndarray, max_frames: int | None) -> np.ndarray:
    """At most ``max_frames`` of the sorted ``frames``, evenly spread over them."""
    frames = np.unique(np.asarray(frames, dtype=np.int64))
    if max_frames is None or len(frames) <= max_frames:
        return frames
    picks = np.linspace(0, len(frames) - 1, int(max_frames)).round().astype(int)
    return frames[np.unique(picks)]


def refinement_frames(
    path: str | Path,
    reprojection_threshold_px: float = ERROR_PX.default,
    probability_threshold: float = PROBABILITY.default,
    max_frames: int | None = None,
) -> np.ndarray:
    """Frames worth relabeling, from a 3D triangulation or an HMM states table.

    Parameters
    ----------
    path
        An Anipose pose-3d CSV (frames whose reprojection error exceeds
        ``reprojection_threshold_px``, as :func:`reprojection_outlier_frames`) or the ``states.csv``
        an analysis writes (columns ``frame`` and ``state_probability``:
        frames whose most likely state is below ``probability_threshold``).
    max_frames
        Keep at most this many, evenly spread.

    Returns
    -------
    numpy.ndarray
        ``(n,)`` sorted video frame indices; pass them to
        :func:`~napari_facehmm.tracking.dlc.add_frames_to_labeled_data`.
    """
    import pandas as pd

    reprojection_threshold_px = ERROR_PX.check(reprojection_threshold_px, "reprojection error threshold")
    probability_threshold = PROBABILITY.check(probability_threshold, "state probability threshold")
    if max_frames is not None:
        max_frames = MAX_FRAMES.check(max_frames, "max frames")
    path = Path(path)
    if not path.is_file():
        raise FileFormatError(path, "file does not exist")
    if path.suffix.lower() != ".csv":
        raise FileFormatError(path, "expected a pose-3d CSV or an analysis states.csv")
    header = pd.read_csv(path, nrows=0).columns
    if {"frame", "state_probability"} <= set(header):
        table = pd.read_csv(path)
        frames = pd.to_numeric(table["frame"], errors="coerce").to_numpy()
        probability = pd.to_numeric(table["state_probability"], errors="coerce").to_numpy()
        if np.isnan(frames).any():
            raise FileFormatError(path, "the frame column has empty or non-numeric values")
        # frames without a state (NaN probability) have no features: nothing to relabel for the HMM
        with np.errstate(invalid="ignore"):
            chosen = frames[probability < probability_threshold]
        return _spread(chosen.astype(np.int64), max_frames)
    if any(str(c).endswith("_error") for c in header):
        from ..io.anipose import read_pose3d

        series = read_pose3d(path)
        return _spread(reprojection_outlier_frames(series, reprojection_threshold_px), max_frames)
    raise FileFormatError(
        path, "neither an analysis states table (frame, state_probability) nor a pose-3d CSV (<keypoint>_error columns)"
    )
