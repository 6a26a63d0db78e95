"""Screenshots of the main views: the canvas is not blank and shows the state colors.

PNGs go to ``$FACEHMM_SCREENSHOT_DIR`` when set (to look at them), else to
the test's tmp folder. Budget: about 30 s on the shared synthetic session.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from napari_facehmm.colors import state_colors

pytestmark = pytest.mark.gui


def _color_pixels(image: np.ndarray, rgba: np.ndarray, tolerance: int = 12) -> int:
    """Pixels of ``image`` (H, W, 3+) within ``tolerance`` of color ``rgba`` (floats)."""
    target = np.round(np.asarray(rgba[:3]) * 255).astype(int)
    return int((np.abs(image[..., :3].astype(int) - target).max(axis=-1) <= tolerance).sum())


def test_screenshots_show_data_and_state_colors(make_napari_viewer, synthetic_session, tmp_path, qtbot):
    import imageio.v2 as imageio

    from napari_facehmm.widgets.app import open_face_viewer

    out = Path(os.environ.get("FACEHMM_SCREENSHOT_DIR", tmp_path))
    out.mkdir(parents=True, exist_ok=True)
    viewer = make_napari_viewer(show=True)
    viewer.window._qt_window.resize(1600, 1000)
    viewer, docks = open_face_viewer(Path(synthetic_session.out_dir), viewer=viewer, n_states=6, n_restarts=1)
    session = docks["states"].session
    frame = 150
    session.seek(frame)
    state = session.state_at(frame)
    assert state >= 0
    qtbot.wait(200)
    viewer.reset_view()
    qtbot.wait(200)

    canvas = viewer.screenshot(str(out / "viewer-canvas.png"), canvas_only=True)
    window = viewer.screenshot(str(out / "viewer-window.png"), canvas_only=False)
    assert canvas.std() > 10, "canvas looks blank"
    palette = state_colors(session.n_states)
    # the points of this frame all carry the state's color
    assert _color_pixels(canvas, palette[state]) >= 30
    assert window.shape[0] > canvas.shape[0] and window.shape[1] > canvas.shape[1]

    # the ethogram band shows every visited state's color
    ethogram = docks["ethogram"].grab().toImage()
    ethogram.save(str(out / "ethogram.png"))
    band = imageio.imread(out / "ethogram.png")
    for visited in np.unique(session.states[session.states >= 0]):
        assert _color_pixels(band, palette[visited], tolerance=3) > 0, f"state {visited} missing from the band"

    # the 3D face shows the state color too
    face = docks["face3d"].canvas.render()
    imageio.imwrite(out / "face3d.png", face)
    assert _color_pixels(face, palette[state], tolerance=20) >= 10

    summary = docks["summary"].grab().toImage()
    summary.save(str(out / "summary.png"))
    assert (out / "summary.png").stat().st_size > 5000
