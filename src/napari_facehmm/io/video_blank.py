"""Viewers' view of a video: undecodable frames come out black.

:class:`BlankUndecodableFrames` wraps a :class:`~napari_facehmm.io.video.VideoReader`
so that napari shows a black frame, and tells the user once, where analysis
(which uses the reader itself) gets a
:class:`~napari_facehmm.errors.FileFormatError`.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

import numpy as np

from ..errors import FileFormatError
from ._array_like import ArrayLike

if TYPE_CHECKING:
    from .video import VideoReader

__all__ = ["BlankUndecodableFrames"]


class BlankUndecodableFrames(ArrayLike):
    """A :class:`VideoReader` whose undecodable frames come out black, for viewers.

    A viewer shows what can be shown: a frame that cannot be decoded (corrupt
    data part-way through a file, or missing from a truncated file opened
    with ``allow_truncated``) is a black frame instead of an error raised
    into the viewer's slicing, and ``on_undecodable`` is told once per file,
    at the first such frame, so the user hears of it once and not at every
    step of the time slider. Analysis uses :class:`VideoReader` itself, which
    raises :class:`~napari_facehmm.errors.FileFormatError`.

    Parameters
    ----------
    reader
        The video.
    on_undecodable
        Called once, as ``on_undecodable(path, first, last, problem)``: the
        first frame found undecodable, the last frame known to share its fate
        (the frames up to the next keyframe are decoded through the same
        broken data; for a truncated file the last listed frame) and what is
        wrong, in words. It runs in the thread that asked for the frame.

    Attributes
    ----------
    shape
        ``(n_frames_listed, height, width, 3)``: the frames the file's header
        lists, so the frames missing from a truncated file stay in step with
        the landmarks of their frame numbers.
    undecodable
        Sorted frame indices known to be undecodable so far.

    Notes
    -----
    Once a frame is known undecodable, so are the frames after it up to the
    next keyframe; they are not decoded again (each attempt would decode
    from the keyframe before it up to the broken data).
    """

    def __init__(self, reader: VideoReader, on_undecodable=None):
        self.reader = reader
        self.path = reader.path
        self.on_undecodable = on_undecodable
        n_listed = int(getattr(reader, "n_frames_listed", reader.n_frames))
        self.shape = (n_listed, reader.height, reader.width, 3)
        self.dtype = np.dtype(np.uint8)
        self._blank = np.zeros(self.shape[1:], dtype=np.uint8)
        self._blank.flags.writeable = False
        self._bad = np.zeros(n_listed, dtype=bool)
        self._bad[reader.n_frames :] = True
        self._lock = threading.Lock()
        self._reported = False
        if reader.n_frames < n_listed:
            self._report(
                reader.n_frames,
                n_listed - 1,
                f"the file is truncated: its header lists {n_listed} frames but only "
                f"{reader.n_frames} are in it",
            )

    @property
    def undecodable(self) -> np.ndarray:
        return np.flatnonzero(self._bad)

    def __getattr__(self, name: str):
        # the rest is the reader's (fps, timestamps_reliable, cache_size ...)
        reader = self.__dict__.get("reader")
        if reader is None or name.startswith("__"):
            raise AttributeError(name)
        return getattr(reader, name)

    def __repr__(self) -> str:
        return f"BlankUndecodableFrames({self.reader!r}, undecodable={int(self._bad.sum())})"

    def _report(self, first: int, last: int, problem: str) -> None:
        with self._lock:
            if self._reported:
                return
            self._reported = True
        if self.on_undecodable is not None:
            self.on_undecodable(self.path, first, last, problem)

    def get_frame(self, index: int, copy: bool = True) -> np.ndarray:
        """Frame ``index`` as :meth:`VideoReader.get_frame`; black if it cannot be decoded."""
        if index < 0:
            index += self.shape[0]
        if not 0 <= index < self.shape[0]:
            raise IndexError(f"frame {index} is out of range for {self.shape[0]} frames in {self.path.name}")
        if not self._bad[index]:
            try:
                return self.reader.get_frame(index, copy=copy)
            except FileFormatError as error:
                last = self.reader.next_keyframe_index(index) - 1
                self._bad[index : last + 1] = True
                self._report(index, last, error.problem)
        return self._blank.copy() if copy else self._blank

    def __getitem__(self, key):
        if isinstance(key, tuple) and key:
            frames = self[key[0]]
            return frames[(slice(None),) + key[1:]] if frames.ndim == 4 else frames[key[1:]]
        if isinstance(key, (int, np.integer)):
            return self.get_frame(int(key))
        if isinstance(key, slice):
            indices = range(*key.indices(self.shape[0]))
        else:
            indices = np.asarray(key).reshape(-1)
            if indices.dtype == bool:
                indices = np.flatnonzero(indices)
        frames = np.empty((len(indices), *self.shape[1:]), dtype=np.uint8)
        for out, index in enumerate(indices):
            frames[out] = self.get_frame(int(index), copy=False)
        return frames
