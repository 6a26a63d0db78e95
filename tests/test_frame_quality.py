"""The one worst-frames ranking: the QC dock, the 3D QC tab and the outlier picker agree."""

import numpy as np
import pytest

from napari_facehmm.data import LandmarkSeries
from napari_facehmm.errors import DataError
from napari_facehmm.tracking import anipose_qc, frame_picking
from napari_facehmm.tracking.frame_quality import frame_quality, frame_scores, rank_frames, worst_frames


def _series_with_errors() -> LandmarkSeries:
    frames = np.arange(100, 108)
    error = np.array(
        [
            [1.0, 1.0, 1.0],
            [2.0, 30.0, 1.0],  # one bad keypoint: mean 11
            [np.nan, np.nan, np.nan],  # no 3D point: no error, not ranked
            [12.0, 12.0, np.nan],  # mean over the keypoints that have an error: 12
            [4.0, 4.0, 4.0],
            [12.0, 12.0, 12.0],  # tie with frame 103: frame order
            [0.5, np.nan, 0.5],
            [20.0, 20.0, 20.0],
        ]
    )
    positions = np.zeros((len(frames), 3, 3))
    positions[np.isnan(error)] = np.nan
    series = LandmarkSeries(positions, keypoints=("a", "b", "c"), frame_indices=frames)
    series.attrs["error"] = error
    return series


def test_dock_tab_and_picker_give_the_same_worst_frames():
    series = _series_with_errors()
    expected = [(107, 20.0), (103, 12.0), (105, 12.0), (101, 11.0), (104, 4.0), (100, 1.0), (106, 0.5)]
    dock = [(frame, value) for frame, what, value in worst_frames(series)]
    assert all(what == "error px" for _, what, _ in worst_frames(series))
    tab = anipose_qc.frames_by_error(series.attrs["error"], series.frame_indices)
    assert dock == tab == expected
    picked = frame_picking.reprojection_outlier_frames(series, threshold_px=10.0)
    assert sorted(picked.tolist()) == sorted(frame for frame, error in expected if error > 10.0)
    assert picked.tolist() == [101, 103, 105, 107]  # the series' order
    assert worst_frames(series, n=2) == [(107, "error px", 20.0), (103, "error px", 12.0)]


def test_likelihood_ranks_empty_frames_worst_and_ties_in_frame_order():
    confidence = np.array([[0.9, 0.9], [0.0, 0.5], [0.5, 0.5], [0.25, 0.25], [0.9, 0.9]])
    positions = np.zeros((5, 2, 2))
    positions[2] = np.nan  # the tracker found nothing: likelihood 0
    series = LandmarkSeries(positions, confidence=confidence, keypoints=("a", "b"))
    np.testing.assert_allclose(frame_quality(series)["likelihood"], [0.9, 0.25, 0.0, 0.25, 0.9])
    assert [frame for frame, _, _ in worst_frames(series)] == [2, 1, 3, 0, 4]


def test_several_cameras_the_worse_decides_and_bad_shapes_raise():
    errors = {"a": np.array([[1.0, 3.0], [np.nan, np.nan]]), "b": np.array([[5.0, 5.0], [np.nan, np.nan]])}
    np.testing.assert_array_equal(frame_scores(errors), [5.0, np.nan])
    assert rank_frames(errors, np.array([7, 8])) == [(7, 5.0)]
    assert rank_frames(errors, np.array([7, 8]), keypoint=0) == [(7, 5.0)]
    likelihoods = {"a": np.array([[0.9], [0.2]]), "b": np.array([[0.1], [0.8]])}
    assert rank_frames(likelihoods, np.array([0, 1]), larger_is_worse=False) == [(0, 0.1), (1, 0.2)]
    with pytest.raises(DataError):
        rank_frames(np.zeros((3, 2)), np.arange(4))


def test_the_picker_takes_a_frame_with_one_bad_keypoint_that_the_docks_rank_low():
    error = np.array([[25.0, 0.5, 0.5], [1.0, 1.0, 1.0], [9.0, 9.0, 9.0]])
    series = LandmarkSeries(np.zeros((3, 3, 3)), keypoints=("a", "b", "c"), frame_indices=np.array([5, 6, 7]))
    series.attrs["error"] = error
    assert frame_picking.reprojection_outlier_frames(series, threshold_px=10.0).tolist() == [5]
    # the docks rank by the mean: frame 7 (9 px) above frame 5 (8.7 px)
    assert [frame for frame, _, _ in worst_frames(series)][:2] == [7, 5]
