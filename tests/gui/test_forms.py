"""The docks' forms show the core's settings: the CLI option's name, default, range and choices.

tests/test_settings.py checks the CLI against the same settings without Qt.
"""

from __future__ import annotations

import pytest

from napari_facehmm import labeling
from napari_facehmm.tracking import facemesh_jobs
from napari_facehmm.tracking.dlc import settings as S

pytestmark = pytest.mark.gui


def _fields(container) -> dict:
    """Every field of a magicgui form by name, rows of several fields included."""
    found = {}
    for widget in container:
        if hasattr(widget, "__iter__") and not hasattr(widget, "value"):
            found.update(_fields(widget))
        else:
            found[widget.name] = widget
    return found


def _check(widget, setting, command: str | None, default=None):
    from napari_facehmm.widgets.forms import FLOAT_RESOLUTION

    assert widget.name == setting.name
    if setting.kind is bool:
        assert widget.value is bool(setting.default if default is None else default)
    elif setting.choices:
        assert tuple(widget.choices) == setting.choices
        assert widget.value == setting.default
    elif setting.kind in (int, float):
        assert widget.value == (setting.default if default is None else default)
        step = 1 if setting.kind is int else FLOAT_RESOLUTION
        # the form's ends are the core's (one step in where the core excludes its bound) ...
        assert widget.min == pytest.approx(setting.minimum + (step if setting.min_open else 0))
        assert widget.max == pytest.approx(setting.maximum - (step if setting.max_open else 0))
        # ... so both ends pass the core's check, and one step beyond does not
        assert setting.accepts(widget.min) and setting.accepts(widget.max)
        assert not setting.accepts(widget.min - step) and not setting.accepts(widget.max + step)
    if command is not None:
        assert f"facehmm {command} {setting.flag}" in widget.tooltip


def test_tracking_dock_forms_match_the_cli(make_napari_viewer):
    from napari_facehmm.widgets.tracking import TrackingWidget
    from napari_facehmm.widgets.tracking.train import NO_PROJECT_TRAIN_FRACTION

    dock = TrackingWidget(make_napari_viewer())
    shuffle = _fields(dock.project_form)
    train = _fields(dock.train_form)
    analysis = {**_fields(dock.snapshot_form), **_fields(dock.analysis_form)}
    refine = _fields(dock.refine_form)
    face = _fields(dock.face_tab.options_form)

    _check(shuffle["shuffle"], S.SHUFFLE, "dlc train")
    assert train["net"].value == S.NET.default == S.SUGGESTED_CPU_NETWORK
    _check(train["train_fraction"], S.TRAIN_FRACTION, "dlc create-dataset", default=NO_PROJECT_TRAIN_FRACTION)
    for setting in (S.EPOCHS, S.BATCH_SIZE, S.SAVE_EPOCHS):
        _check(train[setting.name], setting, "dlc train")
    assert train["init"].value == S.INIT.default
    assert set(S.INIT_KEYWORDS) <= set(train["init"].choices)
    _check(analysis["overwrite"], S.OVERWRITE, "dlc analyze")
    assert "snapshot" in analysis and "dest" in analysis
    _check(refine["algorithm"], S.OUTLIER_ALGORITHM, "dlc outliers")
    _check(refine["epsilon"], S.EPSILON, "dlc outliers")
    _check(refine["error_px"], S.ERROR_PX, "dlc add-frames")
    _check(refine["probability"], S.PROBABILITY, "dlc add-frames")
    _check(face["mesh"], facemesh_jobs.MESH, None)

    # the former attributes are the fields' Qt widgets: setting one is setting the field
    dock.epochs_spin.setValue(3)
    dock.init_combo.setCurrentIndex(1)
    assert train["epochs"].value == 3 and dock._init_value() == "random"
    dock.epsilon_spin.setValue(S.EPSILON.maximum + 5)  # clamped to the core's range
    assert refine["epsilon"].value == S.EPSILON.maximum


def test_labeling_dock_forms_match_the_core(make_napari_viewer, tmp_path):
    import numpy as np

    from napari_facehmm.io.video import write_video
    from napari_facehmm.widgets.labeling import LabelingWidget

    dock = LabelingWidget(make_napari_viewer())
    extract = {**_fields(dock.extract_form), **_fields(dock.extract_options_form)}
    _check(extract["algorithm"], labeling.FRAME_ALGORITHM, None)
    _check(extract["n_frames"], labeling.FRAMES_PER_VIDEO, None)
    _check(extract["synchronized"], labeling.SYNCHRONIZED, None)
    project = _fields(dock.project_form)
    assert {"project", "experimenter", "videos", "working_directory", "bodyparts", "skeleton",
            "use_deeplabcut"} <= set(project)

    # each video's count is a field of the same setting
    frames = [np.full((24, 32, 3), 9 * i, np.uint8) for i in range(6)]
    video = write_video(frames, tmp_path / "v.mp4", fps=30.0)
    dock.open_project(labeling.create_project("face", "tester", [video], tmp_path / "work", use_deeplabcut=False))
    count = dock.frame_counts.cellWidget(0, 1)
    assert (count.minimum(), count.maximum()) == (labeling.FRAMES_PER_VIDEO.minimum, labeling.FRAMES_PER_VIDEO.maximum)
    dock.frames_per_video.setValue(7)
    assert dock.frame_counts_by_video() == {"v": 7}


