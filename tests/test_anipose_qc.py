"""Known-answer tests of the 3D QC helpers (reprojection, per-point errors, ranking, board corners).

Truth: the shared synthetic two-camera session (exact projections of its 3D
landmarks are stored as ``points_2d_true``). Budget: about 1 s beyond the
session fixture.
"""

from __future__ import annotations

import numpy as np
import pytest

from napari_facehmm.errors import DataError
from napari_facehmm.tracking import anipose as ta
from napari_facehmm.tracking import anipose_qc as qc


def test_reprojection_of_the_truth_equals_the_true_2d_points(synthetic_session):
    projected = qc.reproject(synthetic_session.series_3d(), synthetic_session.calibration)
    assert list(projected) == list(synthetic_session.camera_names)
    for camera, series in projected.items():
        assert series.camera == camera and series.n_dims == 2
        np.testing.assert_allclose(series.positions, synthetic_session.points_2d_true[camera], atol=1e-6)


def test_reprojection_undoes_anipose_output_frame(synthetic_session):
    """A series in an axes/reference-point frame (M, center) reprojects to the same pixels."""
    truth = synthetic_session.series_3d()
    moved, rotation, center = ta.coordinate_frame(
        truth.positions, truth.keypoints, axes=[["x", "rear", "lear"], ["z", "chin", "nose1"]],
        reference_point="nose1",
    )
    assert not np.allclose(rotation, np.eye(3))
    series = truth.copy(positions=moved, attrs={"M": rotation, "center": center})
    np.testing.assert_allclose(qc.world_positions(series), truth.positions, atol=1e-9)
    projected = qc.reproject(series, synthetic_session.calibration_path, cameras=["camB"])
    np.testing.assert_allclose(projected["camB"].positions, synthetic_session.points_2d_true["camB"], atol=1e-6)


def test_error_of_a_known_offset(synthetic_session):
    truth = synthetic_session.series_3d()
    tracks = {}
    for camera in synthetic_session.camera_names:
        shifted = synthetic_session.points_2d_true[camera] + np.array([3.0, 4.0])  # 5 px away
        tracks[camera] = synthetic_session.series_2d(camera).copy(positions=shifted)
    tracks["camB"].positions[10, 2] = np.nan
    errors = qc.reprojection_errors(truth, tracks, synthetic_session.calibration)
    assert errors["camA"].shape == (truth.n_frames, truth.n_keypoints)
    np.testing.assert_allclose(errors["camA"], 5.0, atol=1e-6)
    assert np.isnan(errors["camB"][10, 2])
    assert np.isfinite(errors["camB"]).sum() == truth.n_frames * truth.n_keypoints - 1


def test_errors_match_by_frame_index_and_keypoint_name(synthetic_session):
    truth = synthetic_session.series_3d()
    track = synthetic_session.series_2d("camA").copy(positions=synthetic_session.points_2d_true["camA"])
    # the 2D track covers frames 5..14 only, with keypoints in reverse order
    order = list(reversed(range(track.n_keypoints)))
    part = track.copy(
        positions=track.positions[5:15][:, order],
        confidence=track.confidence[5:15][:, order],
        keypoints=tuple(track.keypoints[i] for i in order),
        frame_indices=track.frame_indices[5:15],
    )
    errors = qc.reprojection_errors(truth, {"camA": part}, synthetic_session.calibration)["camA"]
    np.testing.assert_allclose(errors[5:15], 0.0, atol=1e-6)
    assert np.isnan(errors[:5]).all() and np.isnan(errors[15:]).all()
    with pytest.raises(DataError, match="camA"):
        qc.reprojection_errors(truth, {"camA": part.copy(keypoints=tuple(f"k{i}" for i in range(21)))},
                               synthetic_session.calibration)


def test_frames_by_error_sorts_worst_first():
    errors = np.array([[1.0, 1.0], [5.0, 3.0], [np.nan, np.nan], [2.0, 8.0], [4.0, 4.0]])
    frames = np.array([10, 11, 12, 13, 14])
    assert qc.frames_by_error(errors, frames) == [(13, 5.0), (11, 4.0), (14, 4.0), (10, 1.0)]
    assert qc.frames_by_error(errors, frames, keypoint=0, n=2) == [(11, 5.0), (14, 4.0)]
    # two cameras: the worse camera decides
    other = np.zeros_like(errors)
    other[0] = 20.0
    assert qc.frames_by_error({"a": errors, "b": other}, frames)[0] == (10, 20.0)
    with pytest.raises(DataError):
        qc.frames_by_error(errors, frames[:3])


def test_board_corners_become_frame_y_x_rows():
    corners = np.array([[[1.0, 2.0], [np.nan, np.nan], [5.0, 6.0]], [[7.0, 8.0], [9.0, 10.0], [np.nan, 1.0]]])
    data, ids = qc.board_corners_to_points(np.array([4, 9]), corners)
    np.testing.assert_array_equal(data, [[4, 2, 1], [4, 6, 5], [9, 8, 7], [9, 10, 9]])
    np.testing.assert_array_equal(ids, [0, 2, 0, 1])
    with pytest.raises(DataError):
        qc.board_corners_to_points(np.array([1]), corners)
