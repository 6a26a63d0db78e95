"""Known-answer tests of the synthetic session generator.

Pure-numpy parts are tested on their own; the written files are tested on
the shared ``synthetic_session`` fixture (20 s, 2 cameras, 320x240), read
back with the project's own readers.
"""

from __future__ import annotations

import itertools
import json

import numpy as np
import pandas as pd
import pytest

from napari_facehmm.errors import DataError
from napari_facehmm.face import FACE_KEYPOINTS
from napari_facehmm.synthetic import (
    DEFAULT_STATE_NAMES,
    SessionTruth,
    expression_offsets,
    generate_session,
    keypoint_colors,
    make_cameras,
    marker_radius_px,
    neutral_face,
    observe_2d,
    project,
    simulate_face,
)

KP = {k: i for i, k in enumerate(FACE_KEYPOINTS)}


# ------------------------------------------------------------------ face model
def test_neutral_face_has_human_proportions():
    face = neutral_face()
    assert face.shape == (21, 3)
    left_eye = face[[KP["lefteye1"], KP["lefteye2"]]].mean(0)
    right_eye = face[[KP["righteye1"], KP["righteye2"]]].mean(0)
    assert 55 <= np.linalg.norm(left_eye - right_eye) <= 70  # inter-pupillary distance, mm
    assert left_eye[0] > 0 > right_eye[0]  # subject's left is +x
    mouth_width = np.linalg.norm(face[KP["llip"]] - face[KP["rlip"]])
    assert 40 <= mouth_width <= 60
    ears = np.linalg.norm(face[KP["lear"]] - face[KP["rear"]])
    assert 120 <= ears <= 160
    assert face[KP["nose2"], 2] == face[:, 2].max()  # nose tip is the most forward point


def test_expression_states_are_distinct_by_several_mm():
    offsets = expression_offsets(DEFAULT_STATE_NAMES)
    assert offsets.shape == (6, 21, 3)
    assert np.all(offsets[0] == 0)  # neutral
    for a in range(6):
        for b in range(a + 1, 6):
            largest_move_mm = np.linalg.norm(offsets[a] - offsets[b], axis=1).max()
            assert largest_move_mm >= 4.0, (DEFAULT_STATE_NAMES[a], DEFAULT_STATE_NAMES[b])
    # symmetric expressions move both mouth corners outwards in a smile
    smile = offsets[DEFAULT_STATE_NAMES.index("smile")]
    assert smile[KP["llip"], 0] > 0 > smile[KP["rlip"], 0]


def test_simulate_face_is_deterministic_from_seed():
    first = simulate_face(300, fps=30, seed=7)
    again = simulate_face(300, fps=30, seed=7)
    other = simulate_face(300, fps=30, seed=8)
    for name in ("points_3d", "points_face", "states", "head_rotvec", "head_translation_mm", "transition_matrix"):
        np.testing.assert_array_equal(getattr(first, name), getattr(again, name))
    assert not np.allclose(first.points_3d, other.points_3d)


def test_states_follow_a_sticky_markov_chain():
    fps = 30.0
    sim = simulate_face(int(fps * 900), fps=fps, seed=3, mean_dwell_s=1.5)
    states = sim.states
    assert set(np.unique(states)) == set(range(6))
    switches = np.flatnonzero(states[1:] != states[:-1])
    dwell_s = np.diff(switches) / fps
    # geometric dwell with mean 1.5 s; 600 visits give a standard error ~0.06 s
    assert 1.3 <= dwell_s.mean() <= 1.7
    counts = np.zeros((6, 6))
    np.add.at(counts, (states[:-1], states[1:]), 1)
    empirical = counts / counts.sum(1, keepdims=True)
    np.testing.assert_allclose(np.diag(empirical), np.diag(sim.transition_matrix), atol=0.01)
    np.testing.assert_allclose(sim.transition_matrix.sum(1), 1.0)


def test_within_state_variability_is_small_and_smooth():
    sim = simulate_face(3000, fps=30, seed=1, intensity_spread=0.0, transition_s=0.0)
    residual = sim.points_face - (sim.neutral_mm + sim.offsets_mm[sim.states])
    assert 0.3 <= residual.std() <= 0.5
    # smooth: frame-to-frame steps much smaller than the jitter itself
    assert np.abs(np.diff(residual, axis=0)).std() < 0.5 * residual.std()