def test_anipose_dock_forms_match_the_cli(make_napari_viewer):
    from napari_facehmm.tracking import anipose as ta
    from napari_facehmm.tracking.anipose import options as A
    from napari_facehmm.widgets.anipose import AniposeWidget

    dock = AniposeWidget(make_napari_viewer())
    calibrate = _fields(dock.calibrate_form)
    triangulate = _fields(dock.triangulate_form)
    board = ta.BoardSpec()

    # the config decides where the CLI's default is None; the form starts from Anipose's defaults
    for name, value in (("squares_x", board.squares_x), ("squares_y", board.squares_y)):
        assert calibrate[name].value == value
        assert (calibrate[name].min, calibrate[name].max) == (A.BOARD_SIZE.minimum, A.BOARD_SIZE.maximum)
        assert "facehmm calibrate --board-size" in calibrate[name].tooltip
    _check(calibrate["square_length"], A.SQUARE_LENGTH, "calibrate", default=board.square_length_mm)
    _check(calibrate["marker_length"], A.MARKER_LENGTH, "calibrate", default=board.marker_length_mm)
    _check(calibrate["marker_bits"], A.MARKER_BITS, "calibrate", default=board.marker_bits)
    _check(calibrate["skip"], A.SKIP, "calibrate", default=ta.DEFAULT_DETECTION_SKIP)
    assert tuple(calibrate["dict_number"].choices) == A.DICT_NUMBER.choices
    assert calibrate["dict_number"].value == board.dict_number
    _check(calibrate["fisheye"], A.FISHEYE, "calibrate", default=False)

    score = ta.ANIPOSE_TRIANGULATION_DEFAULTS["score_threshold"]
    _check(triangulate["score_threshold"], A.SCORE_THRESHOLD, "triangulate", default=score)
    assert tuple(triangulate["filter"].choices) == (A.NO_FILTER, *A.FILTER.choices)
    assert triangulate["filter"].value == A.NO_FILTER
    for setting in (A.OPTIM, A.RANSAC, A.TRUST_CALIBRATION):
        _check(triangulate[setting.name], setting, "triangulate", default=False)

    # the former attributes are the fields' Qt widgets: setting one is setting the field
    dock.squares_x.setValue(12)
    dock.dict_number.setCurrentText("250")
    dock.filter_combo.setCurrentText("medfilt")
    dock.score_threshold.setValue(1.5)  # clamped to the core's range
    assert dock.board().squares_x == 12 and dock.board().dict_number == 250
    settings = dock.triangulation_settings()
    assert settings.filter_2d == "medfilt" and settings.score_threshold == A.SCORE_THRESHOLD.maximum


def test_states_dock_form_matches_the_cli(make_napari_viewer):
    """Every option of ``facehmm analyze`` that shapes the fit is a field of the Expression states dock."""
    import argparse

    from napari_facehmm import analysis_settings as O
    from napari_facehmm.cli import build_parser
    from napari_facehmm.hmm.selection import AUTO_STATES
    from napari_facehmm.widgets.states import ExpressionStatesWidget

    dock = ExpressionStatesWidget(make_napari_viewer())
    form = dock.form
    fields = {**_fields(form.main), **_fields(form.more)}
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    actions = {action.dest: action for action in sub.choices["analyze"]._actions}

    # one field per option, named as the option, with the CLI's default, range or choices
    for setting in (*O.FEATURE_OPTIONS, *O.FIT_OPTIONS, O.STABILITY_SEEDS):
        assert setting.flag in actions[setting.name].option_strings
        if setting.kind is str and not setting.choices:  # --reference, --rigid-keypoints: text, empty = default
            assert fields[setting.name].value == "" and actions[setting.name].default is None
            continue
        _check(fields[setting.name], setting, "analyze")
        assert actions[setting.name].default == fields[setting.name].value
    covered = {s.name for s in (*O.FEATURE_OPTIONS, *O.FIT_OPTIONS, O.STABILITY_SEEDS)} | {"states"}
    # what the form leaves out: inputs, output and writing options, other commands' jobs
    assert set(actions) - covered == {"help", "inputs", "out", "no_figures", "model", "fps", "camera",
                                      "individual", "groups", "permutations", "debug"}

    # --states: fixed K, auto, a range; the form's text parses as the CLI parses it
    states_type = actions["states"].type
    assert form.states_text() == str(O.DEFAULT_STATES) and form.n_states() == O.DEFAULT_STATES
    k = fields["n_states"]
    assert (k.min, k.max) == (O.N_STATES.minimum, O.N_STATES.maximum)
    states_type(str(k.min)), states_type(str(k.max))
    for outside in (k.min - 1, k.max + 1):
        with pytest.raises(argparse.ArgumentTypeError):
            states_type(str(outside))
    # the dock is not shown: ask which fields are hidden
    assert form.range_row.native.isHidden() and not fields["n_states"].native.isHidden()
    fields["states"].value = "auto"
    assert form.states_text() == "auto" and form.n_states() == states_type("auto") == AUTO_STATES
    fields["states"].value = "range"
    assert not form.range_row.native.isHidden() and fields["n_states"].native.isHidden()
    fields["states_from"].value, fields["states_to"].value = 4, 7
    assert form.n_states() == states_type("4-7") == (4, 5, 6, 7)
    assert "facehmm analyze --states" in fields["states"].tooltip

    # the dock's attributes are the fields' Qt widgets
    dock.n_restarts.setValue(O.RESTARTS.maximum + 5)  # clamped to the core's range
    assert fields["restarts"].value == O.RESTARTS.maximum
    assert form.fit_arguments()["n_restarts"] == O.RESTARTS.maximum
