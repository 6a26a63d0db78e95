"""Anipose's 2D filters on one camera's series: ``medfilt`` and ``viterbi``."""

from __future__ import annotations

import numpy as np

from ...data import LandmarkSeries
from ...errors import DataError
from .settings import ANIPOSE_FILTER_DEFAULTS


def filter_2d_median(
    series: LandmarkSeries,
    kernel_frames: int = ANIPOSE_FILTER_DEFAULTS["medfilt"],
    offset_threshold_px: float = ANIPOSE_FILTER_DEFAULTS["offset_threshold"],
    score_threshold: float = ANIPOSE_FILTER_DEFAULTS["score_threshold"],
    spline: bool = ANIPOSE_FILTER_DEFAULTS["spline"],
) -> LandmarkSeries:
    """Anipose's ``medfilt`` 2D filter on one camera's series.

    A point is an outlier when ``|x - median(x)| + |y - median(y)|`` (median
    over ``kernel_frames``) reaches ``offset_threshold_px`` or its confidence
    is below ``score_threshold``. Outliers are re-filled by a cubic spline
    (or linear interpolation) through the good points when more than half of
    the keypoint's frames are good; otherwise they become NaN. Confidence is
    kept, as Anipose does (the triangulation threshold still applies).

    Parameters
    ----------
    series
        One camera's 2D series ``(T, K, 2)``.
    kernel_frames
        Frames of the running median (made odd).
    offset_threshold_px
        Distance ``|dx| + |dy|`` from the median that makes a point an outlier.
    score_threshold
        Confidence below which a point is an outlier.
    spline
        Re-fill outliers by a cubic spline, else linearly.

    Returns
    -------
    LandmarkSeries
        Same shape; positions ``(T, K, 2)`` filtered.
    """
    from scipy import signal
    from scipy.interpolate import splev, splrep

    _check_2d(series)
    kernel = int(kernel_frames) | 1  # medfilt needs an odd kernel
    out = series.copy()
    frames = np.arange(series.n_frames)
    for k in range(series.n_keypoints):
        xy = series.positions[:, k, :]
        # medfilt does not skip NaN; fill gaps for the median, mark them bad below
        filled = _interpolate_nan(xy)
        if filled is None:
            continue
        median = np.stack([signal.medfilt(filled[:, d], kernel_size=kernel) for d in range(2)], axis=1)
        offset = np.abs(xy - median).sum(axis=1)
        bad = ~(offset < offset_threshold_px) | (series.confidence[:, k] < score_threshold)
        good = ~bad
        result = xy.copy()
        result[bad] = np.nan
        if bad.any() and good.mean() > 0.5 and good.sum() > 5:
            for d in range(2):
                if spline:
                    knots = splrep(frames[good], xy[good, d], k=3, s=0)
                    result[bad, d] = splev(frames[bad], knots)
                else:
                    result[bad, d] = np.interp(frames[bad], frames[good], xy[good, d])
        out.positions[:, k, :] = result
    missing = np.isnan(out.positions).any(axis=2)
    out.confidence[missing] = np.nan
    out.attrs["filter_2d"] = "medfilt"
    return out


def _check_2d(series: LandmarkSeries) -> None:
    if series.n_dims != 2:
        raise DataError(f"the 2D filter needs a 2D series; got {series.n_dims}D")


def _interpolate_nan(values: np.ndarray) -> np.ndarray | None:
    """Linear interpolation over NaN rows of ``(T, D)``; None if fewer than 2 good rows."""
    good = np.isfinite(values).all(axis=1)
    if good.sum() < 2:
        return None
    frames = np.arange(len(values))
    return np.stack(
        [np.interp(frames, frames[good], values[good, d]) for d in range(values.shape[1])], axis=1
    )