def test_head_moves_rigidly_by_degrees_and_centimetres():
    from scipy.spatial.transform import Rotation

    sim = simulate_face(1800, fps=30, seed=2)
    angles_deg = np.degrees(np.linalg.norm(sim.head_rotvec, axis=1))
    assert 3.0 <= angles_deg.max() <= 20.0
    span_mm = sim.head_translation_mm.max(0) - sim.head_translation_mm.min(0)
    assert np.all(span_mm >= 10.0) and np.all(span_mm <= 80.0)
    # world points are the face-frame points moved by the head pose
    rotations = Rotation.from_rotvec(sim.head_rotvec).as_matrix()
    rebuilt = np.einsum("tij,tkj->tki", rotations, sim.points_face) + sim.head_translation_mm[:, None]
    np.testing.assert_allclose(rebuilt, sim.points_3d, atol=1e-9)


def test_unknown_state_count_is_a_data_error():
    with pytest.raises(DataError, match="n_states"):
        simulate_face(10, n_states=40)


# -------------------------------------------------------------------- cameras
def test_projection_matches_opencv():
    import cv2

    sim = simulate_face(50, fps=30, seed=0)
    for camera in make_cameras(2, (320, 240), np.random.default_rng(5)):
        assert camera.distortions[0] != 0
        ours = project(camera, sim.points_3d)
        theirs, _ = cv2.projectPoints(
            sim.points_3d.reshape(-1, 1, 3), camera.rotation, camera.translation, camera.matrix, camera.distortions
        )
        np.testing.assert_allclose(ours.reshape(-1, 2), theirs.reshape(-1, 2), atol=1e-6)
        # the face fills a good part of the image and stays inside it
        assert np.all((ours[..., 0] > 0) & (ours[..., 0] < 320) & (ours[..., 1] > 0) & (ours[..., 1] < 240))


def test_two_cameras_are_30_to_40_degrees_apart_at_400_to_600_mm():
    cam_a, cam_b = make_cameras(2, (320, 240), np.random.default_rng(0))
    for camera in (cam_a, cam_b):
        assert 400 <= np.linalg.norm(camera.position) <= 600
    axis_a, axis_b = cam_a.rotation_matrix[2], cam_b.rotation_matrix[2]
    angle_deg = np.degrees(np.arccos(axis_a @ axis_b))
    assert 28 <= angle_deg <= 42


def test_observe_2d_has_requested_noise_and_dropouts():
    rng = np.random.default_rng(0)
    truth = rng.uniform(20, 200, size=(5000, 21, 2))
    observed, likelihood, dropouts = observe_2d(truth, (320, 240), rng, noise_px=0.5, dropout_rate=0.02)
    good = ~dropouts
    assert 0.47 <= (observed - truth)[good].std() <= 0.53
    assert 0.015 <= dropouts.mean() <= 0.025
    assert np.nanmin(likelihood[good]) >= 0.9 and np.nanmax(likelihood[dropouts]) < 0.1
    # dropouts come in bursts of about 3 frames, not isolated frames
    starts = (dropouts[1:] & ~dropouts[:-1]).sum()
    assert 2.0 <= dropouts.sum() / starts <= 4.5


# ------------------------------------------------------------ written session
def test_every_file_has_all_frames(synthetic_session):
    from napari_facehmm.io.anipose import read_calibration, read_pose3d
    from napari_facehmm.io.dlc import read_dlc_analysis
    from napari_facehmm.io.video import VideoReader

    truth = synthetic_session
    n_frames = 600
    assert truth.n_frames == n_frames
    assert truth.camera_names == ("camA", "camB")
    for cam in truth.camera_names:
        tracks = read_dlc_analysis(truth.pose2d_paths[cam])
        assert tracks.n_frames == n_frames and tracks.keypoints == FACE_KEYPOINTS
        video = VideoReader(truth.video_paths[cam])
        try:
            assert video.n_frames == n_frames and (video.width, video.height) == (320, 240)
            assert video.fps == pytest.approx(30.0)
        finally:
            video.close()
        board = VideoReader(truth.charuco_video_paths[cam])
        try:
            # every file has the session's frame count: 90 board poses, then the empty scene
            assert board.n_frames == n_frames and truth.board_rotations.shape[0] == 90
        finally:
            board.close()
    pose3d = read_pose3d(truth.pose3d_path)
    assert pose3d.n_frames == n_frames
    np.testing.assert_allclose(pose3d.positions, truth.points_3d, atol=1e-6)
    calibration = read_calibration(truth.calibration_path)
    assert calibration.camera_names == ["camA", "camB"]
    states = pd.read_csv(truth.states_path)
    assert list(states.columns[:2]) == ["frame", "state"] and len(states) == n_frames
    np.testing.assert_array_equal(states["state"], truth.states)
    assert len(pd.read_csv(truth.head_pose_path)) == n_frames
    info = json.loads(truth.states_json_path.read_text())
    assert info["state_names"] == list(truth.state_names)
    np.testing.assert_allclose(np.asarray(info["transition_matrix"]).sum(1), 1.0)


