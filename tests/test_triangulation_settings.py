"""TriangulationSettings: the settings object of ``triangulate``, and the keywords that build it."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from test_anipose_support import face_motion, make_rig, project_tracks

from napari_facehmm.errors import DataError
from napari_facehmm.tracking import anipose as ta
from napari_facehmm.tracking.anipose import TriangulationSettings


def test_defaults_are_anipose_defaults_and_settings_are_frozen():
    settings = TriangulationSettings()
    assert settings.score_threshold == ta.ANIPOSE_TRIANGULATION_DEFAULTS["score_threshold"]
    assert settings.n_deriv_smooth == 3 and settings.optim_chunk_frames == 1000
    assert settings.filter_2d is None and settings.check_calibration is True
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.score_threshold = 0.1


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("score_threshold", 1.5, "score_threshold must be between 0 and 1; got 1.5"),
        ("score_threshold", float("nan"), "between 0 and 1"),
        ("score_threshold", "high", "between 0 and 1"),
        ("ransac_threshold_px", 0.0, "ransac_threshold_px must be > 0"),
        ("scale_length", -1.0, "scale_length must be >= 0"),
        ("reproj_error_threshold", 0, "reproj_error_threshold must be > 0"),
        ("n_deriv_smooth", 0, "n_deriv_smooth must be a whole number >= 1"),
        ("optim_chunk_frames", 2.5, "optim_chunk_frames must be a whole number >= 1"),
        ("chunk_points", 0, "chunk_points must be a whole number >= 1"),
        ("filter_2d", "kalman", r"filter_2d must be one of \['medfilt', 'viterbi'\]"),
    ],
)
def test_values_outside_their_range_are_refused_with_the_range(field, value, message):
    with pytest.raises(DataError, match=message):
        TriangulationSettings(**{field: value})


def test_from_config_is_triangulation_options():
    config = {
        "triangulation": {"score_threshold": 0.3, "optim": True, "constraints": [["nose1", "nose2"]]},
        "filter": {"enabled": True, "type": "viterbi", "n_back": 3},
    }
    settings = TriangulationSettings.from_config(config, optim=False, ransac=None)
    assert settings == TriangulationSettings(**ta.triangulation_options(config, optim=False))
    assert settings.score_threshold == 0.3 and settings.optim is False and settings.filter_2d == "viterbi"
    with pytest.raises(DataError, match="score_threshold must be between 0 and 1"):
        TriangulationSettings.from_config({"triangulation": {"score_threshold": 80}})


def test_settings_and_keywords_triangulate_alike():
    rig = make_rig(3, size=(640, 480), k1=-0.05)
    tracks = project_tracks(rig, face_motion(20, seed=1), noise_px=0.5)
    tracks["camC"].confidence[:, :3] = 0.6  # under 0.8, over 0.5
    by_keywords = ta.run_to_end(ta.triangulate(tracks, rig, score_threshold=0.5, chunk_points=7))
    settings = TriangulationSettings(score_threshold=0.5, chunk_points=7)
    by_settings = ta.run_to_end(ta.triangulate(tracks, rig, settings))
    # keywords override the settings given
    overridden = ta.run_to_end(
        ta.triangulate(tracks, rig, TriangulationSettings(chunk_points=7, ransac=True), score_threshold=0.5, ransac=False)
    )
    for result in (by_settings, overridden):
        np.testing.assert_array_equal(result.positions, by_keywords.positions)
        np.testing.assert_array_equal(result.attrs["ncams"], by_keywords.attrs["ncams"])
        assert result.attrs["method"] == "dlt"
    default = ta.run_to_end(ta.triangulate(tracks, rig))
    assert np.nanmax(default.attrs["ncams"][:, :3]) == 2  # camC's points dropped at 0.8
    assert np.nanmin(by_settings.attrs["ncams"][:, :3]) == 3
    with pytest.raises(TypeError):
        ta.run_to_end(ta.triangulate(tracks, rig, settings, not_a_setting=1))