def filter_2d_viterbi(
    series: LandmarkSeries,
    n_back: int = ANIPOSE_FILTER_DEFAULTS["n_back"],
    offset_threshold_px: float = ANIPOSE_FILTER_DEFAULTS["offset_threshold"],
    score_threshold: float = ANIPOSE_FILTER_DEFAULTS["score_threshold"],
) -> LandmarkSeries:
    """Viterbi 2D filter, after Anipose's ``filter_pose_viterbi`` (our implementation).

    For every keypoint, the candidates at frame ``t`` are the detections of
    frames ``t, t-1, ..., t-n_back+1`` (confidence halved per frame of age)
    plus a "missing" candidate; the most probable path maximizes the product
    of candidate confidences and jump probabilities, a jump of ``d`` pixels
    having the probability that a normal of scale ``offset_threshold_px``
    falls within ``d +- 2`` px. A frame whose fresh detection is an outlier is
    replaced by a recent good one, a frame with none becomes NaN.

    Parameters
    ----------
    series, score_threshold
        As for :func:`filter_2d_median`.
    n_back
        Frames a detection stays a candidate for.
    offset_threshold_px
        Scale of the jump probability's normal, in pixels.

    Returns
    -------
    LandmarkSeries
        Same shape; positions and confidence of the chosen candidates
        (NaN/0 where the path goes through "missing").
    """
    _check_2d(series)
    out = series.copy()
    for k in range(series.n_keypoints):
        points = series.positions[:, k, :].copy()
        scores = np.nan_to_num(series.confidence[:, k], nan=0.0)
        points[scores < score_threshold] = np.nan
        new_points, new_scores = _viterbi_path(points, scores, int(n_back), float(offset_threshold_px))
        out.positions[:, k, :] = new_points
        out.confidence[:, k] = np.where(np.isnan(new_points[:, 0]), np.nan, new_scores)
    out.attrs["filter_2d"] = "viterbi"
    return out


def _viterbi_path(
    points: np.ndarray, scores: np.ndarray, n_back: int, scale_px: float
) -> tuple[np.ndarray, np.ndarray]:
    """Most probable track through recent detections of one keypoint.

    ``points (T, 2)`` NaN = no detection, ``scores (T,)``. Returns the chosen
    ``(T, 2)`` points (NaN where "missing" was chosen) and their ``(T,)`` weights.
    """
    from scipy.special import log_ndtr

    n_frames = len(points)
    n_back = max(n_back, 1)
    missing_weight = 1e-3
    # candidates: (frame, age) -> detection of frame - age; slot n_back = "missing"
    n_slots = n_back + 1
    cand_xy = np.full((n_frames, n_slots, 2), np.nan)
    cand_w = np.zeros((n_frames, n_slots))
    valid = np.isfinite(points).all(axis=1)
    for age in range(n_back):
        src = np.arange(n_frames) - age
        ok = src >= 0
        ok[ok] &= valid[src[ok]]
        cand_xy[ok, age] = points[src[ok]]
        cand_w[ok, age] = scores[src[ok]] * 2.0**-age
    cand_w[:, n_back] = missing_weight
    usable = cand_w > 0
    # Anipose offers "missing" only when nothing else is there; we always keep
    # it (at weight 1e-3) so a path cannot be forced through a far outlier.
    log_w = np.where(usable, np.log(np.where(usable, cand_w, 1.0)), -np.inf)

    log_missing_jump = np.log(missing_weight)
    logprob = log_w[0].copy()
    back = np.zeros((n_frames, n_slots), dtype=np.int64)
    for t in range(1, n_frames):
        a = cand_xy[t - 1]
        b = cand_xy[t]
        dist = np.sqrt(((b[:, None, :] - a[None, :, :]) ** 2).sum(axis=2))  # (to, from)
        # P(d - 2 < |jump| < d + 2) for a normal of scale `scale_px`, in logs
        high = log_ndtr((dist + 2) / scale_px)
        low = log_ndtr((dist - 2) / scale_px)
        with np.errstate(divide="ignore", invalid="ignore"):
            trans = high + np.log1p(-np.exp(np.minimum(low - high, 0.0)))
        trans = np.maximum(trans, -100.0)
        trans[np.isnan(dist)] = log_missing_jump  # to or from "missing"
        possible = logprob[None, :] + trans
        back[t] = np.argmax(possible, axis=1)
        logprob = possible[np.arange(n_slots), back[t]] + log_w[t]
    path = np.zeros(n_frames, dtype=np.int64)
    path[-1] = int(np.argmax(logprob))
    for t in range(n_frames - 1, 0, -1):
        path[t - 1] = back[t, path[t]]
    chosen = cand_xy[np.arange(n_frames), path]
    weights = cand_w[np.arange(n_frames), path]
    return chosen, weights
