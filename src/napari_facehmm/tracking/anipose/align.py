"""Per-camera 2D series checked and stacked for triangulation (keypoints, frame counts, offsets)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np

from ...data import LandmarkSeries
from ...errors import DataError


def align_cameras(
    series_by_camera: Mapping[str, LandmarkSeries],
    offsets: Mapping[str, int] | None = None,
    sources: Mapping[str, str | Path] | None = None,
) -> tuple[list[str], tuple[str, ...], np.ndarray, np.ndarray, LandmarkSeries]:
    """Check and stack per-camera 2D series for triangulation.

    Parameters
    ----------
    series_by_camera
        ``{camera: 2D series}``.
    offsets
        ``{camera: n}``: drop the first ``n`` frames of that camera (it started
        recording ``n`` frames earlier). With offsets, all cameras are cut to
        the shortest; without, frame counts must match.
    sources
        File of each camera, for error messages (defaults to ``series.source``).

    Returns
    -------
    camera_names, keypoints, points_px, scores, reference
        Names (input order), keypoints (first camera's order), ``points_px
        (C, T, K, 2)``, ``scores (C, T, K)`` and the first camera's aligned
        series (for fps and frame indices).

    Raises
    ------
    DataError
        Not 2D, different keypoints, or different frame counts (naming the
        cameras and their counts).
    """
    offsets = dict(offsets or {})
    names = list(series_by_camera)
    if len(names) < 2:
        raise DataError(f"triangulation needs at least two cameras; got {names}")
    unknown = sorted(set(offsets) - set(names))
    if unknown:
        raise DataError(f"offsets name cameras {unknown} that have no 2D file; cameras: {names}")

    def where(name: str) -> str:
        source = (sources or {}).get(name) or series_by_camera[name].source
        return f"camera {name!r}" + (f" ({source})" if source else "")

    aligned = {}
    for name in names:
        series = series_by_camera[name]
        if series.n_dims != 2:
            raise DataError(f"{where(name)}: 2D tracks needed for triangulation; got {series.n_dims}D")
        offset = int(offsets.get(name, 0))
        if offset < 0 or offset >= series.n_frames:
            raise DataError(f"{where(name)}: offset {offset} outside its {series.n_frames} frames")
        aligned[name] = series.select_frames(slice(offset, None)) if offset else series
    first = aligned[names[0]]
    keypoints = first.keypoints
    for name in names[1:]:
        other = aligned[name].keypoints
        if set(other) != set(keypoints):
            only_first = sorted(set(keypoints) - set(other))
            only_other = sorted(set(other) - set(keypoints))
            raise DataError(
                f"2D files have different bodyparts: {where(names[0])} has {only_first or 'nothing'} "
                f"that {where(name)} lacks, and {where(name)} has {only_other or 'nothing'} extra"
            )
    counts = {name: aligned[name].n_frames for name in names}
    if len(set(counts.values())) > 1 and not offsets:
        listing = ", ".join(f"{where(n)}: {c}" for n, c in counts.items())
        raise DataError(
            f"cameras are not synchronized: different frame counts ({listing}); "
            "trim the videos or give per-camera offsets (--offset cam=N)"
        )
    n_frames = min(counts.values())
    points = np.empty((len(names), n_frames, len(keypoints), 2))
    scores = np.empty((len(names), n_frames, len(keypoints)))
    for c, name in enumerate(names):
        series = aligned[name]
        order = [series.keypoints.index(k) for k in keypoints]
        points[c] = series.positions[:n_frames][:, order]
        scores[c] = series.confidence[:n_frames][:, order]
    reference = first.select_frames(slice(0, n_frames))
    return names, keypoints, points, scores, reference
