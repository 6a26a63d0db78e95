"""Known-answer tests of the feature pipeline (egocentric/rigid frames, gaps, kinematics)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from napari_facehmm import face
from napari_facehmm.data import LandmarkSeries
from napari_facehmm.errors import DataError, FaceHMMError
from napari_facehmm.features import (
    FeatureScaler,
    FeatureSettings,
    angular_kinematics,
    build_features,
    egocentric,
    interpolate_gaps,
    kinematics,
    rigid_align,
    rotation_angles,
    segments,
)
from napari_facehmm.synthetic.face import simulate_face


@pytest.fixture(scope="module")
def simulation():
    return simulate_face(600, fps=30.0, seed=3)


@pytest.fixture(scope="module")
def series(simulation) -> LandmarkSeries:
    return simulation.to_series()


def _rigidly_moved(series: LandmarkSeries, seed: int, n_dims: int = 3) -> LandmarkSeries:
    """The series under a random rigid motion that changes every frame."""
    rng = np.random.default_rng(seed)
    n_frames = series.n_frames
    if n_dims == 3:
        rotations = Rotation.from_rotvec(rng.normal(0, 0.4, (n_frames, 3))).as_matrix()
    else:
        angle = rng.uniform(-np.pi, np.pi, n_frames)
        rotations = np.stack([np.cos(angle), -np.sin(angle), np.sin(angle), np.cos(angle)], -1)
        rotations = rotations.reshape(n_frames, 2, 2)
    shifts = rng.normal(0, 200.0, (n_frames, n_dims))
    moved = np.einsum("tij,tkj->tki", rotations, series.positions) + shifts[:, None, :]
    return series.copy(positions=moved)


# ---------------------------------------------------------------- geometry
def test_egocentric_subtracts_reference_and_ignores_translation(series):
    ref = series.keypoint_index("nose1")
    coords = egocentric(series.positions, ref)
    np.testing.assert_array_equal(coords[:, ref], 0.0)
    shift = np.random.default_rng(0).normal(0, 300, (series.n_frames, 1, 3))
    np.testing.assert_allclose(egocentric(series.positions + shift, ref), coords, atol=1e-9)
    settings = FeatureSettings(mode="egocentric", feature_set="expression")
    moved = series.copy(positions=series.positions + shift)
    np.testing.assert_allclose(
        build_features(moved, settings).values, build_features(series, settings).values, atol=1e-9
    )


def test_rigid_features_invariant_to_head_rotation_and_translation_3d(series):
    settings = FeatureSettings(mode="rigid", feature_set="expression")
    original = build_features(series, settings)
    moved = build_features(_rigidly_moved(series, seed=1), settings)
    # same template orientation (face frame from ears and nose), so identical coordinates
    np.testing.assert_allclose(moved.coords, original.coords, atol=1e-8)
    np.testing.assert_allclose(moved.values, original.values, atol=1e-8)


def test_rigid_features_invariant_in_2d():
    sim = simulate_face(300, fps=30.0, seed=5)
    flat = LandmarkSeries(sim.points_face[:, :, :2] * 4.0, face.FACE_KEYPOINTS, fps=30.0)
    settings = FeatureSettings(mode="rigid", feature_set="expression")
    original = build_features(flat, settings)
    moved = build_features(_rigidly_moved(flat, seed=2, n_dims=2), settings)
    np.testing.assert_allclose(moved.coords, original.coords, atol=1e-8)


def test_rigid_align_recovers_known_head_pose(simulation):
    """Pose of the truth face relative to the true head motion: rotations agree with truth."""
    keypoints = list(face.FACE_KEYPOINTS)
    rigid = [keypoints.index(k) for k in face.RIGID_KEYPOINTS]
    # noise-free rigid face, moved by the simulation's head motion
    neutral = simulation.neutral_mm
    true_rotations = Rotation.from_rotvec(simulation.head_rotvec).as_matrix()
    points = np.einsum("tij,kj->tki", true_rotations, neutral) + simulation.head_translation_mm[:, None]
    aligned, rotations, translations, template = rigid_align(points, rigid)
    # R_t = R_true_t @ Q for one fixed template orientation Q, so R_t @ R_0^T is the truth's
    relative = np.einsum("tij,kj->tik", rotations, rotations[0])
    true_relative = np.einsum("tij,kj->tik", true_rotations, true_rotations[0])
    np.testing.assert_allclose(relative, true_relative, atol=1e-9)
    # aligned points are the neutral face in the template frame: constant over time
    np.testing.assert_allclose(aligned, np.broadcast_to(aligned[0], aligned.shape), atol=1e-9)
    np.testing.assert_allclose(template.mean(axis=0), 0.0, atol=1e-9)
    # reconstruction: positions = R aligned + t
    rebuilt = np.einsum("tij,tkj->tki", rotations, aligned) + translations[:, None]
    np.testing.assert_allclose(rebuilt, points, atol=1e-9)


def test_rigid_align_marks_frames_with_too_few_rigid_points(series):
    positions = series.positions.copy()
    rigid = [series.keypoint_index(k) for k in face.RIGID_KEYPOINTS]
    positions[10, rigid[:-2]] = np.nan  # 2 rigid points left: too few in 3D
    positions[20, rigid[:3]] = np.nan  # 5 left: fine
    aligned, rotations, translations, _ = rigid_align(positions, rigid)
    assert np.isnan(rotations[10]).all() and np.isnan(aligned[10]).all()
    assert np.isfinite(rotations[20]).all()
    assert np.isfinite(aligned[20, rigid[3:]]).all()


def test_rotation_angles_known_values():
    yaw, pitch, roll = 20.0, -10.0, 5.0
    matrix = Rotation.from_euler("ZXY", [yaw, pitch, roll], degrees=True).as_matrix()
    angles, names = rotation_angles(matrix[None])
    assert names == ["yaw_deg", "pitch_deg", "roll_deg"]
    np.testing.assert_allclose(angles[0], [yaw, pitch, roll], atol=1e-9)
    theta = np.radians(30.0)
    planar = np.array([[[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]]])
    angles_2d, names_2d = rotation_angles(planar)
    assert names_2d == ["roll_deg"]
    np.testing.assert_allclose(angles_2d, [[30.0]])


def test_head_angles_follow_simulated_motion(simulation, series):
    """Rigid-mode head angles vary as much as the simulated head rotation (not wrapped at 180°)."""
    features = build_features(series, FeatureSettings(mode="rigid"))
    angles = features.head_pose["angles"]
    true_angle = np.degrees(np.linalg.norm(simulation.head_rotvec - simulation.head_rotvec.mean(0), axis=1))
    assert np.nanmax(np.abs(angles)) < 3 * true_angle.max() + 5
    total = np.sqrt((angles**2).sum(axis=1))
    assert np.corrcoef(total, true_angle)[0, 1] > 0.5


# -------------------------------------------------------------- kinematics
def test_kinematics_of_quadratic_track_are_exact():
    fps = 25.0
    t = np.arange(40) / fps
    position = np.column_stack([3.0 * t**2 + 2.0 * t + 1.0, -0.5 * t**2, 7.0 * t])
    valid = np.ones(40, dtype=bool)
    valid[20] = False  # splits into two segments; derivatives must not cross it
    result = kinematics(position, fps, valid)
    expected_velocity = np.column_stack([6.0 * t + 2.0, -1.0 * t, np.full_like(t, 7.0)])
    finite = valid
    np.testing.assert_allclose(result["velocity"][finite], expected_velocity[finite], atol=1e-9)
    np.testing.assert_allclose(result["acceleration"][finite], np.tile([6.0, -1.0, 0.0], (39, 1)), atol=1e-7)
    np.testing.assert_allclose(result["speed"][finite], np.linalg.norm(expected_velocity[finite], axis=1), atol=1e-9)
    assert np.isnan(result["velocity"][20]).all()


def test_angular_speed_of_constant_rotation():
    fps = 30.0
    omega_deg_s = 45.0
    angles = np.radians(omega_deg_s) * np.arange(60) / fps
    rotations = Rotation.from_rotvec(np.outer(angles, [0.0, 0.6, 0.8])).as_matrix()
    np.testing.assert_allclose(angular_kinematics(rotations, fps), omega_deg_s, atol=1e-6)


def test_segments_split_at_invalid_rows_and_frame_jumps():
    valid = np.array([1, 1, 0, 1, 1, 1, 1, 0, 1], dtype=bool)
    frames = np.array([0, 1, 2, 3, 4, 10, 11, 12, 13])
    assert segments(valid) == [(0, 2), (3, 7), (8, 9)]
    assert segments(valid, frames) == [(0, 2), (3, 5), (5, 7), (8, 9)]
    assert segments(np.zeros(3, dtype=bool)) == []


def test_interpolate_gaps_fills_short_interior_gaps_only():
    nan = np.nan
    track = np.array([nan, 0.0, nan, 2.0, nan, nan, nan, nan, nan, nan, 9.0, nan])
    filled = interpolate_gaps(track[:, None], max_gap=5)[:, 0]
    np.testing.assert_allclose(filled[:4], [nan, 0.0, 1.0, 2.0])
    assert np.isnan(filled[4:10]).all()  # 6-frame gap: too long
    assert np.isnan(filled[-1])  # trailing gap: nothing to interpolate towards


# ----------------------------------------------------------- build_features
def test_build_features_layout_and_lengths(series):
    positions = series.positions.copy()
    positions[100:103, 4] = np.nan  # short gap: filled
    positions[300:320, 15] = np.nan  # long gap: splits the series
    gappy = series.copy(positions=positions)
    features = build_features(gappy, FeatureSettings(mode="egocentric", feature_set="expression+head"))
    n_keypoints = series.n_keypoints - 1  # nose1 is the origin
    assert features.values.shape == (features.n_valid, 3 * n_keypoints + 1)
    assert features.names[-1] == "head_speed"
    assert "nose1_x" not in features.names
    assert features.lengths.sum() == features.n_valid == features.values.shape[0]
    assert features.valid[100:103].all()
    # one keypoint of many missing: the frames keep a state, with NaN in its columns
    assert features.valid.all() and len(features.lengths) == 1
    missing_columns = np.isnan(features.values[300:320]).any(axis=0)
    assert [n for n, m in zip(features.names, missing_columns) if m] == [
        f"{series.keypoints[15]}_{c}" for c in "xyz"
    ]
    assert np.isnan(features.values).sum() == 20 * 3
    np.testing.assert_allclose(features.observed[300:320], 1 - 3 / features.values.shape[1])
    assert (features.reasons == "").all()
    np.testing.assert_allclose(np.nanmean(features.values, axis=0), 0.0, atol=1e-9)
    np.testing.assert_allclose(np.nanstd(features.values, axis=0), 1.0, atol=1e-9)
    complete = build_features(
        gappy, FeatureSettings(mode="egocentric", feature_set="expression+head", min_observed=1.0)
    )
    assert not complete.valid[300:320].any()
    assert len(complete.lengths) == 2
    assert complete.reasons[305].endswith("of features observed (< 100%)")
    assert not np.isnan(complete.values).any()
    rigid = build_features(gappy, FeatureSettings(mode="rigid", feature_set="expression+head"))
    assert rigid.names[-2:] == ["head_speed", "head_angular_speed"]
    assert rigid.head_pose["rotations"].shape == (series.n_frames, 3, 3)
    assert rigid.kinematics["angular_speed"].shape == (series.n_frames,)


def test_settings_and_scaler_round_trip_through_json(series):
    import json

    settings = FeatureSettings(mode="rigid", keypoints=("chin", "uplip", "lear"), max_gap_frames=3)
    again = FeatureSettings.from_dict(json.loads(json.dumps(settings.to_dict())))
    assert again == settings
    features = build_features(series, FeatureSettings(mode="rigid"))
    scaler = FeatureScaler.from_dict(json.loads(json.dumps(features.scaler.to_dict())))
    reapplied = build_features(series, FeatureSettings(mode="rigid"), scaler=scaler)
    np.testing.assert_allclose(reapplied.values, features.values, atol=1e-9)
    with pytest.raises(DataError, match="unknown feature settings"):
        FeatureSettings.from_dict({"mode": "rigid", "colour": 3})


def test_scaler_applies_to_a_new_session_and_rejects_other_layouts(series):
    settings = FeatureSettings(mode="rigid")
    fitted = build_features(series, settings)
    other = simulate_face(200, fps=30.0, seed=11).to_series()
    applied = build_features(other, settings, scaler=fitted.scaler)
    assert applied.names == fitted.names
    # the new session is scaled with the first session's numbers, not its own
    np.testing.assert_allclose(applied.unscaled, applied.values * fitted.scaler.std + fitted.scaler.mean)
    fewer = other.select_keypoints([k for k in other.keypoints if k != "chin"])
    with pytest.raises(DataError, match="layout"):
        build_features(fewer, settings, scaler=fitted.scaler)


def test_all_nan_keypoint_is_named_or_dropped(series):
    positions = series.positions.copy()
    positions[:, series.keypoint_index("chin")] = np.nan
    broken = series.copy(positions=positions)
    with pytest.raises(DataError, match="chin"):
        build_features(broken, FeatureSettings())
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        features = build_features(broken, FeatureSettings(drop_empty_keypoints=True))
    assert any("chin" in str(w.message) for w in caught)
    assert not any(name.startswith("chin_") for name in features.names)
    assert features.n_valid == series.n_frames


def test_zero_variance_feature_is_named(series):
    positions = series.positions.copy()
    ref = series.keypoint_index("nose1")
    lear = series.keypoint_index("lear")
    positions[:, lear] = positions[:, ref] + np.array([10.0, 0.0, 0.0])  # rigidly attached
    with pytest.raises(DataError, match="lear_x"):
        build_features(
            series.copy(positions=positions),
            FeatureSettings(mode="egocentric", feature_set="expression"),
        )


def test_missing_reference_or_rigid_keypoints_are_clear_errors(series):
    without_nose = series.select_keypoints([k for k in series.keypoints if k != "nose1"])
    with pytest.raises(FaceHMMError, match="nose1"):
        build_features(without_nose, FeatureSettings(mode="egocentric"))
    with pytest.raises(DataError, match="rigid keypoints"):
        build_features(without_nose, FeatureSettings(mode="rigid"))
    with pytest.raises(DataError, match="mode"):
        FeatureSettings(mode="sideways")


def test_no_valid_frames_is_a_clear_error(series):
    positions = series.positions.copy()
    positions[::2, series.keypoint_index("chin")] = np.nan
    positions[1::2, series.keypoint_index("uplip")] = np.nan
    with pytest.raises(DataError, match="no frame"):
        build_features(series.copy(positions=positions), FeatureSettings(max_gap_frames=0, min_observed=1.0))


def test_short_segments_are_dropped_and_frame_jumps_split(series):
    positions = series.positions.copy()
    chin = series.keypoint_index("chin")
    positions[100:110, chin] = np.nan  # long gap
    positions[112:122, chin] = np.nan  # another: rows 110-111 form a 2-frame island
    frames = np.arange(series.n_frames)
    frames[300:] += 50  # frames 300.. come after a jump in the video
    gappy = series.copy(positions=positions, frame_indices=frames)
    # complete frames only (min_observed=1): the chin's gaps leave frames without a state
    features = build_features(gappy, FeatureSettings(min_segment_frames=3, min_observed=1.0))
    assert not features.valid[110:112].any()  # shorter than min_segment_frames
    assert features.reasons[110] == "in a run of frames with features shorter than 3 frames"
    assert features.lengths.tolist() == [100, 300 - 122, series.n_frames - 300]
    # by default the chin's gaps do not cost a state (one keypoint of many missing)
    assert build_features(gappy, FeatureSettings(min_segment_frames=3)).lengths.tolist() == [
        300, series.n_frames - 300
    ]
    kept = build_features(gappy, FeatureSettings(min_segment_frames=2, min_observed=1.0))
    assert kept.valid[110:112].all()
    # velocities never cross the jump: after it they equal those of the part on its own
    head = features.head_pose["translations"]
    alone = kinematics(head[300:], gappy.fps)
    np.testing.assert_allclose(features.kinematics["velocity"][300:], alone["velocity"], atol=1e-9)
