"""Viewer gaps: skeleton edges follow the QC likelihood threshold; several tracks decoded.

Real napari windows under Xvfb (pytest-xvfb), on the shared short synthetic
session (20 s, 2 cameras). Budget: about 30 s.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.gui


def _open(make_napari_viewer, synthetic_session):
    from napari_facehmm.widgets.app import open_face_viewer

    viewer = make_napari_viewer()
    return open_face_viewer(Path(synthetic_session.out_dir), viewer=viewer, fit=False)


def test_qc_threshold_hides_skeleton_edges_of_hidden_points(make_napari_viewer, synthetic_session):
    viewer, docks = _open(make_napari_viewer, synthetic_session)
    points = viewer.layers["session1-camA points"]
    skeleton = viewer.layers["session1-camA skeleton"]
    assert np.all(skeleton.edge_color[:, 3] > 0)
    threshold = 0.95
    docks["qc"].set_threshold(threshold)

    # every edge, read back from the vectors' own coordinates: hidden exactly
    # when a point at one of its ends is hidden
    shown_points = points.data[points.shown]
    shown_keys = {tuple(np.round(row, 6)) for row in shown_points}
    start = skeleton.data[:, 0, :]
    end = start + skeleton.data[:, 1, :]  # the offset's frame component is 0
    ends_shown = np.array(
        [tuple(np.round(a, 6)) in shown_keys and tuple(np.round(b, 6)) in shown_keys for a, b in zip(start, end)]
    )
    visible = skeleton.edge_color[:, 3] > 0
    assert (~ends_shown).sum() > 10 and ends_shown.sum() > 10  # both kinds occur
    np.testing.assert_array_equal(visible, ends_shown)

    # lowering the threshold brings every edge back with its color
    docks["qc"].set_threshold(0.0)
    assert np.all(skeleton.edge_color[:, 3] > 0)
    assert points.shown.all()


@pytest.mark.parametrize("how", ["worker", "sync"])
def test_every_selected_track_is_decoded_and_colored_by_its_own_states(make_napari_viewer, synthetic_session, qtbot, how):
    from napari_facehmm.colors import state_colors
    from napari_facehmm.features import FeatureSettings, build_features
    from napari_facehmm.layerdata import states_for_frames
    from napari_facehmm.widgets.app import fit_now
    from napari_facehmm.widgets.states import decode

    viewer, docks = _open(make_napari_viewer, synthetic_session)
    states = docks["states"]
    names = ["session1-camA points", "session1-camB points"]
    states.set_tracks(names)
    if how == "worker":  # the dock's Fit button: a thread_worker
        states.n_states.setValue(4)
        states.n_restarts.setValue(1)
        worker = states.fit()
        with qtbot.waitSignal(worker.finished, timeout=120_000):
            pass
    else:  # facehmm view --fit
        fit_now(states, n_states=4, n_restarts=1, show_progress=False)
    session = states.session
    assert sorted(session.track_states) == names
    palette = state_colors(session.n_states)
    settings = FeatureSettings(**states.settings_kwargs())
    own_states = {}
    for name in names:
        layer = viewer.layers[name]
        meta = layer.metadata["facehmm"]
        # decoded again here, on this track's own features, with the fitted model
        matrix = build_features(meta["series"], settings)
        expected, _ = decode(session.model, matrix)
        frames = meta["series"].frame_indices[meta["rows"]]
        per_point = states_for_frames(expected, matrix.frame_indices, frames)
        has_state = per_point >= 0
        assert has_state.mean() > 0.9
        np.testing.assert_allclose(layer.face_color[has_state], palette[per_point[has_state]], atol=1e-6)
        own_states[name] = states_for_frames(expected, matrix.frame_indices, np.arange(600))
    # the cameras' decodes differ somewhere, so camB's colors are not camA's states
    assert (own_states[names[0]] != own_states[names[1]]).any()
    # the ethogram shows the first track and says so
    np.testing.assert_array_equal(states_for_frames(session.states, session.state_frames, np.arange(600)), own_states[names[0]])
    assert names[0] in docks["ethogram"].toolTip() and "2 tracks" in docks["ethogram"].toolTip()
    assert "own states" in states.status.text()
