"""The labeling widget in a real napari window: clicks, keys, saving, autosave."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from napari_facehmm import labeling
from napari_facehmm.face import FACE_KEYPOINTS
from napari_facehmm.io.dlc import read_labels
from napari_facehmm.io.video import write_video

pytestmark = pytest.mark.gui

N_KEYPOINTS = len(FACE_KEYPOINTS)


def _project(tmp_path: Path, n_images: int = 3) -> Path:
    frames = [np.full((60, 80, 3), 8 * i, np.uint8) for i in range(24)]
    video = write_video(frames, tmp_path / "cam1.mp4", fps=30.0)
    config = labeling.create_project("face", "tester", [video], tmp_path / "work", use_deeplabcut=False)
    labeling.run_to_end(
        labeling.extract_frames(config, n_frames=n_images, algorithm="uniform", use_deeplabcut=False)
    )
    return config


@pytest.fixture
def widget(make_napari_viewer, tmp_path):
    from napari_facehmm.widgets.labeling import LabelingWidget

    viewer = make_napari_viewer()
    widget = LabelingWidget(viewer)
    viewer.window.add_dock_widget(widget)
    widget.open_project(_project(tmp_path))
    assert widget.folder_choice.currentText() == "cam1"
    assert widget.open_folder("cam1") is not None
    return widget


def _key(widget, qtbot, key, modifier=None):
    from qtpy.QtCore import Qt

    canvas = widget.viewer.window._qt_viewer.canvas.native
    canvas.setFocus()
    qtbot.keyClick(canvas, key, modifier or Qt.KeyboardModifier.NoModifier)


def test_clicks_place_keypoints_in_order_and_labels_round_trip(widget, qtbot):
    from qtpy.QtCore import Qt

    viewer, layer = widget.viewer, widget.points_layer
    assert layer.mode == "add" and widget.current_keypoint == 0
    rng = np.random.default_rng(3)
    truth = np.full((3, N_KEYPOINTS, 2), np.nan)
    # image 0: every keypoint, one click each; the current keypoint advances by itself
    for k in range(N_KEYPOINTS):
        assert widget.current_keypoint == k
        truth[0, k] = rng.uniform(5, 55, 2)
        widget.place(*truth[0, k])
    assert widget.labels.progress().n_frames_done == 1
    assert len(widget.skeleton_layer.data) == len(widget.labels.skeleton)  # skeleton drawn live
    # image 1 (Right arrow, napari's own): three points, then the keys
    _key(widget, qtbot, Qt.Key.Key_Right)
    assert widget.current_row == 1
    for k in range(3):
        truth[1, k] = rng.uniform(5, 55, 2)
        widget.place(*truth[1, k])
    assert widget.current_keypoint == 3
    _key(widget, qtbot, Qt.Key.Key_Down)
    assert widget.current_keypoint == 4
    _key(widget, qtbot, Qt.Key.Key_Up)
    _key(widget, qtbot, Qt.Key.Key_N)  # keypoint 3 not visible -> moves on to 4
    assert widget.labels.not_visible[1, 3] and widget.current_keypoint == 4
    # drag point of keypoint 1 on image 1 (napari emits the same data event at release)
    labels = list(layer.features["label"])
    index = next(i for i, (p, name) in enumerate(zip(layer.data, labels))
                 if round(p[0]) == 1 and name == FACE_KEYPOINTS[1])
    moved = layer.data.copy()
    moved[index, 1:] = [40.0, 41.0]
    layer.data = moved
    truth[1, 1] = [41.0, 40.0]
    # delete keypoint 2 on image 1 (select it, napari's Delete)
    index = next(i for i, (p, name) in enumerate(zip(layer.data, list(layer.features["label"])))
                 if round(p[0]) == 1 and name == FACE_KEYPOINTS[2])
    layer.selected_data = {index}
    layer.remove_selected()
    truth[1, 2] = np.nan
    np.testing.assert_allclose(widget.labels.positions, truth)
    assert widget.progress_label.text() == f"{N_KEYPOINTS + 2}/{3 * N_KEYPOINTS} points, 1/3 frames done"
    # Ctrl+S saves
    _key(widget, qtbot, Qt.Key.Key_S, Qt.KeyboardModifier.ControlModifier)
    path = widget.labels.labels_path
    assert widget.last_saved == path and path.is_file() and path.with_suffix(".csv").is_file()
    saved = read_labels(path)
    np.testing.assert_allclose(saved.positions, truth)
    # reopening shows the labels as saved, NaN included
    widget.open_folder("cam1")
    np.testing.assert_allclose(widget.labels.positions, truth)
    assert len(widget.points_layer.data) == N_KEYPOINTS + 2
    assert len([layer for layer in viewer.layers if layer.name.startswith("cam1")]) == 3


def test_a_second_click_for_the_same_keypoint_moves_it(widget):
    widget.place(10, 10)
    widget.set_current_keypoint(0)
    widget.place(20, 30)
    assert len(widget.points_layer.data) == 1
    np.testing.assert_allclose(widget.labels.positions[0, 0], [20, 30])


def test_removing_the_layer_saves(widget):
    widget.place(10, 12)
    path = widget.labels.labels_path
    assert not path.exists()
    widget.viewer.layers.remove(widget.points_layer)
    np.testing.assert_allclose(read_labels(path).positions[0, 0], [10, 12])


def test_closing_the_viewer_saves(widget):
    widget.place(11, 13)
    path = widget.labels.labels_path
    widget.viewer.close()
    np.testing.assert_allclose(read_labels(path).positions[0, 0], [11, 13])


def test_autosave_timer(widget, qtbot):
    widget.set_autosave_minutes(0.0005)  # 30 ms
    widget._timer.setInterval(20)
    widget.place(5, 6)
    path = widget.labels.labels_path
    qtbot.waitUntil(path.exists, timeout=3000)
    assert not widget.labels.dirty


def test_refine_shows_predictions_and_saves_them_as_labels(widget, qtbot):
    import pandas as pd

    folder = widget.labels.root / "labeled-data" / "cam1"
    images = [Path(i).name for i in widget.labels.images]
    columns = pd.MultiIndex.from_product(
        [["DLC_net"], list(FACE_KEYPOINTS), ["x", "y", "likelihood"]], names=["scorer", "bodyparts", "coords"]
    )
    values = np.tile([30.0, 20.0, 0.95], (len(images), N_KEYPOINTS))
    index = pd.MultiIndex.from_tuples([("labeled-data", "cam1", name) for name in images])
    pd.DataFrame(values, index=index, columns=columns).to_hdf(
        folder / "machinelabels-iter0.h5", key="df_with_missing", mode="w"
    )
    widget.open_folder("cam1", refine=True)
    assert len(widget.points_layer.data) == len(images) * N_KEYPOINTS
    # predictions have black borders until corrected
    assert np.allclose(widget.points_layer.border_color[:, :3], 0)
    widget.set_current_keypoint(0)
    widget.place(7, 8)  # correcting a prediction: the click replaces it
    assert len(widget.points_layer.data) == len(images) * N_KEYPOINTS
    assert widget.save() is not None
    saved = read_labels(folder / "CollectedData_tester.h5")
    np.testing.assert_allclose(saved.positions[0, 0], [7, 8])
    np.testing.assert_allclose(saved.positions[0, 1], [30, 20])


def test_missing_images_are_named(widget):
    widget.place(10, 12)
    widget.save()
    first = widget.labels.image_path(0)
    first.unlink()
    widget.open_folder("cam1")
    assert widget.labels.missing_images == [widget.labels.images[0]]
    assert first.name in widget.status.text()
