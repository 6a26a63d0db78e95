"""A video as napari image data: a lazy array that decodes only the frames napari asks for.

Nothing here imports napari or Qt.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..io._array_like import ArrayLike


class VideoFrames(ArrayLike):
    """A lazy ``(n_frames, height, width, 3)`` uint8 array over a video reader.

    napari slices image data with ``data[tuple_of_ints_and_slices]``; this
    adapter decodes only the frames asked for through the reader (which keeps
    its decoder position for sequential steps and an LRU cache of recent
    frames), so opening a video decodes nothing and memory stays flat.

    Parameters
    ----------
    reader
        Object with ``shape``, ``__len__`` and ``__getitem__(int) -> (h, w, 3)
        uint8`` (e.g. :class:`napari_facehmm.io.video.VideoReader`). When it
        has ``get_frame(index, copy=False)``, single frames are the reader's
        cached arrays, read only: napari never writes into layer data, and
        the copy would cost about 0.1 ms a 640x480 frame.
    """

    def __init__(self, reader: Any):
        self.reader = reader
        self.shape = tuple(int(s) for s in reader.shape)
        self.dtype = np.dtype(np.uint8)
        get_frame = getattr(reader, "get_frame", None)
        if callable(get_frame):
            self._frame = lambda index: get_frame(index, copy=False)
        else:
            self._frame = lambda index: np.asarray(reader[index])

    def __getitem__(self, key: Any) -> np.ndarray:
        if not isinstance(key, tuple):
            key = (key,)
        if any(k is Ellipsis for k in key):
            i = key.index(Ellipsis)
            fill = (slice(None),) * (self.ndim - len(key) + 1)
            key = key[:i] + fill + key[i + 1 :]
        first, rest = key[0], key[1:]
        if isinstance(first, (int, np.integer)):
            index = int(first)
            if index < 0:
                index += self.shape[0]
            if not 0 <= index < self.shape[0]:
                raise IndexError(f"frame {first} out of range 0..{self.shape[0] - 1}")
            frame = self._frame(index)
            return frame[rest] if rest else frame
        if isinstance(first, slice):
            indices = range(*first.indices(self.shape[0]))
        else:
            indices = np.asarray(first).reshape(-1)
            if indices.dtype == bool:
                indices = np.nonzero(indices)[0]
        frames = np.empty((len(indices), *self.shape[1:]), dtype=self.dtype)
        for out, index in enumerate(indices):
            frames[out] = self.reader[int(index)]
        return frames[(slice(None), *rest)] if rest else frames

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        frames = self[:]
        return frames if dtype is None else frames.astype(dtype)

    def __repr__(self) -> str:
        return f"VideoFrames(shape={self.shape}, reader={self.reader!r})"