def test_tracks_are_the_projected_truth_plus_noise(synthetic_session):
    from napari_facehmm.io.anipose import read_calibration
    from napari_facehmm.io.dlc import read_dlc_analysis

    truth = synthetic_session
    calibration = read_calibration(truth.calibration_path)
    for cam in truth.camera_names:
        tracks = read_dlc_analysis(truth.pose2d_paths[cam])
        expected = project(calibration.camera(cam), truth.points_3d)
        confident = tracks.confidence > 0.5
        residual = (tracks.positions - expected)[confident]
        assert confident.mean() > 0.95
        assert 0.4 <= np.nanstd(residual) <= 0.6  # 0.5 px noise
        assert np.nanmax(np.abs(residual)) < 3.5
        np.testing.assert_allclose(expected, truth.points_2d_true[cam], atol=1e-6)


def test_landmark_marks_are_visible_at_their_projections(synthetic_session):
    from napari_facehmm.io.video import VideoReader

    truth = synthetic_session
    colors = keypoint_colors().astype(float)
    radius = marker_radius_px((320, 240))
    checked = matched = 0
    for cam in truth.camera_names:
        video = VideoReader(truth.video_paths[cam])
        try:
            for frame_index in (0, 150, 301, 599):
                image = video[frame_index].astype(float)
                pixels = truth.points_2d_true[cam][frame_index]
                for k in range(21):
                    others = np.delete(pixels, k, axis=0)
                    if np.min(np.linalg.norm(others - pixels[k], axis=1)) < 2.5 * radius:
                        continue  # another disc may cover this one
                    x, y = np.round(pixels[k]).astype(int)
                    distance = np.linalg.norm(colors - image[y, x], axis=1)
                    checked += 1
                    matched += int(np.argmin(distance) == k and distance[k] < 60)
        finally:
            video.close()
    assert checked >= 100
    assert matched / checked >= 0.97


