"""DLT in chunks, RANSAC camera subsets, reprojection errors and each camera's agreement with the others."""

from __future__ import annotations

import itertools
from collections.abc import Generator, Mapping, Sequence

import numpy as np

from ...errors import DataError
from ...progress import run_to_end


# aniposelib's triangulate_possible gives up on a point whose best subset
# still reprojects worse than this (pixels).
_RANSAC_GIVE_UP_PX = 200.0


def _subset_group(group, names: Sequence[str], calibration_label: str):
    missing = [n for n in names if n not in group.get_names()]
    if missing:
        raise DataError(
            f"camera(s) {missing} are not in the calibration {calibration_label}; it has {group.get_names()}"
        )
    return group.subset_cameras_names(list(names))


# aniposelib's DLT runs jax code that is compiled for the number of points of
# each call: about 0.5 s of CPU per new number (10 compilations), paid again
# by every process for every session length. Calls get a fixed number of
# points (the last block padded by repeating its last point, the padding's
# results dropped), so a process compiles once whatever the sessions. A
# 60-second two-camera session of 21 landmarks (37,800 points, 5 blocks of
# 8,192: 8% padding) took 0.72-0.93 s of CPU to prepare (read, triangulate,
# write) when its length was new to the process and 0.36 s when it was not;
# in blocks, 0.39 s either way, with equal results (bench/batch.py's sessions).
_DLT_BLOCK_POINTS = 8192


def _triangulate_dlt(group, points_flat: np.ndarray, chunk: int) -> Generator[int, None, np.ndarray]:
    """aniposelib DLT over ``(C, N, 2)`` in chunks; yields points done.

    Each chunk goes to aniposelib in blocks of ``min(chunk, _DLT_BLOCK_POINTS)``
    points exactly (see above); every point's DLT is computed alone, so the
    blocks change nothing but the compilations.
    """
    n_points = points_flat.shape[1]
    block = max(1, min(chunk, _DLT_BLOCK_POINTS))
    out = np.full((n_points, 3), np.nan)
    for start in range(0, n_points, chunk):
        stop = min(start + chunk, n_points)
        for first in range(start, stop, block):
            last = min(first + block, stop)
            points = points_flat[:, first:last]
            if last - first < block:
                points = np.pad(points, ((0, 0), (0, block - (last - first)), (0, 0)), mode="edge")
            out[first:last] = group.triangulate(points, undistort=True)[: last - first]
        yield stop
    return out


def _reprojection_px(group, points_3d: np.ndarray, points_flat: np.ndarray) -> np.ndarray:
    """``(C, N)`` reprojection error norms in pixels (NaN where no 2D point)."""
    return np.linalg.norm(group.reprojection_error(points_3d, points_flat, mean=False), axis=2)


def _mean_over_cameras(errors: np.ndarray) -> np.ndarray:
    """aniposelib's ``mean=True`` reduction: mean over cameras with a point, NaN below 2."""
    good = np.isfinite(errors)
    n_good = good.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(good, errors, 0.0).sum(axis=0) / n_good
    mean[n_good < 2] = np.nan
    return mean


