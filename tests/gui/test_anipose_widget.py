"""The "3D (Anipose)" dock: calibration, triangulation, reprojection QC, errors, Cancel.

Real napari windows under Xvfb, real aniposelib, on the shared synthetic
two-camera session (its ChArUco videos, 2D tracks and true calibration).
Outputs go to ``tmp_path``: the session's files are shared with other tests.
Budget: about 60 s (the calibration's bundle adjustment is about 15 s).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.gui

WAIT_MS = 120_000


def _widget(make_napari_viewer, synthetic_session):
    from napari_facehmm.widgets.anipose import AniposeWidget

    viewer = make_napari_viewer()
    widget = AniposeWidget(viewer)
    viewer.window.add_dock_widget(widget, name="3D (Anipose)", area="right")
    widget.set_project(synthetic_session.out_dir)
    return viewer, widget


def _wait(qtbot, widget):
    qtbot.waitUntil(lambda: widget.worker is None, timeout=WAIT_MS)


def _table(table) -> dict[str, str]:
    return {table.item(i, 0).text(): table.item(i, 1).text() for i in range(table.rowCount())}


def test_project_fills_the_form(make_napari_viewer, synthetic_session):
    from napari_facehmm.tracking import anipose as ta

    _, widget = _widget(make_napari_viewer, synthetic_session)
    videos = _table(widget.videos_table)
    assert videos == {c: str(p) for c, p in synthetic_session.charuco_video_paths.items()}
    assert _table(widget.tracks_table) == {c: str(p) for c, p in synthetic_session.pose2d_paths.items()}
    assert widget.calibration_edit.text() == str(synthetic_session.calibration_path)
    board = ta.BoardSpec.from_config(ta.read_project_config(synthetic_session.out_dir))
    assert widget.board() == board or vars(widget.board()) == vars(board)
    assert widget.excluded_cameras() == [] and not widget.ransac.isEnabled()
    # several synchronized recordings per camera stay together
    grouped = widget.group_by_camera(["/v/b-camB.mp4", "/v/a-camA.mp4", "/v/c-camA.mp4", "/v/other.mp4"])
    assert grouped == {"camA": ["/v/a-camA.mp4", "/v/c-camA.mp4"], "camB": ["/v/b-camB.mp4"], "cam3": ["/v/other.mp4"]}
    widget.set_calibration_videos({"camA": grouped["camA"]})
    assert widget.calibration_videos()["camA"] == [Path("/v/a-camA.mp4"), Path("/v/c-camA.mp4")]
    assert widget.calibration_videos()["camB"] == [synthetic_session.charuco_video_paths["camB"]]


def test_calibration_writes_toml_shows_errors_and_board_corners(
    make_napari_viewer, synthetic_session, qtbot, tmp_path
):
    from napari_facehmm.io.anipose import read_calibration
    from napari_facehmm.tracking import anipose as ta
    from napari_facehmm.widgets.anipose import AniposeWidget

    viewer, widget = _widget(make_napari_viewer, synthetic_session)
    output = tmp_path / "calibration.toml"
    widget.calibration_output.setText(str(output))
    widget.skip.setValue(40)
    assert widget.run_calibration() is not None
    _wait(qtbot, widget)
    assert output.is_file() and (tmp_path / "board-detections.csv").is_file()
    assert read_calibration(output).camera_names == ["camA", "camB"]
    errors = _table(widget.calibration_errors)
    assert set(errors) == {"camA", "camB", "all (median)"}
    assert all(0 <= float(e) < 0.5 for e in errors.values())  # noise-free rendered boards
    assert widget.calibration_edit.text() == str(output)

    layers = widget.show_board_corners()
    assert [layer.name for layer in layers] == [
        "calibration camA", "board corners camA", "calibration camB", "board corners camB"
    ]
    frames, corners = widget.calibration_result.detections["camB"].for_video(0)
    points = layers[3]
    found = np.isfinite(corners).all(axis=2)
    assert len(points.data) == found.sum()
    first = points.data[points.data[:, 0] == frames[0]]
    np.testing.assert_allclose(first[:, 1:], corners[0][found[0]][:, ::-1])  # [y, x]
    assert points.translate[2] == layers[2].translate[2] > 0  # camB beside camA
    assert viewer.dims.point[0] == frames.min()

    # without a result in memory the corners come from board-detections.csv
    again = AniposeWidget(viewer)
    again.set_calibration_videos(synthetic_session.charuco_video_paths)
    again.calibration_output.setText(str(output))
    again_layers = again.show_board_corners()
    np.testing.assert_allclose(again_layers[1].data, layers[1].data, atol=1e-3)
    assert ta.BoardSpec().n_corners == corners.shape[1]


def test_triangulation_writes_pose3d_and_draws_reprojections(
    make_napari_viewer, synthetic_session, qtbot, tmp_path
):
    from napari_facehmm.io.anipose import read_pose3d
    from napari_facehmm.widgets._layers import open_session
    from napari_facehmm.widgets._session import facehmm_meta
    from napari_facehmm.widgets.qc import TrackingQCWidget

    viewer, widget = _widget(make_napari_viewer, synthetic_session)
    open_session(viewer, synthetic_session.out_dir)
    qc_dock = TrackingQCWidget(viewer)
    viewer.window.add_dock_widget(qc_dock, name="Tracking QC", area="left")
    output = tmp_path / "session1.csv"
    widget.pose3d_output.setText(str(output))
    widget.filter_combo.setCurrentText("medfilt")
    assert widget.triangulation_kwargs()["filter_2d"] == "medfilt"
    widget.filter_combo.setCurrentText("none")
    assert widget.run_triangulation() is not None
    _wait(qtbot, widget)

    pose3d = read_pose3d(output)
    assert pose3d.positions.shape == synthetic_session.points_3d.shape
    distance = np.linalg.norm(pose3d.positions - synthetic_session.points_3d, axis=2)
    assert np.nanmedian(distance) < 2.0  # mm, true calibration and 2D noise of about 1 px
    errors = _table(widget.triangulation_errors)
    assert set(errors) == {"camA", "camB"} and all(float(e.split()[0]) < 2.0 for e in errors.values())
    assert not widget.exclude_button.isVisible()

    # crosses over each camera, placed like that camera's 2D points
    for camera in synthetic_session.camera_names:
        layer = viewer.layers[f"{camera} 3D reprojected"]
        assert layer.symbol[0].value == "cross"
        points_2d = next(l for l in viewer.layers if facehmm_meta(l).get("camera") == camera
                         and "series" in facehmm_meta(l))
        assert tuple(layer.translate) == tuple(points_2d.translate)
        frame0 = layer.data[layer.data[:, 0] == 0][:, 1:]
        truth = synthetic_session.points_2d_true[camera][0][:, ::-1]
        assert np.nanmedian(np.linalg.norm(frame0 - truth, axis=1)) < 1.5  # px
    assert viewer.layers["camB 3D reprojected"].translate[2] > 0

    # per-camera error over time, frames sorted worst first, jump
    assert set(widget.errors) == {"camA", "camB"}
    assert widget.frames_list.count() > 0
    values = [float(widget.frames_list.item(i).text().split()[2]) for i in range(widget.frames_list.count())]
    assert values == sorted(values, reverse=True)
    widget.frames_list.setCurrentRow(0)
    widget.jump_to_selected()
    assert int(viewer.dims.point[0]) == widget.frames_list.item(0).data(256)
    widget.keypoint_combo.setCurrentText("nose1")
    assert widget.frames_list.count() > 0
    # the Tracking QC dock now plots the new series' Anipose error
    assert qc_dock.session.pose3d() is widget.pose3d
    assert len(qc_dock.figure.axes) == 2

    out = tmp_path / "anipose-window.png"
    image = viewer.screenshot(str(out), canvas_only=False)
    assert out.is_file() and image.std() > 10


def test_mismatched_frame_counts_give_a_notification(
    make_napari_viewer, synthetic_session, qtbot, tmp_path, notifications
):
    from napari_facehmm.io.dlc import write_dlc_analysis

    _, widget = _widget(make_napari_viewer, synthetic_session)
    short = synthetic_session.series_2d("camB")
    short = short.copy(
        positions=short.positions[:500], confidence=short.confidence[:500], frame_indices=short.frame_indices[:500]
    )
    short_path = write_dlc_analysis(short, tmp_path / "session1-camB.h5")
    widget.set_tracks({"camA": synthetic_session.pose2d_paths["camA"], "camB": short_path})
    output = tmp_path / "session1.csv"
    widget.pose3d_output.setText(str(output))
    widget.run_triangulation()
    _wait(qtbot, widget)
    assert any("frame" in n and "camB" in n for n in notifications), notifications
    assert not output.exists()
    assert widget.triangulate_button.isEnabled()
    # the widget still works: a right pair triangulates
    widget.set_tracks(synthetic_session.pose2d_paths)
    widget.run_triangulation()
    _wait(qtbot, widget)
    assert output.is_file()


def test_bad_input_is_reported_without_a_worker(make_napari_viewer, synthetic_session, notifications):
    _, widget = _widget(make_napari_viewer, synthetic_session)
    widget.squares_x.setValue(2)  # the marker must stay smaller than the square, dictionary fits
    widget.marker_mm.setValue(30.0)
    assert widget.run_calibration() is None
    assert notifications and "marker" in notifications[-1]
    widget.set_tracks({"camA": synthetic_session.pose2d_paths["camA"]})
    assert widget.run_triangulation() is None
    assert "two cameras" in notifications[-1]


def test_a_project_with_a_bad_camera_pattern_is_a_notification(make_napari_viewer, tmp_path, notifications):
    from napari_facehmm.widgets.anipose import AniposeWidget

    (tmp_path / "config.toml").write_text('[triangulation]\ncam_regex = "(cam"\n')
    widget = AniposeWidget(make_napari_viewer())
    widget.set_project(tmp_path)
    assert notifications and "cam_regex '(cam': not a regular expression" in notifications[-1]
    assert str(tmp_path / "config.toml") in notifications[-1]
    assert widget.project_dir is None


def test_cancel_stops_a_calibration(make_napari_viewer, synthetic_session, qtbot, tmp_path):
    _, widget = _widget(make_napari_viewer, synthetic_session)
    output = tmp_path / "calibration.toml"
    widget.calibration_output.setText(str(output))
    widget.skip.setValue(1)
    worker = widget.run_calibration()
    qtbot.waitUntil(lambda: widget.progress.value() > 0, timeout=WAIT_MS)
    widget.cancel()
    _wait(qtbot, widget)
    assert worker.abort_requested
    assert not output.exists()
    assert "cancelled" in widget.status.text()
    assert widget.calibrate_button.isEnabled() and not widget.cancel_button.isEnabled()


def test_flagged_camera_is_excluded_and_rerun(make_napari_viewer, qtbot, tmp_path):
    """Three cameras, one track shifted by 12 px: left out by default; kept on request, then one click leaves it out."""
    from napari_facehmm.io.anipose import read_pose3d
    from napari_facehmm.io.dlc import write_dlc_analysis
    from napari_facehmm.synthetic import generate_session
    from napari_facehmm.widgets.anipose import AniposeWidget

    truth = generate_session(tmp_path / "three", n_cameras=3, seconds=2.0, seed=1, render_video=False)
    bad = truth.series_2d("camC")
    write_dlc_analysis(bad.copy(positions=bad.positions + 12.0), truth.pose2d_paths["camC"])
    viewer = make_napari_viewer()
    widget = AniposeWidget(viewer)
    widget.set_project(truth.out_dir)
    assert widget.ransac.isEnabled()
    output = tmp_path / "out.csv"
    widget.pose3d_output.setText(str(output))
    widget.run_triangulation()
    _wait(qtbot, widget)
    # by default the camera is left out, and the dock says so with both errors
    assert widget.pose3d.attrs["cameras"] == ("camA", "camB")
    assert widget.flagged_camera is None and widget.exclude_button.isHidden()
    status = widget.status.text()
    assert "camC left out" in status and "without it" in status and "with it" in status
    assert "camC" in widget.warnings_label.text()
    # "keep a disagreeing camera": the old behaviour, a warning and the one-click exclusion
    widget.keep_all_cameras.setChecked(True)
    widget.trust_calibration.setChecked(True)
    widget.run_triangulation()
    _wait(qtbot, widget)
    assert widget.pose3d.attrs["cameras"] == ("camA", "camB", "camC")
    assert widget.flagged_camera == "camC"
    assert not widget.exclude_button.isHidden() and "camC" in widget.exclude_button.text()
    assert "camC" in widget.warnings_label.text()
    widget.exclude_button.click()
    _wait(qtbot, widget)
    assert widget.excluded_cameras() == ["camC"]
    assert widget.pose3d.attrs["cameras"] == ("camA", "camB")
    assert widget.flagged_camera is None
    assert read_pose3d(output).n_frames == truth.n_frames


def test_nonsense_calibration_is_refused_in_a_notification_and_trust_runs(
    make_napari_viewer, qtbot, tmp_path, notifications
):
    """camA's pose copied onto camB: refused with the file and the numbers; 'trust the calibration' runs it."""
    import dataclasses

    from napari_facehmm.io.anipose import Calibration, read_calibration, write_calibration
    from napari_facehmm.synthetic import generate_session
    from napari_facehmm.widgets.anipose import AniposeWidget

    truth = generate_session(tmp_path / "rig", n_cameras=2, seconds=2.0, seed=2, render_video=False)
    good = read_calibration(truth.calibration_path)
    cam_a, cam_b = good.cameras
    same_pose = dataclasses.replace(cam_b, rotation=cam_a.rotation.copy(), translation=cam_a.translation.copy())
    broken = write_calibration(Calibration([cam_a, same_pose]), tmp_path / "broken.toml")
    viewer = make_napari_viewer()
    widget = AniposeWidget(viewer)
    widget.set_project(truth.out_dir)
    widget.calibration_edit.setText(str(broken))
    output = tmp_path / "out.csv"
    widget.pose3d_output.setText(str(output))
    widget.run_triangulation()
    _wait(qtbot, widget)
    refusal = notifications[-1]
    assert str(broken) in refusal and "'camA' and 'camB' are at the same place" in refusal
    assert "baseline 0 mm" in refusal and "trust the calibration" in refusal
    assert not output.exists() and "nothing was written" in widget.status.text()
    assert widget.triangulate_button.isEnabled()

    widget.trust_calibration.setChecked(True)
    widget.run_triangulation()
    _wait(qtbot, widget)
    assert output.is_file()
    assert "same place" in widget.warnings_label.text()
