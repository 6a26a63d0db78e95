"""LiveDisplay (Qt-free): the current state, the last minute's ethogram and the running frequencies."""

from __future__ import annotations

import numpy as np

from napari_facehmm.colors import MISSING_COLOR, state_colors
from napari_facehmm.hmm.online import Decided
from napari_facehmm.live.display import LiveDisplay


def _decided(frame, state, probability=0.9):
    return Decided(frame, state, probability if state >= 0 else 0.0, np.zeros(3))


def test_current_state_frequencies_and_ethogram():
    display = LiveDisplay(3, fps=10, state_names=["calm", "smile", "talk"])
    assert display.current_text().startswith("waiting")
    display.add([_decided(0, 0), _decided(1, 0), _decided(2, -1), _decided(3, 2, 0.87)])
    assert display.current_text() == "talk (87%)"
    np.testing.assert_allclose(display.frequencies, [2 / 3, 0, 1 / 3])
    np.testing.assert_allclose(display.current_color(), state_colors(3)[2])
    strip = display.ethogram(width=600, height=4)  # a minute at 10 fps = 600 frames: one pixel a frame
    assert strip.shape == (4, 600, 4)
    colors = (np.vstack([state_colors(3), MISSING_COLOR]) * 255).round().astype(np.uint8)
    np.testing.assert_array_equal(strip[0, -4:], colors[[0, 0, 3, 2]])  # newest at the right edge
    assert (strip[:, :-4, 3] == 0).all()  # the rest of the minute is not seen yet: transparent
    display.add([_decided(4, -1)])
    assert display.current_text() == "no state (no face)" and display.n_without_state == 2


def test_the_ethogram_scrolls_after_a_minute():
    display = LiveDisplay(2, fps=5)
    display.add([_decided(t, 0) for t in range(300)] + [_decided(300 + t, 1) for t in range(30)])
    strip = display.ethogram(width=300, height=1)
    one = (state_colors(2)[1] * 255).round().astype(np.uint8)
    zero = (state_colors(2)[0] * 255).round().astype(np.uint8)
    assert len(display.recent) == 300  # a minute at 5 fps
    np.testing.assert_array_equal(strip[0, -30:], np.repeat(one[None], 30, axis=0))  # the last 6 s
    np.testing.assert_array_equal(strip[0, :270], np.repeat(zero[None], 270, axis=0))
