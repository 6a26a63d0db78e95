"""What a live view shows besides the frame, computed without Qt.

:class:`LiveDisplay` keeps the states decided so far: the current state (the
newest decided frame), a scrolling ethogram of the last minute as an RGBA
strip, and the running frequency of each state. The Live dock only draws
these; tests check them directly.
"""

from __future__ import annotations

from collections import deque

import numpy as np

from ..colors import state_color_array, state_colors
from ..hmm.online import Decided

__all__ = ["LiveDisplay", "ETHOGRAM_SECONDS"]

#: the ethogram strip shows this many seconds
ETHOGRAM_SECONDS = 60.0
#: in the strip, the part of the minute before the first frame
NOT_YET = -2


class LiveDisplay:
    """The current state, the last minute's ethogram and the running frequencies.

    Parameters
    ----------
    n_states
        The model's states.
    fps
        The source's frame rate (frames in the ethogram's minute).
    state_names
        Names shown (default ``state 0``...).
    """

    def __init__(self, n_states: int, fps: float, state_names=None):
        self.n_states = int(n_states)
        self.fps = float(fps)
        self.state_names = list(state_names) if state_names else [f"state {k}" for k in range(self.n_states)]
        self.recent: deque = deque(maxlen=max(1, int(round(ETHOGRAM_SECONDS * self.fps))))
        self.counts = np.zeros(self.n_states, dtype=np.int64)
        self.n_without_state = 0
        self.current: Decided | None = None

    def add(self, decided: list[Decided]) -> None:
        """Frames decided (oldest first); the newest becomes the current state."""
        for item in decided:
            self.recent.append(item.state)
            if 0 <= item.state < self.n_states:
                self.counts[item.state] += 1
            else:
                self.n_without_state += 1
            self.current = item

    @property
    def frequencies(self) -> np.ndarray:
        """``(n_states,)`` fraction of the frames with a state that had each state."""
        total = self.counts.sum()
        return self.counts / total if total else np.zeros(self.n_states)

    def current_text(self) -> str:
        """``"state 3 (87%)"``, ``"no face"`` or ``"waiting"``."""
        if self.current is None:
            return "waiting for the first frames"
        if self.current.state < 0:
            return "no state (no face)"
        return f"{self.state_names[self.current.state]} ({self.current.probability:.0%})"

    def current_color(self) -> np.ndarray:
        """RGBA of the current state (the missing color without one)."""
        state = -1 if self.current is None else self.current.state
        return state_color_array(np.array([state]), self.n_states)[0]

    def ethogram(self, width: int = 600, height: int = 16) -> np.ndarray:
        """``(height, width, 4)`` uint8: the last minute, oldest at the left, newest at the right edge.

        A minute not yet full is drawn from the right, as a strip that fills up
        (the rest transparent); frames without a state in the missing colour.
        """
        capacity = self.recent.maxlen
        states = np.full(capacity, NOT_YET, dtype=np.int64)
        if self.recent:
            states[capacity - len(self.recent):] = np.fromiter(self.recent, dtype=np.int64)
        # each pixel shows the newest frame of its span, so the newest state is always at the right edge
        picked = states[np.ceil(np.linspace(0, capacity, width + 1)[1:]).astype(np.int64) - 1]
        band = (state_color_array(picked, self.n_states) * 255).round().astype(np.uint8)
        band[picked == NOT_YET] = 0  # the part of the minute not yet seen: transparent
        return np.repeat(band[None, :, :], height, axis=0)

    def frequency_rows(self) -> list[tuple[str, float, tuple]]:
        """``(name, fraction, rgba)`` per state, for a small table or bars."""
        colors = state_colors(self.n_states)
        return [(name, float(f), tuple(colors[k])) for k, (name, f) in enumerate(zip(self.state_names, self.frequencies))]
