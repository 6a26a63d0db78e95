"""Live without a model: record the first stretch of the call, fit on it, then go live.

:func:`calibrate_model` takes the frames of a started :class:`FrameSource`
for ``seconds``, tracks each with the built-in face tracker, and fits the
model exactly as ``facehmm run`` does on a video
(:func:`~napari_facehmm.analysis.run_analysis` with the default feature
settings), yielding progress. The source keeps capturing while the model is
fitted; the live loop starts from the newest frame after it.
"""

from __future__ import annotations

import time
from typing import Generator

import numpy as np

from ..data import LandmarkSeries
from ..errors import DataError
from ..face import FACE_KEYPOINTS, FACE_SKELETON
from ..progress import Progress
from .source import FrameSource

__all__ = ["calibrate_model", "MIN_CALIBRATION_S"]

#: shorter than this, a fit has too few frames to mean anything
MIN_CALIBRATION_S = 5.0


def calibrate_model(
    source: FrameSource,
    seconds: float = 60.0,
    n_states: int = 9,
    n_restarts: int = 1,
    tracker=None,
) -> Generator[Progress, None, object]:
    """Track ``seconds`` of ``source`` and fit a model on them; a progress generator returning the model.

    Raises
    ------
    DataError
        ``seconds`` below :data:`MIN_CALIBRATION_S`, the source ended first,
        or no face in the calibration frames (the message says how many).
    """
    from ..analysis import run_analysis
    from ..tracking.facemesh import FaceMeshTracker
    from .analyzer import LiveAnalyzer

    if not seconds >= MIN_CALIBRATION_S:
        raise DataError(f"calibration needs at least {MIN_CALIBRATION_S:g} s of video; got {seconds:g}")
    n_wanted = int(round(seconds * source.fps))
    owns_tracker = tracker is None
    tracker = tracker or FaceMeshTracker()
    numbers, landmarks, presence = [], [], []
    try:
        source.start()
        started = time.perf_counter()
        yield 0, n_wanted, f"calibration: recording {seconds:g} s from {source.name}"
        while time.perf_counter() - started < seconds:
            frame = source.next_frame()
            if frame is None:
                raise DataError(
                    f"{source.name} ended after {len(numbers)} frames, before the {seconds:g} s of calibration"
                )
            points, score = LiveAnalyzer.landmarks_of(tracker, frame.image)
            numbers.append(frame.number)
            landmarks.append(points)
            presence.append(score)
            if len(numbers) % 15 == 0:
                yield min(len(numbers), n_wanted), n_wanted, f"calibration: frame {len(numbers)}"
    finally:
        if owns_tracker:
            tracker.close()
    n_face = int(np.count_nonzero(np.asarray(presence) > 0))
    if n_face < 3 * n_states:
        raise DataError(
            f"calibration: a face in {n_face} of {len(numbers)} frames; look at the camera and try again"
        )
    # one row per source frame, NaN for frames dropped while tracking: the features' gap filling bridges them
    first = numbers[0]
    positions = np.full((numbers[-1] - first + 1, len(FACE_KEYPOINTS), 2), np.nan)
    confidence = np.zeros(positions.shape[:2])
    rows = np.asarray(numbers) - first
    positions[rows] = np.stack(landmarks)
    confidence[rows] = np.asarray(presence)[:, None]
    series = LandmarkSeries(positions=positions, keypoints=FACE_KEYPOINTS, confidence=confidence,
                            skeleton=FACE_SKELETON, fps=source.fps, source=None)
    yield n_wanted, n_wanted, f"calibration: fitting {n_states} states on {len(numbers)} frames"
    result = yield from run_analysis(series, n_states, n_restarts=n_restarts, figures=False)
    return result.model
