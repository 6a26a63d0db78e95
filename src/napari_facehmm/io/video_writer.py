"""Writing H.264 videos (PyAV): :class:`VideoWriter` (a frame at a time) and :func:`write_video`."""

from __future__ import annotations

from fractions import Fraction
from contextlib import ExitStack
from pathlib import Path
from typing import Iterable

import numpy as np

from ..errors import UnsupportedFileError
from ._atomic import atomic_write_path

__all__ = ["VideoWriter", "write_video"]


def _frame_rate(fps: float) -> Fraction:
    """``fps`` as an exact fraction; NTSC rates (29.97, 23.976 ...) become n*1000/1001."""
    ntsc = round(fps * 1001 / 1000)
    if abs(fps - round(fps)) > 1e-6 and abs(ntsc * 1000 / 1001 - fps) < 5e-4:
        return Fraction(ntsc * 1000, 1001)
    return Fraction(fps).limit_denominator(1001)


class VideoWriter:
    """An H.264 (libx264, yuv420p) video written a frame at a time, in place only when complete.

    The frames go to a hidden temporary file beside ``path``; :meth:`close`
    finishes the stream and moves it into place, :meth:`abort` (or an
    exception inside ``with``) removes it and leaves ``path`` as it was.

    Parameters
    ----------
    path
        Output file, usually ``.mp4``.
    fps
        Frame rate (fractional rates such as 29.97 are kept exactly to 1/1001).
    crf, preset
        libx264 quality (0 lossless .. 51; 18 is visually lossless) and speed
        (``"ultrafast"`` for live recording).

    Examples
    --------
    >>> with VideoWriter("out.mp4", fps=30) as writer:     # doctest: +SKIP
    ...     for image in images:
    ...         writer.write(image)
    """

    def __init__(self, path: str | Path, fps: float, crf: int = 18, preset: str = "medium"):
        from ..errors import DataError
        from .video import VIDEO_SUFFIXES

        self.path = Path(path)
        if self.path.suffix.lower() not in VIDEO_SUFFIXES:
            raise UnsupportedFileError(self.path, f"unknown video extension {self.path.suffix!r}; use .mp4")
        if not np.isfinite(fps) or fps <= 0:
            raise DataError(f"fps must be positive; got {fps}")
        self.rate = _frame_rate(fps)
        self.crf, self.preset = int(crf), preset
        self.n_written = 0
        self._shape = None
        self._stream = None
        self._container = None
        self._stack: ExitStack | None = None

    def _open(self) -> None:
        import av

        self._stack = ExitStack()
        temp = self._stack.enter_context(atomic_write_path(self.path, backup=False))
        self._container = av.open(str(temp), mode="w")

    def write(self, image: np.ndarray) -> None:
        """Append one ``(height, width, 3)`` uint8 RGB frame (or ``(height, width)`` grayscale)."""
        import av

        from ..errors import DataError

        image = np.asarray(image)
        if image.ndim == 2:
            image = np.repeat(image[:, :, None], 3, axis=2)
        if image.ndim != 3 or image.shape[2] != 3:
            raise DataError(f"frames must be (height, width, 3) RGB; frame {self.n_written} is {image.shape}")
        if image.dtype != np.uint8:
            raise DataError(f"frames must be uint8; frame {self.n_written} is {image.dtype}")
        if self._container is None:
            self._open()
        shape = self._shape
        if shape is None:
            self._shape = shape = image.shape
            stream = self._container.add_stream("libx264", rate=self.rate)
            # yuv420p needs even sizes: an odd width or height is padded by repeating the last column/row
            stream.width, stream.height = shape[1] + shape[1] % 2, shape[0] + shape[0] % 2
            stream.pix_fmt = "yuv420p"
            stream.options = {"crf": str(self.crf), "preset": self.preset}
            self._stream = stream
        elif image.shape != shape:
            raise DataError(f"frame {self.n_written} is {image.shape}; the first frame was {shape}")
        if shape[0] % 2 or shape[1] % 2:
            image = np.pad(image, ((0, shape[0] % 2), (0, shape[1] % 2), (0, 0)), mode="edge")
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="rgb24")
        frame.pts = self.n_written
        frame.time_base = 1 / self.rate
        for packet in self._stream.encode(frame):
            self._container.mux(packet)
        self.n_written += 1

    def close(self) -> Path:
        """Finish the stream and move the file into place; returns ``path``.

        Raises
        ------
        DataError
            No frame was written (nothing is created).
        """
        from ..errors import DataError

        if self._stream is None:
            self.abort()
            raise DataError(f"no frames to write to {self.path.name}")
        try:
            for packet in self._stream.encode(None):
                self._container.mux(packet)
            self._container.close()
        except BaseException as error:
            self._stack.__exit__(type(error), error, error.__traceback__)
            raise
        self._stream = None
        self._stack.close()  # the temporary file replaces path
        return self.path

    def abort(self) -> None:
        """Drop what was written; ``path`` stays as it was."""
        if self._container is not None:
            self._container.close()
            self._container = None
        if self._stack is not None:
            error = RuntimeError("aborted")
            self._stack.__exit__(RuntimeError, error, None)
            self._stack = None
        self._stream = None

    def __enter__(self) -> "VideoWriter":
        return self

    def __exit__(self, kind, error, traceback) -> None:
        if kind is None:
            self.close()
        else:
            self.abort()


def write_video(
    frames: Iterable[np.ndarray],
    path: str | Path,
    fps: float,
    crf: int = 18,
    preset: str = "medium",
) -> Path:
    """Encode frames into an H.264 (libx264, yuv420p) video with PyAV (:class:`VideoWriter`).

    Parameters
    ----------
    frames
        Iterable of ``(height, width, 3)`` uint8 RGB frames (or
        ``(height, width)`` grayscale), all the same size. yuv420p needs even
        sizes: an odd width or height is padded by repeating the last
        column/row.
    path
        Output file, usually ``.mp4``; written to a temporary file first and
        moved into place when complete.
    fps
        Frame rate (fractional rates such as 29.97 are kept exactly to 1/1001).
    crf, preset
        libx264 quality (0 lossless .. 51; 18 is visually lossless) and speed.

    Returns
    -------
    Path
        ``path``, now holding the whole video.

    Raises
    ------
    DataError
        No frames, frames of different sizes, or not uint8 images.
    """
    with VideoWriter(path, fps, crf=crf, preset=preset) as writer:
        for image in frames:
            writer.write(image)
    return writer.path
