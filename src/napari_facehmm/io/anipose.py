"""Anipose files: ``calibration.toml`` (aniposelib) and ``pose-3d`` CSV tables.

Both layouts are copied from the tools that write them:

* ``calibration.toml`` as ``aniposelib.cameras.CameraGroup.dump`` writes it:
  one table per camera, ``[cam_0]``, ``[cam_1]``, ... with ``name``,
  ``size = [width, height]``, ``matrix`` (3x3 intrinsics), ``distortions``
  (OpenCV ``k1, k2, p1, p2, k3``), ``rotation`` (Rodrigues vector, world to
  camera) and ``translation``, then a ``[metadata]`` table. A camera with
  ``fisheye = true`` uses OpenCV's fisheye model (4 distortions).
* ``pose-3d/<session>.csv`` as ``anipose triangulate`` writes it: per
  bodypart ``<bp>_x, <bp>_y, <bp>_z, <bp>_error, <bp>_ncams, <bp>_score``,
  then ``M_00 .. M_22`` (rotation into the output frame), ``center_0 ..
  center_2`` and ``fnum`` (frame number), no index column.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..data import LandmarkSeries
from ..errors import DataError, FileFormatError
from ._atomic import atomic_write_path
from ._checks import check_finite, check_frame_numbers, check_is_file, check_last_row_complete, frame_order
from ._csv import numeric_columns, read_csv_table, write_numeric_csv

__all__ = [
    "CameraParams",
    "Calibration",
    "read_calibration",
    "write_calibration",
    "read_pose3d",
    "write_pose3d",
    "rodrigues_to_matrix",
    "matrix_to_rodrigues",
]

POSE3D_FIELDS = ("x", "y", "z", "error", "ncams", "score")


# --------------------------------------------------------------- rotations
# The project's one rotation-vector conversion (scipy's Rotation, which agrees
# with cv2.Rodrigues): the calibration, the synthetic cameras and the synthetic
# head motion all convert here.
def rodrigues_to_matrix(rotation: np.ndarray) -> np.ndarray:
    """Rodrigues vectors -> rotation matrices (as ``cv2.Rodrigues``).

    ``(n, 3)`` vectors give ``(n, 3, 3)`` matrices; any other 3 numbers (a
    ``(3,)`` vector, a ``(3, 1)`` column) give one ``(3, 3)`` matrix.
    """
    from scipy.spatial.transform import Rotation

    rotvecs = np.asarray(rotation, dtype=np.float64)
    if rotvecs.ndim == 2 and rotvecs.shape[1] == 3:
        return Rotation.from_rotvec(rotvecs).as_matrix()
    return Rotation.from_rotvec(rotvecs.reshape(3)).as_matrix()


def matrix_to_rodrigues(matrix: np.ndarray) -> np.ndarray:
    """``(3, 3)`` rotation matrix -> ``(3,)`` Rodrigues vector (as ``cv2.Rodrigues``); ``(n, 3, 3)`` -> ``(n, 3)``."""
    from scipy.spatial.transform import Rotation

    return Rotation.from_matrix(np.asarray(matrix, dtype=np.float64)).as_rotvec()


# ------------------------------------------------------------- calibration
@dataclass(eq=False)
class CameraParams:
    """One calibrated camera, in aniposelib's (OpenCV's) conventions.

    Parameters
    ----------
    name
        Camera name, as in video file names (``cam_a`` ...).
    size
        ``(width, height)`` of its images in pixels.
    matrix
        ``(3, 3)`` intrinsic matrix ``[[fx, 0, cx], [0, fy, cy], [0, 0, 1]]``.
    distortions
        ``(5,)`` OpenCV distortion coefficients ``k1, k2, p1, p2, k3``
        (``(4,)`` ``k1..k4`` for a fisheye camera).
    rotation
        ``(3,)`` Rodrigues vector of the world-to-camera rotation.
    translation
        ``(3,)`` world-to-camera translation, in world units (mm here).
    fisheye
        True for aniposelib's ``FisheyeCamera``.
    """

    name: str
    size: tuple[int, int]
    matrix: np.ndarray
    distortions: np.ndarray = field(default_factory=lambda: np.zeros(5))
    rotation: np.ndarray = field(default_factory=lambda: np.zeros(3))
    translation: np.ndarray = field(default_factory=lambda: np.zeros(3))
    fisheye: bool = False

    def __post_init__(self) -> None:
        self.name = str(self.name)
        size = tuple(int(v) for v in np.asarray(self.size).reshape(-1))
        if len(size) != 2 or min(size) <= 0:
            raise DataError(f"camera {self.name!r}: size must be (width, height) > 0; got {self.size}")
        self.size = size
        self.matrix = np.asarray(self.matrix, dtype=np.float64).reshape(3, 3)
        self.distortions = np.asarray(self.distortions, dtype=np.float64).reshape(-1)
        self.rotation = np.asarray(self.rotation, dtype=np.float64).reshape(3)
        self.translation = np.asarray(self.translation, dtype=np.float64).reshape(3)
        self.fisheye = bool(self.fisheye)

    @property
    def rotation_matrix(self) -> np.ndarray:
        """``(3, 3)`` world-to-camera rotation."""
        return rodrigues_to_matrix(self.rotation)

    @property
    def position(self) -> np.ndarray:
        """``(3,)`` camera centre in world coordinates (``-R^T t``)."""
        return -self.rotation_matrix.T @ self.translation

    @property
    def extrinsics(self) -> np.ndarray:
        """``(4, 4)`` world-to-camera transform ``[[R, t], [0, 1]]``."""
        out = np.eye(4)
        out[:3, :3] = self.rotation_matrix
        out[:3, 3] = self.translation
        return out

    def to_camera_frame(self, points_3d: np.ndarray) -> np.ndarray:
        """``(N, 3)`` world points -> ``(N, 3)`` points in this camera's frame."""
        points = np.asarray(points_3d, dtype=np.float64).reshape(-1, 3)
        return points @ self.rotation_matrix.T + self.translation

    def project(self, points_3d: np.ndarray) -> np.ndarray:
        """Project world points to pixels, as ``cv2.projectPoints`` does.

        Parameters
        ----------
        points_3d
            ``(N, 3)`` world coordinates; NaN rows give NaN pixels.

        Returns
        -------
        np.ndarray
            ``(N, 2)`` pixel coordinates ``(x, y)``.

        Notes
        -----
        The pinhole model with ``k1, k2, p1, p2, k3`` is evaluated in numpy
        (same formulas as OpenCV; NaN passes through). Fisheye cameras and
        longer distortion vectors go through OpenCV itself.
        """
        points = np.asarray(points_3d, dtype=np.float64).reshape(-1, 3)
        extra = self.distortions[5:]
        if self.fisheye or (extra.size and np.any(extra != 0)):
            return self._project_cv2(points)
        dist = np.zeros(5)
        dist[: min(5, self.distortions.size)] = self.distortions[:5]
        k1, k2, p1, p2, k3 = dist
        cam = self.to_camera_frame(points)
        with np.errstate(divide="ignore", invalid="ignore"):
            x = cam[:, 0] / cam[:, 2]
            y = cam[:, 1] / cam[:, 2]
        r2 = x * x + y * y
        radial = 1 + k1 * r2 + k2 * r2**2 + k3 * r2**3
        x_d = x * radial + 2 * p1 * x * y + p2 * (r2 + 2 * x * x)
        y_d = y * radial + p1 * (r2 + 2 * y * y) + 2 * p2 * x * y
        fx, fy = self.matrix[0, 0], self.matrix[1, 1]
        cx, cy = self.matrix[0, 2], self.matrix[1, 2]
        return np.stack([fx * x_d + cx, fy * y_d + cy], axis=1)

    def _project_cv2(self, points: np.ndarray) -> np.ndarray:
        import cv2

        out = np.full((len(points), 2), np.nan)
        good = np.isfinite(points).all(axis=1)
        if not good.any():
            return out
        obj = points[good].reshape(-1, 1, 3)
        if self.fisheye:
            projected, _ = cv2.fisheye.projectPoints(
                obj, self.rotation, self.translation, self.matrix, self.distortions
            )
        else:
            projected, _ = cv2.projectPoints(
                obj, self.rotation, self.translation, self.matrix, self.distortions
            )
        out[good] = projected.reshape(-1, 2)
        return out

    def to_dict(self) -> dict[str, Any]:
        """The camera's table in ``calibration.toml`` (aniposelib's ``get_dict``)."""
        entry = {
            "name": self.name,
            "size": [int(v) for v in self.size],
            "matrix": self.matrix.tolist(),
            "distortions": self.distortions.tolist(),
            "rotation": self.rotation.tolist(),
            "translation": self.translation.tolist(),
        }
        if self.fisheye:
            entry["fisheye"] = True
        return entry


