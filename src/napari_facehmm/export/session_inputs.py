"""What an export reads: a session folder's tracks and its analysis folder's states, checked together.

:func:`read_export_inputs` gathers, before any file is written, everything
the NWB and movement exports hold: every camera's 2D track
(``pose-2d/<session>-<camera>.h5``, DeepLabCut), the 3D track
(``pose-3d/<session>.csv``, Anipose) when the session has one, the
calibration, and the analysis folder's per-frame states, state names,
``summary.json`` and ``model.json``. Tracks are put on every frame of the
session (``0..n_frames-1``, NaN where a file has no row), so the files
written hold one row per video frame and times ``frame / fps``.

Refused with a :class:`~napari_facehmm.errors.DataError` naming the file: a
missing session or analysis folder or ``states.csv``, a session with no
track, and an analysis whose frame count is not the session's (the analysis
of another session).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..data import LandmarkSeries
from ..errors import DataError
from .video import AnalysisStates, read_analysis_states

__all__ = ["ExportInputs", "read_export_inputs", "on_every_frame", "check_output_file", "TRACK_3D"]

#: the name of the 3D track among the tracks of a session (cameras use their names)
TRACK_3D = "3d"

_VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv")


@dataclass(eq=False)
class ExportInputs:
    """A session's tracks and its analysis, on the session's frames.

    Attributes
    ----------
    session
        Session name (the file names' stem before ``-<camera>``, else the folder's name).
    n_frames, fps
        Frames of the session and its frame rate (the videos', else the analysis's).
    tracks
        ``{camera: 2D series, ..., "3d": 3D series}``, cameras sorted by name;
        each with ``positions (n_frames, K, D)`` on frames ``0..n_frames-1``.
    sources
        The file each track was read from, by track name.
    states
        ``(n_frames,)`` decoded state of each frame, -1 where none.
    state_probability
        ``(n_frames,)`` probability of that state, NaN where none (or not in ``states.csv``).
    state_names
        Name of each state, ``state_names[k]`` for state ``k``.
    summary, model
        ``summary.json`` and ``model.json`` of the analysis (empty dict when absent).
    calibration
        The session's :class:`~napari_facehmm.io.anipose.Calibration`, or None.
    """

    session: str
    session_dir: Path
    analysis_dir: Path
    n_frames: int
    fps: float
    tracks: dict[str, LandmarkSeries]
    sources: dict[str, Path]
    states: np.ndarray
    state_probability: np.ndarray
    state_names: tuple[str, ...]
    summary: dict[str, Any] = field(default_factory=dict)
    model: dict[str, Any] = field(default_factory=dict)
    calibration: Any = None

    @property
    def cameras(self) -> list[str]:
        """Names of the 2D tracks' cameras."""
        return [name for name in self.tracks if name != TRACK_3D]

    @property
    def primary_track(self) -> str:
        """The track exports put first: the 3D one when the session has it, else the first camera's."""
        return TRACK_3D if TRACK_3D in self.tracks else self.cameras[0]

    def track(self, name: str | None = None) -> LandmarkSeries:
        """The track ``name`` (a camera or ``"3d"``; the primary one when None)."""
        name = name or self.primary_track
        if name not in self.tracks:
            raise DataError(f"{self.session_dir}: no track {name!r}; the session has {list(self.tracks)}")
        return self.tracks[name]


def check_output_file(out_path: str | Path, suffix: str, what: str, overwrite: bool) -> Path:
    """``out_path`` as a Path, or :class:`DataError`: wrong suffix, no such folder, a folder, or existing unless ``overwrite``."""
    out_path = Path(out_path)
    if out_path.suffix.lower() != suffix:
        raise DataError(f"{out_path}: {what}'s name ends in {suffix}")
    if not out_path.parent.is_dir():
        raise DataError(f"{out_path.parent}: no such folder for the output")
    if out_path.is_dir():
        raise DataError(f"{out_path} is a folder; give a file name ending in {suffix}")
    if out_path.exists() and not overwrite:
        raise DataError(f"{out_path} exists; choose another name or overwrite it (--overwrite)")
    return out_path


def on_every_frame(series: LandmarkSeries, n_frames: int) -> LandmarkSeries:
    """``series`` with one row per frame ``0..n_frames-1``: NaN positions and confidence where it has no row.

    Per-frame ``attrs`` arrays (Anipose's ``error``, ``ncams``...) follow,
    NaN-filled; rows at frames ``>= n_frames`` are dropped.
    """
    inside = (series.frame_indices >= 0) & (series.frame_indices < n_frames)
    frames = series.frame_indices[inside]
    positions = np.full((n_frames, series.n_keypoints, series.n_dims), np.nan)
    positions[frames] = series.positions[inside]
    confidence = np.full((n_frames, series.n_keypoints), np.nan)
    confidence[frames] = series.confidence[inside]
    attrs: dict[str, Any] = {}
    for key, value in series.attrs.items():
        if isinstance(value, np.ndarray) and value.shape[:1] == (series.n_frames,):
            filled = np.full((n_frames, *value.shape[1:]), np.nan)
            filled[frames] = value[inside]
            attrs[key] = filled
        else:
            attrs[key] = value
    return series.copy(
        positions=positions, confidence=confidence, frame_indices=np.arange(n_frames), attrs=attrs
    )


