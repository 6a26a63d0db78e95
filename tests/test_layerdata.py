"""Pure layer conversions (no Qt, no napari)."""

from __future__ import annotations

import numpy as np
import pytest

from napari_facehmm.colors import MISSING_COLOR, state_colors
from napari_facehmm.data import LandmarkSeries
from napari_facehmm.errors import DataError
from napari_facehmm.layerdata import (
    VideoFrames,
    egocentric_frame,
    keypoint_colors,
    likelihood_shown,
    points_to_series,
    series_to_points,
    skeleton_to_vectors,
    state_band_image,
    states_for_frames,
    states_to_point_colors,
)


def _series(n_frames=6, n_dims=2, seed=0) -> LandmarkSeries:
    rng = np.random.default_rng(seed)
    positions = rng.uniform(0, 100, size=(n_frames, 3, n_dims))
    positions[1, 2] = np.nan  # one missing point
    positions[4] = np.nan  # one empty frame
    confidence = rng.uniform(0, 1, size=(n_frames, 3))
    return LandmarkSeries(
        positions=positions,
        keypoints=("a", "b", "c"),
        confidence=confidence,
        skeleton=(("a", "b"), ("b", "c")),
        frame_indices=np.arange(n_frames) + 10,
        fps=25.0,
    )


def test_series_to_points_drops_nan_rows_and_keeps_order():
    series = _series()
    points = series_to_points(series)
    n_present = int((~np.isnan(series.positions).any(axis=2)).sum())
    assert points.data.shape == (n_present, 3)
    assert points.data.flags.f_contiguous
    assert not np.isnan(points.data).any()
    # row 0: frame 10, keypoint a, [y, x] = positions[..., ::-1]
    np.testing.assert_array_equal(points.data[0], [10, *series.positions[0, 0, ::-1]])
    assert list(points.features["keypoint"][:3]) == ["a", "b", "c"]
    np.testing.assert_allclose(
        points.features["likelihood"], series.confidence[points.rows, points.keypoint_ids]
    )
    np.testing.assert_allclose(points.face_color, keypoint_colors(3)[points.keypoint_ids])


def test_points_to_series_inverts_series_to_points():
    series = _series()
    points = series_to_points(series)
    back = points_to_series(
        points.data,
        keypoints=series.keypoints,
        keypoint_per_point=points.features["keypoint"].to_numpy(),
        likelihood=points.features["likelihood"].to_numpy(),
        frame_indices=series.frame_indices,
        fps=series.fps,
        skeleton=series.skeleton,
    )
    np.testing.assert_allclose(back.positions, series.positions, equal_nan=True)
    present = ~np.isnan(series.positions).any(axis=2)
    np.testing.assert_allclose(back.confidence[present], series.confidence[present])
    assert np.isnan(back.confidence[~present]).all()
    np.testing.assert_array_equal(back.frame_indices, series.frame_indices)
    assert back.skeleton == series.skeleton


def test_points_to_series_rejects_unknown_keypoints_and_frames():
    data = np.array([[0, 1.0, 2.0]])
    with pytest.raises(DataError, match="zz"):
        points_to_series(data, keypoints=("a",), keypoint_per_point=["zz"])
    with pytest.raises(DataError, match="frame"):
        points_to_series(data, keypoints=("a",), keypoint_per_point=["a"], frame_indices=[5, 6])


def test_3d_series_shows_front_projection():
    series = _series(n_dims=3)
    points = series_to_points(series)
    x, y = series.positions[0, 0, 0], series.positions[0, 0, 1]
    np.testing.assert_allclose(points.data[0], [10, -y, x])


