"""``facehmm view DIR --screenshot OUT.png`` end to end, in a subprocess (budget ~40 s)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.gui


def test_view_command_saves_a_window_screenshot(synthetic_session, tmp_path):
    import imageio.v2 as imageio

    out = tmp_path / "view.png"
    env = dict(os.environ, QT_QPA_PLATFORM="xcb")
    result = subprocess.run(
        [sys.executable, "-m", "napari_facehmm.cli", "view", str(synthetic_session.out_dir),
         "--n-states", "4", "--restarts", "1", "--frame", "100", "--screenshot", str(out)],
        capture_output=True, text=True, env=env, timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    image = imageio.imread(out)
    assert image.shape[0] >= 800 and image.shape[1] >= 1200  # the whole window, docks included
    assert image[..., :3].std() > 20


def test_view_command_rejects_a_folder_that_is_no_session(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "napari_facehmm.cli", "view", str(tmp_path), "--screenshot", str(tmp_path / "x.png")],
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 2
    assert "not a session folder" in result.stderr
    assert not (tmp_path / "x.png").exists()
