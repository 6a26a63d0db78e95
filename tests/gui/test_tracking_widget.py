"""The Tracking widget in a real napari window, with real DeepLabCut in a child process.

- a training's epochs reach the progress bar and the loss plot; Cancel stops
  the process group within seconds, reaps it (no zombie) and keeps the
  snapshots; the kept snapshot then analyzes a video whose result opens as
  points layers;
- a failing training shows DeepLabCut's own message as a notification;
- without deeplabcut, pressing a DeepLabCut button shows the install hint.
"""

from __future__ import annotations

import importlib.util
import os
import time
import zipfile

import pytest

from test_dlc_project import make_tiny_dlc_project

pytestmark = pytest.mark.gui

needs_deeplabcut = pytest.mark.skipif(
    importlib.util.find_spec("deeplabcut") is None, reason="deeplabcut is not installed"
)


def _error_messages() -> list[str]:
    from napari.utils.notifications import NotificationSeverity, notification_manager

    return [str(n.message) for n in notification_manager.records if n.severity == NotificationSeverity.ERROR]


@pytest.fixture
def widget(make_napari_viewer):
    from napari_facehmm.widgets.tracking import TrackingWidget

    viewer = make_napari_viewer()
    widget = TrackingWidget(viewer)
    viewer.window.add_dock_widget(widget, name="Tracking")
    yield widget
    for job in (widget.training_job, widget.analysis_job):
        if job is not None:
            job.cancel()


def _process_gone(pid: int) -> bool:
    """True when ``pid`` no longer exists at all (not even as a zombie) and its group is empty."""
    import psutil

    try:
        status = psutil.Process(pid).status()
    except psutil.NoSuchProcess:
        status = None
    try:
        os.killpg(pid, 0)
        group_alive = True
    except ProcessLookupError:
        group_alive = False
    return status is None and not group_alive


@needs_deeplabcut
@pytest.mark.dlc
@pytest.mark.slow
def test_training_progress_cancel_and_analysis(widget, qtbot, tmp_path):
    from napari_facehmm.tracking import dlc

    project = make_tiny_dlc_project(tmp_path / "tinyface", n_labeled=30, n_video_frames=20)
    dlc.create_training_dataset(project["config"], net_type="cspnext_s")
    widget.set_project(project["config"])
    widget.epochs_spin.setValue(200)
    widget.batch_spin.setValue(8)
    widget.save_epochs_spin.setValue(1)
    widget.init_combo.setCurrentIndex(1)  # random weights
    job = widget.start_training()
    assert job is not None and widget.cancel_train_button.isEnabled()

    qtbot.waitUntil(lambda: widget.train_progress.value() >= 1, timeout=300_000)
    assert widget.train_progress.maximum() == 200
    assert len(widget.loss_plot.train_line.get_xdata()) >= 1
    pid = job.pid
    started = time.monotonic()
    widget.cancel_train_button.click()
    qtbot.waitUntil(lambda: widget.train_button.isEnabled(), timeout=20_000)
    assert time.monotonic() - started < 10.0
    assert job.cancelled and job.returncode is not None
    assert _process_gone(pid)
    assert "cancelled" in widget.status.text()
    snapshots = dlc.find_snapshots(project["config"])
    assert snapshots and all(zipfile.is_zipfile(p) for p in snapshots)
    assert widget.snapshot_combo.count() == len(snapshots)

    # the kept snapshot is usable: analyze a video, its result opens over it
    n_layers = len(widget.viewer.layers)
    analysis = widget.analyze([project["video"]])
    assert analysis is not None
    qtbot.waitUntil(lambda: widget.analyze_button.isEnabled(), timeout=300_000)
    assert widget.analysis_progress.value() == 1
    assert len(widget.analysis_outputs) == 1 and widget.analysis_outputs[0].is_file()
    names = [layer.name for layer in widget.viewer.layers]
    assert len(widget.viewer.layers) > n_layers
    points = [layer for layer in widget.viewer.layers if layer._type_string == "points"]
    assert points, names
    assert any(layer._type_string == "image" for layer in widget.viewer.layers), names
    assert _process_gone(analysis.pid)


@needs_deeplabcut
@pytest.mark.dlc
def test_failing_training_shows_deeplabcut_message(widget, qtbot, tmp_path):
    project = make_tiny_dlc_project(tmp_path / "tinyface", n_labeled=4, n_video_frames=3)
    widget.set_project(project["config"])
    widget.shuffle_spin.setValue(7)  # no training dataset was created for shuffle 7
    widget.epochs_spin.setValue(1)
    job = widget.start_training()
    assert job is not None
    qtbot.waitUntil(lambda: widget.train_button.isEnabled(), timeout=180_000)
    assert job.returncode == 1
    messages = _error_messages()
    # DeepLabCut's own words (deeplabcut/pose_estimation_pytorch/data/dlcloader.py)
    assert any("Couldn't find any shuffles" in m and "shuffle=7" in m for m in messages), messages
    assert "Couldn't find any shuffles" in widget.status.text()


def test_missing_deeplabcut_shows_install_hint(widget, without_deeplabcut, tmp_path):
    project = make_tiny_dlc_project(tmp_path / "tinyface", n_labeled=4, n_video_frames=3)
    widget.set_project(project["config"])
    for button in (widget.train_button, widget.create_button, widget.evaluate_button, widget.merge_button):
        before = len(_error_messages())
        button.click()
        messages = _error_messages()[before:]
        assert len(messages) == 1
        assert 'pip install "napari-facehmm[dlc]"' in messages[0]
    assert widget.training_job is None


def test_added_frames_open_in_the_labeling_widget_for_refinement(widget, tmp_path):
    import numpy as np

    from napari_facehmm.data import LandmarkSeries
    from napari_facehmm.tracking import dlc

    project = make_tiny_dlc_project(tmp_path / "tinyface", n_labeled=4, n_video_frames=8)
    widget.set_project(project["config"])
    widget.video_list.addItem(str(project["video"]))
    predictions = LandmarkSeries(project["truth"], keypoints=project["keypoints"])
    dlc.add_frames_to_labeled_data(project["config"], project["video"], [1, 5], predictions=predictions)
    # the widget's own path: frame numbers of the first listed video, here from an HMM states table
    import pandas as pd

    pd.DataFrame({"frame": [2, 6, 7], "state_probability": [0.9, 0.3, 0.95]}).to_csv(tmp_path / "states.csv")
    assert widget.frames_from_file(tmp_path / "states.csv") == [6]
    assert widget.extra_frames_edit.text() == "6"
    widget.add_frames_button.click()
    assert "1 frame(s)" in widget.status.text()
    labeling_widget = widget.open_in_labeling()
    assert labeling_widget is not None
    label_set = labeling_widget.labels
    assert label_set.n_images == 3
    # machine labels of frames 1 and 5 are the predictions, ready to be corrected
    rows = [label_set.images.index(f"labeled-data/face_new/img{i}.png") for i in (1, 5)]
    np.testing.assert_allclose(label_set.positions[rows], project["truth"][[1, 5]], atol=1e-6)
