"""``facehmm export --to video``: the session video with the decoded states drawn on it.

:func:`write_states_video` reads a session folder (``videos-raw/<name>-<cam>.mp4``
and ``pose-2d/<name>-<cam>.h5``, the layout ``facehmm synth`` and ``facehmm run``
write) and its analysis folder (``states.csv``, ``summary.json``,
``state_stats.csv``), and writes one H.264 video: every camera side by side,
the landmarks as dots in the colour of the frame's state over the face
skeleton, the state's name in the top-left corner and a scrolling ethogram
strip below. Frames are read with :class:`~napari_facehmm.io.video.VideoReader`,
drawn with OpenCV (:mod:`.video_draw`) and encoded a frame at a time by
:class:`~napari_facehmm.io.video_writer.VideoWriter` (in place only when complete).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Generator

import numpy as np
import pandas as pd

from ..errors import DataError, FileFormatError
from ..progress import Progress

__all__ = ["AnalysisStates", "read_analysis_states", "session_cameras", "write_states_video"]

_VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv")
_POSE_SUFFIXES = (".h5", ".csv")


@dataclass(frozen=True)
class AnalysisStates:
    """The decoded states of an analysis folder: ``frames`` (video frame of each row), ``states`` (-1 = none), names."""

    frames: np.ndarray
    states: np.ndarray
    n_states: int
    names: tuple[str, ...]

    def per_frame(self, n_frames: int) -> np.ndarray:
        """``(n_frames,)`` state of every video frame, -1 where the analysis has none."""
        out = np.full(int(n_frames), -1, dtype=np.int64)
        inside = (self.frames >= 0) & (self.frames < n_frames)
        out[self.frames[inside]] = self.states[inside]
        return out


def read_analysis_states(analysis_dir: str | Path) -> AnalysisStates:
    """Read ``states.csv`` (and the state count and names) of an analysis folder.

    Raises
    ------
    DataError
        The folder or its ``states.csv`` is missing.
    FileFormatError
        ``states.csv`` lacks the ``frame``/``state`` columns.
    """
    folder = Path(analysis_dir)
    path = folder / "states.csv"
    if not path.is_file():
        raise DataError(f"{folder}: no analysis here (states.csv is missing); run facehmm analyze first")
    table = pd.read_csv(path)
    if not {"frame", "state"} <= set(table.columns):
        raise FileFormatError(path, f"needs the columns frame and state; has {list(table.columns)}")
    frames = table["frame"].to_numpy(dtype=np.int64)
    states = table["state"].fillna(-1).to_numpy(dtype=np.int64)
    n_states = int(states.max()) + 1 if len(states) else 0
    summary_path = folder / "summary.json"
    if summary_path.is_file():
        n_states = max(n_states, int(json.loads(summary_path.read_text()).get("n_states", n_states)))
    names = [f"state {s}" for s in range(n_states)]
    stats_path = folder / "state_stats.csv"
    if stats_path.is_file():
        stats = pd.read_csv(stats_path)
        if {"state", "name"} <= set(stats.columns):
            for state, name in zip(stats["state"], stats["name"]):
                if 0 <= int(state) < n_states and isinstance(name, str):
                    names[int(state)] = name
    return AnalysisStates(frames, states, n_states, tuple(names))


def session_cameras(session_dir: str | Path) -> dict[str, tuple[Path, Path | None]]:
    """``{camera: (video, 2D landmark file or None)}`` of a session folder, cameras sorted by name.

    Raises
    ------
    DataError
        No such folder, or no video in its ``videos-raw/``.
    """
    from ..tracking.anipose.layout import files_by_camera

    folder = Path(session_dir)
    if not folder.is_dir():
        raise DataError(f"{folder}: no such session folder")
    videos = files_by_camera(folder / "videos-raw", _VIDEO_SUFFIXES)
    if not videos:
        raise DataError(f"{folder}: no video in videos-raw/ (a session folder as facehmm synth writes it)")
    poses = files_by_camera(folder / "pose-2d", _POSE_SUFFIXES)
    return {camera: (videos[camera], poses.get(camera)) for camera in sorted(videos)}


def _landmarks(path: Path, n_frames: int, fps: float) -> tuple[np.ndarray, tuple[str, ...], tuple]:
    """``(n_frames, K, 2)`` pixel positions by video frame (NaN where none), keypoint names, skeleton."""
    from ..io.dlc import read_dlc_analysis

    series = read_dlc_analysis(path, fps=fps)
    if series.frame_indices.max(initial=-1) >= n_frames:
        raise DataError(
            f"{path.name} tracks frame {int(series.frame_indices.max())} but its video has {n_frames} frames"
        )
    xy = np.full((n_frames, series.n_keypoints, 2), np.nan)
    xy[series.frame_indices] = series.positions[:, :, :2]
    return xy, series.keypoints, series.skeleton


def _edges(keypoints: tuple[str, ...], skeleton: tuple) -> np.ndarray:
    from .. import face

    index = {name: k for k, name in enumerate(keypoints)}
    pairs = skeleton or face.FACE_SKELETON
    edges = [(index[a], index[b]) for a, b in pairs if a in index and b in index]
    return np.array(edges, dtype=np.intp).reshape(-1, 2)


def write_states_video(
    session_dir: str | Path,
    analysis_dir: str | Path,
    out_path: str | Path,
    *,
    cameras: list[str] | None = None,
    overwrite: bool = False,
    window_s: float = 10.0,
    radius: int | None = None,
    crf: int = 23,
    preset: str = "veryfast",
    encode: bool = True,
) -> Generator[Progress, None, Path]:
    """Write the session's video(s) with the states drawn on them; a generator of ``(done, total, message)``.

    Parameters
    ----------
    session_dir
        Session folder (``videos-raw/``, ``pose-2d/``).
    analysis_dir
        That session's analysis folder (``states.csv``).
    out_path
        Output video (``.mp4``); refused when it exists unless ``overwrite``.
    cameras
        Cameras to show, side by side in this order; all of the session's when None.
    window_s
        Seconds of states the ethogram strip shows.
    radius
        Landmark dot radius in pixels; about 1 % of the frame height when None.
    crf, preset
        libx264 quality and speed.
    encode
        False draws every frame but encodes nothing (for the benchmark); nothing is written.

    Returns
    -------
    Path
        ``out_path``. Closing the generator early (Cancel) leaves nothing behind.

    Raises
    ------
    DataError
        A missing session, analysis or camera; an output that exists; an
        analysis whose frames do not fit the video (another session's).
    """
    from ..io.video import VideoReader
    from ..io.video_writer import VideoWriter
    from .video_draw import StripRenderer, draw_landmarks, draw_state_label, palette_rgb8

    out_path = Path(out_path)
    if out_path.exists() and not overwrite:
        raise DataError(f"{out_path} exists; choose another name or overwrite it")
    found = session_cameras(session_dir)
    names = cameras or list(found)
    unknown = [c for c in names if c not in found]
    if unknown:
        raise DataError(f"{session_dir}: no video of camera(s) {unknown}; the session has {list(found)}")
    analysis = read_analysis_states(analysis_dir)
    readers = [VideoReader(found[c][0]) for c in names]
    try:
        n_frames = min(len(r) for r in readers)
        fps = readers[0].fps
        last = int(analysis.frames.max(initial=-1))
        if last >= n_frames:
            raise DataError(
                f"{analysis_dir}: states.csv reaches frame {last} but the session's video has {n_frames} frames; "
                "is this the analysis of another session?"
            )
        states = analysis.per_frame(n_frames)
        tracks = [_landmarks(found[c][1], n_frames, fps) if found[c][1] else None for c in names]
        edges = [_edges(t[1], t[2]) if t else None for t in tracks]
        height = readers[0].height
        widths = [int(round(r.width * height / r.height)) for r in readers]
        width = sum(widths)
        strip = StripRenderer(states, analysis.n_states, fps, width, max(24, height // 8), window_s)
        palette = palette_rgb8(analysis.n_states)
        dot = int(radius) if radius else max(2, int(round(height / 100)))
        scale = max(0.4, height / 600)
        labels = list(analysis.names) + ["no state"]
        writer = VideoWriter(out_path, fps, crf=crf, preset=preset) if encode else None
        try:
            canvas = np.empty((height + strip.height, width, 3), dtype=np.uint8)
            step = max(1, n_frames // 100)
            for i in range(n_frames):
                if i % step == 0:
                    yield i, n_frames, f"frame {i}/{n_frames}"
                state = int(states[i]) if 0 <= states[i] < analysis.n_states else analysis.n_states
                color = palette[state]
                x = 0
                for c, reader in enumerate(readers):
                    image = reader.get_frame(i, copy=True)
                    if image.ndim == 2:
                        image = np.repeat(image[:, :, None], 3, axis=2)
                    if tracks[c] is not None:
                        draw_landmarks(image, tracks[c][0][i], color, edges[c], dot)
                    if image.shape[:2] != (height, widths[c]):
                        import cv2

                        image = cv2.resize(image, (widths[c], height), interpolation=cv2.INTER_AREA)
                    canvas[:height, x : x + widths[c]] = image
                    x += widths[c]
                draw_state_label(canvas, labels[state], tuple(int(v) for v in color), scale)
                canvas[height:] = strip.render(i)
                if writer is not None:
                    writer.write(canvas)
        except BaseException:
            if writer is not None:
                writer.abort()
            raise
        if writer is not None:
            writer.close()
    finally:
        for reader in readers:
            reader.close()
    yield n_frames, n_frames, f"wrote {out_path.name}"
    return out_path
