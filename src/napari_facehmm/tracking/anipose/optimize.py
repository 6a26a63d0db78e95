"""aniposelib's ``optim_points`` (temporal smoothness, constant skeleton lengths) in chunks, with progress."""

from __future__ import annotations

import contextlib
import io
import warnings
from collections.abc import Generator
from typing import Any

import numpy as np


def _optimize(
    group,
    points_2d: np.ndarray,
    points_3d: np.ndarray,
    constraints: list[tuple[int, int]],
    constraints_weak: list[tuple[int, int]],
    params: dict[str, Any],
    chunk_frames: int,
    notes: list[str],
) -> Generator[int, None, np.ndarray]:
    """aniposelib ``optim_points`` in chunks (Anipose's ``optim_chunking``: 15 fixed frames).

    ``points_2d (C, T, K, 2)``, ``points_3d (T, K, 3)``; keypoints with fewer
    than two triangulated frames are left out of the optimisation (aniposelib
    cannot interpolate them) and stay as they are.
    """
    from numba.core.errors import NumbaWarning
    from threadpoolctl import threadpool_limits

    n_frames, n_keypoints, _ = points_3d.shape
    valid_frames = np.isfinite(points_3d[:, :, 0]).sum(axis=0)
    keep = np.flatnonzero(valid_frames >= 2)
    if len(keep) < n_keypoints:
        dropped = n_keypoints - len(keep)
        notes.append(f"{dropped} keypoint(s) triangulated in fewer than 2 frames were not optimized")
    if np.isfinite(points_3d[:, keep, 0]).sum() < 20:
        notes.append("not enough 3D points (< 20) to run the optimization; DLT result kept")
        yield -(-n_frames // chunk_frames)
        return points_3d
    remap = {old: new for new, old in enumerate(keep)}
    strong = [(remap[a], remap[b]) for a, b in constraints if a in remap and b in remap]
    weak = [(remap[a], remap[b]) for a, b in constraints_weak if a in remap and b in remap]
    p2d = points_2d[:, :, keep]
    p3d = points_3d[:, keep]
    out = p3d.copy()
    n_fixed_overlap = 15
    fixed = None
    log = io.StringIO()
    for i, start in enumerate(range(0, n_frames, chunk_frames)):
        stop = min(start + chunk_frames, n_frames)
        if start == 0 or fixed is None:
            n_fixed = 0
            chunk_2d, chunk_3d = p2d[:, start:stop], p3d[start:stop]
        else:
            n_fixed = len(fixed)
            chunk_2d = p2d[:, start - n_fixed : stop]
            chunk_3d = np.vstack([fixed, p3d[start:stop]])
        if (
            np.isfinite(chunk_3d[:, :, 0]).sum() < 20
            or (np.isfinite(chunk_3d[:, :, 0]).sum(axis=0) < 2).any()
        ):
            # too little to optimize here: keep DLT, restart the overlap from it
            out[start:stop] = p3d[start:stop]
            fixed = None
            yield i + 1
            continue
        # One BLAS thread: the solver (lsmr) makes thousands of small vector
        # products, which multithreaded OpenBLAS slows down several-fold
        # (17.6 s -> 4.5 s for 100 frames on a busy 2-core machine).
        with (
            contextlib.redirect_stdout(log),
            warnings.catch_warnings(),
            threadpool_limits(limits=1, user_api="blas"),
        ):
            # numba reports that aniposelib's error function runs in object mode
            warnings.simplefilter("ignore", NumbaWarning)
            result = group.optim_points(
                chunk_2d,
                chunk_3d,
                constraints=strong,
                constraints_weak=weak,
                verbose=False,
                n_fixed=n_fixed,
                **params,
            )
        out[start:stop] = result[n_fixed:]
        fixed = result[-n_fixed_overlap:]
        yield i + 1
    full = points_3d.copy()
    full[:, keep] = out
    return full
