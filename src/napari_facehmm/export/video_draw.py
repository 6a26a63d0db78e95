"""Drawing states onto video frames (numpy + OpenCV, Qt-free): landmarks, skeleton, state name, ethogram strip.

The pieces :func:`napari_facehmm.export.video.write_states_video` puts
together; each draws into a ``(height, width, 3)`` uint8 RGB frame in place
or returns a new image, so they are tested one by one.
"""

from __future__ import annotations

import numpy as np

from ..colors import state_index, state_palette

__all__ = ["StripRenderer", "draw_landmarks", "draw_state_label", "palette_rgb8"]

#: colour of the skeleton lines (RGB): a light grey that shows on dark and bright faces
SKELETON_RGB = (235, 235, 235)


def palette_rgb8(n_states: int) -> np.ndarray:
    """``(n_states + 1, 3)`` uint8 RGB: the state colours (:mod:`napari_facehmm.colors`), then grey for "no state"."""
    return np.round(state_palette(n_states)[:, :3] * 255).astype(np.uint8)


def draw_landmarks(
    frame: np.ndarray,
    xy: np.ndarray,
    color: tuple[int, int, int],
    edges: np.ndarray,
    radius: int,
    thickness: int = 1,
) -> None:
    """Draw the skeleton (light grey lines) and the landmarks (filled dots of ``color``) into ``frame``.

    Parameters
    ----------
    frame
        ``(height, width, 3)`` uint8 RGB, drawn into in place.
    xy
        ``(n_keypoints, 2)`` pixel positions; NaN rows (lost points) are skipped,
        and so are the edges that touch them.
    color
        RGB of the dots (the state's colour).
    edges
        ``(n_edges, 2)`` keypoint indices of the skeleton.
    radius, thickness
        Dot radius and line width in pixels.
    """
    import cv2

    valid = np.isfinite(xy).all(axis=1)
    # cv2 draws with integer coordinates: 4 bits of sub-pixel precision keep the lines smooth
    fixed = np.zeros(xy.shape, dtype=np.int32)
    fixed[valid] = np.round(xy[valid] * 16).astype(np.int32)
    color = tuple(int(c) for c in color)
    for a, b in edges:
        if valid[a] and valid[b]:
            cv2.line(frame, tuple(fixed[a]), tuple(fixed[b]), SKELETON_RGB, thickness, cv2.LINE_AA, shift=4)
    for k in np.flatnonzero(valid):
        cv2.circle(frame, tuple(fixed[k]), radius * 16, color, -1, cv2.LINE_AA, shift=4)


def draw_state_label(frame: np.ndarray, text: str, color: tuple[int, int, int], scale: float) -> None:
    """Write ``text`` in the top-left corner on a box of ``color`` (black or white text, whichever reads)."""
    import cv2

    font = cv2.FONT_HERSHEY_SIMPLEX
    thickness = max(1, int(round(scale * 2)))
    (width, height), baseline = cv2.getTextSize(text, font, scale, thickness)
    pad = max(2, int(round(6 * scale)))
    cv2.rectangle(frame, (0, 0), (width + 2 * pad, height + baseline + 2 * pad), tuple(int(c) for c in color), -1)
    luminance = 0.299 * color[0] + 0.587 * color[1] + 0.114 * color[2]
    ink = (0, 0, 0) if luminance > 140 else (255, 255, 255)
    cv2.putText(frame, text, (pad, pad + height), font, scale, ink, thickness, cv2.LINE_AA)


class StripRenderer:
    """The scrolling ethogram below the video: ``window_s`` seconds of states around the current frame.

    The strip is one colour column per frame of the state sequence, stretched to
    ``width``; the current frame sits under a vertical line in the middle, past
    frames to its left. Frames before the start and after the end are dark.

    Parameters
    ----------
    states
        ``(n_frames,)`` state per video frame, -1 where none.
    n_states
        Number of states of the model.
    fps
        Video frame rate.
    width, height
        Strip size in pixels.
    window_s
        Seconds shown across the strip.
    """

    def __init__(self, states: np.ndarray, n_states: int, fps: float, width: int, height: int, window_s: float = 10.0):
        self.width, self.height = int(width), int(height)
        self.half = max(1, int(round(window_s * fps / 2)))
        rows = palette_rgb8(n_states)[state_index(np.asarray(states), n_states)]
        dark = np.full((self.half, 3), 40, dtype=np.uint8)
        # padded on both sides so any frame's window is a plain slice
        self._colors = np.concatenate([dark, rows, dark])
        # column of the strip -> offset into the window, fixed for the whole video
        self._columns = np.minimum((np.arange(self.width) * (2 * self.half + 1)) // self.width, 2 * self.half)
        self._band = slice(int(height * 0.2), height)

    def render(self, index: int) -> np.ndarray:
        """The ``(height, width, 3)`` uint8 strip for video frame ``index``."""
        window = self._colors[index : index + 2 * self.half + 1]
        strip = np.full((self.height, self.width, 3), 25, dtype=np.uint8)
        strip[self._band] = window[self._columns][None, :, :]
        centre = self.width // 2
        strip[:, max(0, centre - 1) : centre + 2] = 255
        return strip