@dataclass(eq=False)
class Calibration:
    """A calibrated camera rig: aniposelib's ``CameraGroup`` as plain data.

    Parameters
    ----------
    cameras
        The cameras, in file order (``cam_0`` first).
    metadata
        The ``[metadata]`` table (free-form; aniposelib stores e.g. the
        reprojection error there).
    """

    cameras: list[CameraParams]
    metadata: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.cameras = list(self.cameras)
        names = [c.name for c in self.cameras]
        if len(set(names)) != len(names):
            raise DataError(f"camera names must be unique; got {names}")
        self.metadata = dict(self.metadata or {})

    @property
    def camera_names(self) -> list[str]:
        """Names of the cameras, in order."""
        return [c.name for c in self.cameras]

    def camera(self, name: str) -> CameraParams:
        """The camera called ``name``; :class:`DataError` listing the names if absent."""
        for cam in self.cameras:
            if cam.name == name:
                return cam
        raise DataError(f"no camera named {name!r}; the calibration has {self.camera_names}")

    def project(self, points_3d: np.ndarray) -> np.ndarray:
        """``(N, 3)`` world points -> ``(n_cameras, N, 2)`` pixels in every camera."""
        return np.stack([cam.project(points_3d) for cam in self.cameras])

    def to_dict(self) -> dict[str, Any]:
        """The whole ``calibration.toml`` content as aniposelib's ``dump`` builds it."""
        tables: dict[str, Any] = {f"cam_{i}": cam.to_dict() for i, cam in enumerate(self.cameras)}
        tables["metadata"] = self.metadata
        return tables

    def to_aniposelib(self):
        """An ``aniposelib.cameras.CameraGroup`` with these cameras (imports aniposelib)."""
        from aniposelib.cameras import CameraGroup

        group = CameraGroup.from_dicts([cam.to_dict() for cam in self.cameras])
        group.metadata = dict(self.metadata)
        return group

    @classmethod
    def from_aniposelib(cls, group) -> "Calibration":
        """Build from an ``aniposelib.cameras.CameraGroup`` (or anything with ``get_dicts``)."""
        cameras = [_camera_from_dict(d, None, f"camera {i}") for i, d in enumerate(group.get_dicts())]
        return cls(cameras=cameras, metadata=dict(getattr(group, "metadata", {}) or {}))