def test_skeleton_vectors_join_keypoints():
    series = _series()
    vectors, colors = skeleton_to_vectors(series)
    # frame 0 has both edges; frame 1 lacks c so only a-b; frame 4 has none
    frames = vectors[:, 0, 0]
    assert (frames == 10).sum() == 2 and (frames == 11).sum() == 1 and (frames == 14).sum() == 0
    first = vectors[0]
    a_yx, b_yx = series.positions[0, 0, ::-1], series.positions[0, 1, ::-1]
    np.testing.assert_allclose(first[0, 1:], a_yx)
    np.testing.assert_allclose(first[0, 1:] + first[1, 1:], b_yx)
    assert first[1, 0] == 0  # no step along time
    assert colors.shape == (len(vectors), 4)


def test_state_colors_per_point():
    series = _series()
    points = series_to_points(series)
    states = np.array([0, 1, 2, -1, 1, 0])
    rgba = states_to_point_colors(states, points.rows, n_states=3)
    palette = state_colors(3)
    for i in range(len(points.rows)):
        state = states[points.rows[i]]
        expected = MISSING_COLOR if state < 0 else palette[state]
        np.testing.assert_allclose(rgba[i], expected, atol=1e-6)
    with pytest.raises(DataError):
        states_to_point_colors(states[:2], points.rows, 3)


def test_states_for_frames_and_band():
    states = np.array([0, 0, 1, 2])
    frames = np.array([3, 4, 5, 7])
    np.testing.assert_array_equal(states_for_frames(states, frames, [3, 5, 6, 7, 100]), [0, 1, -1, 2, -1])
    band = state_band_image(np.array([0] * 10 + [1] * 30), n_states=2, width=4)
    assert band.shape == (1, 4, 4) and band.dtype == np.uint8
    palette = (state_colors(2) * 255).round()
    np.testing.assert_array_equal(band[0, 0], palette[0])
    np.testing.assert_array_equal(band[0, 3], palette[1])
    # states the model does not have are shown as missing, downsampled or not (was a crash when downsampled)
    missing = (MISSING_COLOR * 255).round()
    narrow = state_band_image(np.array([0, 0, 0, 4, 4, 4, 4, 4]), n_states=3, width=2)
    np.testing.assert_array_equal(narrow[0, 1], missing)
    full = state_band_image(np.array([0, 4]), n_states=3)
    np.testing.assert_array_equal(full[0, 1], missing)


def test_likelihood_threshold():
    np.testing.assert_array_equal(
        likelihood_shown(np.array([0.1, 0.5, 0.9, np.nan]), 0.5), [False, True, True, True]
    )


class _FakeReader:
    """A reader that counts decodes (the adapter must decode only what is asked)."""

    def __init__(self, n=5, h=4, w=6):
        self.shape = (n, h, w, 3)
        self.decoded = []

    def __len__(self):
        return self.shape[0]

    def __getitem__(self, i):
        self.decoded.append(i)
        return np.full(self.shape[1:], i, dtype=np.uint8)


def test_video_frames_adapter_is_lazy_and_slices_like_an_array():
    reader = _FakeReader()
    frames = VideoFrames(reader)
    assert frames.shape == (5, 4, 6, 3) and frames.ndim == 4 and frames.dtype == np.uint8
    assert reader.decoded == []
    assert frames[2].shape == (4, 6, 3) and frames[2][0, 0, 0] == 2
    assert frames[3, 1:3, :, 0].shape == (2, 6)
    assert frames[-1][0, 0, 0] == 4
    assert frames[1:3].shape == (2, 4, 6, 3)
    assert frames[(slice(0, 1), Ellipsis)].shape == (1, 4, 6, 3)
    with pytest.raises(IndexError):
        frames[5]
    assert reader.decoded == [2, 2, 3, 4, 1, 2, 0]


def test_egocentric_frame_centres_on_nose():
    pos = np.array([[1.0, 2.0], [3.0, 5.0]])
    np.testing.assert_allclose(egocentric_frame(pos, ["x", "nose1"]), [[-2, -3], [0, 0]])
    np.testing.assert_allclose(egocentric_frame(pos, ["x", "y"]), [[-1, -1.5], [1, 1.5]])
