"""One way to do each job: keypoint colours, rotation-vector conversion, centring."""

import numpy as np

from napari_facehmm import colors, layerdata, synthetic
from napari_facehmm.features import egocentric, egocentric_frame
from napari_facehmm.io.anipose import CameraParams, matrix_to_rodrigues, rodrigues_to_matrix
from napari_facehmm.synthetic.face import rotation_matrices


def test_one_keypoint_palette_for_viewer_labeling_and_synthetic_videos():
    assert layerdata.keypoint_colors is colors.keypoint_colors
    rgba = colors.keypoint_colors(21)
    assert rgba.shape == (21, 4) and np.all(rgba[:, 3] == 1.0)
    # keypoint k keeps its colour whatever the number of keypoints
    np.testing.assert_array_equal(colors.keypoint_colors(5), rgba[:5])
    # the synthetic video's marks are the same colours in 8 bits
    marks = synthetic.keypoint_colors()
    assert marks.dtype == np.uint8 and marks.shape == (21, 3)
    np.testing.assert_array_equal(marks, np.round(rgba[:, :3] * 255))
    # neighbours stay apart
    assert np.min(np.linalg.norm(np.diff(marks.astype(float), axis=0), axis=1)) > 60


def test_one_rotation_vector_conversion_agrees_with_opencv():
    import cv2

    rotvecs = np.random.default_rng(1).normal(size=(6, 3))
    matrices = rodrigues_to_matrix(rotvecs)
    assert matrices.shape == (6, 3, 3)
    for rotvec, matrix in zip(rotvecs, matrices):
        np.testing.assert_allclose(matrix, cv2.Rodrigues(rotvec)[0], atol=1e-12)
        np.testing.assert_allclose(rodrigues_to_matrix(rotvec), matrix, atol=0)
    np.testing.assert_allclose(rotation_matrices(rotvecs), matrices, atol=0)
    np.testing.assert_allclose(matrix_to_rodrigues(matrices), rotvecs, atol=1e-12)
    np.testing.assert_array_equal(rodrigues_to_matrix(np.zeros(3)), np.eye(3))
    camera = CameraParams(name="a", size=(4, 3), matrix=np.eye(3), distortions=np.zeros(5),
                          rotation=rotvecs[0][:, None], translation=np.zeros(3))
    np.testing.assert_allclose(camera.rotation_matrix, matrices[0], atol=0)


def test_one_centring_helper():
    positions = np.random.default_rng(2).normal(size=(4, 2))
    np.testing.assert_array_equal(egocentric_frame(positions, ["a", "nose1", "b", "c"]),
                                  egocentric(positions[None], 1)[0])
    positions[1] = np.nan  # no reference: the mean of the present points
    np.testing.assert_allclose(egocentric_frame(positions, ["a", "nose1", "b", "c"]),
                               positions - np.nanmean(positions, axis=0))
    assert layerdata.egocentric_frame is egocentric_frame


def test_every_command_shows_its_module_docstring_as_its_manual():
    """One way to make a subcommand: ``documented_parser`` with the module's docstring, free of Sphinx roles."""
    import argparse
    import importlib
    import re

    from napari_facehmm.cli import COMMAND_MODULES, build_parser

    subparsers = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    assert set(subparsers.choices) == set(COMMAND_MODULES)
    for name, parser in subparsers.choices.items():
        doc = importlib.import_module(f"napari_facehmm.commands.{name}").__doc__
        assert parser.description == doc, name
        assert parser.formatter_class is argparse.RawDescriptionHelpFormatter, name
        assert doc.startswith(f"``facehmm {name}"), name
        assert not re.search(r":(func|class|mod|meth|data|attr):`", doc), f"{name}: a Sphinx role in --help"


def test_every_option_made_from_a_setting_is_named_by_it():
    """One way to declare a job's setting as an option: its flag comes from the setting, never typed again.

    A hand-typed ``"--skip"`` beside ``argument(A.SKIP)`` could drift from the
    setting's name, which the dock's form field and the job's keyword share.
    """
    import ast
    from pathlib import Path

    import napari_facehmm.commands as commands

    checked = 0
    for path in sorted(Path(commands.__file__).parent.glob("*.py")):
        for call in ast.walk(ast.parse(path.read_text(), str(path))):
            if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute)
                    and call.func.attr == "add_argument"):
                continue
            made = [k.value for k in call.keywords if k.arg is None and isinstance(k.value, ast.Call)
                    and isinstance(k.value.func, ast.Name) and k.value.func.id == "argument"]
            if not made:
                continue
            setting = ast.unparse(made[0].args[0])
            flag = ast.unparse(call.args[0])
            assert flag == f"{setting}.flag", f"{path.name}:{call.lineno}: {flag} for {setting}"
            checked += 1
    assert checked >= 5  # the options with extra keywords (nargs, metavar, required, help)