def _camera_from_dict(entry: Any, path: Path | None, label: str) -> CameraParams:
    """Validate one ``[cam_i]`` table, then build the camera."""

    def fail(problem: str):
        if path is None:
            raise DataError(f"{label}: {problem}")
        raise FileFormatError(path, f"[{label}] {problem}")

    if not isinstance(entry, dict):
        fail("is not a table")
    required = ("name", "size", "matrix", "distortions", "rotation", "translation")
    missing = [k for k in required if k not in entry]
    if missing:
        fail(f"lacks {', '.join(missing)} (needs {', '.join(required)})")
    shapes = {"size": (2,), "matrix": (3, 3), "rotation": (3,), "translation": (3,)}
    arrays = {}
    for key in ("size", "matrix", "distortions", "rotation", "translation"):
        try:
            value = np.asarray(entry[key], dtype=np.float64)
        except (TypeError, ValueError):
            fail(f"{key} must be numbers; got {entry[key]!r}")
        if key in shapes and value.shape != shapes[key]:
            fail(f"{key} must have shape {shapes[key]}; got {value.shape}")
        if key == "distortions" and (value.ndim != 1 or value.size < 4):
            fail(f"distortions must be a list of 4 or 5 or more numbers; got {entry[key]!r}")
        if not np.all(np.isfinite(value)):
            fail(f"{key} has non-finite values")
        arrays[key] = value
    if np.any(arrays["size"] <= 0):
        fail(f"size must be positive [width, height]; got {entry['size']}")
    matrix = arrays["matrix"]
    if not (matrix[0, 0] > 0 and matrix[1, 1] > 0) or not np.allclose(matrix[2], [0.0, 0.0, 1.0]):
        fail(
            "matrix must be an intrinsic matrix [[fx, 0, cx], [0, fy, cy], [0, 0, 1]] with focal lengths "
            f"fx, fy > 0; got {matrix.tolist()}"
        )
    return CameraParams(
        name=str(entry["name"]),
        size=tuple(int(v) for v in arrays["size"]),
        matrix=arrays["matrix"],
        distortions=arrays["distortions"],
        rotation=arrays["rotation"],
        translation=arrays["translation"],
        fisheye=bool(entry.get("fisheye", False)),
    )


