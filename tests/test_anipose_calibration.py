"""Calibration from ChArUco videos (aniposelib under tracking.anipose), known answers.

Truth: two distortion-free cameras 500 mm from the origin, 35 degrees apart
(baseline about 300 mm), and a 10x7 ChArUco board (25 mm squares) rendered
in 12 synchronized poses. Tolerances (from the task): reprojection error
<= 0.1 px per camera on noise-free boards, baseline within 0.5 %, relative
rotation within 0.5 degree. Budget for this file: about 20 s.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from test_anipose_support import board_poses, make_rig, render_board, true_corners, write_video

from napari_facehmm.errors import DataError, FileFormatError
from napari_facehmm.tracking import anipose as ta

N_POSES = 12


def _rotation_angle_deg(rotation: np.ndarray) -> float:
    cos = (np.trace(rotation) - 1) / 2
    return float(np.rad2deg(np.arccos(np.clip(cos, -1, 1))))


@pytest.fixture(scope="module")
def board_session(tmp_path_factory):
    """Lossless board videos of a 2-camera rig, their truth and one calibration run."""
    folder = tmp_path_factory.mktemp("calibration")
    board = ta.BoardSpec()
    rig = make_rig(2)
    poses = board_poses(N_POSES, np.random.default_rng(1), board)
    videos = {}
    for camera in rig.cameras:
        videos[camera.name] = write_video(
            render_board(camera, poses, board), folder / f"calib-{camera.name}.avi"
        )
    progress = []
    job = ta.calibrate(videos, board, skip=1)
    while True:
        try:
            progress.append(next(job))
        except StopIteration as stop:
            result = stop.value
            break
    return dict(board=board, rig=rig, poses=poses, videos=videos, result=result, progress=progress)


def test_calibration_recovers_the_rig(board_session):
    result, rig = board_session["result"], board_session["rig"]
    assert result.calibration.camera_names == ["camA", "camB"]
    for name, error in result.camera_errors_px.items():
        assert error <= 0.1, f"{name}: reprojection error {error:.3f} px > 0.1 px"
    assert result.error_px <= 0.1
    rotation, translation = ta.relative_pose(result.calibration, "camA", "camB")
    true_rotation, true_translation = ta.relative_pose(rig, "camA", "camB")
    baseline, true_baseline = np.linalg.norm(translation), np.linalg.norm(true_translation)
    assert abs(baseline / true_baseline - 1) <= 0.005, f"baseline {baseline:.2f} mm vs {true_baseline:.2f} mm"
    assert _rotation_angle_deg(rotation @ true_rotation.T) <= 0.5
    # direction of the baseline: a sanity bound only (measured about 1 degree
    # here: aniposelib fixes the principal point and trades focal length with k1)
    cos = translation @ true_translation / (baseline * true_baseline)
    assert np.rad2deg(np.arccos(min(cos, 1.0))) <= 2.0
    for camera, truth in zip(result.calibration.cameras, rig.cameras):
        assert camera.matrix[0, 0] == pytest.approx(truth.matrix[0, 0], rel=0.01)
        assert camera.size == truth.size


def test_detected_corners_match_the_true_projections(board_session):
    """The corners returned for QC are where the board really is (and in corner-id order)."""
    result, rig, poses, board = (board_session[k] for k in ("result", "rig", "poses", "board"))
    for camera in rig.cameras:
        detections = result.detections[camera.name]
        assert detections.n_detections == N_POSES  # skip=1: every frame searched, board always visible
        assert detections.n_frames_read == N_POSES
        frames, corners = detections.for_video(0)
        np.testing.assert_array_equal(frames, np.arange(N_POSES))
        assert corners.shape == (N_POSES, board.n_corners, 2)
        truth = true_corners(camera, poses, board)
        found = np.isfinite(corners[..., 0])
        assert found.mean() > 0.5  # small markers at 320x240: about 70 % of corners are found
        offset = np.linalg.norm(corners[found] - truth[found], axis=1)
        # OpenCV's ChArUco corners at 320x240 scatter about 0.15 px around the
        # truth without bias (measured); a wrong corner-id order would be pixels off
        assert np.median(offset) < 0.25, f"{camera.name}: corners {np.median(offset):.3f} px from truth"
        assert np.abs(np.mean(corners[found] - truth[found], axis=0)).max() < 0.1


def test_progress_counts_frames_then_bundle_adjustment(board_session):
    progress = board_session["progress"]
    done = [p[0] for p in progress]
    totals = {p[1] for p in progress}
    assert totals == {2 * N_POSES + 1}
    assert done == sorted(done)
    assert progress[-1][0] == progress[-1][1]
    assert any("bundle adjustment" in p[2] for p in progress)


def test_detections_round_trip_through_csv(board_session, tmp_path):
    result = board_session["result"]
    path = ta.save_board_detections(result.detections, tmp_path / "board-detections.csv")
    loaded = ta.load_board_detections(path, n_corners=board_session["board"].n_corners)
    for name, detections in result.detections.items():
        frames, corners = loaded[name][detections.videos[0].name]
        np.testing.assert_array_equal(frames, detections.frame_indices)
        np.testing.assert_allclose(corners, detections.corners_px, equal_nan=True)


def test_cancel_stops_after_the_current_frame(board_session):
    job = ta.calibrate(board_session["videos"], board_session["board"], skip=1)
    first = [next(job) for _ in range(3)]
    job.close()  # what a widget's Cancel does: stop iterating
    assert [p[0] for p in first] == [1, 2, 3]
    with pytest.raises(StopIteration):
        next(job)


def test_never_detected_board_names_the_camera(board_session, tmp_path):
    blank = [np.full((240, 320), 110, np.uint8)] * 4
    videos = {
        "camA": board_session["videos"]["camA"],
        "camB": write_video(blank, tmp_path / "calib-camB.avi"),
    }
    with pytest.raises(DataError, match=r"camB.*never detected.*calib-camB\.avi"):
        ta.run_to_end(ta.calibrate(videos, board_session["board"], skip=1))


def test_board_never_seen_by_two_cameras_at_once(board_session, tmp_path):
    board, rig, poses = board_session["board"], board_session["rig"], board_session["poses"]
    blank = np.full((240, 320), 110, np.uint8)
    frames_a = render_board(rig.cameras[0], poses[:4], board) + [blank] * 4
    frames_b = [blank] * 4 + render_board(rig.cameras[1], poses[4:8], board)
    videos = {
        "camA": write_video(frames_a, tmp_path / "calib-camA.avi"),
        "camB": write_video(frames_b, tmp_path / "calib-camB.avi"),
    }
    with pytest.raises(DataError, match="same frame as another camera"):
        ta.run_to_end(ta.calibrate(videos, board, skip=1))


def test_missing_video_and_single_camera_are_clear_errors(tmp_path):
    with pytest.raises(DataError, match="at least two cameras"):
        ta.run_to_end(ta.calibrate({"camA": tmp_path / "a.mp4"}))
    with pytest.raises(FileFormatError, match=r"camB.*does not exist"):
        ta.run_to_end(ta.calibrate({"camA": __file__, "camB": tmp_path / "calib-camB.mp4"}))


def test_board_spec_reads_anipose_config_and_validates():
    config = {
        "calibration": {
            "board_type": "charuco",
            "board_size": [6, 6],
            "board_marker_bits": 4,
            "board_marker_dict_number": 50,
            "board_marker_length": 3.75,
            "board_square_side_length": 5,
        }
    }
    board = ta.BoardSpec.from_config(config)
    assert (board.squares_x, board.squares_y, board.square_length_mm, board.marker_length_mm) == (
        6,
        6,
        5.0,
        3.75,
    )
    assert ta.BoardSpec.from_config(config, squares_x=8, marker_length_mm=None).squares_x == 8
    assert board.n_corners == 25
    assert ta.BoardSpec.from_config({}).to_config()["board_size"] == [10, 7]
    with pytest.raises(DataError, match="marker_length"):
        ta.BoardSpec(marker_length_mm=30.0)
    with pytest.raises(DataError, match="dictionary"):
        ta.BoardSpec(marker_bits=3)
    with pytest.raises(DataError, match="needs 60 markers"):
        ta.BoardSpec(squares_x=12, squares_y=10, dict_number=50, marker_bits=4)
    with pytest.raises(DataError, match="board_size"):
        ta.BoardSpec.from_config({"calibration": {"board_size": 7}})


def test_legacy_pattern_board_is_detected_only_in_legacy_mode(tmp_path):
    """Boards with an even row count printed by OpenCV < 4.6 need ``legacy_pattern``."""
    legacy = ta.BoardSpec(
        squares_x=6, squares_y=6, square_length_mm=25, marker_length_mm=18.75, legacy_pattern=True
    )
    image = legacy.image(600, 600)
    image = np.pad(image, 60, constant_values=255)
    corners_legacy, _ = legacy.build().detect_image(image)
    modern = ta.BoardSpec(squares_x=6, squares_y=6, square_length_mm=25, marker_length_mm=18.75)
    corners_modern, _ = modern.build().detect_image(image)
    assert len(corners_legacy) == legacy.n_corners
    assert len(corners_modern) < legacy.n_corners


def test_cli_errors_name_the_folder(tmp_path, capsys):
    from napari_facehmm.cli import main

    project = tmp_path / "project"
    project.mkdir()
    assert main(["calibrate", str(project), "--quiet"]) == 2
    assert "calibration" in capsys.readouterr().err
    (project / "calibration").mkdir()
    (project / "calibration" / "board.mp4").write_bytes(b"")
    assert main(["calibrate", str(project), "--quiet"]) == 2
    assert "board.mp4: no camera name" in capsys.readouterr().err
    (project / "config.toml").write_text("[calibration\nboard_size = 3")
    assert main(["calibrate", str(project), "--quiet"]) == 2
    assert "config.toml: not valid TOML" in capsys.readouterr().err
    assert main(["triangulate", str(tmp_path / "missing"), "--quiet"]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_a_bad_camera_pattern_is_refused_naming_where_it_came_from(tmp_path, capsys):
    from napari_facehmm.cli import main

    project = tmp_path / "project"
    (project / "pose-2d").mkdir(parents=True)
    (project / "pose-2d" / "s1-camA.h5").write_bytes(b"")
    for command in ("calibrate", "triangulate"):
        assert main([command, str(project), "--cam-regex", "(cam", "--quiet"]) == 2
        assert "argument --cam-regex: pattern '(cam': not a regular expression" in capsys.readouterr().err
        assert main([command, str(project), "--cam-regex", "cam[A-Z]", "--quiet"]) == 2
        assert "'cam[A-Z]': needs a group for the camera name" in capsys.readouterr().err
    (project / "config.toml").write_text('[triangulation]\ncam_regex = "cam[A-Z"\n')
    assert main(["triangulate", str(project), "--quiet"]) == 2
    assert f"{project / 'config.toml'}: [triangulation] cam_regex 'cam[A-Z': not a regular expression" in (
        capsys.readouterr().err
    )
    from napari_facehmm._napari.session import find_session_files  # opening the folder in napari

    with pytest.raises(DataError, match=r"config.toml: \[triangulation\] cam_regex 'cam\[A-Z': not a regular"):
        find_session_files(project)
    (project / "config.toml").unlink()
    with pytest.raises(DataError, match=r"cam_regex '-cam\[A-Z\]': needs a group"):
        list(ta.triangulate_project(project, cam_regex="-cam[A-Z]"))  # a job: its first step checks
    assert sorted(p.name for p in project.rglob("*")) == ["pose-2d", "s1-camA.h5"]


def _board_project(board_session, project: Path, videos_folder: str = "calibration", extra_toml: str = "") -> Path:
    """An Anipose project folder: the board videos as ``<cam>_board.avi``, the board in config.toml."""
    import shutil

    (project / videos_folder).mkdir(parents=True)
    for name, video in board_session["videos"].items():
        shutil.copy(video, project / videos_folder / f"{name}_board.avi")
    (project / "config.toml").write_text(
        '[calibration]\nboard_type = "charuco"\nboard_size = [10, 7]\nboard_marker_bits = 4\n'
        "board_marker_dict_number = 50\nboard_marker_length = 18.75\nboard_square_side_length = 25\n"
        '[triangulation]\ncam_regex = "(cam[A-Z])_board"\n' + extra_toml
    )
    return project


def test_cli_calibrates_a_project_folder(board_session, tmp_path, capsys):
    """``facehmm calibrate DIR`` with the board from config.toml and cam_regex from [triangulation]."""
    from napari_facehmm.cli import main
    from napari_facehmm.io.anipose import read_calibration

    project = _board_project(board_session, tmp_path / "project")
    assert main(["calibrate", str(project), "--skip", "1", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "camA: reprojection error" in out and "camB: reprojection error" in out
    calibration = read_calibration(project / "calibration" / "calibration.toml")
    assert calibration.camera_names == ["camA", "camB"]
    assert calibration.metadata["error"] <= 0.1
    # aniposelib itself loads what we wrote
    from aniposelib.cameras import CameraGroup

    assert CameraGroup.load(str(project / "calibration" / "calibration.toml")).get_names() == ["camA", "camB"]


def test_calibration_lands_where_triangulation_reads_it(board_session, tmp_path, capsys):
    """With config.toml [pipeline] folders, calibrate writes into calibration_results,
    the folder Anipose (and triangulate_project) read calibration.toml from."""
    from napari_facehmm.cli import main
    from napari_facehmm.tracking.anipose import project_layout

    pipeline = (
        '[pipeline]\ncalibration_videos = "calib-videos"\ncalibration_results = "calib-results"\n'
        'pose_2d = "tracks-2d"\npose_3d = "tracks-3d"\n'
    )
    project = _board_project(board_session, tmp_path / "project", "calib-videos", pipeline)
    layout = project_layout(project)
    assert layout.calibration == project / "calib-results" / "calibration.toml"
    assert layout.calibration_videos == project / "calib-videos"
    assert (layout.pose_2d, layout.pose_3d) == (project / "tracks-2d", project / "tracks-3d")
    assert layout.cam_regex == "(cam[A-Z])_board"
    assert main(["calibrate", str(project), "--skip", "4", "--quiet"]) == 0
    capsys.readouterr()
    assert layout.calibration.is_file() and (layout.calibration.parent / "board-detections.csv").is_file()
    assert not (project / "calib-videos" / "calibration.toml").exists()