def test_charuco_board_is_detected_where_it_truly_is(synthetic_session):
    from aniposelib.boards import CharucoBoard

    from napari_facehmm.io.video import VideoReader
    from napari_facehmm.synthetic.charuco import BoardMotion, project_corners

    truth = synthetic_session
    board = CharucoBoard(10, 7, square_length=25, marker_length=18.75, marker_bits=4, dict_size=50)
    motion = BoardMotion(truth.board_rotations, truth.board_translations_mm)
    for cam in truth.camera_names:
        expected = project_corners(motion, truth.calibration.camera(cam))
        video = VideoReader(truth.charuco_video_paths[cam])
        n_poses = motion.n_frames
        frames = range(0, n_poses, 3)
        detected, errors = 0, []
        try:
            for t in frames:
                corners, ids = board.detect_image(video[t][:, :, ::-1])  # aniposelib wants BGR
                if len(corners) >= 6:
                    detected += 1
                    errors.append(np.linalg.norm(corners.reshape(-1, 2) - expected[t, ids.ravel()], axis=1))
            # after its poses the board is out of view
            for t in (n_poses, (n_poses + video.n_frames) // 2, video.n_frames - 1):
                corners, _ = board.detect_image(video[t][:, :, ::-1])
                assert len(corners) == 0, f"{cam} frame {t}: a board where there is none"
        finally:
            video.close()
        assert detected >= 0.9 * len(frames)
        errors = np.concatenate(errors)
        assert np.median(errors) < 0.25  # sub-pixel agreement with the true calibration


def test_states_are_separable_in_egocentric_coordinates(synthetic_session):
    from hmmlearn.hmm import GaussianHMM
    from sklearn.metrics import adjusted_rand_score

    truth = synthetic_session
    egocentric = truth.points_face - truth.points_face[:, [KP["nose1"]]]
    features = egocentric.reshape(truth.n_frames, -1)
    best = None
    for restart in range(2):
        model = GaussianHMM(len(truth.state_names), "diag", n_iter=20, random_state=restart)
        model.fit(features)
        score = model.score(features)
        if best is None or score > best[0]:
            best = (score, model)
    assert adjusted_rand_score(truth.states, best[1].predict(features)) >= 0.9


def test_session_truth_loads_back(synthetic_session):
    loaded = SessionTruth.load(synthetic_session.out_dir)
    np.testing.assert_array_equal(loaded.states, synthetic_session.states)
    np.testing.assert_array_equal(loaded.points_3d, synthetic_session.points_3d)
    np.testing.assert_array_equal(loaded.points_2d["camB"], synthetic_session.points_2d["camB"])
    assert loaded.state_names == synthetic_session.state_names
    for ours, theirs in zip(loaded.calibration.cameras, synthetic_session.calibration.cameras):
        np.testing.assert_allclose(ours.matrix, theirs.matrix)
        np.testing.assert_allclose(ours.translation, theirs.translation)


def test_config_is_an_anipose_charuco_project(synthetic_session):
    import re

    import toml

    config = toml.load(synthetic_session.config_path)
    calibration = config["calibration"]
    assert calibration["board_type"] == "charuco"
    assert calibration["board_size"] == [10, 7]
    assert calibration["board_square_side_length"] == 25
    assert calibration["board_marker_length"] == 18.75
    assert (calibration["board_marker_bits"], calibration["board_marker_dict_number"]) == (4, 50)
    assert config["triangulation"]["triangulate"] is True
    cam_regex = config["triangulation"]["cam_regex"]
    for cam in synthetic_session.camera_names:
        for path in (synthetic_session.video_paths[cam], synthetic_session.charuco_video_paths[cam]):
            assert re.search(cam_regex, path.stem).groups()[0] == cam


# -------------------------------------------------------------- determinism
def test_generate_session_is_deterministic_from_seed(tmp_path):
    from napari_facehmm.io.dlc import read_dlc_analysis

    first = generate_session(tmp_path / "a", n_cameras=2, seconds=2, fps=15, seed=11, render_video=False)
    again = generate_session(tmp_path / "b", n_cameras=2, seconds=2, fps=15, seed=11, render_video=False)
    other = generate_session(tmp_path / "c", n_cameras=2, seconds=2, fps=15, seed=12, render_video=False)
    np.testing.assert_array_equal(first.points_3d, again.points_3d)
    np.testing.assert_array_equal(first.states, again.states)
    a = read_dlc_analysis(first.pose2d_paths["camA"])
    b = read_dlc_analysis(again.pose2d_paths["camA"])
    np.testing.assert_array_equal(a.positions, b.positions)
    np.testing.assert_array_equal(a.confidence, b.confidence)
    assert (first.calibration_path.read_text().split("[metadata]")[0]
            == again.calibration_path.read_text().split("[metadata]")[0])
    assert not np.allclose(first.points_3d, other.points_3d)
    assert not np.allclose(first.calibration.cameras[0].matrix, other.calibration.cameras[0].matrix)
    assert not (first.out_dir / "videos-raw" / "session1-camA.mp4").exists()


def test_generate_session_reports_progress_and_rejects_bad_input(tmp_path):
    calls = []
    generate_session(tmp_path / "p", n_cameras=1, seconds=1, fps=10, render_video=False,
                     progress=lambda done, total, message: calls.append((done, total)))
    assert calls and calls[-1][0] == calls[-1][1]
    assert all(b[0] >= a[0] for a, b in itertools.pairwise(calls))
    with pytest.raises(DataError, match="n_cameras"):
        generate_session(tmp_path / "q", n_cameras=0, seconds=1, render_video=False)
    with pytest.raises(DataError, match="frames"):
        generate_session(tmp_path / "r", seconds=0.01, render_video=False)
    with pytest.raises(DataError, match="even"):
        generate_session(tmp_path / "s", seconds=1, size=(321, 240))


def test_cli_writes_the_anipose_layout(tmp_path, capsys):
    from napari_facehmm.cli import main
    from napari_facehmm.io.dlc import read_dlc_analysis
    from napari_facehmm.io.video import VideoReader

    out = tmp_path / "session"
    code = main(["synth", "--out", str(out), "--cameras", "1", "--seconds", "1", "--fps", "12",
                 "--seed", "4", "--size", "160x120", "--noise-px", "0.3", "--head-motion", "0"])
    assert code == 0
    assert "12 frames" in capsys.readouterr().out
    for relative in ("config.toml", "calibration/calibration.toml", "calibration/camA-charuco.mp4",
                     "videos-raw/session1-camA.mp4", "pose-2d/session1-camA.h5",
                     "truth/pose-3d.csv", "truth/states.csv", "truth/states.json", "truth/head_pose.csv"):
        assert (out / relative).is_file(), relative
    assert not (out / "videos-raw" / "session1-camB.mp4").exists()
    assert read_dlc_analysis(out / "pose-2d" / "session1-camA.h5").n_frames == 12
    head = pd.read_csv(out / "truth" / "head_pose.csv")
    assert len(head) == 12 and np.allclose(head[["rx", "ry", "rz", "tx_mm", "ty_mm", "tz_mm"]], 0)
    assert SessionTruth.load(out).params["noise_px"] == 0.3
    video = VideoReader(out / "videos-raw" / "session1-camA.mp4")
    try:
        assert (video.n_frames, video.width, video.height) == (12, 160, 120)
    finally:
        video.close()
    assert main(["synth", "--out", str(out), "--size", "big"]) == 2  # argparse's status, returned
