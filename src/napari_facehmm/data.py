"""The one data contract: :class:`LandmarkSeries`.

Every reader in :mod:`napari_facehmm.io` returns a ``LandmarkSeries`` and
every later step (features, HMM, viewer layers, triangulation) consumes one.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np
import pandas as pd

from .errors import DataError

COORD_NAMES = ("x", "y", "z")


#: ``attrs`` arrays with one column per keypoint, ``(T, K)`` (Anipose's
#: pose-3d ``_error``, ``_ncams`` and ``_score``)
PER_KEYPOINT_ATTRS = frozenset({"error", "ncams", "score"})


@dataclass(eq=False)
class LandmarkSeries:
    """Landmark positions of one face over time, from one camera or in 3D.

    Parameters
    ----------
    positions
        ``(n_frames, n_keypoints, n_dims)`` float array, ``n_dims`` 2 (pixels)
        or 3 (millimetres, world frame). NaN marks a missing point.
    keypoints
        ``n_keypoints`` landmark names, unique.
    confidence
        ``(n_frames, n_keypoints)`` likelihood or score in [0, 1], kept as
        given (a tracker's likelihood of a point it dropped stays readable).
        Defaults to 1 where a position exists and NaN where it is missing.
    skeleton
        Edges as pairs of keypoint names (pairs naming unknown keypoints are
        dropped on construction).
    fps
        Frames per second of the recording.
    frame_indices
        ``(n_frames,)`` integer index of each row in the source video.
        Defaults to ``0..n_frames-1``.
    camera
        Camera name, or None for 3D / unknown.
    source
        The file this series was read from, if any.
    attrs
        Extra per-format arrays or metadata, e.g. ``{"error": (T, K),
        "ncams": (T, K)}`` for Anipose triangulations, or ``{"scorer": ...}``.
        Arrays whose first axis is the frame follow :meth:`select_frames`;
        those named in :data:`PER_KEYPOINT_ATTRS` also follow
        :meth:`select_keypoints` (a ``(T, 3, 3)`` rotation of a 3-keypoint
        series is not per keypoint).
    """

    positions: np.ndarray
    keypoints: tuple[str, ...]
    confidence: np.ndarray | None = None
    skeleton: tuple[tuple[str, str], ...] = ()
    fps: float = 30.0
    frame_indices: np.ndarray | None = None
    camera: str | None = None
    source: Path | None = None
    attrs: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        positions = np.asarray(self.positions, dtype=np.float64)
        if positions.ndim != 3:
            raise DataError(
                f"positions must be (n_frames, n_keypoints, n_dims); got shape {positions.shape}"
            )
        n_frames, n_keypoints, n_dims = positions.shape
        if n_dims not in (2, 3):
            raise DataError(f"positions must have 2 or 3 coordinates per point; got {n_dims}")
        keypoints = tuple(str(k) for k in self.keypoints)
        if len(keypoints) != n_keypoints:
            raise DataError(
                f"{len(keypoints)} keypoint names for {n_keypoints} keypoints in positions"
            )
        if len(set(keypoints)) != len(keypoints):
            duplicated = sorted({k for k in keypoints if keypoints.count(k) > 1})
            raise DataError(f"keypoint names must be unique; repeated: {duplicated}")
        missing = np.isnan(positions).any(axis=2)
        positions[missing] = np.nan
        if self.confidence is None:
            confidence = np.where(missing, np.nan, 1.0)
        else:
            confidence = np.asarray(self.confidence, dtype=np.float64)
            if confidence.shape != (n_frames, n_keypoints):
                raise DataError(
                    f"confidence must have shape {(n_frames, n_keypoints)}; got {confidence.shape}"
                )
        if self.frame_indices is None:
            frame_indices = np.arange(n_frames, dtype=np.int64)
        else:
            frame_indices = np.asarray(self.frame_indices)
            if frame_indices.shape != (n_frames,):
                raise DataError(
                    f"frame_indices must have shape {(n_frames,)}; got {frame_indices.shape}"
                )
            frame_indices = frame_indices.astype(np.int64)
        fps = float(self.fps)
        if not np.isfinite(fps) or fps <= 0:
            raise DataError(f"fps must be a positive number; got {self.fps}")
        names = set(keypoints)
        skeleton = tuple(
            (str(a), str(b)) for a, b in self.skeleton if str(a) in names and str(b) in names
        )
        self.positions = positions
        self.keypoints = keypoints
        self.confidence = confidence
        self.frame_indices = frame_indices
        self.fps = fps
        self.skeleton = skeleton
        self.source = Path(self.source) if self.source is not None else None

    # ------------------------------------------------------------------ shape
    @property
    def n_frames(self) -> int:
        return self.positions.shape[0]

    @property
    def n_keypoints(self) -> int:
        return self.positions.shape[1]

    @property
    def n_dims(self) -> int:
        return self.positions.shape[2]

    @property
    def times_s(self) -> np.ndarray:
        """``(n_frames,)`` time of each frame in seconds (frame index / fps)."""
        return self.frame_indices / self.fps

    @property
    def skeleton_indices(self) -> np.ndarray:
        """``(n_edges, 2)`` skeleton edges as keypoint indices."""
        index = {k: i for i, k in enumerate(self.keypoints)}
        return np.array([[index[a], index[b]] for a, b in self.skeleton], dtype=np.int64).reshape(
            -1, 2
        )

    def keypoint_index(self, name: str) -> int:
        """Index of keypoint ``name``; :class:`DataError` listing the names if absent."""
        try:
            return self.keypoints.index(name)
        except ValueError:
            raise DataError(
                f"keypoint {name!r} is not in this series"
                f"{f' ({self.source})' if self.source else ''}; it has: {', '.join(self.keypoints)}"
            ) from None

    def __repr__(self) -> str:
        return (
            f"LandmarkSeries(n_frames={self.n_frames}, n_keypoints={self.n_keypoints}, "
            f"n_dims={self.n_dims}, fps={self.fps:g}, camera={self.camera!r}, source={self.source})"
        )

    # ------------------------------------------------------------- selection
    def copy(self, **changes: Any) -> "LandmarkSeries":
        """A deep copy, with ``changes`` applied to its fields."""
        fields = dict(
            positions=self.positions.copy(),
            confidence=self.confidence.copy(),
            frame_indices=self.frame_indices.copy(),
            attrs={k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in self.attrs.items()},
        )
        fields.update(changes)
        return replace(self, **fields)

    def select_keypoints(self, names: Sequence[str]) -> "LandmarkSeries":
        """The series restricted to ``names``, in that order."""
        idx = [self.keypoint_index(n) for n in names]
        attrs = {
            k: (v[:, idx] if k in PER_KEYPOINT_ATTRS and isinstance(v, np.ndarray) else v)
            for k, v in self.attrs.items()
        }
        return replace(
            self,
            positions=self.positions[:, idx],
            confidence=self.confidence[:, idx],
            keypoints=tuple(names),
            attrs=attrs,
        )

    def select_frames(self, rows: slice | np.ndarray | Iterable[int]) -> "LandmarkSeries":
        """The series restricted to rows ``rows`` (a slice, boolean mask or indices)."""
        if not isinstance(rows, slice):
            rows = np.asarray(list(rows) if not isinstance(rows, np.ndarray) else rows)
        attrs = {
            k: (v[rows] if isinstance(v, np.ndarray) and v.shape[:1] == (self.n_frames,) else v)
            for k, v in self.attrs.items()
        }
        return replace(
            self,
            positions=self.positions[rows],
            confidence=self.confidence[rows],
            frame_indices=self.frame_indices[rows],
            attrs=attrs,
        )

    def masked(self, min_confidence: float) -> "LandmarkSeries":
        """A copy where points with confidence below ``min_confidence`` are NaN."""
        out = self.copy()
        low = ~(out.confidence >= min_confidence)
        out.positions[low] = np.nan
        out.confidence[np.isnan(out.positions).any(axis=2)] = np.nan
        return out

    # ------------------------------------------------------------ DataFrame
    def to_dataframe(self) -> pd.DataFrame:
        """Tidy table: one row per frame and keypoint.

        Columns ``frame, time_s, keypoint, x, y[, z], confidence`` and
        ``camera``. Missing points keep their row with NaN coordinates.

        See Also
        --------
        from_dataframe : the inverse.
        """
        n_frames, n_keypoints, n_dims = self.positions.shape
        frame_col = np.repeat(self.frame_indices, n_keypoints)
        table = {
            "frame": frame_col,
            "time_s": frame_col / self.fps,
            "keypoint": pd.Categorical(
                np.tile(np.array(self.keypoints, dtype=object), n_frames), categories=self.keypoints
            ),
        }
        flat = self.positions.reshape(-1, n_dims)
        for d in range(n_dims):
            table[COORD_NAMES[d]] = flat[:, d]
        table["confidence"] = self.confidence.reshape(-1)
        table["camera"] = self.camera
        return pd.DataFrame(table)

    @classmethod
    def from_dataframe(
        cls,
        table: pd.DataFrame,
        fps: float,
        skeleton: Sequence[tuple[str, str]] = (),
        camera: str | None = None,
        source: str | Path | None = None,
    ) -> "LandmarkSeries":
        """Build a series from a tidy table as :meth:`to_dataframe` writes.

        Rows may come in any order and need not be complete: absent
        (frame, keypoint) pairs become NaN.
        """
        required = {"frame", "keypoint", "x", "y"}
        missing = required - set(table.columns)
        if missing:
            raise DataError(f"table lacks columns {sorted(missing)}; it has {list(table.columns)}")
        dims = ["x", "y"] + (["z"] if "z" in table.columns else [])
        if isinstance(table["keypoint"].dtype, pd.CategoricalDtype):
            keypoints = tuple(str(k) for k in table["keypoint"].cat.categories)
        else:
            keypoints = tuple(dict.fromkeys(str(k) for k in table["keypoint"]))
        if camera is None and "camera" in table.columns and len(table):
            value = table["camera"].iloc[0]
            camera = None if pd.isna(value) else str(value)
        return cls.from_points(
            table[dims].to_numpy(dtype=np.float64),
            table["frame"].to_numpy(dtype=np.int64),
            table["keypoint"].to_numpy(dtype=object),
            keypoints,
            confidence=table["confidence"].to_numpy(dtype=np.float64) if "confidence" in table.columns else None,
            fps=fps,
            skeleton=skeleton,
            camera=camera,
            source=source,
        )

    @classmethod
    def from_points(
        cls,
        coordinates: np.ndarray,
        frame_per_point: np.ndarray,
        keypoint_per_point: Sequence[str] | np.ndarray,
        keypoints: Sequence[str],
        confidence: np.ndarray | None = None,
        frame_indices: np.ndarray | None = None,
        fps: float = 30.0,
        skeleton: Sequence[tuple[str, str]] = (),
        camera: str | None = None,
        source: str | Path | None = None,
    ) -> "LandmarkSeries":
        """Build a series from points given one by one, in any order.

        The long form that a tidy table (:meth:`from_dataframe`) and a napari
        points layer (:func:`~napari_facehmm._napari.convert.points_to_series`)
        both hold: each point names its frame and keypoint. (frame, keypoint)
        pairs without a point become NaN.

        Parameters
        ----------
        coordinates
            ``(N, n_dims)`` position of each point (x, y[, z]).
        frame_per_point
            ``(N,)`` frame number of each point.
        keypoint_per_point
            ``(N,)`` keypoint name of each point.
        keypoints
            Keypoint names of the series, in order.
        confidence
            ``(N,)`` confidence of each point; 1 when None.
        frame_indices
            ``(T,)`` frames of the series, in any order; the sorted unique
            frames of the points when None. Frames without any point
            become all-NaN rows.
        fps, skeleton, camera, source
            Passed to :class:`LandmarkSeries`.

        Raises
        ------
        DataError
            A point names a keypoint not in ``keypoints``, lies on a frame
            not in ``frame_indices``, or the lengths disagree.
        """
        coordinates = np.asarray(coordinates, dtype=np.float64)
        frames = np.asarray(frame_per_point, dtype=np.int64)
        names = np.asarray(keypoint_per_point, dtype=object)
        if names.shape != (len(coordinates),):
            raise DataError(f"{len(names)} keypoint names for {len(coordinates)} points")
        if frames.shape != (len(coordinates),):
            raise DataError(f"{len(frames)} frame numbers for {len(coordinates)} points")
        keypoints = tuple(str(k) for k in keypoints)
        index = {k: i for i, k in enumerate(keypoints)}
        unknown = sorted({str(n) for n in names} - set(index))
        if unknown:
            raise DataError(f"points name keypoints {unknown} that are not in {list(keypoints)}")
        if frame_indices is None:
            frame_indices = np.unique(frames)
        frame_indices = np.asarray(frame_indices, dtype=np.int64)
        order = np.argsort(frame_indices, kind="stable")
        position_in_sorted = np.searchsorted(frame_indices[order], frames)
        position_in_sorted = np.clip(position_in_sorted, 0, len(frame_indices) - 1)
        rows = order[position_in_sorted] if len(frame_indices) else position_in_sorted
        if len(frames) and (len(frame_indices) == 0 or np.any(frame_indices[rows] != frames)):
            raise DataError("some points lie on frames that are not in the series' frame_indices")
        cols = np.array([index[str(n)] for n in names], dtype=np.int64)
        positions = np.full((len(frame_indices), len(keypoints), coordinates.shape[1]), np.nan)
        point_confidence = np.full((len(frame_indices), len(keypoints)), np.nan)
        positions[rows, cols] = coordinates
        point_confidence[rows, cols] = 1.0 if confidence is None else np.asarray(confidence, dtype=np.float64)
        return cls(
            positions=positions,
            keypoints=keypoints,
            confidence=point_confidence,
            skeleton=tuple(skeleton),
            fps=fps,
            frame_indices=frame_indices,
            camera=camera,
            source=source,
        )