def _json(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    try:
        value = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise DataError(f"{path}: not readable JSON ({error})") from None
    return value if isinstance(value, dict) else {}


def _session_name(paths: list[Path], folder: Path) -> str:
    from ..tracking.anipose.layout import DEFAULT_CAM_REGEX, session_name_from_path

    for path in paths:
        name = session_name_from_path(path, DEFAULT_CAM_REGEX)
        if name:
            return name
    return folder.name


def _video_frames_and_fps(videos: dict[str, Path]) -> tuple[int | None, float | None]:
    if not videos:
        return None, None
    from ..io.video import VideoReader

    counts, fps = [], None
    for path in videos.values():
        with VideoReader(path) as reader:
            counts.append(len(reader))
            fps = fps or float(reader.fps)
    return min(counts), fps


def _state_probability(analysis_dir: Path, n_frames: int) -> np.ndarray:
    out = np.full(n_frames, np.nan)
    table = pd.read_csv(analysis_dir / "states.csv")
    if "state_probability" in table.columns:
        frames = table["frame"].to_numpy(dtype=np.int64)
        inside = (frames >= 0) & (frames < n_frames)
        out[frames[inside]] = table["state_probability"].to_numpy(dtype=np.float64)[inside]
    return out


def _check_same_session(analysis: AnalysisStates, summary: dict, analysis_dir: Path, session_dir: Path, n_frames: int) -> None:
    analysis_frames = int(analysis.frames.max(initial=-1)) + 1
    if "n_frames" in summary:
        analysis_frames = max(analysis_frames, int(summary["n_frames"]))
    if analysis_frames != n_frames:
        raise DataError(
            f"{analysis_dir / 'states.csv'} covers {analysis_frames} frames but the session {session_dir} has "
            f"{n_frames}: is this the analysis of another session? Give the analysis folder of this session"
        )


def read_export_inputs(session_dir: str | Path, analysis_dir: str | Path) -> ExportInputs:
    """Read and check a session folder and its analysis folder for an export.

    Parameters
    ----------
    session_dir
        Session folder (``pose-2d/``, optional ``pose-3d/``, ``videos-raw/``,
        ``calibration/``: the layout ``facehmm synth`` and ``facehmm run`` write).
    analysis_dir
        That session's analysis folder (``states.csv``; ``summary.json``,
        ``model.json`` and ``state_stats.csv`` when there).

    Raises
    ------
    DataError
        See the module's docstring.
    FileFormatError
        A track or table that cannot be read (names the file).
    """
    from ..face import FACE_SKELETON
    from ..io.anipose import read_calibration, read_pose3d
    from ..io.dlc import read_dlc_analysis
    from ..tracking.anipose.layout import files_by_camera

    session_dir, analysis_dir = Path(session_dir), Path(analysis_dir)
    if not session_dir.is_dir():
        raise DataError(f"{session_dir}: no such session folder")
    if not analysis_dir.is_dir():
        raise DataError(f"{analysis_dir}: no such analysis folder (run facehmm analyze first)")
    analysis = read_analysis_states(analysis_dir)
    summary = _json(analysis_dir / "summary.json")
    model = _json(analysis_dir / "model.json")
    pose2d = files_by_camera(session_dir / "pose-2d", (".h5",)) or files_by_camera(session_dir / "pose-2d", (".csv",))
    pose3d_files = sorted((session_dir / "pose-3d").glob("*.csv")) if (session_dir / "pose-3d").is_dir() else []
    if not pose2d and not pose3d_files:
        raise DataError(f"{session_dir}: no landmark track (pose-2d/*.h5 or pose-3d/*.csv) to export")
    videos = files_by_camera(session_dir / "videos-raw", _VIDEO_SUFFIXES)
    video_frames, video_fps = _video_frames_and_fps(videos)
    fps = video_fps or float(summary.get("fps") or model.get("metadata", {}).get("fps") or 30.0)
    session = _session_name(list(pose2d.values()) + list(videos.values()), session_dir)
    pose3d_path = next((p for p in pose3d_files if p.stem == session), pose3d_files[0] if pose3d_files else None)

    raw: dict[str, LandmarkSeries] = {}
    sources: dict[str, Path] = {}
    for camera in sorted(pose2d):
        raw[camera] = read_dlc_analysis(pose2d[camera], fps=fps).copy(camera=camera)
        sources[camera] = pose2d[camera]
    if pose3d_path is not None:
        raw[TRACK_3D] = read_pose3d(pose3d_path, fps=fps)
        sources[TRACK_3D] = pose3d_path
    lengths = [int(s.frame_indices.max(initial=-1)) + 1 for s in raw.values()]
    n_frames = video_frames if video_frames is not None else max(lengths)
    _check_same_session(analysis, summary, analysis_dir, session_dir, n_frames)
    tracks = {
        name: on_every_frame(series, n_frames).copy(skeleton=series.skeleton or FACE_SKELETON)
        for name, series in raw.items()
    }
    calibration_path = session_dir / "calibration" / "calibration.toml"
    return ExportInputs(
        session=session,
        session_dir=session_dir,
        analysis_dir=analysis_dir,
        n_frames=n_frames,
        fps=fps,
        tracks=tracks,
        sources=sources,
        states=analysis.per_frame(n_frames),
        state_probability=_state_probability(analysis_dir, n_frames),
        state_names=analysis.names,
        summary=summary,
        model=model,
        calibration=read_calibration(calibration_path) if calibration_path.is_file() else None,
    )
