"""The Tracking dock's "Built-in face model" tab: videos in the viewer -> 21 landmarks, no DeepLabCut.

- a real face video (copied into tmp_path) is tracked into ``<stem>.h5``
  beside it; the file reads back with the 21 landmarks and scorer FaceMesh,
  and its points open over the video;
- a session's videos are tracked into ``<session>/pose-2d/`` (the synthetic
  tracks there are replaced), within a few pixels of the true projections,
  each camera's points over its own video (translate included); the full
  mesh goes to ``pose-2d-mesh/`` and the session still reads as one session;
- Cancel mid-video writes nothing, and the dock tracks again afterwards;
- a video without a face, and a missing MediaPipe, are notifications that
  name the file / the install command.

Set ``FACEHMM_SCREENSHOT=docs/screenshot-facemesh-tracking.png`` to write the README image.
"""

from __future__ import annotations

import os
import shutil
import threading
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from napari_facehmm.errors import DataError, FileFormatError, MissingDependencyError
from napari_facehmm.face import FACE_KEYPOINTS
from napari_facehmm.layerdata import METADATA_KEY
from napari_facehmm.tracking import facemesh, facemesh_jobs

gui = pytest.mark.gui

#: median distance allowed between tracked and true landmarks on the synthetic
#: 640x480 session (measured: 5.2 px camA, 6.1 px camB; the face is about 250 px high)
MEDIAN_ERROR_PX = 12.0


def _scorers(path: Path) -> list[str]:
    table = pd.read_hdf(path)
    return list(dict.fromkeys(table.columns.get_level_values("scorer")))


def _error_messages() -> list[str]:
    from napari.utils.notifications import NotificationSeverity, notification_manager

    return [str(n.message) for n in notification_manager.records if n.severity == NotificationSeverity.ERROR]


@pytest.fixture(scope="module")
def session_640(tmp_path_factory):
    """A 2 s, 640x480, two-camera synthetic session (read-only: tests copy it)."""
    from napari_facehmm.synthetic import generate_session

    return generate_session(tmp_path_factory.mktemp("facemesh_session"), size=(640, 480), seconds=2, n_board_frames=10)


@pytest.fixture
def single_face(shared_data, tmp_path) -> Path:
    """The real face video, copied into tmp_path (nothing is written beside the shared file)."""
    source = shared_data / "pyfeat" / "single_face.mp4"
    if not source.is_file():
        pytest.skip(f"{source} is absent")
    return Path(shutil.copy(source, tmp_path / "single_face.mp4"))


@pytest.fixture
def dock(make_napari_viewer):
    from napari_facehmm.widgets.tracking import TrackingWidget

    viewer = make_napari_viewer()
    widget = TrackingWidget(viewer)
    viewer.window.add_dock_widget(widget, name="Tracking")
    yield widget
    widget.face_tab.cancel()


def _track_and_wait(dock, qtbot, timeout_ms=120_000):
    tab = dock.face_tab
    assert tab.track_button.isEnabled()
    tab.track_button.click()
    assert tab.running(), dock.status.text()
    qtbot.waitUntil(lambda: not tab.running(), timeout=timeout_ms)
    assert tab.track_button.isEnabled() and not tab.cancel_button.isEnabled()


def _points_layer(viewer, name):
    matches = [layer for layer in viewer.layers if layer.name == name]
    assert len(matches) == 1, [layer.name for layer in viewer.layers]
    return matches[0]


# ------------------------------------------------------------ Qt-free rules
def test_output_paths_follow_the_session_layout(tmp_path):
    session_video = tmp_path / "s" / "videos-raw" / "s1-camA.mp4"
    assert facemesh_jobs.output_paths(session_video) == {"landmarks": tmp_path / "s" / "pose-2d" / "s1-camA.h5"}
    assert facemesh_jobs.output_paths(session_video, mesh=True)["mesh"] == (
        tmp_path / "s" / "pose-2d-mesh" / "s1-camA_mesh.h5"
    )
    loose = tmp_path / "clips" / "face.mov"
    assert facemesh_jobs.output_paths(loose, mesh=True) == {
        "landmarks": tmp_path / "clips" / "face.h5",
        "mesh": tmp_path / "clips" / "face_mesh.h5",
    }


def test_plan_outputs_refuses_before_any_work(tmp_path):
    with pytest.raises(DataError, match="No video"):
        facemesh_jobs.plan_outputs([])
    with pytest.raises(FileFormatError, match="does not exist"):
        facemesh_jobs.plan_outputs([tmp_path / "missing.mp4"])
    (tmp_path / "a").mkdir()
    for path in (tmp_path / "face.mp4", tmp_path / "face.avi", tmp_path / "a" / "face.mp4"):
        path.write_bytes(b"")
    # the same video twice is tracked once; two videos into one file are refused
    assert list(facemesh_jobs.plan_outputs([tmp_path / "face.mp4", tmp_path / "face.mp4"])) == [tmp_path / "face.mp4"]
    assert len(facemesh_jobs.plan_outputs([tmp_path / "face.mp4", tmp_path / "a" / "face.mp4"])) == 2
    with pytest.raises(DataError, match="face.h5"):
        facemesh_jobs.plan_outputs([tmp_path / "face.mp4", tmp_path / "face.avi"])


