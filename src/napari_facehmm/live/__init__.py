"""Live: expression states while the person is on camera.

- :mod:`.source`: frames as a camera gives them (a webcam, or a video file at
  its own pace), newest frame only, dropped frames counted;
- :mod:`.analyzer`: per frame, the built-in face tracker, the model's
  features and online decoding (:mod:`napari_facehmm.hmm.online`);
- :mod:`.recording`: a live run kept as a session folder;
- :mod:`.runner`: the loop (:func:`run_live`), a generator the CLI and the
  dock drive and stop alike.

Qt-free; the ``facehmm live`` command and the Live dock build on it.
"""

from .analyzer import FEATURE_WINDOW, LiveAnalyzer, LiveUpdate, check_live_model
from .recording import LiveRecording
from .runner import LiveStats, LiveStep, run_live
from .source import CameraSource, Frame, FrameSource, VideoFileSource, open_source

__all__ = [
    "FEATURE_WINDOW", "LiveAnalyzer", "LiveUpdate", "check_live_model",
    "CameraSource", "Frame", "FrameSource", "VideoFileSource", "open_source",
    "LiveRecording", "LiveStats", "LiveStep", "run_live",
]