def _camera_order(key: str) -> tuple[int, str]:
    # aniposelib sorts the keys as strings (cam_10 before cam_2); we sort by
    # number, which is the order dump() wrote them in.
    suffix = key[4:]
    return (int(suffix), key) if suffix.isdigit() else (10**9, key)


def read_calibration(path: str | Path) -> Calibration:
    """Read an aniposelib ``calibration.toml``.

    Parameters
    ----------
    path
        The file ``CameraGroup.dump`` (or :func:`write_calibration`) wrote.

    Returns
    -------
    Calibration

    Raises
    ------
    FileFormatError
        Missing file, not TOML, no ``cam_*`` table, or a camera table with
        missing or malformed entries.
    """
    import toml

    path = Path(path)
    check_is_file(path)
    try:
        tables = toml.loads(path.read_text(encoding="utf-8"))
    except (toml.TomlDecodeError, UnicodeDecodeError, IndexError, ValueError) as error:
        raise FileFormatError(path, f"not a valid TOML calibration file ({error})") from None
    camera_keys = sorted((k for k in tables if k != "metadata"), key=_camera_order)
    if not camera_keys:
        raise FileFormatError(path, "no camera tables ([cam_0], [cam_1], ...) in the calibration")
    cameras = [_camera_from_dict(tables[k], path, k) for k in camera_keys]
    names = [c.name for c in cameras]
    if len(set(names)) != len(names):
        raise FileFormatError(path, f"camera names repeat: {names}")
    metadata = tables.get("metadata", {})
    if not isinstance(metadata, dict):
        raise FileFormatError(path, "[metadata] must be a table")
    return Calibration(cameras=cameras, metadata=metadata)


def write_calibration(calibration: Calibration, path: str | Path) -> Path:
    """Write ``calibration`` as aniposelib's ``calibration.toml``.

    The file loads with ``aniposelib.cameras.CameraGroup.load``. It is
    written atomically; a previous file is kept as ``<name>.bak``.

    Returns
    -------
    Path
        ``path``.
    """
    import toml

    path = Path(path)
    text = toml.dumps(calibration.to_dict())
    with atomic_write_path(path, backup=True) as temp:
        temp.write_text(text, encoding="utf-8")
    return path


# ----------------------------------------------------------------- pose-3d
def _pose3d_bodyparts(columns: list[str]) -> list[str]:
    """Bodypart names from ``<bp>_x`` columns, in file order."""
    names = []
    for column in columns:
        # M_00..M_22 and center_0..2 never end in "_x", so no bodypart name is excluded
        if column.endswith("_x") and len(column) > 2:
            names.append(column[:-2])
    return names


