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
    from napari_facehmm.features import build_features
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
    assert sorted(session.tracks) == names
    palette = state_colors(session.n_states)
    settings = states.form.feature_settings(states.selected_series()[0].keypoints)
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
    # the first track is active: the ethogram's traces, the 3D face and the summary show it
    assert session.active_track == names[0]
    np.testing.assert_array_equal(states_for_frames(session.states, session.state_frames, np.arange(600)), own_states[names[0]])
    assert "own states" in states.status.text()
    _check_rows_and_active_track(viewer, docks, session, names, own_states, palette, qtbot)


def _row_colors(ethogram, row, frames, n_frames=600):
    """The colors drawn in ``row`` of the ethogram at the middle of each frame's columns.

    The band is one image column per frame (fewer frames than pixels here),
    scaled to the row without smoothing: the middle of a frame's span shows it.
    """
    from qtpy.QtGui import QColor

    image = ethogram.grab().toImage()
    rect = ethogram.row_rect(row)
    y = int(rect.center().y())
    colors = []
    for frame in frames:
        x = int(rect.left() + (frame + 0.5) * rect.width() / n_frames)
        pixel = QColor(image.pixel(x, y))
        colors.append((frame, np.array([pixel.redF(), pixel.greenF(), pixel.blueF()])))
    return colors


def _check_rows_and_active_track(viewer, docks, session, names, own_states, palette, qtbot):
    from qtpy.QtCore import QPoint, Qt

    from napari_facehmm.layerdata import states_for_frames

    ethogram, face, summary = docks["ethogram"], docks["face3d"], docks["summary"]
    ethogram.resize(900, ethogram.minimumHeight())
    viewer.dims.set_point(0, 0)  # keep the cursor away from the sampled columns
    # one labelled row per track, each painted with that track's own states
    assert ethogram.rows() == names
    assert ethogram.row_rect(1).top() > ethogram.row_rect(0).bottom()
    assert "2 tracks" in ethogram.toolTip() and names[0] in ethogram.toolTip()
    # frames right of the row labels with a state in both tracks, some where the
    # tracks disagree (the cameras' decodes differ in a few short spells)
    ethogram.grab()  # paints, placing the labels
    label_end = max(rect.right() for rect in ethogram.label_rects.values())
    left, width = ethogram.row_rect(0).left(), ethogram.row_rect(0).width()
    usable = [
        f
        for f in range(600)
        if left + f * width / 600 > label_end + 2 and all(own_states[n][f] >= 0 for n in names)
    ]
    differ = [f for f in usable if own_states[names[0]][f] != own_states[names[1]][f]]
    assert width >= 600 and len(usable) >= 100 and differ, "no usable frames to compare the rows"
    frames = usable[:: len(usable) // 8] + differ
    for row, name in enumerate(names):
        for frame, color in _row_colors(ethogram, row, frames):
            expected = palette[own_states[name][frame]][:3]
            np.testing.assert_allclose(color, expected, atol=0.02, err_msg=f"{name} row, frame {frame}")
    # the 3D face offers the decoded tracks and shows the active one
    assert face.track.isVisibleTo(face) and [face.track.itemText(i) for i in range(face.track.count())] == names
    assert face.track.currentText() == names[0]

    # clicking camB's row makes it active (and seeks); the 3D face and summary follow
    frame = 321
    x = int(round(ethogram.frame_to_x(frame)))
    y = int(ethogram.row_rect(1).center().y())
    qtbot.mouseClick(ethogram, Qt.MouseButton.LeftButton, pos=QPoint(x, y))
    assert session.active_track == names[1]
    current = session.current_frame()
    assert abs(current - frame) <= 1
    np.testing.assert_array_equal(states_for_frames(session.states, session.state_frames, np.arange(600)), own_states[names[1]])
    assert face.track.currentText() == names[1]
    state = own_states[names[1]][current]
    assert state >= 0 and names[1] in face.label.text()
    np.testing.assert_allclose(face.last_colors[0], palette[state])
    assert names[1] in summary.figure._suptitle.get_text()
    assert names[1] in ethogram.toolTip()
    # the summary's longest bout is now camB's
    bout_state = int(own_states[names[1]][current])
    jumped = summary.jump_to_state(bout_state)
    assert own_states[names[1]][jumped] == bout_state

    # choosing a track in the 3D face is the same as clicking its row
    face.track.setCurrentText(names[0])
    assert session.active_track == names[0]
    np.testing.assert_array_equal(states_for_frames(session.states, session.state_frames, np.arange(600)), own_states[names[0]])
    # the points keep their own track's colors whichever track is active
    layer = viewer.layers[names[1]]
    meta = layer.metadata["facehmm"]
    track = session.tracks[names[1]]
    per_point = states_for_frames(track.states, track.frames, meta["series"].frame_indices[meta["rows"]])
    has_state = per_point >= 0
    np.testing.assert_allclose(layer.face_color[has_state], palette[per_point[has_state]], atol=1e-6)


def test_ethogram_traces_are_optional(make_napari_viewer, synthetic_session, monkeypatch):
    from qtpy.QtCore import QPoint
    from qtpy.QtGui import QContextMenuEvent
    from qtpy.QtWidgets import QMenu

    from napari_facehmm.widgets.app import fit_now
    from napari_facehmm.widgets.ethogram import TRACE_HEIGHT, TRACE_NAMES

    viewer, docks = _open(make_napari_viewer, synthetic_session)
    states = docks["states"]
    states.set_tracks(["session1-camA points"])
    fit_now(states, n_states=3, n_restarts=1, show_progress=False)
    ethogram = docks["ethogram"]
    assert ethogram.shown_traces() == list(TRACE_NAMES)  # all three are known for a 2D track
    full = ethogram.minimumHeight()

    ethogram.set_trace_enabled("head speed", False)
    assert ethogram.shown_traces() == ["state probability", "likelihood"]
    assert ethogram.minimumHeight() < full - TRACE_HEIGHT + 1
    assert not ethogram.grab().isNull()

    # the right-click menu toggles them too (its exec is replaced by a click on "likelihood")
    def click_likelihood(menu, *args):
        next(action for action in menu.actions() if action.text() == "likelihood").trigger()

    monkeypatch.setattr(QMenu, "exec", click_likelihood)
    ethogram.contextMenuEvent(QContextMenuEvent(QContextMenuEvent.Reason.Mouse, QPoint(10, 10), ethogram.mapToGlobal(QPoint(10, 10))))
    assert ethogram.shown_traces() == ["state probability"]
    ethogram.set_trace_enabled("head speed", True)
    ethogram.set_trace_enabled("likelihood", True)
    assert ethogram.shown_traces() == list(TRACE_NAMES) and ethogram.minimumHeight() == full
    with pytest.raises(KeyError):
        ethogram.set_trace_enabled("heart rate", True)
