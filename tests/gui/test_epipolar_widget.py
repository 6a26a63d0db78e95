"""Epipolar help in the labeling dock (issue #16): a landmark placed in camA draws its line in camB.

Truth: a rendered synthetic 2-camera session (1 s, 320x240, the true
calibration with lens distortion); frames extracted at the same indices for
both cameras. The drawn curve is checked against the fundamental matrix
built here from the calibration's projection matrices (Hartley & Zisserman's
``F = [e']_x P' P^+``, independent of ``labeling.epipolar``): every drawn
vertex, undistorted, lies within 0.05 px of the line ``F x_a``, and the
true landmark position in camB lies on the curve.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from napari_facehmm import labeling

pytestmark = pytest.mark.gui


def _fundamental_from_projections(camera_a, camera_b) -> np.ndarray:
    p_a = camera_a.matrix @ camera_a.extrinsics[:3]
    p_b = camera_b.matrix @ camera_b.extrinsics[:3]
    centre_a = np.append(camera_a.position, 1.0)
    epipole = p_b @ centre_a
    skew = np.array([[0, -epipole[2], epipole[1]], [epipole[2], 0, -epipole[0]], [-epipole[1], epipole[0], 0]])
    return skew @ p_b @ np.linalg.pinv(p_a)


@pytest.fixture
def session_widget(make_napari_viewer, tmp_path):
    from napari_facehmm.synthetic import generate_session
    from napari_facehmm.widgets.labeling import LabelingWidget

    truth = generate_session(tmp_path / "rig", n_cameras=2, seconds=1.0, seed=0)
    config = labeling.create_project(
        "face", "tester", list(truth.video_paths.values()), tmp_path / "work", use_deeplabcut=False
    )
    labeling.run_to_end(
        labeling.extract_frames(config, n_frames=3, algorithm="uniform", synchronized=True, use_deeplabcut=False)
    )
    viewer = make_napari_viewer()
    widget = LabelingWidget(viewer)
    viewer.window.add_dock_widget(widget)
    widget.open_project(config)
    assert widget.open_folder("session1-camA") is not None
    return widget, truth


def test_placed_landmark_draws_its_epipolar_line_in_the_other_camera(session_widget):
    import cv2

    widget, truth = session_widget
    shown = widget.show_epipolar(truth.calibration_path)
    assert shown == {"camB": "session1-camB"}
    row = widget.current_row
    frame = int(Path(widget.labels.images[row]).stem.removeprefix("img"))
    k = widget.current_keypoint
    point_a = truth.points_2d_true["camA"][frame, k]
    widget.place(point_a[0], point_a[1])
    lines = widget.epipolar["lines"]
    assert len(lines.data) == 1
    path = np.asarray(lines.data[0])
    assert np.all(path[:, 0] == row)
    offset = widget.epipolar["offsets"]["camB"]
    assert offset >= truth.calibration.camera("camA").size[0]
    drawn_b = np.column_stack([path[:, 2] - offset, path[:, 1]])  # (x, y) in camB's pixels
    camera_a, camera_b = truth.calibration.camera("camA"), truth.calibration.camera("camB")
    f = _fundamental_from_projections(camera_a, camera_b)
    undistort = lambda cam, px: cv2.undistortPoints(  # noqa: E731
        np.asarray(px, np.float64).reshape(-1, 1, 2), cam.matrix, cam.distortions, P=cam.matrix
    ).reshape(-1, 2)
    line = f @ np.append(undistort(camera_a, point_a)[0], 1.0)
    line /= np.hypot(line[0], line[1])
    distances = np.abs(np.column_stack([undistort(camera_b, drawn_b), np.ones(len(drawn_b))]) @ line)
    assert distances.max() < 0.05
    # the landmark's true place in camB is on the drawn curve (vertices a few px apart)
    truth_b = truth.points_2d_true["camB"][frame, k]
    segment = np.min(np.linalg.norm(drawn_b - truth_b, axis=1))
    spacing = np.median(np.linalg.norm(np.diff(drawn_b, axis=0), axis=1))
    assert segment < spacing
    # no label in camB yet: nothing to triangulate, no hint
    assert len(widget.epipolar["hints"].data) == 0
    assert "place a landmark in two cameras" in widget.epipolar_label.text()


def test_labels_in_two_cameras_give_hints_and_errors(session_widget):
    widget, truth = session_widget
    widget.show_epipolar(truth.calibration_path)
    row = widget.current_row
    image = Path(widget.labels.images[row]).name
    frame = int(Path(image).stem.removeprefix("img"))
    other = widget.epipolar["others"]["camB"]
    other_row = [Path(name).name for name in other.images].index(image)
    # camB: keypoints 0 and 1 labeled (1 off by 15 px across the epipolar lines, which run about
    # horizontally: along them two views cannot see an error); camA: keypoints 0, 1 and 2
    other.set_point(other_row, 0, *truth.points_2d_true["camB"][frame, 0])
    other.set_point(other_row, 1, *(truth.points_2d_true["camB"][frame, 1] + [0.0, 15.0]))
    for k in range(3):
        widget.labels.set_point(row, k, *truth.points_2d_true["camA"][frame, k])
    widget.update_epipolar()
    errors = widget.epipolar["errors"]
    assert errors["camA"][0] < 0.5 and errors["camB"][0] < 0.5
    assert errors["camB"][1] > 3.0
    assert "Reprojection error" in widget.epipolar_label.text()
    assert len(widget.epipolar["lines"].data) == 3  # one curve per landmark placed in camA


def test_epipolar_view_screenshot(make_napari_viewer, qtbot, tmp_path):
    """Three cameras, camB labeled: curves in camA and camC; camA partly labeled: hints in camC.

    Set ``FACEHMM_SCREENSHOT=docs/screenshot-epipolar.png`` to write the README image.
    """
    import os

    from napari_facehmm.synthetic import generate_session
    from napari_facehmm.widgets.labeling import LabelingWidget

    truth = generate_session(tmp_path / "rig", n_cameras=3, seconds=1.0, seed=0, size=(320, 240))
    config = labeling.create_project(
        "face", "tester", list(truth.video_paths.values()), tmp_path / "work", use_deeplabcut=False
    )
    labeling.run_to_end(
        labeling.extract_frames(config, n_frames=3, algorithm="uniform", synchronized=True, use_deeplabcut=False)
    )
    viewer = make_napari_viewer(show=True)
    viewer.window._qt_window.resize(1500, 800)
    widget = LabelingWidget(viewer)
    viewer.window.add_dock_widget(widget, name="Label landmarks")
    widget.open_project(config)
    widget.open_folder("session1-camB")
    widget.show_epipolar(truth.calibration_path)
    row = widget.current_row
    image = Path(widget.labels.images[row]).name
    frame = int(Path(image).stem.removeprefix("img"))
    camera_a = widget.epipolar["others"]["camA"]
    a_row = [Path(n).name for n in camera_a.images].index(image)
    for k in (0, 4, 8):  # a few landmarks already labeled in camA
        camera_a.set_point(a_row, k, *truth.points_2d_true["camA"][frame, k])
    for k in (0, 4, 8, 12):
        widget.set_current_keypoint(k)
        widget.place(*truth.points_2d_true["camB"][frame, k])
    viewer.layers.selection.active.selected_data = set()
    qtbot.wait(300)
    viewer.reset_view()
    qtbot.wait(100)
    hints = widget.epipolar["hints"].data
    assert len(hints) == 3  # 0, 4, 8 seen by camA and camB: reprojected into camC
    assert len(widget.epipolar["lines"].data) == 8  # 4 landmarks x 2 other cameras
    path = Path(os.environ.get("FACEHMM_SCREENSHOT", tmp_path / "epipolar.png"))
    path.parent.mkdir(parents=True, exist_ok=True)
    shot = viewer.screenshot(str(path), canvas_only=False)
    assert shot[..., :3].std() > 10