def _ransac_select(
    group, points_flat: np.ndarray, threshold_px: float, chunk: int
) -> Generator[int, None, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Best camera subset per point, aniposelib's ``triangulate_ransac`` rule, vectorized.

    All cameras that see a point are used when their mean reprojection error
    is below ``threshold_px``; otherwise the subset of two or more cameras
    with the lowest error. aniposelib's version loops in Python over every
    point (hours for a long session) and drops a point when no subset gets
    under 200 px; here such a point keeps its all-camera DLT estimate (its
    ``error`` column shows how bad it is) rather than vanishing.

    Returns ``points_3d (N, 3)``, ``used (C, N)`` bool, ``error (N,)``.
    Yields the number of subsets done.
    """
    n_cams, n_points, _ = points_flat.shape
    seen = np.isfinite(points_flat[:, :, 0])
    subsets = [s for size in range(n_cams, 1, -1) for s in itertools.combinations(range(n_cams), size)]
    best_error = np.full(n_points, np.inf)
    best_3d = np.full((n_points, 3), np.nan)
    best_used = np.zeros((n_cams, n_points), dtype=bool)
    all_error = np.full(n_points, np.nan)
    all_3d = np.full((n_points, 3), np.nan)
    for i, subset in enumerate(subsets):
        sub_group = group.subset_cameras(list(subset))
        sub_points = points_flat[list(subset)]
        p3d = run_to_end(_triangulate_dlt(sub_group, sub_points, chunk))
        errors = _mean_over_cameras(_reprojection_px(sub_group, p3d, sub_points))
        used = np.zeros((n_cams, n_points), dtype=bool)
        used[list(subset)] = seen[list(subset)]
        if len(subset) == n_cams:
            all_error, all_3d = errors, p3d
        better = np.isfinite(errors) & (errors < best_error)
        best_error[better] = errors[better]
        best_3d[better] = p3d[better]
        best_used[:, better] = used[:, better]
        yield i + 1
    # all cameras that see the point, when good enough, win over a lower-error subset
    full_ok = np.isfinite(all_error) & (all_error < threshold_px)
    best_3d[full_ok] = all_3d[full_ok]
    best_error[full_ok] = all_error[full_ok]
    best_used[:, full_ok] = seen[:, full_ok]
    give_up = ~(best_error < _RANSAC_GIVE_UP_PX) & np.isfinite(all_error)
    best_3d[give_up] = all_3d[give_up]
    best_error[give_up] = all_error[give_up]
    best_used[:, give_up] = seen[:, give_up]
    best_error[~np.isfinite(best_error)] = np.nan
    return best_3d, best_used, best_error


def _best_pair_errors(group, points_flat: np.ndarray, chunk: int) -> np.ndarray:
    """``(C,)`` each camera's agreement with its best partner camera (pixels).

    For every camera pair, the median reprojection error of the two-view
    triangulation over the points both see; a camera's figure is the lowest
    over its partners. A least-squares fit spreads one bad camera's error
    over all cameras (and leaving one camera out still triangulates with the
    bad one), but a good camera always has a good partner while a bad one
    has none. Needs three or more cameras (NaN otherwise).
    """
    n_cams = points_flat.shape[0]
    out = np.full(n_cams, np.inf)
    if n_cams < 3:
        return np.full(n_cams, np.nan)
    for pair in itertools.combinations(range(n_cams), 2):
        sub_group = group.subset_cameras(list(pair))
        sub_points = points_flat[list(pair)]
        p3d = run_to_end(_triangulate_dlt(sub_group, sub_points, chunk))
        errors = _mean_over_cameras(_reprojection_px(sub_group, p3d, sub_points))
        if np.isfinite(errors).any():
            median = float(np.nanmedian(errors))
            for c in pair:
                out[c] = min(out[c], median)
    out[~np.isfinite(out)] = np.nan
    return out


def disagreeing_cameras(camera_errors_px: Mapping[str, float], factor: float = 3.0) -> list[str]:
    """Cameras whose error is over ``factor`` times the others' median, in the given order.

    Needs three or more cameras: with two, both share every point's error.
    :func:`triangulate` passes each camera's error with its best partner
    camera (``attrs["camera_pair_errors_px"]``), which singles out a bad camera.
    """
    names = [n for n, e in camera_errors_px.items() if np.isfinite(e)]
    if len(names) < 3:
        return []
    return [
        name
        for name in names
        if camera_errors_px[name] > factor * float(np.median([camera_errors_px[n] for n in names if n != name]))
        and camera_errors_px[name] > 0
    ]


def camera_error_warnings(camera_errors_px: Mapping[str, float], factor: float = 3.0) -> list[str]:
    """A warning for each of the :func:`disagreeing_cameras`, naming the fix."""
    out = []
    for name in disagreeing_cameras(camera_errors_px, factor):
        typical = float(np.median([e for n, e in camera_errors_px.items() if n != name and np.isfinite(e)]))
        out.append(
            f"camera {name!r} disagrees with the others by {camera_errors_px[name]:.2f} px, over "
            f"{factor:g}x their median ({typical:.2f} px): check its calibration or tracking, "
            f"or leave it out (--exclude-camera {name})"
        )
    return out
