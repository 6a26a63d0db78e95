"""A screenshot of the labeling view on a synthetic face (frame, points, skeleton, keypoint list).

Set ``FACEHMM_SCREENSHOT=docs/screenshot-labeling.png`` to write the README image.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from napari_facehmm import labeling
from napari_facehmm.face import FACE_KEYPOINTS
from napari_facehmm.io.video import write_video

pytestmark = pytest.mark.gui


def _synthetic_face_project(tmp_path: Path, size=(480, 360), n_frames=40):
    from napari_facehmm.synthetic import make_cameras, project, render_face_frames, simulate_face

    simulation = simulate_face(n_frames, fps=30.0, seed=2)
    camera = make_cameras(1, size=size, rng=np.random.default_rng(0))[0]
    video = write_video(render_face_frames(simulation, camera), tmp_path / "face_cam1.mp4", fps=30.0)
    truth_px = project(camera, simulation.points_3d)  # (n_frames, 21, 2)
    config = labeling.create_project("face", "labeler", [video], tmp_path / "work", use_deeplabcut=False)
    labeling.run_to_end(labeling.extract_frames(config, n_frames=6, algorithm="kmeans", use_deeplabcut=False))
    return config, truth_px


def test_labeling_view_screenshot(make_napari_viewer, qtbot, tmp_path):
    from napari_facehmm.widgets.labeling import LabelingWidget

    config, truth_px = _synthetic_face_project(tmp_path)
    viewer = make_napari_viewer(show=True)
    viewer.window._qt_window.resize(1400, 900)
    widget = LabelingWidget(viewer)
    viewer.window.add_dock_widget(widget, name="Label landmarks")
    widget.open_project(config)
    widget.open_folder("face_cam1")
    frame_index = int(Path(widget.labels.images[0]).stem[3:])
    # label 14 of 21 landmarks where the synthetic truth puts them, as clicks would
    for k in range(14):
        assert widget.current_keypoint == k
        x, y = truth_px[frame_index, k]
        widget.place(x, y)
    assert widget.current_keypoint == 14
    viewer.layers.selection.active.selected_data = set()
    qtbot.wait(300)  # let the window lay out its dock before grabbing it
    path = Path(os.environ.get("FACEHMM_SCREENSHOT", tmp_path / "labeling.png"))
    path.parent.mkdir(parents=True, exist_ok=True)
    image = viewer.screenshot(str(path), canvas_only=False)
    assert path.is_file()
    assert image.ndim == 3 and image.shape[0] > 400
    # the canvas is not black: the face frame is drawn
    assert image[..., :3].std() > 10
    assert widget.keypoint_list.currentItem().text().endswith(FACE_KEYPOINTS[14])
