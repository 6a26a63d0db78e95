"""Frames as a camera gives them: a webcam, or a video file played at its own pace.

A capture thread reads frames as they come (a camera's rate, or a file's
frame times against the wall clock) and keeps only the newest one in a
one-frame slot. The consumer takes the newest frame when it is ready for
one; a frame replaced before it was taken is *dropped* and counted, so a
slow consumer never builds a queue and the latency stays one frame at most.

Qt-free: the CLI, the Live dock and the tests use it alike.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import DataError, FileFormatError

__all__ = ["Frame", "FrameSource", "VideoFileSource", "CameraSource", "open_source"]


@dataclass(frozen=True)
class Frame:
    """One captured frame.

    Attributes
    ----------
    number
        The frame's number in the source (0, 1, ...; gaps are dropped frames).
    captured_s
        ``time.perf_counter()`` when it was read.
    image
        ``(height, width, 3)`` uint8 RGB.
    """

    number: int
    captured_s: float
    image: np.ndarray


class FrameSource:
    """The newest frame of a capture thread (a base class: :meth:`_read` gives the frames).

    Use it as a context manager (or call :meth:`start` and :meth:`close`),
    and :meth:`next_frame` to take the newest frame.

    Attributes
    ----------
    fps
        The source's frame rate.
    name
        What the source is, for messages (``camera 0``, a file name).
    frames_read, frames_dropped
        Frames the capture thread read, and those replaced before they were taken.
    """

    fps: float = 30.0
    name: str = "source"

    def __init__(self):
        self._condition = threading.Condition()
        self._latest: Frame | None = None
        self._finished = False
        self._error: BaseException | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.frames_read = 0
        self.frames_dropped = 0

    # ------------------------------------------------------------------ the capture side
    def _read(self):
        """Yield ``(number, image)`` as frames arrive (pacing included); return at the end."""
        raise NotImplementedError

    def _capture(self) -> None:
        try:
            for number, image in self._read():
                if self._stop.is_set():
                    break
                frame = Frame(number, time.perf_counter(), image)
                with self._condition:
                    if self._latest is not None:
                        self.frames_dropped += 1
                    self._latest = frame
                    self.frames_read += 1
                    self._condition.notify_all()
        except BaseException as error:  # handed to the consumer
            with self._condition:
                self._error = error
        finally:
            with self._condition:
                self._finished = True
                self._condition.notify_all()
            self._release()

    def _release(self) -> None:
        """Free the device or file (called by the capture thread when it ends)."""

    # ------------------------------------------------------------------ the consumer side
    def start(self) -> "FrameSource":
        if self._thread is None:
            self._thread = threading.Thread(target=self._capture, name=f"facehmm-capture {self.name}", daemon=True)
            self._thread.start()
        return self

    def next_frame(self, timeout_s: float = 5.0) -> Frame | None:
        """The newest frame not taken yet; None at the end of the source.

        Raises
        ------
        DataError
            No frame came within ``timeout_s`` (a camera that stopped
            delivering), or the source failed (the cause is named).
        """
        deadline = time.perf_counter() + timeout_s
        with self._condition:
            while self._latest is None and not self._finished:
                remaining = deadline - time.perf_counter()
                if remaining <= 0:
                    raise DataError(f"{self.name}: no frame for {timeout_s:g} s (was the camera disconnected?)")
                self._condition.wait(remaining)
            frame, self._latest = self._latest, None
            if frame is None and self._error is not None:
                error = self._error
                if isinstance(error, DataError):
                    raise error
                raise DataError(f"{self.name}: reading stopped: {error}") from error
            return frame

    def first_untaken(self) -> int:
        """Number of the first frame :meth:`next_frame` has not given yet (frames are numbered as read)."""
        with self._condition:
            return self.frames_read - (self._latest is not None)

    def close(self) -> None:
        """Stop the capture thread (the frames taken so far stay valid)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5.0)

    def __enter__(self) -> "FrameSource":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()


class VideoFileSource(FrameSource):
    """A video file played at its own frame rate, as if it were a camera.

    Parameters
    ----------
    path
        Any video PyAV reads.
    speed
        Playback speed (1: real time; ``inf``: as fast as frames decode, for
        tests that do not measure pacing).
    """

    def __init__(self, path: str | Path, speed: float = 1.0):
        from ..io.video import VideoReader

        super().__init__()
        if not speed > 0:
            raise DataError(f"playback speed must be above 0; got {speed}")
        self.path = Path(path)
        self.reader = VideoReader(self.path, cache_size=1)
        self.fps = float(self.reader.fps)
        self.n_frames = int(self.reader.n_frames)
        self.frame_size = (int(self.reader.width), int(self.reader.height))
        self.speed = float(speed)
        self.name = self.path.name

    def _read(self):
        start = time.perf_counter()
        for number in range(self.n_frames):
            due = start + number / (self.fps * self.speed)
            delay = due - time.perf_counter()
            if delay > 0 and self._stop.wait(delay):
                return
            yield number, self.reader.get_frame(number, copy=True)

    def _release(self) -> None:
        self.reader.close()


class CameraSource(FrameSource):
    """A webcam through OpenCV (V4L2 on Linux).

    Raises
    ------
    DataError
        No camera at that index, or it gives no frame.
    """

    def __init__(self, index: int = 0, fps: float | None = None):
        import cv2

        super().__init__()
        self.index = int(index)
        self.name = f"camera {self.index}"
        self._capture_device = cv2.VideoCapture(self.index)
        if not self._capture_device.isOpened():
            self._capture_device.release()
            raise DataError(f"no camera at index {self.index} (is it connected, and free? try --camera 1, or --source VIDEO)")
        if fps:
            self._capture_device.set(cv2.CAP_PROP_FPS, float(fps))
        reported = self._capture_device.get(cv2.CAP_PROP_FPS)
        self.fps = float(fps or (reported if reported and reported > 0 else 30.0))
        self.frame_size = (
            int(self._capture_device.get(cv2.CAP_PROP_FRAME_WIDTH)),
            int(self._capture_device.get(cv2.CAP_PROP_FRAME_HEIGHT)),
        )

    def _read(self):
        import cv2

        number = 0
        while not self._stop.is_set():
            ok, bgr = self._capture_device.read()
            if not ok:
                raise DataError(f"{self.name} stopped giving frames after frame {number} (disconnected?)")
            yield number, cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
            number += 1

    def _release(self) -> None:
        self._capture_device.release()


def open_source(camera: int | None = None, video: str | Path | None = None, speed: float = 1.0) -> FrameSource:
    """A camera (``camera`` index) or a video file played as one (``video``): exactly one of them."""
    if (camera is None) == (video is None):
        raise DataError("choose one source: a camera index or a video file")
    if video is not None:
        if not Path(video).is_file():
            raise FileFormatError(Path(video), "video file does not exist")
        return VideoFileSource(video, speed=speed)
    return CameraSource(camera)