# ------------------------------------------------------------ the dock
@gui
def test_tracks_a_real_face_video_beside_it(dock, qtbot, single_face):
    from napari_facehmm.io import read_landmarks
    from napari_facehmm.widgets._layers import FacePoints

    viewer = dock.viewer
    assert not dock.project_box.isVisibleTo(dock)  # no DeepLabCut project asked for
    viewer.open(str(single_face), plugin="napari-facehmm")
    assert dock.face_tab.listed_videos() == [single_face]
    _track_and_wait(dock, qtbot)

    output = single_face.with_suffix(".h5")
    assert output.is_file()
    assert sorted(p.name for p in single_face.parent.iterdir()) == ["single_face.h5", "single_face.mp4"]
    series = read_landmarks(output)
    assert series.keypoints == tuple(FACE_KEYPOINTS) and series.n_frames == 72
    assert _scorers(output) == [facemesh.SCORER]
    assert np.isfinite(series.positions).all()  # a face on every frame of this video
    assert (series.positions[..., 0] < 640).all() and (series.positions[..., 1] < 360).all()
    assert str(output) in dock.status.text() and "face in 72 of 72 frames" in dock.status.text()

    points = _points_layer(viewer, "single_face FaceMesh points")
    assert isinstance(points, FacePoints)
    assert len(points.data) == 72 * 21
    first = points.data[points.data[:, 0] == 0]
    np.testing.assert_allclose(np.sort(first[:, 2]), np.sort(series.positions[0, :, 0]), atol=1e-3)
    assert "single_face FaceMesh skeleton" in [layer.name for layer in viewer.layers]
    item_text = dock.face_tab.video_list.item(0).text()
    assert "\N{CHECK MARK}" in item_text and "face in 72 of 72 frames" in item_text

    # tracking again replaces the file and the layers (no second copy)
    _track_and_wait(dock, qtbot)
    assert [layer.name for layer in viewer.layers].count("single_face FaceMesh points") == 1


@gui
def test_session_videos_are_tracked_into_pose_2d_over_their_videos(dock, qtbot, session_640, tmp_path):
    from napari_facehmm._reader import find_session_files
    from napari_facehmm.io import read_landmarks
    from napari_facehmm.widgets._layers import open_session

    folder = Path(shutil.copytree(session_640.out_dir, tmp_path / "session"))
    viewer = dock.viewer
    open_session(viewer, folder)
    videos = [folder / "videos-raw" / f"session1-{camera}.mp4" for camera in ("camA", "camB")]
    assert dock.face_tab.listed_videos() == videos
    assert all(_scorers(folder / "pose-2d" / f"session1-{c}.h5") != [facemesh.SCORER] for c in ("camA", "camB"))
    dock.face_tab.mesh_check.setChecked(True)
    _track_and_wait(dock, qtbot)

    for camera in ("camA", "camB"):
        output = folder / "pose-2d" / f"session1-{camera}.h5"
        assert _scorers(output) == [facemesh.SCORER]  # the synthetic tracks were replaced
        assert str(output) in dock.status.text()
        series = read_landmarks(output)
        assert series.keypoints == tuple(FACE_KEYPOINTS) and series.n_frames == 60
        error_px = np.linalg.norm(series.positions - session_640.points_2d_true[camera], axis=-1)
        assert np.nanmedian(error_px) < MEDIAN_ERROR_PX, (camera, np.nanmedian(error_px))
        mesh = read_landmarks(folder / "pose-2d-mesh" / f"session1-{camera}_mesh.h5")
        assert len(mesh.keypoints) == 468

        # over its own video: camB sits to the right of camA
        video_layer = _points_layer(viewer, f"session1-{camera} video")
        points = _points_layer(viewer, f"session1-{camera} FaceMesh points")
        np.testing.assert_array_equal(points.translate, video_layer.translate)
        assert points.metadata[METADATA_KEY]["series"].source == output
    assert _points_layer(viewer, "session1-camB video").translate[-1] > 600
    # the mesh files stay out of pose-2d: the folder still reads as one two-camera session
    assert sorted(p.name for p in (folder / "pose-2d").iterdir()) == ["session1-camA.h5", "session1-camB.h5"]
    files = find_session_files(folder)
    assert files["session"] == "session1" and files["cameras"] == ["camA", "camB"]


