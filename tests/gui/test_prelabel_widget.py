"""The Label landmarks dock's "Pre-label with the face model": proposals, confirming a frame, saving.

Set ``FACEHMM_SCREENSHOT_PRELABEL=path.png`` to keep the screenshot of the dock and the proposals.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from napari_facehmm import labeling
from napari_facehmm.face import FACE_KEYPOINTS
from napari_facehmm.io.dlc import image_frame_index, read_labels
from napari_facehmm.tracking.facemesh import facemesh_available

pytestmark = [
    pytest.mark.gui,
    pytest.mark.skipif(not facemesh_available(), reason="mediapipe (the built-in face model) is not installed"),
]

N_KEYPOINTS = len(FACE_KEYPOINTS)
CHIN = FACE_KEYPOINTS.index("chin")


@pytest.fixture(scope="module")
def face_project(tmp_path_factory):
    """A face project of 4 frames extracted from a rendered synthetic face (640x480, 2 s)."""
    from napari_facehmm.synthetic import generate_session

    out = tmp_path_factory.mktemp("prelabel_gui")
    truth = generate_session(out, n_cameras=1, size=(640, 480), seconds=2)
    camera = truth.camera_names[0]
    video = truth.video_paths[camera]
    config = labeling.create_project("face", "tester", [video], out / "work", use_deeplabcut=False)
    labeling.run_to_end(labeling.extract_frames(config, n_frames=4, algorithm="uniform", use_deeplabcut=False))
    return config, video.stem, truth.points_2d_true[camera]


def _canvas_mapping(viewer):
    transform = viewer.window._qt_viewer.canvas.view.transform * viewer.window._qt_viewer.canvas.view.scene.transform

    def to_canvas(x: float, y: float) -> tuple[float, float]:
        cx, cy = transform.map([x, y])[:2]
        return float(cx), float(cy)

    return to_canvas


def _drag(viewer, qtbot, start_xy, end_xy) -> None:
    from qtpy.QtCore import QPoint, Qt

    to_canvas = _canvas_mapping(viewer)
    start, end = (QPoint(*(int(round(v)) for v in to_canvas(*xy))) for xy in (start_xy, end_xy))
    native = viewer.window._qt_viewer.canvas.native
    qtbot.mousePress(native, Qt.MouseButton.LeftButton, pos=start)
    for step in range(1, 6):
        qtbot.mouseMove(native, start + (end - start) * (step / 5))
        qtbot.wait(10)
    qtbot.mouseRelease(native, Qt.MouseButton.LeftButton, pos=end)


def _pixel(image: np.ndarray, canvas_xy: tuple[float, float]) -> np.ndarray:
    x, y = (int(round(v)) for v in canvas_xy)
    return image[y - 1 : y + 2, x - 1 : x + 2, :3].reshape(-1, 3).mean(axis=0)


def test_prelabel_confirm_one_frame_by_moving_a_point_and_save_only_it(make_napari_viewer, qtbot, face_project):
    from napari_facehmm.widgets.labeling import LabelingWidget, keypoint_colors

    config, folder_name, truth_px = face_project
    viewer = make_napari_viewer(show=True)
    viewer.window._qt_window.resize(1400, 900)
    widget = LabelingWidget(viewer)
    viewer.window.add_dock_widget(widget, name="Label landmarks")
    widget.open_project(config)
    assert widget.folder_choice.currentText() == folder_name
    widget.tabs.setCurrentIndex(2)
    rule = widget.prelabel_rule
    qtbot.waitUntil(rule.isVisible, timeout=5_000)
    assert "Unconfirmed frames are not saved" in rule.text()

    widget.prelabel_button.click()  # "Pre-label with the face model"
    qtbot.waitUntil(lambda: isinstance(widget.labels, labeling.PrelabelSet), timeout=120_000)
    qtbot.waitUntil(lambda: widget.prelabel_button.isEnabled(), timeout=10_000)
    labels, layer = widget.labels, widget.points_layer
    project = labeling.open_project(config)
    folder = project.labeled_data(folder_name)
    assert (folder / "machinelabels-iter0.h5").is_file()
    assert not project.labels_path(folder_name).exists()
    images = [Path(i).name for i in labels.images]
    proposals = labels.positions.copy()
    truth = np.stack([truth_px[image_frame_index(name)] for name in images])
    assert np.median(np.linalg.norm(proposals - truth, axis=2)) < 10.0
    # every point is a proposal: hollow ring, black border; the dock counts them
    assert len(layer.data) == len(images) * N_KEYPOINTS
    assert set(map(str, layer.symbol)) == {"ring"}
    assert np.allclose(layer.border_color[:, :3], 0)
    assert layer.mode == "select"
    assert widget.prelabel_counts.text() == "Proposals: 0 frame(s) confirmed, 4 with proposals to check"

    # frame 1: move the chin proposal 14 px down and 10 px right with the mouse
    viewer.reset_view()
    viewer.dims.set_current_step(0, 1)
    qtbot.wait(200)
    layer.selected_data = set()
    start = tuple(proposals[1, CHIN])
    end = (start[0] + 10.0, start[1] + 14.0)
    _drag(viewer, qtbot, start, end)
    zoom = viewer.camera.zoom
    np.testing.assert_allclose(labels.positions[1, CHIN], end, atol=1.5 / zoom + 0.5)
    assert labels.confirmed.tolist() == [False, True, False, False]
    assert widget.prelabel_counts.text() == "Proposals: 1 frame(s) confirmed, 3 with proposals to check"
    assert widget.progress_label.text() == f"{N_KEYPOINTS}/{4 * N_KEYPOINTS} points, 1/4 frames done"
    assert len(layer.data) == 4 * N_KEYPOINTS
    rows = np.round(layer.data[:, 0]).astype(int)
    symbols = np.asarray([str(v) for v in layer.symbol])
    assert set(symbols[rows == 1]) == {"disc"} and set(symbols[rows != 1]) == {"ring"}

    # what a person sees: labels filled with their keypoint's color, proposals hollow
    layer.selected_data = set()
    chin_color = keypoint_colors(N_KEYPOINTS)[CHIN, :3] * 255
    to_canvas = _canvas_mapping(viewer)
    qtbot.wait(200)
    confirmed_canvas = viewer.screenshot(canvas_only=True)
    at_label = _pixel(confirmed_canvas, to_canvas(*labels.positions[1, CHIN]))
    viewer.dims.set_current_step(0, 2)
    qtbot.wait(200)
    proposal_canvas = viewer.screenshot(canvas_only=True)
    at_proposal = _pixel(proposal_canvas, to_canvas(*labels.positions[2, CHIN]))
    assert np.linalg.norm(at_label - chin_color) < 40, (at_label, chin_color)
    assert np.linalg.norm(at_proposal - chin_color) > 100, (at_proposal, chin_color)  # the frame shows through
    path = Path(os.environ.get("FACEHMM_SCREENSHOT_PRELABEL", folder.parent.parent / "prelabel.png"))
    window = viewer.screenshot(str(path), canvas_only=False)  # frame 2: proposals to check
    assert path.is_file() and window.shape[0] > 400

    # save: CollectedData holds exactly the confirmed frame
    assert widget.save() is not None
    saved = read_labels(project.labels_path(folder_name))
    assert [Path(i).name for i in saved.images] == [images[1]]
    expected = proposals[1].copy()
    expected[CHIN] = labels.positions[1, CHIN]
    np.testing.assert_allclose(saved.positions[0], expected)
    assert "3 frame(s) with unconfirmed proposals not saved" in widget.status.text()


def test_c_confirms_the_shown_frame_and_a_mouse_project_is_refused(make_napari_viewer, qtbot, face_project, tmp_path):
    from qtpy.QtCore import Qt

    from napari_facehmm.widgets.labeling import LabelingWidget

    config, folder_name, _ = face_project
    viewer = make_napari_viewer()
    widget = LabelingWidget(viewer)
    viewer.window.add_dock_widget(widget)
    widget.open_project(config)
    folder = labeling.open_project(config).labeled_data(folder_name)
    # the proposals written by the first test are reopened, with their rule, by "Refine predictions"
    if labeling.find_machine_labels(folder) is None:
        labeling.run_to_end(labeling.prelabel_folder(config, folder_name))
    labels = widget.open_folder(folder_name, refine=True)
    assert isinstance(labels, labeling.PrelabelSet)
    before = labels.saved_rows().copy()
    row = int(np.flatnonzero(~before)[0])
    viewer.dims.set_current_step(0, row)
    canvas = viewer.window._qt_viewer.canvas.native
    canvas.setFocus()
    qtbot.keyClick(canvas, Qt.Key.Key_C)
    assert labels.confirmed[row] and not labels.machine[row].any()
    assert set(str(s) for s, r in zip(widget.points_layer.symbol, np.round(widget.points_layer.data[:, 0]))
               if r == row) == {"disc"}

    # a project whose bodyparts are not face landmarks: a clear message, nothing written
    from napari_facehmm.io.video import write_video

    video = write_video([np.full((48, 64, 3), 40, np.uint8)] * 6, tmp_path / "mouse.mp4", fps=30.0)
    mouse = labeling.create_project("mouse", "me", [video], tmp_path / "work", bodyparts=("snout", "tailbase"),
                                    skeleton=(), use_deeplabcut=False)
    labeling.run_to_end(labeling.extract_frames(mouse, n_frames=2, algorithm="uniform", use_deeplabcut=False))
    widget.open_project(mouse)
    worker = widget.prelabel("mouse")
    qtbot.waitUntil(lambda: widget.prelabel_button.isEnabled(), timeout=10_000)
    assert worker is not None
    assert "none of the project's bodyparts" in widget.status.text()
    assert labeling.find_machine_labels(labeling.open_project(mouse).labeled_data("mouse")) is None
