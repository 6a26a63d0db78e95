"""OpenFace 2 landmark tables (``FeatureExtraction`` / ``FaceLandmarkVid`` CSV).

One row per frame: ``frame``, (``face_id``), ``timestamp``, ``confidence``,
``success``, gaze, ``pose_Tx .. pose_Rz``, 2D landmarks ``x_0 .. x_67``,
``y_0 .. y_67`` (pixels), 3D landmarks ``X_0 .. Z_67`` (millimetres, camera
frame), shape parameters and action units. OpenFace writes ``", "`` between
fields, so every name and value after the first starts with a space.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..data import LandmarkSeries
from ..errors import DataError, FileFormatError
from ._checks import check_finite, check_frame_numbers, check_last_row_complete, frame_order
from ._csv import numeric_columns, read_csv_table

__all__ = ["read_openface", "OPENFACE_SKELETON", "openface_keypoints"]


def openface_keypoints(n_landmarks: int = 68) -> tuple[str, ...]:
    """Landmark names ``lm_0 .. lm_{n-1}`` (OpenFace's / iBUG 300-W numbering)."""
    return tuple(f"lm_{i}" for i in range(n_landmarks))


def _chain(indices, closed=False):
    edges = [(f"lm_{a}", f"lm_{b}") for a, b in zip(indices[:-1], indices[1:])]
    if closed:
        edges.append((f"lm_{indices[-1]}", f"lm_{indices[0]}"))
    return edges


# iBUG 68-point contours: jaw, brows, nose bridge and base, eyes, lips.
OPENFACE_SKELETON: tuple[tuple[str, str], ...] = tuple(
    _chain(list(range(0, 17)))
    + _chain(list(range(17, 22)))
    + _chain(list(range(22, 27)))
    + _chain(list(range(27, 31)))
    + _chain(list(range(31, 36)))
    + _chain(list(range(36, 42)), closed=True)
    + _chain(list(range(42, 48)), closed=True)
    + _chain(list(range(48, 60)), closed=True)
    + _chain(list(range(60, 68)), closed=True)
)


def _count_landmarks(columns: set[str], prefixes: tuple[str, ...]) -> int:
    n = 0
    while all(f"{p}_{n}" in columns for p in prefixes):
        n += 1
    return n


def read_openface(
    path: str | Path, dims: int = 2, fps: float | None = None, face_id: int | None = None
) -> LandmarkSeries:
    """Read OpenFace 2 landmarks.

    Parameters
    ----------
    path
        An OpenFace ``.csv``.
    dims
        2 for image landmarks ``x_i, y_i`` (pixels), 3 for ``X_i, Y_i, Z_i``
        (millimetres, camera frame).
    fps
        Frame rate; by default inferred from ``timestamp`` (median step per
        frame), 30 when that is impossible.
    face_id
        Which face, for files with several (``face_id`` column).

    Returns
    -------
    LandmarkSeries
        ``positions (T, 68, dims)``, NaN on frames with ``success == 0``;
        ``confidence (T, 68)``: the per-frame ``confidence`` for every point;
        ``frame_indices``: OpenFace's ``frame`` minus 1 (OpenFace counts from
        1; our indices, like :class:`~napari_facehmm.io.video.VideoReader`,
        from 0); keypoints ``lm_0 .. lm_67`` with the iBUG contours as
        skeleton. ``attrs``: ``"success"`` (T,) bool, ``"timestamp_s"``
        (T,), ``"head_pose"`` (T, 6) ``Tx, Ty, Tz (mm), Rx, Ry, Rz (rad)``,
        ``"au_names"`` and ``"au_intensity"`` (T, n_AU) when present.

    Raises
    ------
    FileFormatError
        No landmark columns or an incomplete landmark (``x_i`` without
        ``y_i``), a last row cut off, non-numeric or infinite landmark values,
        frame numbers not whole or below 1, a
        frame in several rows that differ. Rows out of order are sorted and
        exact copies dropped, with a
        :class:`~napari_facehmm.io._checks.RepairedInputWarning`.
    """
    path = Path(path)
    if dims not in (2, 3):
        raise DataError(f"dims must be 2 or 3; got {dims}")
    table = read_csv_table(path)
    table.columns = [str(c).strip() for c in table.columns]
    columns = set(table.columns)
    prefixes = ("x", "y") if dims == 2 else ("X", "Y", "Z")
    n_landmarks = _count_landmarks(columns, prefixes)
    if n_landmarks == 0:
        raise FileFormatError(
            path, f"no OpenFace {dims}D landmark columns ({', '.join(p + '_0' for p in prefixes)} ...)"
        )
    # a landmark with one coordinate column but not the other(s): the count
    # above stopped there and would silently drop it and every later one
    beyond = max(_count_landmarks(columns, (p,)) for p in prefixes)
    if beyond > n_landmarks:
        lacking = [f"{p}_{n_landmarks}" for p in prefixes if f"{p}_{n_landmarks}" not in columns]
        raise FileFormatError(
            path, f"landmark {n_landmarks} lacks column(s) {', '.join(lacking)} "
            f"(the file has {beyond} {'/'.join(prefixes)} landmark columns, complete for {n_landmarks})"
        )
    if len(table) == 0:
        raise FileFormatError(path, "table has a header but no rows")
    check_last_row_complete(path, len(table.columns))

    if "face_id" in columns:
        faces = sorted(pd.unique(table["face_id"]).tolist())
        if face_id is None and len(faces) > 1:
            raise FileFormatError(path, f"several faces ({faces}); choose one with face_id=...")
        if face_id is not None:
            if face_id not in faces:
                raise FileFormatError(path, f"no face_id {face_id}; the file has {faces}")
            table = table[table["face_id"] == face_id].reset_index(drop=True)
    elif face_id is not None:
        raise FileFormatError(path, "face_id given, but the file has no face_id column")

    landmark_columns = [f"{p}_{i}" for p in prefixes for i in range(n_landmarks)]
    optional = [c for c in ("frame", "timestamp", "confidence", "success") if c in columns]
    pose_columns = [f"pose_{a}" for a in ("Tx", "Ty", "Tz", "Rx", "Ry", "Rz")]
    au_columns = [c for c in table.columns if c.startswith("AU") and c.endswith("_r")]
    wanted = landmark_columns + optional + (pose_columns if set(pose_columns) <= columns else []) + au_columns
    values = numeric_columns(table, wanted, path)
    check_finite(np.stack([values[c] for c in landmark_columns], axis=1), path, landmark_columns)

    if "frame" in values:
        # OpenFace counts frames from 1; our indices, like VideoReader's, from 0
        frame_numbers = check_frame_numbers(values["frame"], path, "frame", first=1)
        others = [c for c in wanted if c != "frame"]
        rows = frame_order(frame_numbers, np.stack([values[c] for c in others], axis=1), path, "frame")
        if rows is not None:
            values = {name: column[rows] for name, column in values.items()}
            frame_numbers = frame_numbers[rows]
        frame_indices = frame_numbers - 1
    else:
        frame_indices = np.arange(len(table), dtype=np.int64)

    n_frames = len(frame_indices)
    positions = np.stack(
        [np.stack([values[f"{p}_{i}"] for i in range(n_landmarks)], axis=1) for p in prefixes], axis=2
    )
    success = values["success"] > 0.5 if "success" in values else np.ones(n_frames, dtype=bool)
    positions[~success] = np.nan
    if "confidence" in values:
        confidence = np.repeat(values["confidence"][:, None], n_landmarks, axis=1)
    else:
        confidence = np.ones((n_frames, n_landmarks))
    confidence[~success] = np.nan

    attrs: dict = {"success": success}
    if fps is None:
        fps = 30.0
        if "timestamp" in values and n_frames > 1:
            steps = np.diff(values["timestamp"]) / np.diff(frame_indices)
            steps = steps[np.isfinite(steps) & (steps > 0)]
            if steps.size:
                fps = float(1.0 / np.median(steps))
    if "timestamp" in values:
        attrs["timestamp_s"] = values["timestamp"]
    if set(pose_columns) <= set(values):
        attrs["head_pose"] = np.stack([values[c] for c in pose_columns], axis=1)
    if au_columns:
        attrs["au_names"] = tuple(c[:-2] for c in au_columns)
        attrs["au_intensity"] = np.stack([values[c] for c in au_columns], axis=1)
    keypoints = openface_keypoints(n_landmarks)
    return LandmarkSeries(
        positions=positions,
        keypoints=keypoints,
        confidence=confidence,
        skeleton=OPENFACE_SKELETON,
        fps=fps,
        frame_indices=frame_indices,
        source=path,
        attrs=attrs,
    )
