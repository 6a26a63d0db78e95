"""The analysis options as settings, without Qt: features from the options, options back from a model.

The CLI side (``facehmm analyze`` builds its options from the same settings)
is checked in tests/test_settings.py, the dock's form in tests/gui/test_forms.py.
Budget: a few seconds (fits of 600 frames, few iterations).
"""

from __future__ import annotations

import numpy as np
import pytest

from napari_facehmm import analysis_settings as O
from napari_facehmm.errors import DataError
from napari_facehmm.face import FACE_KEYPOINTS as KEYPOINTS
from napari_facehmm.progress import run_to_end


@pytest.fixture(scope="module")
def two_cameras(tmp_path_factory):
    """The 2D tracks of two cameras of one 20 s synthetic session (3 true states)."""
    from napari_facehmm.synthetic import generate_session

    truth = generate_session(
        tmp_path_factory.mktemp("tracks"), n_cameras=2, seconds=20.0, fps=30.0, seed=3,
        render_video=False, n_states=3,
    )
    return [truth.series_2d(camera) for camera in truth.camera_names]


def test_feature_settings_follow_the_options():
    settings = O.feature_settings(KEYPOINTS)
    assert (settings.mode, settings.feature_set) == (O.ALIGN.default, O.FEATURES.default) == ("rigid", "expression+head")
    settings = O.feature_settings(
        KEYPOINTS, align="egocentric", features="expression", reference="nose1", rigid_keypoints=" nose1, nose2 ,",
        max_gap=7, min_confidence=0.25, drop_empty_keypoints=True,
    )
    assert settings.mode == "egocentric" and settings.feature_set == "expression"
    assert settings.rigid_keypoints == ("nose1", "nose2") and settings.max_gap_frames == 7
    assert settings.min_confidence == 0.25 and settings.drop_empty_keypoints
    # empty text is the landmark set's default, as the option left out
    assert O.feature_settings(KEYPOINTS, reference="", rigid_keypoints="") == O.feature_settings(KEYPOINTS)


@pytest.mark.parametrize("options, message", [
    (dict(reference="tail"), "--reference: no keypoint 'tail'"),
    (dict(rigid_keypoints="nose1,tail"), "--rigid-keypoints: no keypoint 'tail'"),
    (dict(max_gap=-1), r"--max-gap must be a whole number \(from 0 to 100000\); got -1"),
    (dict(align="affine"), "--align must be one of rigid, egocentric"),
    (dict(min_confidence=1.5), r"--min-confidence must be a number \(from 0 to 1\)"),
])
def test_feature_settings_refuse_bad_options(options, message):
    with pytest.raises(DataError, match=message):
        O.feature_settings(KEYPOINTS, **options)


def test_model_values_are_the_options_it_was_fitted_with(two_cameras, tmp_path):
    from napari_facehmm.analysis import run_analysis
    from napari_facehmm.hmm import FaceHMM

    chosen = dict(align="egocentric", features="expression", max_gap=7, min_confidence=0.2, min_observed=0.8)
    settings = O.feature_settings(two_cameras[0].keypoints, **chosen)
    result = run_to_end(run_analysis(
        two_cameras[0], 3, None, settings=settings, n_restarts=1, n_iter=4, seed=11,
        hmm_options={"covariance_type": "diag"}, stability_seeds=2,
    ))
    expected = {**chosen, "n_states": 3, "covariance": "diag", "restarts": 1, "iterations": 4, "seed": 11,
                "drop_empty_keypoints": False, "reference": settings.reference_keypoint,
                "rigid_keypoints": ",".join(settings.rigid_keypoints), "stability_seeds": 2}
    assert O.model_values(result.model) == expected
    result.model.save(tmp_path / "model")
    assert O.model_values(FaceHMM.load(tmp_path / "model.json")) == expected
    # every value is one the option accepts, so a form can show it
    for setting in (*O.FEATURE_OPTIONS, *O.FIT_OPTIONS, O.N_STATES):
        if expected[setting.name] is not None:
            setting.check(expected[setting.name])


def test_several_tracks_choose_the_number_of_states_together(two_cameras):
    from napari_facehmm.analysis_tracks import run_track_analysis

    settings = O.feature_settings(two_cameras[0].keypoints)
    results = run_to_end(run_track_analysis(two_cameras, (2, 3), settings=settings, n_restarts=1, n_iter=5))
    selection = results[0].info["model_selection"]
    assert selection["candidates"] == [2, 3]
    assert all(result.n_states == selection["chosen"] for result in results)
    table = results[1].info["model_selection_table"]
    assert table["n_states"].tolist() == [2, 3] and table["chosen"].sum() == 1
    assert np.isfinite(table["heldout_log_likelihood_per_frame"]).all()


def test_the_number_of_states_has_the_range_of_the_states_option():
    import argparse

    from napari_facehmm.commands.analyze import states_option

    assert states_option(str(O.N_STATES.minimum)) == O.N_STATES.minimum == 1
    assert states_option(str(O.N_STATES.maximum)) == O.N_STATES.maximum == O.MAX_STATES
    for outside in (O.N_STATES.minimum - 1, O.N_STATES.maximum + 1):
        with pytest.raises(argparse.ArgumentTypeError):
            states_option(str(outside))
    assert O.N_STATES.default == O.DEFAULT_STATES == 9  # as the reference analysis
