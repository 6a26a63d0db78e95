"""Video frames on demand (PyAV); writing videos and the viewers' wrapper beside it.

:class:`VideoReader` behaves like a read-only ``(n_frames, height, width, 3)``
uint8 array that decodes frames only when indexed, so napari can show hour
long videos without loading them. Random access seeks to the nearest
keyframe before the wanted frame and decodes forward; reading the frame
right after the last one decoded just continues decoding (no seek), which
makes playback and sequential processing cheap.

Beside it, and importable from here:

- :mod:`.video_writer`: :func:`write_video`, H.264 videos written whole.
- :mod:`.video_blank`: :class:`BlankUndecodableFrames`, the reader as
  viewers see it, with undecodable frames black.
"""

from __future__ import annotations

import threading
from array import array
from collections import OrderedDict
from pathlib import Path
from typing import Iterator

import numpy as np

from ..errors import FileFormatError
from ._array_like import ArrayLike
from .video_blank import BlankUndecodableFrames
from .video_writer import write_video

__all__ = ["VideoReader", "BlankUndecodableFrames", "write_video", "VIDEO_SUFFIXES"]

VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".m4v", ".webm", ".mpg", ".mpeg", ".wmv")


def _open_container(path: Path):
    import av

    try:
        return av.open(str(path), mode="r")
    except (av.error.FFmpegError, OSError, ValueError) as error:
        raise FileFormatError(path, f"cannot be opened as a video ({error})") from None


# Whether this PyAV takes ``reformat(..., threads=)`` (PyAV 18 does); flipped
# to False at the first TypeError from an older PyAV.
_RGB_THREADS_SUPPORTED = True


def _to_rgb(frame) -> np.ndarray:
    """``frame`` as a ``(height, width, 3)`` uint8 RGB array.

    PyAV 18 runs swscale with as many threads as cores by default. While a
    video is read sequentially the decoder's own frame threads keep those
    cores busy, and the extra swscale threads only compete with them: one
    swscale thread was faster in every interleaved round of sequential reads
    of the 640x480 yuv444p DLC example video on this 2-core machine (median
    2.1-2.4 ms a frame instead of 3.1-4.1 ms, both under load from other
    processes). The output is pixel for pixel that of the default conversion
    (checked on yuv444p, yuv420p and :func:`write_video` output in
    ``tests/test_io_video.py``).
    """
    global _RGB_THREADS_SUPPORTED
    if _RGB_THREADS_SUPPORTED:
        try:
            return frame.to_ndarray(format="rgb24", threads=1)
        except TypeError:
            _RGB_THREADS_SUPPORTED = False
    return frame.to_ndarray(format="rgb24")


