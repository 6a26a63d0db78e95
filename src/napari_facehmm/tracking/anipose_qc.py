"""Quality control of Anipose 3D results: reprojection, per-point errors, board corners.

Pure numpy functions behind the viewer's 3D widget (no Qt, no napari): they
project a triangulated series back into each calibrated camera, measure how
far each reprojected point lies from the camera's 2D track, rank frames by
that error (with the one ranking of :mod:`.frame_quality`), and turn detected calibration-board corners into points-layer
rows ``[frame, y, x]``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from ..data import LandmarkSeries
from ..errors import DataError
from .frame_quality import rank_frames

__all__ = [
    "board_corners_to_points",
    "calibration_of",
    "frames_by_error",
    "reproject",
    "reprojection_errors",
    "world_positions",
]


def calibration_of(calibration: Any):
    """A :class:`~napari_facehmm.io.anipose.Calibration` from a path or a calibration object."""
    from ..io.anipose import Calibration, read_calibration

    if isinstance(calibration, Calibration):
        return calibration
    if isinstance(calibration, (str, Path)):
        return read_calibration(calibration)
    if hasattr(calibration, "get_dicts"):  # an aniposelib CameraGroup
        return Calibration.from_aniposelib(calibration)
    raise DataError(f"not a calibration: {type(calibration).__name__}")


def world_positions(series_3d: LandmarkSeries) -> np.ndarray:
    """``(T, K, 3)`` positions in the calibration's world frame.

    Anipose writes points in an output frame ``p_out = p_world @ M.T - center``
    (``attrs["M"] (T, 3, 3)``, ``attrs["center"] (T, 3)``); this undoes it
    (``M`` is a rotation, so ``p_world = (p_out + center) @ M``). A series
    without ``M``/``center`` is taken to be in the world frame already.
    """
    if series_3d.n_dims != 3:
        raise DataError(f"a 3D series is needed; got {series_3d.n_dims} dimensions")
    positions = np.asarray(series_3d.positions, dtype=np.float64)
    n_frames = series_3d.n_frames
    rotation = series_3d.attrs.get("M")
    center = series_3d.attrs.get("center")
    if rotation is None and center is None:
        return positions
    rotation = np.broadcast_to(np.eye(3) if rotation is None else np.asarray(rotation, float), (n_frames, 3, 3))
    center = np.broadcast_to(np.zeros(3) if center is None else np.asarray(center, float), (n_frames, 3))
    # NaN in M or center (frames Anipose left empty) give NaN points, as they should
    return np.einsum("tkj,tji->tki", positions + center[:, None, :], rotation)


def reproject(
    series_3d: LandmarkSeries, calibration: Any, cameras: list[str] | None = None
) -> dict[str, LandmarkSeries]:
    """Project a 3D series into each camera.

    Parameters
    ----------
    series_3d
        ``(T, K, 3)`` triangulated landmarks (Anipose output frame or world).
    calibration
        ``calibration.toml`` path or :class:`~napari_facehmm.io.anipose.Calibration`.
    cameras
        Cameras to project into (default: all of the calibration).

    Returns
    -------
    dict
        ``{camera: 2D LandmarkSeries (T, K, 2)}`` in pixels ``(x, y)``, with
        the 3D series' keypoints, skeleton, fps and frame indices; NaN where
        the 3D point is missing or behind the camera. ``confidence`` is 1
        for present points.
    """
    calibration = calibration_of(calibration)
    world = world_positions(series_3d)
    n_frames, n_keypoints, _ = world.shape
    out: dict[str, LandmarkSeries] = {}
    for name in cameras or calibration.camera_names:
        camera = calibration.camera(name)
        flat = world.reshape(-1, 3)
        depth = camera.to_camera_frame(flat)[:, 2]
        with np.errstate(invalid="ignore"):
            pixels = camera.project(flat)
            pixels[~(depth > 0)] = np.nan  # behind the camera: no image point
        pixels = pixels.reshape(n_frames, n_keypoints, 2)
        present = np.isfinite(pixels).all(axis=2)
        out[name] = LandmarkSeries(
            positions=pixels,
            confidence=np.where(present, 1.0, np.nan),
            keypoints=series_3d.keypoints,
            skeleton=series_3d.skeleton,
            fps=series_3d.fps,
            frame_indices=series_3d.frame_indices.copy(),
            camera=name,
            attrs={"reprojected_from": str(series_3d.source) if series_3d.source else ""},
        )
    return out


def _aligned_2d(track: LandmarkSeries, series_3d: LandmarkSeries, camera: str) -> np.ndarray:
    """``(T, K, 2)`` 2D positions at the 3D series' frames and keypoint order (NaN where absent)."""
    missing = [k for k in series_3d.keypoints if k not in track.keypoints]
    if missing:
        raise DataError(f"camera {camera!r}: the 2D track has no keypoint(s) {missing}")
    columns = [list(track.keypoints).index(k) for k in series_3d.keypoints]
    aligned = np.full((series_3d.n_frames, series_3d.n_keypoints, 2), np.nan)
    row_of = {int(f): i for i, f in enumerate(track.frame_indices)}
    rows_3d = [i for i, f in enumerate(series_3d.frame_indices) if int(f) in row_of]
    rows_2d = [row_of[int(series_3d.frame_indices[i])] for i in rows_3d]
    aligned[rows_3d] = np.asarray(track.positions, dtype=np.float64)[rows_2d][:, columns]
    return aligned


