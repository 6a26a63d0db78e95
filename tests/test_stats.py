"""Known-answer tests of the state statistics tables, the palette and the figures."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from napari_facehmm.errors import DataError
from napari_facehmm.stats import (
    MISSING_COLOR,
    bout_table,
    frame_table,
    mean_faces,
    state_color_array,
    state_colors,
    state_table,
    transition_counts,
    transition_table,
)

FPS = 10.0
#         frame: 0  1  2  3  4   5  6  7  8  9 | 20 21 (jump)
STATES = np.array([0, 0, 1, 1, 1, -1, 2, 2, 0, 0, 0, 1])
FRAMES = np.array([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 20, 21])


def test_bout_table_known_answer():
    bouts = bout_table(STATES, FRAMES, FPS)
    assert list(bouts.columns) == ["state", "start_frame", "end_frame", "n_frames", "duration_s"]
    # the frame jump after 9 ends the bout of state 0 even though 20 is state 0 too
    assert bouts[["state", "start_frame", "end_frame", "n_frames"]].values.tolist() == [
        [0, 0, 1, 2],
        [1, 2, 4, 3],
        [2, 6, 7, 2],
        [0, 8, 9, 2],
        [0, 20, 20, 1],
        [1, 21, 21, 1],
    ]
    np.testing.assert_allclose(bouts["duration_s"], bouts["n_frames"] / FPS)


def test_state_table_frequencies_sum_to_labelled_frames():
    table = state_table(STATES, 4, FPS, FRAMES, head_speed=np.arange(12.0))
    assert table["n_frames"].sum() == (STATES >= 0).sum() == 11
    assert table["n_frames"].tolist() == [5, 4, 2, 0]
    np.testing.assert_allclose(table["fraction"].sum(), 1.0)
    np.testing.assert_allclose(table["time_s"], table["n_frames"] / FPS)
    assert table["n_bouts"].tolist() == [3, 2, 1, 0]
    np.testing.assert_allclose(table.loc[0, "bout_mean_s"], (0.2 + 0.2 + 0.1) / 3)
    np.testing.assert_allclose(table.loc[0, "bout_max_s"], 0.2)
    np.testing.assert_allclose(table.loc[1, "bout_median_s"], 0.2)
    # mean head speed over the frames of the state: frames at rows 0,1,8,9,10
    np.testing.assert_allclose(table.loc[0, "mean_head_speed"], np.mean([0, 1, 8, 9, 10]))
    assert np.isnan(table.loc[3, "bout_mean_s"])


def test_transition_counts_skip_missing_frames_and_jumps():
    counts = transition_counts(STATES, 3, FRAMES)
    expected = np.zeros((3, 3), dtype=int)
    expected[0, 0] = 2  # frames 0->1 and 8->9
    expected[0, 1] = 2  # 1->2 and 20->21
    expected[1, 1] = 2  # 2->3, 3->4
    expected[2, 2] = 1  # 6->7
    expected[2, 0] = 1  # 7->8
    np.testing.assert_array_equal(counts, expected)
    table = transition_table(STATES, 3, FRAMES)
    assert list(table.columns[:4]) == ["from_state", "to_state", "count", "probability"]
    assert table["count"].sum() == counts.sum()
    probability = table["probability"].to_numpy().reshape(3, 3)
    np.testing.assert_allclose(probability.sum(axis=1), 1.0)
    switch = table["switch_probability"].to_numpy().reshape(3, 3)
    assert np.isnan(np.diag(switch)).all()
    np.testing.assert_allclose(switch[0], [np.nan, 1.0, 0.0])


def test_frame_table_leaves_missing_states_empty_in_csv(tmp_path):
    posterior = np.full((12, 3), np.nan)
    labelled = STATES >= 0
    posterior[labelled] = 0.1
    posterior[labelled, STATES[labelled]] = 0.8
    table = frame_table(STATES, FRAMES, FPS, posterior)
    path = tmp_path / "states.csv"
    table.to_csv(path, index=False)
    lines = path.read_text().splitlines()
    assert lines[0] == "frame,time_s,state,state_probability"
    assert lines[6] == "5,0.5,,"  # frame 5 has no state: empty, not a made-up one
    back = pd.read_csv(path)
    np.testing.assert_allclose(back.loc[labelled, "state_probability"], 0.8)
    assert back["state"].isna().sum() == 1


def test_mean_faces_known_answer():
    coords = np.zeros((4, 2, 2))
    coords[:, 0, 0] = [1.0, 3.0, 10.0, 99.0]
    states = np.array([0, 0, 1, -1])
    mean, sd = mean_faces(coords, states, 3)
    np.testing.assert_allclose(mean[0, 0, 0], 2.0)
    np.testing.assert_allclose(sd[0, 0, 0], 1.0)
    np.testing.assert_allclose(mean[1, 0, 0], 10.0)
    assert np.isnan(mean[2]).all()


def test_out_of_range_states_are_rejected():
    with pytest.raises(DataError, match="states must be"):
        state_table(np.array([0, 5]), 3, FPS)


def test_state_colors_are_fixed_distinct_rgba():
    for n_states in (1, 9, 10, 25):
        colors = state_colors(n_states)
        assert colors.shape == (n_states, 4)
        assert ((colors >= 0) & (colors <= 1)).all()
        assert len({tuple(np.round(c, 3)) for c in colors}) == n_states
    np.testing.assert_array_equal(state_colors(9), state_colors(12)[:9])
    per_frame = state_color_array(np.array([0, -1, 2]), 3)
    np.testing.assert_array_equal(per_frame[1], MISSING_COLOR)
    np.testing.assert_array_equal(per_frame[2], state_colors(3)[2])


def test_figures_draw_without_pyplot_or_qt(tmp_path):
    """Every figure renders to PNG with the Agg canvas, in a process with no pyplot and no Qt."""
    code = f"""
