"""From a frame to its state, one frame at a time: tracker, features, online decoding.

:class:`LiveAnalyzer` runs, per frame, the built-in face tracker
(:class:`~napari_facehmm.tracking.facemesh.FaceMeshTracker`), the model's own
feature code on a short window of recent frames
(:func:`~napari_facehmm.analysis.features_for_model`: the same settings, rigid
template and scaler as offline; head speed from the window's last frames), and
:class:`~napari_facehmm.hmm.online.OnlineDecoder` (filtering, or a fixed lag).
Qt-free: the CLI, the Live dock and the tests share it.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field

import numpy as np

from ..data import LandmarkSeries
from ..errors import DataError
from ..face import FACE_KEYPOINTS, FACE_SKELETON
from ..hmm.online import Decided, OnlineDecoder
from .source import Frame

__all__ = ["LiveAnalyzer", "LiveUpdate", "check_live_model", "FEATURE_WINDOW"]

#: frames of history the features are computed on (head speed needs a few,
#: gap filling up to the model's ``max_gap_frames``)
FEATURE_WINDOW = 12


@dataclass
class LiveUpdate:
    """What one processed frame gives.

    Attributes
    ----------
    frame
        The frame's number in the source.
    landmarks
        ``(21, 2)`` pixels (NaN where no face).
    presence
        Face presence score (0 where no face).
    decided
        The frames whose state was decided now (this frame with lag 0, the
        frame ``lag`` frames back otherwise).
    latency_s
        From the frame's capture to its update.
    captured_s
        ``time.perf_counter()`` when the frame was captured (a display adds
        its own time to say when the state was shown).
    """

    frame: int
    landmarks: np.ndarray
    presence: float
    decided: list[Decided] = field(default_factory=list)
    latency_s: float = 0.0
    captured_s: float = 0.0


def check_live_model(model) -> None:
    """Refuse a model live tracking cannot feed: other landmarks than the built-in 21, or 3D.

    Raises
    ------
    DataError
        Naming what the model was fit on.
    """
    metadata = getattr(model, "metadata", None) or {}
    keypoints = metadata.get("keypoints")
    n_dims = metadata.get("n_dims")
    if getattr(model, "model_", None) is None:
        raise DataError("live decoding needs a fitted model (fit one, or load a saved model)")
    if not metadata.get("features") and not metadata.get("feature_settings"):
        raise DataError("this model stores no feature settings; fit it with facehmm analyze or facehmm run")
    if n_dims is not None and int(n_dims) != 2:
        raise DataError(
            f"the model was fit on {n_dims}D landmarks; live tracking gives 2D landmarks of one camera "
            "(fit a model on one camera's 2D tracks, e.g. facehmm run VIDEO)"
        )
    if keypoints is not None and not set(keypoints) <= set(FACE_KEYPOINTS):
        others = [k for k in keypoints if k not in FACE_KEYPOINTS]
        raise DataError(
            f"the model was fit on other landmarks ({', '.join(others[:6])}...); live tracking gives the "
            f"built-in face model's {len(FACE_KEYPOINTS)} landmarks (fit with facehmm run VIDEO)"
        )


class LiveAnalyzer:
    """The state of each frame as it comes.

    Parameters
    ----------
    model
        A fitted :class:`~napari_facehmm.hmm.FaceHMM` fit on the built-in
        tracker's 2D landmarks (``facehmm run VIDEO`` writes one).
    lag
        Frames to wait before deciding a frame's state (0: at once).
    fps
        The source's frame rate (for head speed).
    tracker
        A :class:`FaceMeshTracker` (default: a new one, closed by :meth:`close`).
    """

    def __init__(self, model, lag: int = 0, fps: float = 30.0, tracker=None):
        check_live_model(model)
        self.model = model
        self.decoder = OnlineDecoder(model, lag=lag)
        self.fps = float(fps)
        if tracker is None:
            from ..tracking.facemesh import FaceMeshTracker

            tracker = FaceMeshTracker()
            self._owns_tracker = True
        else:
            self._owns_tracker = False
        self.tracker = tracker
        self._window: deque = deque(maxlen=FEATURE_WINDOW)
        self._last_frame: int | None = None

    def landmarks(self, image: np.ndarray) -> tuple[np.ndarray, float]:
        """``(21, 2)`` landmarks of the largest face in ``image`` (NaN if none) and its presence score."""
        return self.landmarks_of(self.tracker, image)

    @staticmethod
    def landmarks_of(tracker, image: np.ndarray) -> tuple[np.ndarray, float]:
        """:meth:`landmarks` with a given :class:`FaceMeshTracker`."""
        from ..tracking.facemesh import mesh_to_landmarks

        faces = tracker.process(image)
        if not faces.n_faces:
            return np.full((len(FACE_KEYPOINTS), 2), np.nan), 0.0
        chosen = faces.largest() if faces.n_faces > 1 else 0
        return mesh_to_landmarks(faces.vertices_px[chosen]), float(faces.presence[chosen])

    def features(self) -> np.ndarray | None:
        """The newest frame's feature row from the window (None when it has none)."""
        from ..analysis import features_for_model

        frames = np.array([f for f, _, _ in self._window])
        positions = np.stack([p for _, p, _ in self._window])
        if not np.isfinite(positions[-1]).any():
            return None
        confidence = np.array([[c] * positions.shape[1] for _, _, c in self._window])
        series = LandmarkSeries(
            positions=positions, keypoints=FACE_KEYPOINTS, confidence=confidence, skeleton=FACE_SKELETON,
            fps=self.fps, frame_indices=frames,
        )
        try:
            matrix = features_for_model(series, self.model)
        except DataError:
            return None  # too few frames with a face in the window yet
        if not matrix.valid[-1]:
            return None
        return matrix.values[-1]

    def process(self, frame: Frame) -> LiveUpdate:
        """Track, build features and decode one frame."""
        if self._last_frame is not None and frame.number <= self._last_frame:
            raise DataError(f"frames must come in order; got frame {frame.number} after {self._last_frame}")
        # a dropped frame is a step without evidence, so the decoder's frame numbers are the source's
        # (and a hole in the features' window, which their gap filling bridges as for a lost face)
        decided = []
        for missing in range(self.decoder.frames_pushed, frame.number):
            decided += self.decoder.push(None)
            self._window.append((missing, np.full((len(FACE_KEYPOINTS), 2), np.nan), 0.0))
        landmarks, presence = self.landmarks(frame.image)
        self._window.append((frame.number, landmarks, presence))
        self._last_frame = frame.number
        decided += self.decoder.push(self.features())
        return LiveUpdate(
            frame.number, landmarks, presence, decided, time.perf_counter() - frame.captured_s, frame.captured_s
        )

    def finish(self) -> list[Decided]:
        """The frames still waiting for their lag, decided with what came after them."""
        return self.decoder.flush()

    def close(self) -> None:
        if self._owns_tracker:
            self.tracker.close()

    def __enter__(self) -> "LiveAnalyzer":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