def reprojection_errors(
    series_3d: LandmarkSeries,
    tracks_2d: Mapping[str, LandmarkSeries],
    calibration: Any,
) -> dict[str, np.ndarray]:
    """Distance between each reprojected 3D point and the camera's 2D track.

    Parameters
    ----------
    series_3d
        ``(T, K, 3)`` triangulated landmarks.
    tracks_2d
        ``{camera: 2D series}``; matched to the 3D series by frame index and
        keypoint name (frames the 2D track lacks give NaN).
    calibration
        Path or :class:`~napari_facehmm.io.anipose.Calibration`.

    Returns
    -------
    dict
        ``{camera: (T, K) error in pixels}``, NaN where either point is missing.
    """
    projected = reproject(series_3d, calibration, cameras=list(tracks_2d))
    errors = {}
    for name, track in tracks_2d.items():
        if track.n_dims != 2:
            raise DataError(f"camera {name!r}: the track must be 2D; it has {track.n_dims} dimensions")
        difference = projected[name].positions - _aligned_2d(track, series_3d, name)
        errors[name] = np.sqrt((difference**2).sum(axis=2))
    return errors


def frames_by_error(
    errors: np.ndarray | Mapping[str, np.ndarray],
    frame_indices: np.ndarray,
    keypoint: int | None = None,
    n: int | None = None,
) -> list[tuple[int, float]]:
    """Frames ranked by reprojection error, worst first.

    Parameters
    ----------
    errors
        ``(T, K)`` errors in pixels, or ``{camera: (T, K)}`` (then the worse
        camera counts for each frame).
    frame_indices
        ``(T,)`` video frame of each row.
    keypoint
        Rank by this keypoint's error; None: the mean over keypoints.
    n
        Keep the first ``n`` (default all frames with an error).

    Returns
    -------
    list
        ``(frame, error_px)``, largest error first; frames without any error
        (all NaN) are left out. Ties keep frame order. This is the one
        ranking of :func:`napari_facehmm.tracking.frame_quality.rank_frames`.
    """
    return rank_frames(errors, frame_indices, keypoint=keypoint, n=n)


def board_corners_to_points(frames: np.ndarray, corners_px: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Detected board corners as points-layer rows.

    Parameters
    ----------
    frames
        ``(n,)`` video frame of each detection.
    corners_px
        ``(n, n_corners, 2)`` corner ``(x, y)`` in pixels, NaN where not found.

    Returns
    -------
    data, corner_ids
        ``(N, 3)`` rows ``[frame, y, x]`` of the found corners (napari's
        axis order; NaN corners dropped since napari points cannot be NaN)
        and ``(N,)`` the board corner id of each row.
    """
    frames = np.asarray(frames)
    corners_px = np.asarray(corners_px, dtype=np.float64)
    if corners_px.ndim != 3 or corners_px.shape[2] != 2 or len(corners_px) != len(frames):
        raise DataError(f"corners must be (n_frames={len(frames)}, n_corners, 2); got {corners_px.shape}")
    detection, corner = np.nonzero(np.isfinite(corners_px).all(axis=2))
    data = np.empty((len(detection), 3), dtype=np.float64)
    data[:, 0] = frames[detection]
    data[:, 1] = corners_px[detection, corner, 1]
    data[:, 2] = corners_px[detection, corner, 0]
    return data, corner.astype(np.int64)
