"""Keeping a live run as a session folder that ``facehmm view`` and ``facehmm analyze`` open.

Layout (the one ``facehmm run`` writes for one camera)::

    DIR/videos-raw/live-camA.mp4     the frames shown (dropped frames are not in it)
    DIR/pose-2d/live-camA.h5         the landmarks, DeepLabCut's analysis format (scorer FaceMesh)
    DIR/states.csv                   frame, time_s, state, state_probability (as facehmm analyze)
    DIR/live.json                    source, model, lag, frames shown and dropped, latency
    DIR/model.json, model.npz        the model, when it was fitted in a calibration phase

``frame`` is the number of the frame in the recorded video. The folder is
built hidden beside ``DIR`` and appears whole when the recording ends, also
when it ends because the camera stopped: what was recorded is kept. Only an
interruption of the writing itself (Ctrl+C while saving) leaves ``DIR`` as it
was.
"""

from __future__ import annotations

import json
from contextlib import ExitStack
from pathlib import Path

import numpy as np
import pandas as pd

from ..data import LandmarkSeries
from ..errors import DataError
from ..face import FACE_KEYPOINTS, FACE_SKELETON
from ..hmm.online import Decided

__all__ = ["LiveRecording", "RECORDING_NAMES", "SESSION", "CAMERA"]

SESSION = "live"
CAMERA = "camA"
#: what a recording folder holds (an earlier recording in DIR is replaced whole)
RECORDING_NAMES = ("videos-raw", "pose-2d", "states.csv", "live.json", "model.json", "model.npz")


class LiveRecording:
    """Frames, landmarks and states of a live run, saved as a session folder by :meth:`close`.

    Parameters
    ----------
    folder
        ``DIR``: created; an earlier recording there is replaced; a folder
        holding anything else is refused (nothing is written).
    fps
        The source's frame rate (the video's and the tables').
    """

    def __init__(self, folder: str | Path, fps: float):
        from ..io._atomic import results_folder
        from ..io.video_writer import VideoWriter

        self.folder = Path(folder)
        self.fps = float(fps)
        self._stack = ExitStack()
        self._staging = self._stack.enter_context(
            results_folder(self.folder, owned_names=RECORDING_NAMES, markers=("live.json",))
        )
        (self._staging / "videos-raw").mkdir()
        (self._staging / "pose-2d").mkdir()
        self.video_path = self._staging / "videos-raw" / f"{SESSION}-{CAMERA}.mp4"
        self._video = VideoWriter(self.video_path, self.fps, crf=20, preset="ultrafast")
        self._numbers: list[int] = []  # source frame number of each recorded frame
        self._landmarks: list[np.ndarray] = []
        self._presence: list[float] = []
        self._decided: dict[int, Decided] = {}
        self.closed = False

    @property
    def n_frames(self) -> int:
        return len(self._numbers)

    def add_frame(self, number: int, image: np.ndarray, landmarks: np.ndarray, presence: float) -> None:
        """One frame shown: its image, its ``(21, 2)`` landmarks (NaN: no face) and presence score."""
        self._video.write(image)
        self._numbers.append(int(number))
        self._landmarks.append(np.asarray(landmarks, dtype=float))
        self._presence.append(float(presence))

    def add_decided(self, decided: list[Decided]) -> None:
        """States decided (source frame numbers; frames never shown are ignored)."""
        for item in decided:
            self._decided[item.frame] = item

    def close(self, info: dict | None = None, model=None) -> Path | None:
        """Write the tables and move the folder into place; returns it (None when no frame was recorded).

        ``info`` goes into ``live.json`` (frames dropped, latency, ...);
        ``model`` (a model fitted in a calibration phase) is saved as
        ``model.json`` / ``model.npz``.
        """
        if self.closed:
            return self.folder if self.n_frames else None
        self.closed = True
        if not self.n_frames:
            self._video.abort()
            self._stack.__exit__(DataError, DataError("nothing recorded"), None)
            return None
        try:
            self._video.close()
            positions = np.stack(self._landmarks)
            presence = np.asarray(self._presence)
            series = LandmarkSeries(
                positions=positions,
                keypoints=FACE_KEYPOINTS,
                confidence=np.broadcast_to(presence[:, None], positions.shape[:2]).copy(),
                skeleton=FACE_SKELETON,
                fps=self.fps,
            )
            from ..io.dlc import write_dlc_analysis
            from ..tracking.facemesh import SCORER

            write_dlc_analysis(series, self._staging / "pose-2d" / f"{SESSION}-{CAMERA}.h5", scorer=SCORER)
            self.states_table().to_csv(self._staging / "states.csv", index=False)
            if model is not None:
                model.save(self._staging / "model")
            summary = {"n_frames": self.n_frames, "fps": self.fps, **(info or {})}
            (self._staging / "live.json").write_text(json.dumps(summary, indent=2, default=str) + "\n")
        except BaseException as error:
            self._video.abort()
            self._stack.__exit__(type(error), error, error.__traceback__)
            raise
        self._stack.close()  # the folder appears whole
        return self.folder

    def abort(self) -> None:
        """Drop the recording; ``DIR`` stays as it was."""
        if not self.closed:
            self.closed = True
            self._video.abort()
            self._stack.__exit__(DataError, DataError("recording aborted"), None)

    def states_table(self) -> pd.DataFrame:
        """``frame, time_s, state, state_probability`` of the recorded frames (empty state: none)."""
        states = [self._decided.get(n) for n in self._numbers]
        return pd.DataFrame(
            {
                "frame": np.arange(self.n_frames),
                "time_s": np.arange(self.n_frames) / self.fps,
                "state": pd.array([d.state if d is not None and d.state >= 0 else None for d in states], dtype="Int64"),
                "state_probability": [d.probability if d is not None and d.state >= 0 else np.nan for d in states],
            }
        )
