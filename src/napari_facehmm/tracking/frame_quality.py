"""The one ranking of worst frames: per-frame scores and their order.

The Tracking QC dock (likelihood, reprojection error), the 3D QC tab
(:func:`napari_facehmm.tracking.anipose_qc.frames_by_error`) and the
DeepLabCut outlier picker
(:func:`napari_facehmm.tracking.frame_picking.reprojection_outlier_frames`)
all rank frames here, so they name the same worst frames for the same data.

The rule, in one place:

- **Averaging.** A frame's score is the mean over the keypoints that have a
  value (or one chosen keypoint's value); with several cameras the worse
  camera decides (the largest error, the lowest likelihood).
- **NaN.** A frame without any value has no score and is not ranked: it is
  neither listed nor picked. (A frame whose tracker found no point is still
  worst by likelihood: :func:`frame_quality` gives it likelihood 0.)
- **Ties** keep frame order.

Earlier copies disagreed: the QC dock listed frames without a 3D point
first (as an infinite error) and the outlier picker used the largest
keypoint error instead of the mean. The mean won because both docks plot
the mean curve, so the listed and picked frames are the peaks of the curve
the user sees; a single bad keypoint is found by ranking that keypoint.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping

import numpy as np

from ..data import LandmarkSeries
from ..errors import DataError

__all__ = ["N_WORST", "frame_quality", "frame_scores", "quality_summary", "rank_frames", "worst_frames"]

N_WORST = 20


def frame_scores(
    values: np.ndarray | Mapping[str, np.ndarray],
    *,
    keypoint: int | None = None,
    larger_is_worse: bool = True,
) -> np.ndarray:
    """One score per frame: the mean over keypoints with a value, the worse camera.

    Parameters
    ----------
    values
        ``(T,)`` scores already per frame, ``(T, K)`` per point (one camera)
        or ``{camera: (T, K)}``; NaN where a point has no value.
    keypoint
        Score by this keypoint's value; None: the mean over keypoints.
    larger_is_worse
        True for errors (the worse camera has the larger score), False for
        likelihoods (the lower).

    Returns
    -------
    numpy.ndarray
        ``(T,)`` scores; NaN for frames without any value.
    """
    if isinstance(values, Mapping):
        stacked = np.stack([np.asarray(v, dtype=np.float64) for v in values.values()])
    else:
        stacked = np.asarray(values, dtype=np.float64)
        stacked = stacked[None, :, None] if stacked.ndim == 1 else stacked[None]
    if stacked.ndim != 3:
        raise DataError(f"values must be (T,), (T, K) or {{camera: (T, K)}}; got shape {stacked.shape[1:]}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN rows
        per_camera = stacked[:, :, keypoint] if keypoint is not None else np.nanmean(stacked, axis=2)
        return np.nanmax(per_camera, axis=0) if larger_is_worse else np.nanmin(per_camera, axis=0)


def rank_frames(
    values: np.ndarray | Mapping[str, np.ndarray],
    frame_indices: np.ndarray,
    *,
    keypoint: int | None = None,
    n: int | None = None,
    larger_is_worse: bool = True,
) -> list[tuple[int, float]]:
    """Frames ranked worst first, by :func:`frame_scores` of ``values``.

    Parameters
    ----------
    values, keypoint, larger_is_worse
        As for :func:`frame_scores`.
    frame_indices
        ``(T,)`` video frame of each row.
    n
        Keep the first ``n`` (default all frames with a score).

    Returns
    -------
    list
        ``(frame, score)``, worst first; frames without a score are left out;
        ties keep frame order.
    """
    frame_indices = np.asarray(frame_indices)
    if isinstance(values, Mapping):
        n_rows = {np.shape(v)[0] if np.ndim(v) else -1 for v in values.values()}
    else:
        n_rows = {np.shape(values)[0] if np.ndim(values) else -1}
    if n_rows != {len(frame_indices)}:
        raise DataError(f"values must have T = {len(frame_indices)} rows; got {sorted(n_rows)}")
    scores = frame_scores(values, keypoint=keypoint, larger_is_worse=larger_is_worse)
    valid = np.flatnonzero(np.isfinite(scores))
    order = valid[np.argsort(-scores[valid] if larger_is_worse else scores[valid], kind="stable")]
    if n is not None:
        order = order[:n]
    return [(int(frame_indices[i]), float(scores[i])) for i in order]


def frame_quality(series: LandmarkSeries) -> dict[str, np.ndarray]:
    """Per-frame quality measures of a series.

    Returns
    -------
    dict
        ``likelihood (T,)`` mean confidence of the present points (0 where no
        point is present, so empty frames rank as worst) and, for Anipose
        series, ``reprojection_error (T,)`` mean error in pixels.
    """
    present = ~np.isnan(series.positions).any(axis=2)
    likelihood = frame_scores(np.where(present, series.confidence, np.nan), larger_is_worse=False)
    quality = {"likelihood": np.nan_to_num(likelihood, nan=0.0)}
    error = series.attrs.get("error")
    if isinstance(error, np.ndarray) and error.shape == present.shape:
        quality["reprojection_error"] = frame_scores(np.where(present, error, np.nan))
    return quality


def quality_summary(series: LandmarkSeries) -> dict[str, float | int]:
    """The tracking QC numbers of a whole series, as an analysis' ``summary.json`` keeps them.

    Returns
    -------
    dict
        ``n_keypoints``, ``points_tracked_fraction`` (finite positions over
        frames x keypoints); over the tracked points ``likelihood_median`` and
        ``likelihood_below_0_5_fraction`` (the confidence: a 2D tracker's
        likelihood, Anipose's score for 3D); for series with a reprojection
        error (Anipose 3D) ``reprojection_error_px_median`` and
        ``reprojection_error_px_p95``. A number without values (no point
        tracked, no error stored) is left out, as JSON has no NaN.
    """
    present = ~np.isnan(series.positions).any(axis=2)
    summary: dict[str, float | int] = {"n_keypoints": len(series.keypoints)}
    if present.size:
        summary["points_tracked_fraction"] = float(present.mean())
    confidence = series.confidence[present]
    confidence = confidence[np.isfinite(confidence)]
    if confidence.size:
        summary["likelihood_median"] = float(np.median(confidence))
        summary["likelihood_below_0_5_fraction"] = float((confidence < 0.5).mean())
    error = series.attrs.get("error")
    if isinstance(error, np.ndarray) and error.shape == present.shape:
        error = error[present]
        error = error[np.isfinite(error)]
        if error.size:
            summary["reprojection_error_px_median"] = float(np.median(error))
            summary["reprojection_error_px_p95"] = float(np.percentile(error, 95))
    return summary


def worst_frames(
    series: LandmarkSeries, n: int = N_WORST, quality: dict[str, np.ndarray] | None = None
) -> list[tuple[int, str, float]]:
    """The ``n`` worst frames: lowest likelihood (2D) or largest reprojection error (3D).

    ``quality`` is :func:`frame_quality` of ``series`` when the caller has it.
    Frames without a reprojection error are left out (:func:`rank_frames`).
    """
    if quality is None:
        quality = frame_quality(series)
    if "reprojection_error" in quality:
        ranked = rank_frames(quality["reprojection_error"], series.frame_indices, n=n)
        return [(frame, "error px", score) for frame, score in ranked]
    ranked = rank_frames(quality["likelihood"], series.frame_indices, n=n, larger_is_worse=False)
    return [(frame, "likelihood", score) for frame, score in ranked]