def read_pose3d(path: str | Path, fps: float = 30.0) -> LandmarkSeries:
    """Read an Anipose ``pose-3d`` CSV table.

    Parameters
    ----------
    path
        ``pose-3d/<session>.csv`` as ``anipose triangulate`` writes it.
    fps
        Frame rate; the table does not store it.

    Returns
    -------
    LandmarkSeries
        ``positions (T, K, 3)`` in the table's output frame (NaN where not
        triangulated), ``confidence`` = ``<bp>_score``, ``frame_indices`` =
        ``fnum``, and ``attrs``: ``"error"``, ``"ncams"``, ``"score"``
        ``(T, K)``, ``"M"`` ``(T, 3, 3)`` and ``"center"`` ``(T, 3)``.

    Notes
    -----
    Anipose writes one ``M``/``center`` for the whole session, repeated on
    every row; tables lacking them get the identity and zeros. Columns
    ``_error``, ``_ncams``, ``_score`` and ``fnum`` are optional (NaN /
    ``0..T-1``) so filtered tables read too; ``_x, _y, _z`` are required.

    Refused with :class:`FileFormatError`: a missing coordinate column, a
    last row cut off, infinite values, empty ``M``/``center`` cells, ``fnum``
    that is not whole or is negative, a frame in several rows that differ.
    Rows out of order are sorted and exact copies dropped, with a
    :class:`~napari_facehmm.io._checks.RepairedInputWarning`.
    """
    path = Path(path)
    table = _read_csv_table(path)
    columns = [str(c) for c in table.columns]
    check_last_row_complete(path, len(columns))
    bodyparts = _pose3d_bodyparts(columns)
    if not bodyparts:
        raise FileFormatError(
            path, "no <bodypart>_x columns: not an Anipose pose-3d table "
            f"(columns start {columns[:6]})"
        )
    present = set(columns)
    missing = [f"{bp}_{axis}" for bp in bodyparts for axis in ("y", "z") if f"{bp}_{axis}" not in present]
    if missing:
        raise FileFormatError(path, f"missing coordinate columns {missing[:6]}")
    if len(set(bodyparts)) != len(bodyparts):
        raise FileFormatError(path, "bodypart columns repeat")
    wanted = [f"{bp}_{f}" for bp in bodyparts for f in POSE3D_FIELDS if f"{bp}_{f}" in present]
    frame_columns = [f"M_{i}{j}" for i in range(3) for j in range(3)] + [f"center_{i}" for i in range(3)] + ["fnum"]
    wanted += [c for c in frame_columns if c in present]
    numeric = numeric_columns(table, wanted, path)
    value_columns = [c for c in wanted if c != "fnum"]
    check_finite(np.stack([numeric[c] for c in value_columns], axis=1), path, value_columns)
    for column in frame_columns[:-1]:
        if column in numeric and not np.isfinite(numeric[column]).all():
            raise FileFormatError(
                path, f"{column} must be a number on every row (the rotation M_00..M_22 and center_0..2 "
                "of the output frame); it is empty or NaN on some"
            )

    n_frames = len(table)
    n_keypoints = len(bodyparts)

    def field_array(name: str) -> np.ndarray:
        out = np.full((n_frames, n_keypoints), np.nan)
        for k, bp in enumerate(bodyparts):
            column = f"{bp}_{name}"
            if column in numeric:
                out[:, k] = numeric[column]
        return out

    positions = np.stack([field_array(axis) for axis in ("x", "y", "z")], axis=2)
    error, ncams, score = (field_array(name) for name in ("error", "ncams", "score"))
    m_columns = [f"M_{i}{j}" for i in range(3) for j in range(3)]
    if all(c in numeric for c in m_columns):
        rotation = np.stack([numeric[c] for c in m_columns], axis=1).reshape(n_frames, 3, 3)
    else:
        rotation = np.broadcast_to(np.eye(3), (n_frames, 3, 3)).copy()
    center_columns = [f"center_{i}" for i in range(3)]
    if all(c in numeric for c in center_columns):
        center = np.stack([numeric[c] for c in center_columns], axis=1)
    else:
        center = np.zeros((n_frames, 3))
    if "fnum" in numeric:
        frame_indices = check_frame_numbers(numeric["fnum"], path, "fnum")
    else:
        frame_indices = np.arange(n_frames, dtype=np.int64)
    has_score = any(f"{bp}_score" in present for bp in bodyparts)
    rows = frame_order(frame_indices, np.stack([numeric[c] for c in value_columns], axis=1), path, "fnum")
    if rows is not None:
        frame_indices, positions, rotation, center = (a[rows] for a in (frame_indices, positions, rotation, center))
        error, ncams, score = error[rows], ncams[rows], score[rows]
    confidence = score if has_score else None
    return LandmarkSeries(
        positions=positions,
        keypoints=tuple(bodyparts),
        confidence=confidence,
        fps=fps,
        frame_indices=frame_indices,
        camera=None,
        source=path,
        attrs={"error": error, "ncams": ncams, "score": score, "M": rotation, "center": center},
    )


