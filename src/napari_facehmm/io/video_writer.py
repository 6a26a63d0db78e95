"""Writing H.264 videos (PyAV): :func:`write_video`."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from typing import Iterable

import numpy as np

from ..errors import UnsupportedFileError
from ._atomic import atomic_write_path

__all__ = ["write_video"]


def _frame_rate(fps: float) -> Fraction:
    """``fps`` as an exact fraction; NTSC rates (29.97, 23.976 ...) become n*1000/1001."""
    ntsc = round(fps * 1001 / 1000)
    if abs(fps - round(fps)) > 1e-6 and abs(ntsc * 1000 / 1001 - fps) < 5e-4:
        return Fraction(ntsc * 1000, 1001)
    return Fraction(fps).limit_denominator(1001)


def write_video(
    frames: Iterable[np.ndarray],
    path: str | Path,
    fps: float,
    crf: int = 18,
    preset: str = "medium",
) -> Path:
    """Encode frames into an H.264 (libx264, yuv420p) video with PyAV.

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
        ``path``.

    Raises
    ------
    DataError
        No frames, frames of different sizes, or not uint8 images.
    """
    import av

    from ..errors import DataError
    from .video import VIDEO_SUFFIXES

    path = Path(path)
    if path.suffix.lower() not in VIDEO_SUFFIXES:
        raise UnsupportedFileError(path, f"unknown video extension {path.suffix!r}; use .mp4")
    if not np.isfinite(fps) or fps <= 0:
        raise DataError(f"fps must be positive; got {fps}")
    rate = _frame_rate(fps)
    iterator = iter(frames)
    with atomic_write_path(path, backup=False) as temp:
        container = av.open(str(temp), mode="w")
        try:
            stream = None
            shape = None
            n_written = 0
            for image in iterator:
                image = np.asarray(image)
                if image.ndim == 2:
                    image = np.repeat(image[:, :, None], 3, axis=2)
                if image.ndim != 3 or image.shape[2] != 3:
                    raise DataError(f"frames must be (height, width, 3) RGB; frame {n_written} is {image.shape}")
                if image.dtype != np.uint8:
                    raise DataError(f"frames must be uint8; frame {n_written} is {image.dtype}")
                if shape is None:
                    shape = image.shape
                    height, width = shape[0] + shape[0] % 2, shape[1] + shape[1] % 2
                    stream = container.add_stream("libx264", rate=rate)
                    stream.width, stream.height = width, height
                    stream.pix_fmt = "yuv420p"
                    stream.options = {"crf": str(int(crf)), "preset": preset}
                elif image.shape != shape:
                    raise DataError(f"frame {n_written} is {image.shape}; the first frame was {shape}")
                if shape[0] % 2 or shape[1] % 2:
                    image = np.pad(image, ((0, shape[0] % 2), (0, shape[1] % 2), (0, 0)), mode="edge")
                frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="rgb24")
                frame.pts = n_written
                frame.time_base = 1 / rate
                for packet in stream.encode(frame):
                    container.mux(packet)
                n_written += 1
            if stream is None:
                raise DataError(f"no frames to write to {path.name}")
            for packet in stream.encode(None):
                container.mux(packet)
        finally:
            container.close()
    return path
