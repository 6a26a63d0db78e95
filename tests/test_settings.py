"""The settings written once in the core are what ``facehmm`` accepts and what the jobs check (no Qt).

The docks' forms are checked against the same settings in tests/gui/test_forms.py.
"""

from __future__ import annotations

import argparse
import numpy as np
import pytest

from napari_facehmm import analysis_settings as O, labeling
from napari_facehmm.cli import build_parser
from napari_facehmm.errors import DataError
from napari_facehmm.hmm.stability import STABILITY_SEEDS
from napari_facehmm.ranges import Setting, in_range
from napari_facehmm.tracking import dlc, facemesh_jobs
from napari_facehmm.tracking.anipose import options as A
from napari_facehmm.tracking.dlc import settings as S

#: (facehmm subcommand, its options built from a setting)
CLI_SETTINGS = [
    (("dlc", "create-dataset"), [S.SHUFFLE, S.NET, S.TRAIN_FRACTION]),
    (("dlc", "train"), [S.SHUFFLE, S.TRAININGSETINDEX, S.EPOCHS, S.BATCH_SIZE, S.SAVE_EPOCHS, S.INIT,
                        S.MAX_SNAPSHOTS, S.DEVICE]),
    (("dlc", "evaluate"), [S.SHUFFLE, S.TRAININGSETINDEX, S.SNAPSHOT]),
    (("dlc", "analyze"), [S.SHUFFLE, S.TRAININGSETINDEX, S.SNAPSHOT, S.DEST, S.OVERWRITE]),
    (("dlc", "outliers"), [S.SHUFFLE, S.TRAININGSETINDEX, S.OUTLIER_ALGORITHM, S.OUTLIER_EXTRACTION, S.EPSILON,
                           S.P_BOUND, S.SNAPSHOT]),
    (("dlc", "add-frames"), [S.ERROR_PX, S.PROBABILITY, S.MAX_FRAMES]),
    (("track",), [facemesh_jobs.MESH]),
    (("calibrate",), [A.BOARD_SIZE, A.SQUARE_LENGTH, A.MARKER_LENGTH, A.MARKER_BITS, A.DICT_NUMBER, A.SKIP,
                      A.FISHEYE]),
    (("triangulate",), [A.SCORE_THRESHOLD, A.OPTIM, A.RANSAC, A.FILTER, A.TRUST_CALIBRATION, A.KEEP_ALL_CAMERAS,
                        A.FPS]),
    *[((command,), [STABILITY_SEEDS]) for command in ("analyze", "run", "demo")],
    # the analysis options: the CLI and the Expression states dock's form
    *[((command,), [*O.FEATURE_OPTIONS, *O.FIT_OPTIONS]) for command in ("analyze", "run", "demo", "batch")],
]


def subcommand_actions(path: tuple[str, ...]) -> dict[str, argparse.Action]:
    """The options of ``facehmm <path>`` by their ``dest``."""
    parser = build_parser()
    for name in path:
        sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        parser = sub.choices[name]
    return {action.dest: action for action in parser._actions}


def _outside(setting: Setting) -> list:
    """Values just outside the setting's range (a whole step for integers)."""
    step = 1 if setting.kind is int else 1e-9
    values = []
    if setting.minimum is not None:
        values.append(setting.minimum if setting.min_open else setting.minimum - step)
    if setting.maximum is not None:
        values.append(setting.maximum if setting.max_open else setting.maximum + step)
    return values


@pytest.mark.parametrize("command, settings", CLI_SETTINGS, ids=[" ".join(c) for c, _ in CLI_SETTINGS])
def test_the_cli_options_are_the_settings(command, settings):
    actions = subcommand_actions(command)
    for setting in settings:
        action = actions[setting.name]
        assert setting.flag in action.option_strings
        if setting is S.EPOCHS:  # the one option facehmm dlc train insists on
            assert action.required and action.default is None
        else:
            assert action.default == setting.default, setting.name
        if setting.kind is bool:
            assert isinstance(action, argparse._StoreTrueAction)
            continue
        if setting.choices:
            assert tuple(action.choices) == setting.choices
            continue
        if setting.kind in (int, float):
            for inside in (setting.minimum, setting.maximum, setting.default):
                if inside is not None and setting.accepts(inside):
                    assert action.type(str(inside)) == inside
            for outside in _outside(setting):
                with pytest.raises(argparse.ArgumentTypeError, match=setting.describe()):
                    action.type(str(outside))
            assert setting.describe() in action.help


