"""The data contract: LandmarkSeries construction, validation and DataFrame round trip."""

import numpy as np
import pandas as pd
import pytest

from napari_facehmm.data import LandmarkSeries
from napari_facehmm.errors import DataError
from napari_facehmm.face import FACE_KEYPOINTS, FACE_SKELETON


def _series(n_dims=3, n_frames=7, seed=0):
    rng = np.random.default_rng(seed)
    positions = rng.normal(size=(n_frames, len(FACE_KEYPOINTS), n_dims))
    positions[2, 4] = np.nan
    positions[5, :, 0] = np.nan
    confidence = rng.uniform(size=(n_frames, len(FACE_KEYPOINTS)))
    return LandmarkSeries(
        positions=positions,
        keypoints=FACE_KEYPOINTS,
        confidence=confidence,
        skeleton=FACE_SKELETON,
        fps=25.0,
        frame_indices=np.arange(10, 10 + n_frames),
        camera="camA",
        source="x.h5",
    )


@pytest.mark.parametrize("n_dims", [2, 3])
def test_dataframe_round_trip_keeps_numbers_and_nan(n_dims):
    series = _series(n_dims)
    table = series.to_dataframe()
    assert len(table) == series.n_frames * series.n_keypoints
    assert list(table.columns[:3]) == ["frame", "time_s", "keypoint"]
    assert ("z" in table.columns) == (n_dims == 3)
    np.testing.assert_allclose(table["time_s"].to_numpy(), table["frame"].to_numpy() / 25.0)

    back = LandmarkSeries.from_dataframe(table, fps=series.fps, skeleton=series.skeleton)
    np.testing.assert_array_equal(back.positions, series.positions)  # NaN in the same places
    np.testing.assert_array_equal(back.frame_indices, series.frame_indices)
    assert back.keypoints == series.keypoints
    assert back.camera == "camA"
    assert back.skeleton == series.skeleton
    # the confidence of every point survives, missing points' too
    np.testing.assert_array_equal(back.confidence, series.confidence)


def test_from_dataframe_fills_absent_rows_with_nan():
    table = pd.DataFrame(
        {"frame": [0, 2, 2], "keypoint": ["a", "a", "b"], "x": [1.0, 2.0, 3.0], "y": [4.0, 5.0, 6.0]}
    )
    series = LandmarkSeries.from_dataframe(table, fps=30)
    assert series.positions.shape == (2, 2, 2)
    np.testing.assert_array_equal(series.frame_indices, [0, 2])
    assert np.isnan(series.positions[0, 1]).all()
    np.testing.assert_array_equal(series.positions[1], [[2.0, 5.0], [3.0, 6.0]])


def test_partial_nan_becomes_full_nan_and_default_confidence_follows_presence():
    series = _series()
    assert np.isnan(series.positions[5]).all()  # x was NaN: y and z go too
    assert not np.isnan(series.confidence[5]).any()  # a given confidence is kept
    plain = LandmarkSeries(series.positions, keypoints=series.keypoints)
    assert np.isnan(plain.confidence[5]).all() and np.isnan(plain.confidence[2, 4])
    assert (plain.confidence[0] == 1.0).all()


def test_validation_errors_are_clear():
    positions = np.zeros((4, 2, 3))
    with pytest.raises(DataError, match="2 or 3 coordinates"):
        LandmarkSeries(np.zeros((4, 2, 4)), keypoints=("a", "b"))
    with pytest.raises(DataError, match="1 keypoint names for 2"):
        LandmarkSeries(positions, keypoints=("a",))
    with pytest.raises(DataError, match="repeated"):
        LandmarkSeries(positions, keypoints=("a", "a"))
    with pytest.raises(DataError, match="confidence must have shape"):
        LandmarkSeries(positions, keypoints=("a", "b"), confidence=np.ones((3, 2)))
    with pytest.raises(DataError, match="fps"):
        LandmarkSeries(positions, keypoints=("a", "b"), fps=0)
    with pytest.raises(DataError, match="lacks columns"):
        LandmarkSeries.from_dataframe(pd.DataFrame({"frame": [0], "x": [1.0]}), fps=30)
    with pytest.raises(DataError, match="'nose9' is not in this series"):
        _series().keypoint_index("nose9")


def test_selection_keeps_per_point_attrs_aligned():
    series = _series()
    series.attrs["error"] = np.arange(series.n_frames * series.n_keypoints, dtype=float).reshape(
        series.n_frames, series.n_keypoints
    )
    picked = series.select_keypoints(["chin", "nose1"])
    assert picked.keypoints == ("chin", "nose1")
    np.testing.assert_array_equal(picked.positions[:, 0], series.positions[:, series.keypoint_index("chin")])
    np.testing.assert_array_equal(picked.attrs["error"][:, 1], series.attrs["error"][:, series.keypoint_index("nose1")])
    assert picked.skeleton == ()  # no edge between chin and nose1 in the face skeleton
    later = series.select_frames(slice(3, None))
    np.testing.assert_array_equal(later.frame_indices, series.frame_indices[3:])
    assert later.attrs["error"].shape == (series.n_frames - 3, series.n_keypoints)

    # per-frame arrays that only look per-keypoint (Anipose's M and center of a 3-keypoint series)
    three = series.select_keypoints(list(series.keypoints[:3]))
    three.attrs.update(M=np.tile(np.eye(3), (three.n_frames, 1, 1)), center=np.zeros((three.n_frames, 3)))
    two = three.select_keypoints(list(three.keypoints[:2]))
    assert two.attrs["M"].shape == (three.n_frames, 3, 3) and two.attrs["center"].shape == (three.n_frames, 3)


def test_masked_hides_low_confidence_points_without_touching_the_original():
    series = _series()
    masked = series.masked(0.5)
    low = series.confidence < 0.5
    assert np.isnan(masked.positions[low]).all()
    keep = (series.confidence >= 0.5) & ~np.isnan(series.positions).any(axis=2)
    np.testing.assert_array_equal(masked.positions[keep], series.positions[keep])
    assert not np.isnan(series.positions[low & ~np.isnan(series.positions).any(axis=2)]).any()
    np.testing.assert_array_equal(series.skeleton_indices.shape, (len(FACE_SKELETON), 2))