@gui
def test_cancel_mid_video_writes_nothing_and_the_dock_tracks_again(dock, qtbot, session_640, tmp_path, monkeypatch):
    video = Path(shutil.copy(session_640.video_paths["camA"], tmp_path / "face.mp4"))
    # hold the tracker at frame 30 of 60 until Cancel is clicked, so the cancel lands mid-video
    reached_frame_30, cancel_clicked = threading.Event(), threading.Event()
    n_processed = []
    real_process = facemesh.FaceMeshTracker.process

    def process(tracker, image):
        n_processed.append(1)
        if len(n_processed) == 30:
            reached_frame_30.set()
            cancel_clicked.wait(30)
        return real_process(tracker, image)

    monkeypatch.setattr(facemesh.FaceMeshTracker, "process", process)
    dock.face_tab.add_video(video)
    dock.face_tab.track_button.click()
    qtbot.waitUntil(reached_frame_30.is_set, timeout=60_000)
    dock.face_tab.cancel_button.click()
    cancel_clicked.set()
    qtbot.waitUntil(lambda: not dock.face_tab.running(), timeout=60_000)

    assert len(n_processed) < 60  # stopped before the end of the video
    assert sorted(p.name for p in tmp_path.iterdir()) == ["face.mp4"]  # no .h5, no temporary file
    assert "cancelled" in dock.status.text() and "no file was written for face.mp4" in dock.status.text()
    assert not [layer for layer in dock.viewer.layers if "FaceMesh" in layer.name]
    assert dock.face_tab.track_button.isEnabled()

    _track_and_wait(dock, qtbot)
    assert (tmp_path / "face.h5").is_file()
    _points_layer(dock.viewer, "face FaceMesh points")


@gui
def test_a_video_without_a_face_is_a_notification_naming_it(dock, qtbot, shared_data, single_face, notifications):
    source = shared_data / "pyfeat" / "no_face.mp4"
    if not source.is_file():
        pytest.skip(f"{source} is absent")
    video = Path(shutil.copy(source, single_face.parent / "no_face.mp4"))
    dock.face_tab.add_video(video)
    dock.face_tab.add_video(single_face)  # tracked after the failure
    _track_and_wait(dock, qtbot)
    assert len(notifications) == 1, notifications
    assert str(video) in notifications[0] and "the face model found no face in any of its 95 frames" in notifications[0]
    assert sorted(p.name for p in single_face.parent.iterdir()) == ["no_face.mp4", "single_face.h5", "single_face.mp4"]
    assert "not tracked" in dock.face_tab.video_list.item(0).text()
    assert "no_face.mp4: not tracked" in dock.status.text()
    assert f"wrote {single_face.with_suffix('.h5')}" in dock.status.text()
    assert dock.face_tab.progress.value() == dock.face_tab.progress.maximum()


@gui
def test_missing_mediapipe_shows_the_install_hint(make_napari_viewer, qtbot, session_640, tmp_path, monkeypatch):
    from napari_facehmm.widgets.tracking import TrackingWidget

    def no_mediapipe():
        raise MissingDependencyError("mediapipe", "facemesh", "The built-in face tracker", facemesh.INSTALL_HINT)

    monkeypatch.setattr(facemesh, "facemesh_available", lambda: False)
    monkeypatch.setattr(facemesh, "_require_mediapipe", no_mediapipe)
    dock = TrackingWidget(make_napari_viewer())
    tab = dock.face_tab
    assert tab.availability_label.isVisibleTo(dock) and facemesh.INSTALL_HINT in tab.availability_label.text()

    video = Path(shutil.copy(session_640.video_paths["camA"], tmp_path / "face.mp4"))
    tab.add_video(video)
    before = len(_error_messages())
    _track_and_wait(dock, qtbot)
    messages = _error_messages()[before:]
    assert len(messages) == 1 and facemesh.INSTALL_HINT in messages[0], messages
    assert facemesh.INSTALL_HINT in dock.status.text()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["face.mp4"]


@gui
def test_screenshot_of_the_dock_with_a_tracked_session(make_napari_viewer, qtbot, session_640, tmp_path):
    from napari_facehmm.widgets._layers import open_session
    from napari_facehmm.widgets.tracking import TrackingWidget

    folder = Path(shutil.copytree(session_640.out_dir, tmp_path / "session1"))
    viewer = make_napari_viewer(show=True)
    viewer.window._qt_window.resize(1400, 800)
    dock = TrackingWidget(viewer)
    viewer.window.add_dock_widget(dock, name="Tracking", area="right")
    open_session(viewer, folder)
    for layer in viewer.layers:  # show the new tracks, not the synthetic ones
        if layer._type_string in ("points", "vectors"):
            layer.visible = False
    _track_and_wait(dock, qtbot)
    assert all(layer.visible for layer in viewer.layers if "FaceMesh" in layer.name)
    viewer.dims.set_point(0, 30)
    viewer.layers.selection.active = None
    viewer.reset_view()
    qtbot.wait(300)  # let the window lay out its dock before grabbing it
    path = Path(os.environ.get("FACEHMM_SCREENSHOT", tmp_path / "facemesh-tracking.png"))
    path.parent.mkdir(parents=True, exist_ok=True)
    image = viewer.screenshot(str(path), canvas_only=False)
    assert path.is_file() and image.ndim == 3 and image.shape[1] > 1000
    assert image[..., :3].std() > 10  # the frames are drawn
    items = [dock.face_tab.video_list.item(row).text() for row in range(dock.face_tab.video_list.count())]
    assert len(items) == 2 and all("\N{CHECK MARK} face in 60 of 60 frames" in text for text in items), items
