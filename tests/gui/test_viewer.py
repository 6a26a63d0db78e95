"""The viewer: readers, session folder, docks, state coloring, seeking, bad input.

Real napari windows under Xvfb (pytest-xvfb), on the shared short synthetic
session (20 s, 2 cameras, 6 true states). Budget: about 1.5 minutes.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from napari_facehmm.colors import state_colors
from napari_facehmm.layerdata import VideoFrames, egocentric_frame, states_for_frames

pytestmark = pytest.mark.gui

N_STATES = 6


def _session_dir(synthetic_session) -> Path:
    return Path(synthetic_session.out_dir)


def _open(make_napari_viewer, synthetic_session, fit=False):
    from napari_facehmm.widgets.app import open_face_viewer

    viewer = make_napari_viewer()
    viewer, docks = open_face_viewer(_session_dir(synthetic_session), viewer=viewer, fit=False)
    if fit:
        _fit(docks, qtbot=None)
    return viewer, docks


def _fit(docks, qtbot, n_states=N_STATES):
    from napari_facehmm.widgets.app import fit_now

    fit_now(docks["states"], n_states=n_states, n_restarts=1, show_progress=False)


# ------------------------------------------------------------------ readers
def test_video_reader_gives_lazy_rgb_layer(make_napari_viewer, synthetic_session):
    viewer = make_napari_viewer()
    video = _session_dir(synthetic_session) / "videos-raw" / "session1-camA.mp4"
    layers = viewer.open(video, plugin="napari-facehmm")
    assert len(layers) == 1
    layer = layers[0]
    assert layer.rgb and isinstance(layer.data, VideoFrames)
    assert layer.data.shape == (600, 240, 320, 3)
    # opening decodes at most the first frame(s): the LRU cache stays small
    assert len(layer.data.reader._cache) <= layer.data.reader.cache_size
    viewer.dims.set_point(0, 300)
    assert layer._slice.image.view.shape[:2] == (240, 320)


def test_landmark_readers_points_features_and_skeleton(make_napari_viewer, synthetic_session):
    viewer = make_napari_viewer()
    folder = _session_dir(synthetic_session)
    from napari_facehmm.widgets._layers import FacePoints

    path = folder / "pose-2d" / "session1-camA.h5"
    layers = viewer.open(path, plugin="napari-facehmm")
    kinds = sorted(layer._type_string for layer in layers)
    assert kinds == ["points", "vectors"]
    points = next(layer for layer in layers if layer._type_string == "points")
    # the reader hands napari the plugin's points layer (cached extent), and
    # napari records where it came from
    assert isinstance(points, FacePoints)
    assert Path(points.source.path) == path and points.source.reader_plugin == "napari-facehmm"
    assert set(points.features.columns) >= {"keypoint", "likelihood", "frame"}
    assert points.data.shape[1] == 3
    assert points.data[:, 0].max() == 599
    # one color per keypoint
    first = points.features["keypoint"] == "nose1"
    assert np.ptp(points.face_color[first.to_numpy()], axis=0).max() == 0
    # without 3D data the 3D dock shows the egocentric 2D face (z = 0)
    from napari_facehmm.widgets.face3d import Face3DWidget

    face = Face3DWidget(viewer)
    viewer.dims.set_point(0, 42)
    assert "egocentric 2D" in face.label.text()
    assert np.all(face.last_positions[:, 2] == 0)
    layers_3d = viewer.open(folder / "truth" / "pose-3d.csv", plugin="napari-facehmm")
    points_3d = next(layer for layer in layers_3d if layer._type_string == "points")
    assert points_3d.metadata["facehmm"]["series"].n_dims == 3  # full 3D kept for the 3D dock


def test_openface_reader(make_napari_viewer, shared_data):
    viewer = make_napari_viewer()
    layers = viewer.open(shared_data / "pyfeat" / "OpenFace_Test.csv", plugin="napari-facehmm")
    points = [layer for layer in layers if layer._type_string == "points"]
    assert len(points) == 1 and points[0].features["keypoint"].nunique() == 68


def test_napari_points_csv_is_left_to_napari(make_napari_viewer, tmp_path):
    # a points layer saved by napari is a CSV too: with the plugin installed,
    # napari still opens it (the plugin's get_reader declines it, see
    # tests/test_layerdata_io.py, so no reader order can hand it to the plugin)
    viewer = make_napari_viewer()
    viewer.add_points(np.array([[0, 10.0, 20.0], [2, 30.0, 40.0]]), name="mine")
    path = tmp_path / "mine.csv"
    viewer.layers.save(str(path), selected=False, plugin="napari")
    viewer.layers.clear()
    layers = viewer.open(path)
    assert [layer._type_string for layer in layers] == ["points"]
    assert layers[0].source.reader_plugin == "napari"
    np.testing.assert_allclose(layers[0].data, [[0, 10.0, 20.0], [2, 30.0, 40.0]])


def test_corrupt_video_notifies_instead_of_raising(make_napari_viewer, tmp_path, notifications):
    viewer = make_napari_viewer()
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 20)
    layers = viewer.open(broken, plugin="napari-facehmm")
    assert layers == []
    assert any("broken.mp4" in message for message in notifications)
    # the viewer keeps working
    video = viewer.add_image(np.zeros((3, 8, 8)))
    viewer.dims.set_point(0, 2)
    assert video.name in viewer.layers


# ------------------------------------------------------------------ session
def test_session_folder_reader(make_napari_viewer, synthetic_session):
    viewer = make_napari_viewer()
    layers = viewer.open(_session_dir(synthetic_session), plugin="napari-facehmm")
    from napari_facehmm.widgets._layers import FacePoints

    assert sorted(layer._type_string for layer in layers) == ["image"] * 2 + ["points"] * 2 + ["vectors"] * 2
    points = [layer for layer in layers if layer._type_string == "points"]
    assert all(isinstance(layer, FacePoints) and layer.data.flags.f_contiguous for layer in points)
    assert viewer.dims.range[0][1] == 599  # videos and points share the time axis


def test_fit_can_be_cancelled(make_napari_viewer, synthetic_session, qtbot):
    viewer, docks = _open(make_napari_viewer, synthetic_session)
    states = docks["states"]
    states.n_restarts.setValue(20)
    worker = states.fit()
    with qtbot.waitSignal(worker.finished, timeout=60_000):
        qtbot.waitUntil(lambda: states.progress.value() > 5, timeout=30_000)
        states.cancel()
    assert states.session.states is None
    assert states.fit_button.isEnabled()
    assert "cancel" in states.status.text()


def test_session_opens_videos_points_and_docks(make_napari_viewer, synthetic_session):
    viewer, docks = _open(make_napari_viewer, synthetic_session)
    names = [layer.name for layer in viewer.layers]
    for camera in ("camA", "camB"):
        assert f"session1-{camera} video" in names
        assert f"session1-{camera} points" in names
        assert f"session1-{camera} skeleton" in names
    # cameras side by side: camB is translated right of camA's 320 px
    assert viewer.layers["session1-camB video"].translate[2] >= 320
    assert viewer.layers["session1-camB points"].translate[2] == viewer.layers["session1-camB video"].translate[2]
    assert docks["ethogram"].isVisible() or docks["ethogram"].parent() is not None
    assert docks["states"].selected_track_names() == ["3D pose (session)"]


def test_fit_colors_points_by_state_and_slider_drives_docks(make_napari_viewer, synthetic_session, qtbot):
    viewer, docks = _open(make_napari_viewer, synthetic_session)
    docks["states"].n_states.setValue(N_STATES)
    docks["states"].n_restarts.setValue(1)
    worker = docks["states"].fit()
    with qtbot.waitSignal(worker.finished, timeout=120_000):
        pass
    session = docks["states"].session
    assert session.states is not None and session.n_states == N_STATES
    palette = state_colors(session.n_states)
    for camera in ("camA", "camB"):
        layer = viewer.layers[f"session1-{camera} points"]
        meta = layer.metadata["facehmm"]
        frames = meta["series"].frame_indices[meta["rows"]]
        expected_states = states_for_frames(session.states, session.state_frames, frames)
        has_state = expected_states >= 0
        assert has_state.mean() > 0.9
        np.testing.assert_allclose(layer.face_color[has_state], palette[expected_states[has_state]], atol=1e-6)

    # the slider moves the ethogram cursor and the 3D face
    pose3d = session.pose3d()
    for frame in (123, 456):
        viewer.dims.set_point(0, frame)
        assert docks["ethogram"].cursor_frame == frame
        expected = egocentric_frame(pose3d.positions[frame], pose3d.keypoints)
        np.testing.assert_allclose(docks["face3d"].last_positions, expected)
        state = session.state_at(frame)
        np.testing.assert_allclose(docks["face3d"].last_colors[0], palette[state])

    # clicking on the ethogram moves the slider
    from qtpy.QtCore import QPoint, Qt

    ethogram = docks["ethogram"]
    ethogram.resize(800, ethogram.height())
    x = int(round(ethogram.frame_to_x(300)))
    qtbot.mouseClick(ethogram, Qt.MouseButton.LeftButton, pos=QPoint(x, 15))
    assert abs(session.current_frame() - 300) <= 1
    assert ethogram.cursor_frame == session.current_frame()

    # the summary draws each state's mean face where the analysis figure does (3D: from the front)
    from napari_facehmm.stats.figures import state_face_drawing

    summary = docks["summary"]
    faces_2d, _ = state_face_drawing(session.features.coords, session.states, N_STATES, session.features.keypoints)
    for state in range(N_STATES):
        ax = next(a for a, s in summary._state_of_artist.items() if s == state and hasattr(a, "collections"))
        np.testing.assert_allclose(ax.collections[0].get_offsets(), faces_2d[state])

    # the summary jumps to a state's longest bout
    state = int(session.states[0])
    frame = docks["summary"].jump_to_state(state)
    assert session.current_frame() == frame and session.state_at(frame) == state

    # renaming a state reaches the legend and the model
    docks["states"].rename_state(0, "smile")
    assert session.model.state_names[0] == "smile"
    assert docks["states"].legend.item(0, 1).text() == "smile"


def test_qc_threshold_hides_low_likelihood_points(make_napari_viewer, synthetic_session):
    viewer, docks = _open(make_napari_viewer, synthetic_session)
    layer = viewer.layers["session1-camA points"]
    assert layer.shown.all()
    docks["qc"].set_threshold(0.95)
    low = layer.features["likelihood"].to_numpy() < 0.95
    assert low.any()
    np.testing.assert_array_equal(layer.shown, ~low)
    docks["qc"].worst.setCurrentRow(0)
    docks["qc"].jump_to_selected()
    assert docks["qc"].session.current_frame() == docks["qc"].worst.item(0).data(256)


# ---------------------------------------------------------------- bad input
def test_mismatched_tracks_and_models_notify(make_napari_viewer, synthetic_session, shared_data, tmp_path, notifications):
    viewer, docks = _open(make_napari_viewer, synthetic_session)
    states = docks["states"]
    # a DLC file whose bodyparts are not the face's
    dlc = shared_data / "dlc" / "openfield-Pranav-2018-10-30" / "videos"
    viewer.open(next(dlc.glob("*.h5")), plugin="napari-facehmm")
    states.refresh_tracks()
    other = next(layer.name for layer in viewer.layers if layer.name.startswith("m3v1mp4") and "points" in layer.name)
    states.set_tracks(["session1-camA points", other])
    assert states.fit() is not None
    from qtpy.QtWidgets import QApplication

    worker = states.worker
    if worker is not None:
        import time

        deadline = time.time() + 60
        while states.worker is not None and time.time() < deadline:
            QApplication.processEvents()
            time.sleep(0.05)
    assert any("different landmarks" in m or "keypoint" in m for m in notifications), notifications

    # a model fitted on the 3D layout, loaded onto a 2D track
    states.set_tracks(["3D pose (session)"])
    states.form.set_values({"align": "rigid", "features": "expression", "max_gap": 7})
    _fit(docks, qtbot=None, n_states=3)
    states.rename_state(1, "frown")
    model_path = tmp_path / "model3d"
    assert states.save_model(model_path)
    states.set_tracks(["session1-camA points"])
    notifications.clear()
    assert not states.load_model(model_path)
    # the stored feature settings say why: 3D landmarks vs a 2D track
    assert any("3D landmarks" in m and "2D" in m for m in notifications), notifications
    # the viewer keeps working
    viewer.dims.set_point(0, 10)
    assert docks["ethogram"].cursor_frame == 10
    states.set_tracks(["3D pose (session)"])
    states.form.set_values({"align": "egocentric", "features": "expression+head", "max_gap": 5})
    states.form.states_mode.value = "auto"
    assert states.load_model(model_path)
    # the form shows the loaded model's settings, not what was set before
    assert (states.align.currentText(), states.features.currentText()) == ("rigid", "expression")
    assert states.form.value("max_gap") == 7
    assert states.form.states_text() == "3" and states.n_states.value() == 3
    assert states.session.state_names[1] == "frown"  # names saved with the model
    assert states.legend.item(1, 1).text() == "frown"


def test_sample_data_opens_the_synthetic_session(make_napari_viewer, tmp_path, monkeypatch):
    # File > Open Sample > Face HMM > Synthetic face session, generated into a fresh cache
    from napari_facehmm._sample_data import SAMPLE_LAYOUT_VERSION

    monkeypatch.setenv("FACEHMM_CACHE", str(tmp_path))
    viewer = make_napari_viewer()
    layers = viewer.open_sample("napari-facehmm", "synthetic_face_session")
    assert sorted(layer._type_string for layer in layers) == ["image"] * 2 + ["points"] * 2 + ["vectors"] * 2
    assert viewer.dims.range[0][1] == 599  # 20 s at 30 fps, videos and points on one time axis
    folder = next(tmp_path.glob("synthetic-2cam-20s-*"))
    assert folder.name.endswith(f"-v{SAMPLE_LAYOUT_VERSION}") and (folder / ".complete").is_file()
    # a second open reuses the cache instead of rendering again
    stamp = (folder / "videos-raw" / "session1-camA.mp4").stat().st_mtime_ns
    viewer.layers.clear()
    viewer.open_sample("napari-facehmm", "synthetic_face_session")
    assert (folder / "videos-raw" / "session1-camA.mp4").stat().st_mtime_ns == stamp
    assert len(viewer.layers) == 6