def write_pose3d(series: LandmarkSeries, path: str | Path) -> Path:
    """Write a 3D series as an Anipose ``pose-3d`` CSV table.

    Column order and dtypes follow ``anipose triangulate``: per keypoint
    ``_x, _y, _z, _error, _ncams, _score`` (float), then ``M_00..M_22``,
    ``center_0..2`` (float) and ``fnum`` (int), no index column.

    Parameters
    ----------
    series
        A 3D series (``n_dims == 3``). ``attrs["error"]``, ``["ncams"]``
        ``(T, K)``, ``["M"]`` ``(T, 3, 3)`` or ``(3, 3)`` and ``["center"]``
        ``(T, 3)`` or ``(3,)`` are used when present (NaN, identity and zeros
        otherwise); ``_score`` is ``attrs["score"]`` or else
        ``series.confidence``; ``fnum`` is ``series.frame_indices``.
    path
        The ``.csv`` file to write (atomically).

    Returns
    -------
    Path
        ``path``.
    """
    if series.n_dims != 3:
        raise DataError(f"a pose-3d table needs 3D positions; this series has {series.n_dims}D")
    path = Path(path)
    n_frames, n_keypoints, _ = series.positions.shape

    def per_point(name: str, default: np.ndarray) -> np.ndarray:
        value = series.attrs.get(name)
        if value is None:
            return default
        value = np.asarray(value, dtype=np.float64)
        if value.shape != (n_frames, n_keypoints):
            raise DataError(f"attrs[{name!r}] must have shape {(n_frames, n_keypoints)}; got {value.shape}")
        return value

    nan = np.full((n_frames, n_keypoints), np.nan)
    error = per_point("error", nan)
    ncams = per_point("ncams", nan)
    score = per_point("score", series.confidence)
    rotation = np.asarray(series.attrs.get("M", np.eye(3)), dtype=np.float64)
    rotation = np.broadcast_to(rotation, (n_frames, 3, 3)) if rotation.shape == (3, 3) else rotation
    center = np.asarray(series.attrs.get("center", np.zeros(3)), dtype=np.float64)
    center = np.broadcast_to(center, (n_frames, 3)) if center.shape == (3,) else center
    if rotation.shape != (n_frames, 3, 3) or center.shape != (n_frames, 3):
        raise DataError(
            f"attrs 'M' must be (3, 3) or {(n_frames, 3, 3)} and 'center' (3,) or {(n_frames, 3)}; "
            f"got {rotation.shape} and {center.shape}"
        )
    columns: dict[str, np.ndarray] = {}
    for k, name in enumerate(series.keypoints):
        for d, axis in enumerate(("x", "y", "z")):
            columns[f"{name}_{axis}"] = series.positions[:, k, d]
        columns[f"{name}_error"] = error[:, k]
        columns[f"{name}_ncams"] = ncams[:, k]
        columns[f"{name}_score"] = score[:, k]
    for i in range(3):
        for j in range(3):
            columns[f"M_{i}{j}"] = rotation[:, i, j]
    for i in range(3):
        columns[f"center_{i}"] = center[:, i]
    columns["fnum"] = series.frame_indices.astype(np.int64)
    table = pd.DataFrame(columns)
    with atomic_write_path(path, backup=False) as temp:
        write_numeric_csv(table, temp, index=False)
    return path


# ----------------------------------------------------------------- helpers
def _read_csv_table(path: Path) -> pd.DataFrame:
    """A plain one-header CSV with rows, or :class:`FileFormatError` naming the file."""
    table = read_csv_table(path)
    if len(table) == 0:
        raise FileFormatError(path, "table has a header but no rows")
    return table