class VideoReader(ArrayLike):
    """Random access to the frames of a video file, as RGB arrays.

    Parameters
    ----------
    path
        A video file FFmpeg can read (``.mp4``, ``.avi``, ``.mov`` ...).
    cache_size
        How many recently decoded frames to keep (least recently used ones
        are dropped first).
    allow_truncated
        Open a file whose header lists more frames than it holds (a copy or
        a recording that was cut short) with the frames it holds, rather than
        refuse it. For viewers, which show what there is; analysis keeps the
        default and refuses.

    Attributes
    ----------
    n_frames, width, height, fps
        Frame count (decodable frames), size in pixels, frame rate.
    n_frames_listed
        Frames the container's header lists: ``n_frames``, or more in a
        truncated file opened with ``allow_truncated``.
    shape
        ``(n_frames, height, width, 3)``.
    dtype
        ``numpy.uint8``.
    timestamps_reliable
        True when frames are addressed by presentation timestamp (random
        access seeks to the keyframe before the frame). False for streams
        whose timestamps are missing or out of display order (raw ``.h264``,
        H.264 with B-frames in AVI): frames are then counted in decoder
        output order and a backward jump decodes again from the start.

    Notes
    -----
    ``reader[i]`` returns frame ``i`` as a new ``(height, width, 3)`` uint8
    array (negative ``i`` counts from the end); a slice or a sequence of
    indices returns them stacked, ``(n, height, width, 3)``; a tuple indexes
    frames first and then the pixels, as numpy would. Frame ``i`` is the
    ``i``-th frame in presentation order, the same frame a sequential decode
    of the whole file gives as its ``i``-th. The reader is safe to use from
    several threads (one lock around decoding).

    The frame table (presentation times and keyframes) is built once, at
    opening, by reading the packets without decoding them.
    """

    def __init__(self, path: str | Path, cache_size: int = 16, *, allow_truncated: bool = False):
        self.path = Path(path)
        self.allow_truncated = bool(allow_truncated)
        if not self.path.is_file():
            raise FileFormatError(self.path, "video file does not exist")
        if self.path.stat().st_size == 0:
            raise FileFormatError(self.path, "video file is empty")
        self.cache_size = max(1, int(cache_size))
        self._lock = threading.RLock()
        self._cache: OrderedDict[int, np.ndarray] = OrderedDict()
        self._container = _open_container(self.path)
        try:
            if not self._container.streams.video:
                raise FileFormatError(self.path, "has no video stream")
            self._stream = self._container.streams.video[0]
            self._stream.thread_type = "AUTO"
            self._build_frame_table()
        except BaseException:
            self._container.close()
            raise
        # quarter turns counter-clockwise that display the frames upright
        # (a phone's rotation metadata); read from the first decoded frame
        self._quarter_turns: int | None = None
        context = self._stream.codec_context
        self.width = int(context.width)
        self.height = int(context.height)
        if self.width <= 0 or self.height <= 0:
            self.close()
            raise FileFormatError(self.path, "video stream has no frame size")
        rate = self._stream.guessed_rate or self._stream.average_rate
        self.fps = float(rate) if rate else 30.0
        self._decoder: Iterator | None = None
        self._next_index: int | None = None
        # Decode the first frame now: it checks the stream is decodable, and
        # some H.264 files carry their parameter sets in-band in the first
        # packet only; a decoder that never saw them returns blank frames
        # after a seek to a later keyframe (measured on the DLC example video).
        # The first frames also tell whether the timestamps can be trusted.
        try:
            self._check_timestamps()
        except BaseException:
            self.close()
            raise
        if (self._quarter_turns or 0) % 2:
            self.width, self.height = self.height, self.width

    def _check_timestamps(self, n_check: int = 12) -> None:
        """Decode the first frames; fall back to counting if their timestamps disagree.

        Frames are addressed by presentation timestamp (exact, and seeking
        works). Some containers (H.264 with B-frames in AVI) carry guessed
        timestamps that do not follow the display order; then frame ``i`` is
        the ``i``-th frame the decoder outputs, and a random access decodes
        from the start of the file (correct, but slow for late frames).
        """
        import av

        self.timestamps_reliable = not self._pts_missing
        if self._pts_missing:
            self._seek_before(0)
            self.get_frame(0)
            return
        self._seek_before(0)
        decoded = []
        try:
            for frame in self._decoder:
                decoded.append(frame)
                if len(decoded) == min(n_check, self.n_frames):
                    break
        except av.error.FFmpegError as error:
            raise FileFormatError(self.path, f"video data is corrupt ({error})") from None
        if not decoded:
            raise FileFormatError(self.path, "no frame of the video can be decoded")
        self._quarter_turns = int(round(float(getattr(decoded[0], "rotation", 0) or 0) / 90.0)) % 4
        expected = self._frame_pts[: len(decoded)].tolist()
        if [f.pts for f in decoded] == expected:
            for i, frame in enumerate(decoded):
                self._store(i, frame)
            self._next_index = len(decoded)
            return
        self.timestamps_reliable = False
        self._cache.clear()
        self._seek_before(0)

    # ------------------------------------------------------------ metadata
    def _build_frame_table(self) -> None:
        """Presentation times of all frames and of keyframes, from the packets.

        Kept compact (8 bytes a frame, collected in ``array('q')`` rather
        than lists of Python ints, looked up with ``searchsorted`` rather than
        a dict), so an hour-long video costs about 1 MB of table
        (``bench/video_memory.py``).
        """
        import av

        frame_pts = array("q")
        keyframe_pts = array("q")
        has_missing_pts = False
        n_packets = 0
        n_shown = 0
        try:
            for packet in self._container.demux(self._stream):
                if packet.size == 0:  # the flush packet at the end
                    continue
                n_packets += 1
                if not packet.is_discard:
                    n_shown += 1
                pts = packet.pts
                if pts is None:
                    has_missing_pts = True
                    continue
                if packet.is_keyframe:
                    keyframe_pts.append(pts)
                # packets marked discard (mp4 edit lists) are decoded but never shown
                if not packet.is_discard:
                    frame_pts.append(pts)
        except av.error.FFmpegError as error:
            raise FileFormatError(self.path, f"video data is corrupt or truncated ({error})") from None
        if n_shown == 0:
            raise FileFormatError(self.path, "video stream holds no frames (empty or truncated file)")
        self._pts_missing = has_missing_pts
        if has_missing_pts:
            # Raw streams (.h264) and some AVI files have no timestamps:
            # frames will be counted in decoder output order.
            frame_pts = array("q", range(n_shown))
            keyframe_pts = array("q", [0])
        n_listed = int(self._stream.frames or 0)
        if n_listed and n_packets < n_listed and not self.allow_truncated:
            # The container's index lists more frames than the file holds.
            raise FileFormatError(
                self.path, f"video is truncated: its header lists {n_listed} frames but only "
                f"{n_packets} are in the file"
            )
        self._frame_pts = np.sort(np.frombuffer(frame_pts, dtype=np.int64))
        keyframes = np.unique(np.frombuffer(keyframe_pts, dtype=np.int64))
        self._keyframe_pts = keyframes if len(keyframes) else self._frame_pts[:1].copy()
        self.n_frames = len(self._frame_pts)
        self.n_frames_listed = max(self.n_frames, n_listed)

    def next_keyframe_index(self, index: int) -> int:
        """Index of the first keyframe after frame ``index``; ``n_frames`` if none.

        A frame that cannot be decoded makes every later frame up to the next
        keyframe undecodable too (each is decoded from the keyframe before it,
        through the same broken data). Frames counted in decoder order have no
        known keyframes: then every later frame is decoded through it.
        """
        if not self.timestamps_reliable:
            return self.n_frames
        position = int(np.searchsorted(self._keyframe_pts, self._frame_pts[index], side="right"))
        if position >= len(self._keyframe_pts):
            return self.n_frames
        return int(np.searchsorted(self._frame_pts, self._keyframe_pts[position]))

    def _index_of_pts(self, pts: int) -> int | None:
        """Frame index of presentation time ``pts``, None if no frame has it."""
        i = int(np.searchsorted(self._frame_pts, pts))
        return i if i < self.n_frames and self._frame_pts[i] == pts else None

    def _keyframe_at_or_before(self, pts: int) -> tuple[int, int]:
        """``(position, pts)`` of the last keyframe at or before ``pts``; position -1 if none."""
        position = int(np.searchsorted(self._keyframe_pts, pts, side="right")) - 1
        return position, int(self._keyframe_pts[max(position, 0)])

    @property
    def shape(self) -> tuple[int, int, int, int]:
        return (self.n_frames, self.height, self.width, 3)

    @property
    def dtype(self) -> np.dtype:
        return np.dtype(np.uint8)

    @property
    def duration_s(self) -> float:
        return self.n_frames / self.fps

    def __repr__(self) -> str:
        return f"VideoReader({str(self.path)!r}, n_frames={self.n_frames}, {self.width}x{self.height}, fps={self.fps:g})"

    # ------------------------------------------------------------- access
    def __getitem__(self, key):
        if isinstance(key, tuple):
            if not key:
                return self[slice(None)]
            frames = self[key[0]]
            rest = key[1:]
            return frames[(slice(None),) + rest] if frames.ndim == 4 else frames[rest]
        if isinstance(key, (int, np.integer)):
            return self.get_frame(int(key))
        if isinstance(key, slice):
            indices = range(*key.indices(self.n_frames))
        else:
            indices = np.asarray(key)
            if indices.dtype == bool:
                if indices.shape != (self.n_frames,):
                    raise IndexError(f"boolean index must have shape ({self.n_frames},)")
                indices = np.flatnonzero(indices)
            indices = indices.reshape(-1).tolist()
        if len(indices) == 0:
            return np.empty((0, self.height, self.width, 3), dtype=np.uint8)
        return np.stack([self.get_frame(int(i)) for i in indices])

    def __iter__(self) -> Iterator[np.ndarray]:
        for i in range(self.n_frames):
            yield self.get_frame(i)

    def get_frame(self, index: int, copy: bool = True) -> np.ndarray:
        """Frame ``index`` (negative counts from the end) as ``(height, width, 3)`` uint8 RGB.

        With ``copy=False`` the reader's cached array itself is returned, read
        only (saves a 0.9 MB copy per 640x480 frame; the napari adapter uses it).
        """
        if index < 0:
            index += self.n_frames
        if not 0 <= index < self.n_frames:
            raise IndexError(f"frame {index} is out of range for {self.n_frames} frames in {self.path.name}")
        with self._lock:
            if self._container is None:
                raise ValueError(f"{self.path.name}: reader is closed")
            cached = self._cache.get(index)
            if cached is not None:
                self._cache.move_to_end(index)
                return cached.copy() if copy else cached
            if not self._can_continue_to(index):
                self._seek_before(index)
            frame = self._decode_until(index)
            if frame is None:
                # The decoder went past the frame (or reached the end): start
                # again from the keyframe before it.
                self._seek_before(index)
                frame = self._decode_until(index)
            if frame is None:
                raise FileFormatError(
                    self.path, f"frame {index} of {self.n_frames} could not be decoded (truncated or corrupt video)"
                )
            return frame.copy() if copy else frame

    def _can_continue_to(self, index: int) -> bool:
        """Whether decoding on from where the decoder stands reaches ``index`` soonest.

        True for the next frame, and for a later frame of the same GOP (no
        keyframe in between to seek to); never backwards.
        """
        if self._decoder is None or self._next_index is None or index < self._next_index:
            return False
        if index == self._next_index or not self.timestamps_reliable:
            return True
        next_pts = int(self._frame_pts[self._next_index])
        position, keyframe = self._keyframe_at_or_before(int(self._frame_pts[index]))
        return position < 0 or keyframe <= next_pts

    def _seek_before(self, index: int) -> None:
        import av

        if not getattr(self, "timestamps_reliable", True):
            # Decode-order counting: only the start of the file is a known
            # position. Reopen rather than seek (raw streams cannot seek).
            self._container.close()
            self._container = _open_container(self.path)
            self._stream = self._container.streams.video[0]
            self._stream.thread_type = "AUTO"
            self._decoder = self._container.decode(self._stream)
            self._decoded_count = 0
            self._next_index = 0
            return
        target_pts = int(self._frame_pts[index])
        position, seek_pts = self._keyframe_at_or_before(target_pts)
        try:
            self._container.seek(seek_pts, stream=self._stream, backward=True, any_frame=False)
        except av.error.FFmpegError as error:
            raise FileFormatError(self.path, f"cannot seek to frame {index} ({error})") from None
        self._decoder = self._container.decode(self._stream)
        # Frames before the keyframe we sought to (leading B-frames of an open
        # GOP) may be decoded from missing references: never keep them.
        self._min_valid_pts = seek_pts if position >= 0 else int(self._frame_pts[0])
        self._next_index = None

    def _decode_until(self, index: int) -> np.ndarray | None:
        import av

        target_pts = int(self._frame_pts[index])
        while True:
            try:
                frame = next(self._decoder)
            except StopIteration:
                self._decoder = None
                self._next_index = None
                return None
            except av.error.FFmpegError as error:
                self._decoder = None
                self._next_index = None
                raise FileFormatError(
                    self.path, f"video data is corrupt or truncated near frame {index} ({error})"
                ) from None
            if not self.timestamps_reliable:
                decoded_index = self._decoded_count
                self._decoded_count += 1
                self._next_index = decoded_index + 1
                if decoded_index >= index - self.cache_size:
                    image = self._store(decoded_index, frame)
                    if decoded_index == index:
                        return image
                continue
            if frame.pts is None or frame.pts < self._min_valid_pts:
                continue
            decoded_index = self._index_of_pts(int(frame.pts))
            if decoded_index is None:
                continue
            self._next_index = decoded_index + 1
            if frame.pts > target_pts:
                # Overshot: the wanted frame was not produced in this run.
                self._store(decoded_index, frame)
                return None
            # Converting to RGB costs about as much as decoding: only frames
            # that will still be in the cache afterwards are worth it.
            if decoded_index >= index - self.cache_size + 1:
                image = self._store(decoded_index, frame)
                if decoded_index == index:
                    return image

    @property
    def rotation_deg(self) -> int:
        """Counter-clockwise rotation (0, 90, 180 or 270) applied to every frame.

        Phones store portrait videos as landscape frames with a rotation in
        the container's display matrix; the reader turns the frames so they
        come out upright, as players show them, and ``width``/``height`` are
        those of the upright frames.
        """
        return 90 * (self._quarter_turns or 0)

    def _store(self, index: int, frame) -> np.ndarray:
        if self._quarter_turns is None:
            rotation = float(getattr(frame, "rotation", 0) or 0)
            self._quarter_turns = int(round(rotation / 90.0)) % 4
        image = _to_rgb(frame)
        if self._quarter_turns:
            image = np.ascontiguousarray(np.rot90(image, self._quarter_turns))
        image.flags.writeable = False
        self._cache[index] = image
        self._cache.move_to_end(index)
        while len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)
        return image

    # ------------------------------------------------------------ closing
    def close(self) -> None:
        """Release the file. Further reads raise ``ValueError``."""
        with self._lock:
            if self._container is not None:
                self._decoder = None
                self._container.close()
                self._container = None
            self._cache.clear()

    def __enter__(self) -> "VideoReader":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:
            pass
