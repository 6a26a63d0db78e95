"""The Expression states dock's fit in the core: one model for several tracks (no Qt).

Known answers: one track is exactly ``run_analysis``; two tracks are one
FaceHMM fit on both feature matrices (each its own sequences), each track
decoded on its own features; the too-few-frames rule is the pipeline's.
Budget: a few seconds (short fits of 600 frames).
"""

from __future__ import annotations

import numpy as np
import pytest

from napari_facehmm.analysis import decode, run_analysis
from napari_facehmm.analysis_tracks import run_track_analysis
from napari_facehmm.errors import Cancelled, DataError
from napari_facehmm.features import FeatureSettings, build_features
from napari_facehmm.progress import run_to_end

FIT = dict(n_restarts=1, n_iter=8)


@pytest.fixture(scope="module")
def two_cameras(tmp_path_factory):
    """The 2D tracks of two cameras of one 20 s synthetic session (3 true states)."""
    from napari_facehmm.synthetic import generate_session

    truth = generate_session(
        tmp_path_factory.mktemp("tracks"), n_cameras=2, seconds=20.0, fps=30.0, seed=3,
        render_video=False, n_states=3,
    )
    return [truth.series_2d(camera) for camera in truth.camera_names], truth


def test_one_track_is_run_analysis(two_cameras):
    tracks, _ = two_cameras
    settings = FeatureSettings(mode="egocentric")
    (result,) = run_to_end(run_track_analysis(tracks[:1], 3, settings=settings, **FIT))
    expected = run_to_end(run_analysis(tracks[0], 3, None, settings=settings, **FIT))
    np.testing.assert_array_equal(result.states, expected.states)
    np.testing.assert_allclose(result.posterior, expected.posterior)
    assert result.log_likelihood == pytest.approx(expected.log_likelihood)
    assert result.model.metadata["features"] == expected.model.metadata["features"]


def test_two_tracks_share_one_model_and_keep_their_own_states(two_cameras):
    from napari_facehmm.hmm import FaceHMM

    tracks, truth = two_cameras
    settings = FeatureSettings()
    progress = []
    job = run_track_analysis(tracks, 3, settings=settings, **FIT)
    results = run_to_end(job, progress.append)
    assert len(results) == 2 and results[0].model is results[1].model
    done = [step[0] for step in progress]
    assert done == sorted(done) and progress[-1][:2] == (100, 100)

    # the same fit by hand: both matrices, each its own sequences, one FaceHMM
    matrices = [build_features(series, settings) for series in tracks]
    by_hand = FaceHMM(n_states=3, feature_names=list(matrices[0].names), n_restarts=1, n_iter=8)
    by_hand.fit(
        np.concatenate([m.values for m in matrices]), np.concatenate([m.lengths for m in matrices])
    )
    model = results[0].model
    np.testing.assert_allclose(model.model_.means_, by_hand.model_.means_, rtol=1e-6, atol=1e-8)
    for result, matrix in zip(results, matrices):
        states, posterior, _ = decode(by_hand, matrix)
        np.testing.assert_array_equal(result.states, states)
        np.testing.assert_allclose(result.posterior, posterior, atol=1e-8)
    # the model carries the first track's settings and scaler (what Save model writes)
    assert model.metadata["scaler"] == matrices[0].scaler.to_dict()
    # both cameras recover the true states about equally (measured ARI 0.53 and 0.52 with 8 iterations)
    from sklearn.metrics import adjusted_rand_score

    for result in results:
        labelled = result.states >= 0
        assert labelled.mean() > 0.95
        assert adjusted_rand_score(truth.states[labelled], result.states[labelled]) > 0.4


def test_bad_track_sets_are_refused_before_fitting(two_cameras):
    tracks, truth = two_cameras
    with pytest.raises(DataError, match="at least one track"):
        run_to_end(run_track_analysis([], 3))
    with pytest.raises(DataError, match="different landmarks"):
        run_to_end(run_track_analysis([tracks[0], truth.series_3d()], 3, **FIT))
    fewer = tracks[1].select_keypoints([k for k in tracks[1].keypoints if k != "chin"])
    with pytest.raises(DataError, match="different landmarks"):
        run_to_end(run_track_analysis([tracks[0], fewer], 3, **FIT))
    # the pipeline's rule (not more frames with features than states), on the frames of all tracks
    short = [
        series.copy(
            positions=series.positions[:3], confidence=series.confidence[:3], frame_indices=series.frame_indices[:3]
        )
        for series in tracks
    ]
    settings = FeatureSettings(mode="egocentric", feature_set="expression", min_segment_frames=1)
    with pytest.raises(DataError, match="6 states cannot be fit to 6 frames"):
        run_to_end(run_track_analysis(short, 6, settings=settings, **FIT))
    with pytest.raises(Cancelled):
        run_to_end(run_track_analysis(tracks, 3, should_stop=lambda: True, **FIT))