def test_every_numeric_setting_has_a_default_in_range_and_finite_bounds():
    # the forms need both ends; the defaults must pass the core's own check
    numeric = [s for _, settings in CLI_SETTINGS for s in settings if s.kind in (int, float) and not s.choices]
    numeric += [labeling.FRAMES_PER_VIDEO]
    for setting in numeric:
        assert setting.minimum is not None and setting.maximum is not None, setting.name
        if setting.default is not None:
            assert setting.check(setting.default) == setting.default


def test_check_names_the_setting_and_its_range():
    assert S.BATCH_SIZE.check("8") == 8 and isinstance(S.BATCH_SIZE.check(8.0), int)
    with pytest.raises(DataError, match=r"batch size must be a whole number \(from 1 to 1024\); got 0"):
        S.BATCH_SIZE.check(0)
    with pytest.raises(DataError, match=r"batch size must be a whole number .*; got 2\.5"):
        S.BATCH_SIZE.check(2.5)
    with pytest.raises(DataError, match=r"greater than 0 and less than 1\); got 1"):
        S.TRAIN_FRACTION.check(1)
    assert S.TRAIN_FRACTION.check(0.8) == 0.8
    with pytest.raises(DataError, match=r"jump threshold must be a number \(greater than 0 and at most 10000\)"):
        S.EPSILON.check(0.0, "jump threshold")
    with pytest.raises(DataError, match="one of jump, uncertain, fitting; got 'spike'"):
        S.OUTLIER_ALGORITHM.check("spike")
    assert not in_range(float("nan"), 0, 1) and in_range(1, 0, 1) and not in_range(1, 0, 1, max_open=True)


def test_training_job_checks_its_arguments_with_the_settings(tmp_path):
    if not dlc.deeplabcut_available():
        pytest.skip("deeplabcut is not installed: TrainingJob stops at that check first")
    config = tmp_path / "config.yaml"  # never read: the arguments are refused first
    with pytest.raises(DataError, match=r"epochs must be a whole number \(from 1 to 100000\); got 100001"):
        dlc.TrainingJob(config, epochs=S.EPOCHS.maximum + 1)
    with pytest.raises(DataError, match=r"snapshot interval \(epochs\) must be a whole number .*; got 0"):
        dlc.TrainingJob(config, epochs=1, save_epochs=0)
    with pytest.raises(DataError, match="shuffle must be a whole number"):
        dlc.TrainingJob(config, epochs=1, shuffle=0)


def test_refinement_frames_checks_its_thresholds(tmp_path):
    states = tmp_path / "states.csv"
    states.write_text("frame,state_probability\n0,0.9\n1,0.5\n2,0.2\n")
    assert dlc.refinement_frames(states).tolist() == [1, 2]  # the settings' default: below 0.6
    assert dlc.refinement_frames(states, probability_threshold=0.3).tolist() == [2]
    with pytest.raises(DataError, match=r"state probability threshold must be a number \(from 0 to 1\); got 1\.5"):
        dlc.refinement_frames(states, probability_threshold=1.5)
    with pytest.raises(DataError, match="reprojection error threshold must be a number"):
        dlc.refinement_frames(states, reprojection_threshold_px=0)


def test_extract_frames_checks_the_count_with_its_setting(tmp_path):
    from napari_facehmm.io.video import write_video

    frames = [np.full((32, 40, 3), 9 * i, np.uint8) for i in range(12)]
    video = write_video(frames, tmp_path / "v.mp4", fps=30.0)
    config = labeling.create_project("face", "tester", [video], tmp_path / "work", use_deeplabcut=False)
    with pytest.raises(DataError, match=r"number of frames to extract from v\.mp4 must be a whole number "
                                        r"\(from 1 to 10000\); got 0"):
        labeling.run_to_end(labeling.extract_frames(config, n_frames=0, algorithm="uniform", use_deeplabcut=False))
    written = labeling.run_to_end(labeling.extract_frames(config, n_frames=3, algorithm="uniform",
                                                          use_deeplabcut=False))
    assert sum(len(v) for v in written.values()) == 3
