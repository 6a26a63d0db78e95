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


def test_closing_the_widget_saves_and_lets_go_of_the_viewer(widget):
    widget.place(12, 14)
    path = widget.labels.labels_path
    widget.close()
    np.testing.assert_allclose(read_labels(path).positions[0, 0], [12, 14])
    widget.viewer.dims.set_current_step(0, 2)  # no callback into the closed widget
    widget.close()  # twice is harmless


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


def test_create_project_and_extract_frames_from_the_widget(make_napari_viewer, qtbot, tmp_path):
    from napari_facehmm.widgets.labeling import LabelingWidget

    frames = [np.full((40, 56, 3), 10 * (i // 6), np.uint8) for i in range(36)]
    cam1 = write_video(frames, tmp_path / "s_cam1.mp4", fps=30.0)
    cam2 = write_video(frames, tmp_path / "s_cam2.mp4", fps=30.0)
    viewer = make_napari_viewer()
    widget = LabelingWidget(viewer)
    widget.project_name.setText("face")
    widget.experimenter.setText("tester")
    widget.video_list.addItem(str(cam1))
    widget.video_list.addItem(str(cam2))
    widget.working_directory.setText(str(tmp_path / "work"))
    widget.keypoints_edit.setPlainText("nose1\nchin\nlear")  # the landmark set is editable
    widget.skeleton_edit.setPlainText("nose1-chin")
    widget.use_deeplabcut.setChecked(False)
    widget._create_clicked()
    qtbot.waitUntil(lambda: widget.project is not None, timeout=20_000)
    assert widget.project.bodyparts == ("nose1", "chin", "lear")
    assert widget.project.skeleton == (("nose1", "chin"),)
    widget.frames_per_video.setValue(4)
    widget.synchronized.setChecked(True)
    worker = widget.extract(algorithm="kmeans", use_deeplabcut=False)
    with qtbot.waitSignal(worker.finished, timeout=30_000):
        pass
    qtbot.waitUntil(lambda: widget.folder_choice.count() == 2, timeout=5_000)
    names = [sorted(p.name for p in (widget.project.root / "labeled-data" / f"s_cam{i}").glob("*.png"))
             for i in (1, 2)]
    assert len(names[0]) == 4 and names[0] == names[1]
    assert widget.progress_bar.value() == widget.progress_bar.maximum() == 8


def test_frames_per_video_are_chosen_per_video(make_napari_viewer, qtbot, tmp_path):
    from napari_facehmm.widgets.labeling import LabelingWidget

    frames = [np.full((40, 56, 3), 7 * i, np.uint8) for i in range(30)]
    videos = [write_video(frames, tmp_path / f"v{i}.mp4", fps=30.0) for i in (1, 2)]
    config = labeling.create_project("face", "tester", videos, tmp_path / "work", use_deeplabcut=False)
    widget = LabelingWidget(make_napari_viewer())
    widget.open_project(config)
    assert widget.frame_counts_by_video() == {"v1": 20, "v2": 20}  # the config's numframes2pick
    widget.frame_counts.cellWidget(0, 1).setValue(2)
    widget.frame_counts.cellWidget(1, 1).setValue(5)
    worker = widget.extract(algorithm="uniform", synchronized=False, use_deeplabcut=False)
    with qtbot.waitSignal(worker.finished, timeout=30_000):
        pass
    counts = [len(list((widget.project.root / "labeled-data" / f"v{i}").glob("img*.png"))) for i in (1, 2)]
    assert counts == [2, 5]


def test_failed_extraction_is_reported_once_not_raised(make_napari_viewer, qtbot, tmp_path, notifications):
    # a video that became unreadable after the project was made: the worker
    # fails; the user gets one notification naming it, and no traceback
    from napari_facehmm.widgets.labeling import LabelingWidget

    frames = [np.full((40, 56, 3), i, np.uint8) for i in range(20)]
    video = write_video(frames, tmp_path / "gone.mp4", fps=30.0)
    config = labeling.create_project("face", "tester", [video], tmp_path / "work", use_deeplabcut=False)
    widget = LabelingWidget(make_napari_viewer())
    widget.open_project(config)
    for copy in (tmp_path / "work").rglob("gone.mp4"):
        copy.write_bytes(b"not a video any more")
    video.write_bytes(b"not a video any more")
    worker = widget.extract(n_frames=3, algorithm="uniform", use_deeplabcut=False)
    with qtbot.waitSignal(worker.finished, timeout=30_000):
        pass
    qtbot.waitUntil(lambda: any("gone.mp4" in m for m in notifications), timeout=5_000)
    assert sum("gone.mp4" in m for m in notifications) == 1
    assert "gone.mp4" in widget.status.text()
    assert widget.extract_button.isEnabled()


def test_cancel_stops_extraction(make_napari_viewer, qtbot, tmp_path):
    from napari_facehmm.widgets.labeling import LabelingWidget

    frames = [np.full((40, 56, 3), i % 250, np.uint8) for i in range(400)]
    video = write_video(frames, tmp_path / "long.mp4", fps=30.0)
    config = labeling.create_project("face", "tester", [video], tmp_path / "work", use_deeplabcut=False)
    widget = LabelingWidget(make_napari_viewer())
    widget.open_project(config)
    worker = widget.extract(n_frames=10, algorithm="kmeans", use_deeplabcut=False)
    with qtbot.waitSignal(worker.finished, timeout=60_000):
        widget.cancel()
    qtbot.waitUntil(lambda: widget.status.text() == "Extraction cancelled.", timeout=5_000)
    assert widget.extract_button.isEnabled() and not widget.cancel_button.isEnabled()
    assert not list((widget.project.root / "labeled-data" / "long").glob("*.png"))


def test_e_toggles_point_borders(widget, qtbot):
    from qtpy.QtCore import Qt

    widget.place(10, 10)
    assert np.all(widget.points_layer.border_width > 0)
    _key(widget, qtbot, Qt.Key.Key_E)
    assert np.all(widget.points_layer.border_width == 0)
    _key(widget, qtbot, Qt.Key.Key_E)
    assert np.all(widget.points_layer.border_width > 0)


def test_bad_skeleton_text_is_reported(make_napari_viewer):
    from napari_facehmm.widgets.labeling import LabelingWidget

    widget = LabelingWidget(make_napari_viewer())
    widget.skeleton_edit.setPlainText("nose1 chin")
    widget._create_clicked()
    assert "skeleton line 'nose1 chin'" in widget.status.text()
    assert widget.project is None


def test_config_mismatch_is_shown_and_keeps_the_open_labels(widget):
    widget.place(10, 12)
    widget.save()
    before = widget.labels.labels_path.read_bytes()
    config = widget.project.config_path
    config.write_text(config.read_text().replace("- chin\n", "- jaw\n"))
    widget.open_project(config)
    shown = widget.labels
    assert widget.open_folder("cam1") is None
    assert "only in the labels file: ['chin']" in widget.status.text()
    assert widget.labels is shown and widget.points_layer in widget.viewer.layers
    assert widget.labels.labels_path.read_bytes() == before


def test_shift_right_jumps_to_the_first_unfinished_image(widget, qtbot):
    from qtpy.QtCore import Qt

    for k in range(N_KEYPOINTS):
        widget.place(10 + k, 10)
    assert widget.current_row == 0
    _key(widget, qtbot, Qt.Key.Key_Right, Qt.KeyboardModifier.ShiftModifier)
    assert widget.current_row == 1


@pytest.mark.dlc
def test_deeplabcut_project_from_the_widget_and_labels_read_by_deeplabcut(make_napari_viewer, qtbot, tmp_path):
    """Project made by deeplabcut.create_new_project (in a child process, as the widget runs it:
    importing DeepLabCut beside a napari viewer crashes), labeled in the widget, read back by
    DeepLabCut's merge_annotateddatasets (what create_training_dataset reads)."""
    import json
    import subprocess
    import sys

    from napari_facehmm.widgets.labeling import LabelingWidget

    if not labeling.deeplabcut_available():
        pytest.skip("deeplabcut is not installed")
    frames = [np.full((40, 56, 3), 10 * (i // 6), np.uint8) for i in range(36)]
    video = write_video(frames, tmp_path / "cam1.mp4", fps=30.0)
    widget = LabelingWidget(make_napari_viewer())
    worker = widget.create_project("face", "tester", [video], tmp_path / "work", use_deeplabcut=True)
    with qtbot.waitSignal(worker.finished, timeout=180_000):
        pass
    qtbot.waitUntil(lambda: widget.project is not None, timeout=5_000)
    assert widget.project.bodyparts == FACE_KEYPOINTS
    worker = widget.extract(n_frames=3, algorithm="kmeans", use_deeplabcut=False)
    with qtbot.waitSignal(worker.finished, timeout=60_000):
        pass
    widget.open_folder("cam1")
    for k in range(5):
        widget.place(10 + k, 20 + k)
    widget.save()
    code = (
        "import json, os, pathlib, sys, tempfile\n"
        "os.environ['DLClight'] = 'True'\n"
        "from deeplabcut.generate_training_dataset.trainingsetmanipulation import merge_annotateddatasets\n"
        "from deeplabcut.utils import auxiliaryfunctions\n"
        "cfg = auxiliaryfunctions.read_config(sys.argv[1])\n"
        "merged = merge_annotateddatasets(cfg, pathlib.Path(tempfile.mkdtemp()))\n"
        "print(json.dumps({'index': ['/'.join(i) for i in merged.index],\n"
        "                  'values': merged.to_numpy().tolist()}).replace('NaN', 'null'))\n"
    )
    result = subprocess.run([sys.executable, "-c", code, str(widget.project.config_path)],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    answer = json.loads(result.stdout.strip().splitlines()[-1])
    values = np.array(answer["values"], dtype=float).reshape(len(answer["index"]), N_KEYPOINTS, 2)
    assert answer["index"] == widget.labels.images
    row = widget.labels.images.index(widget.labels.images[widget.current_row])
    np.testing.assert_allclose(values[row, :5], [[10 + k, 20 + k] for k in range(5)])
    assert np.isnan(values[row, 5:]).all() and np.isnan(np.delete(values, row, axis=0)).all()


def test_a_real_mouse_click_on_the_canvas_places_the_current_keypoint(widget, qtbot):
    from qtpy.QtCore import QPoint, Qt

    viewer = widget.viewer
    viewer.window._qt_window.resize(1000, 800)
    viewer.reset_view()
    qtbot.wait(100)
    vispy_canvas = viewer.window._qt_viewer.canvas
    view = vispy_canvas.view
    target_x, target_y = 30.0, 20.0  # image pixels
    # the inverse of napari's own canvas -> world mapping (_map_canvas2world)
    canvas_x, canvas_y = (view.transform * view.scene.transform).map([target_x, target_y])[:2]
    zoom = viewer.camera.zoom
    qtbot.mouseClick(vispy_canvas.native, Qt.MouseButton.LeftButton,
                     pos=QPoint(int(round(canvas_x)), int(round(canvas_y))))
    placed = widget.labels.positions[widget.current_row, 0]
    np.testing.assert_allclose(placed, [target_x, target_y], atol=1.5 / zoom + 0.5)
    assert widget.current_keypoint == 1


def test_a_real_mouse_drag_moves_a_point_in_select_mode(widget, qtbot):
    from qtpy.QtCore import QPoint, Qt

    viewer = widget.viewer
    viewer.window._qt_window.resize(1000, 800)
    viewer.reset_view()
    qtbot.wait(100)
    widget.place(30.0, 20.0)
    layer = widget.points_layer
    layer.mode = "select"
    layer.selected_data = set()
    vispy_canvas = viewer.window._qt_viewer.canvas
    transform = vispy_canvas.view.transform * vispy_canvas.view.scene.transform

    def canvas_point(x, y):
        cx, cy = transform.map([x, y])[:2]
        return QPoint(int(round(cx)), int(round(cy)))

    start, end = canvas_point(30.0, 20.0), canvas_point(45.0, 32.0)
    native = vispy_canvas.native
    qtbot.mousePress(native, Qt.MouseButton.LeftButton, pos=start)
    for step in range(1, 6):
        qtbot.mouseMove(native, start + (end - start) * (step / 5))
        qtbot.wait(10)
    qtbot.mouseRelease(native, Qt.MouseButton.LeftButton, pos=end)
    zoom = viewer.camera.zoom
    np.testing.assert_allclose(widget.labels.positions[widget.current_row, 0], [45.0, 32.0], atol=1.5 / zoom + 0.5)
    assert len(layer.data) == 1