import sys, numpy as np
from napari_facehmm.stats import figures, state_table, transition_table, mean_faces
from napari_facehmm import face
rng = np.random.default_rng(0)
states = np.repeat([0, 1, 2, -1, 1, 0], 20)
times = np.arange(len(states)) / 30
coords = rng.normal(size=(len(states), len(face.FACE_KEYPOINTS), 3))
mean, sd = mean_faces(coords, states, 3)
table = state_table(states, 3, 30.0)
trans = transition_table(states, 3)
speed = np.abs(rng.normal(size=len(states)))
made = {{
    "ethogram": figures.ethogram_figure(states, 3, times, coords.reshape(len(states), -1)[:, :6],
                                        list("abcdef"), {{"speed": speed}}),
    "mean_faces": figures.mean_faces_figure(mean, sd, face.FACE_KEYPOINTS, face.FACE_SKELETON),
    "mean_faces_2d": figures.mean_faces_figure(mean[..., :2], sd[..., :2], face.FACE_KEYPOINTS,
                                               face.FACE_SKELETON, image_coordinates=True),
    "frequencies": figures.frequencies_figure(table),
    "transitions": figures.transitions_figure(
        trans["probability"].to_numpy().reshape(3, 3), trans["count"].to_numpy().reshape(3, 3),
        switch_probability=trans["switch_probability"].to_numpy().reshape(3, 3)),
    "kinematics": figures.kinematics_figure(states, 3, times, {{"speed": speed}}),
}}
for name, fig in made.items():
    fig.savefig(r"{tmp_path}/" + name + ".png")
bad = sorted(m for m in sys.modules if m == "matplotlib.pyplot" or m.split(".")[0] in
             ("PyQt5", "PyQt6", "PySide2", "PySide6", "qtpy", "napari"))
print(",".join(bad))
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ""
    for name in ("ethogram", "mean_faces", "mean_faces_2d", "frequencies", "transitions", "kinematics"):
        png = (tmp_path / f"{name}.png").read_bytes()
        assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5000


def test_summary_dock_draws_the_mean_faces_of_the_analysis_figure_3d():
    """The state summary's mean faces (``state_face_drawing``) are the analysis figure's, for 3D data.

    Known answer: the figure's plotted points, read back from its axes, equal the
    drawing coordinates the dock draws; for a 3D face these are the front view,
    not the raw x/y the dock used to plot (which would fail this test).
    """
    from napari_facehmm.analysis import analyze, make_figures
    from napari_facehmm.stats.figures import state_face_drawing
    from napari_facehmm.synthetic import simulate_face

    series = simulate_face(600, fps=30.0, seed=2, n_states=3).to_series()
    assert series.n_dims == 3
    result = analyze(series, 3, None, n_restarts=1, n_iter=10)
    features = result.features
    faces_2d, reference_2d = state_face_drawing(features.coords, result.states, result.n_states, features.keypoints)
    assert faces_2d.shape == (3, len(features.keypoints), 2)
    figure = make_figures(result)["mean_faces"]
    for state, ax in enumerate(figure.axes[: result.n_states]):
        markers = ax.containers[0].lines[0]  # the errorbar's points: one per keypoint
        np.testing.assert_allclose(np.column_stack(markers.get_data()), faces_2d[state], atol=1e-12)
        grey = ax.lines[0]  # the overall mean under the first edge
        assert np.isfinite(np.asarray(grey.get_xydata())).all()
    # the front view is not the raw x/y of the head-centred mean face
    raw_xy = result.mean_face[..., :2]
    assert not np.allclose(faces_2d - faces_2d.mean(axis=1, keepdims=True), raw_xy - raw_xy.mean(axis=1, keepdims=True), atol=0.5)
    # ear to ear is horizontal (left ear to the right in the drawing), brows above the chin
    index = {name: i for i, name in enumerate(features.keypoints)}
    assert reference_2d[index["lear"], 0] > reference_2d[index["rear"], 0]
    assert reference_2d[index["leyebrow2"], 1] > reference_2d[index["chin"], 1]
    # the mean face of a 2D series is drawn as it is
    flat = state_face_drawing(features.coords[..., :2], result.states, result.n_states, features.keypoints)[0]
    np.testing.assert_allclose(flat, result.mean_face[..., :2], atol=1e-12)


def test_state_probability_is_the_largest_posterior_where_a_state_was_decoded():
    from napari_facehmm.stats.tables import state_probability

    posterior = np.array([[0.2, 0.8], [np.nan, np.nan], [0.6, 0.4], [0.5, 0.5]])
    np.testing.assert_allclose(state_probability(posterior), [0.8, np.nan, 0.6, 0.5])
    np.testing.assert_allclose(state_probability(posterior, np.array([1, -1, -1, 0])), [0.8, np.nan, np.nan, 0.5])
