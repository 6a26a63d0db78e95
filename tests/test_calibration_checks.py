"""Calibrations checked for sense before triangulation (issue #18, item 4).

A calibration that is well formed but makes nonsense 3D -- two cameras with
the same pose, a zero focal length, a principal point far off the image, a
calibration that does not fit the 2D tracks -- is refused before anything is
written, with the calibration file, the cameras and the numbers; with
``--trust-calibration`` (``check_calibration=False``) it runs and the problems
become warnings. The rigs of the other tests pass untouched.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from test_anipose_support import face_motion, make_rig, project_tracks

from napari_facehmm.errors import FaceHMMError
from napari_facehmm.io.anipose import Calibration, write_calibration
from napari_facehmm.tracking import anipose as ta
from napari_facehmm.tracking.calibration_checks import (
    CalibrationCheckError,
    camera_pair_geometry,
    check_calibration_geometry,
)


@pytest.fixture(scope="module")
def rig() -> Calibration:
    return make_rig(2)


@pytest.fixture(scope="module")
def truth() -> np.ndarray:
    return face_motion(40)


def _same_pose(rig: Calibration, copy_from: str = "camA", copy_to: str = "camB") -> Calibration:
    """camA's extrinsics copied onto camB (intrinsics kept)."""
    source = rig.camera(copy_from)
    return Calibration(
        [
            dataclasses.replace(c, rotation=source.rotation.copy(), translation=source.translation.copy())
            if c.name == copy_to
            else c
            for c in rig.cameras
        ]
    )


def _with_matrix(rig: Calibration, camera: str, matrix) -> Calibration:
    return Calibration(
        [dataclasses.replace(c, matrix=np.asarray(matrix, float)) if c.name == camera else c for c in rig.cameras]
    )


def _points(tracks: dict, names) -> np.ndarray:
    return np.stack([tracks[n].positions.reshape(-1, 2) for n in names])


def _project(tmp_path, calibration: Calibration, tracks: dict):
    """An Anipose project folder: calibration, config and one session's 2D files."""
    from napari_facehmm.io.dlc import write_dlc_analysis

    project = tmp_path / "project"
    (project / "pose-2d").mkdir(parents=True)
    (project / "calibration").mkdir()
    write_calibration(calibration, project / "calibration" / "calibration.toml")
    for name, series in tracks.items():
        write_dlc_analysis(series, project / "pose-2d" / f"session1-{name}.h5")
    (project / "config.toml").write_text('[triangulation]\ncam_regex = "-(cam[A-Z])$"\nscore_threshold = 0.5\n')
    return project


# ------------------------------------------------------------ sensible rigs
@pytest.mark.parametrize(
    "calibration",
    [make_rig(2), make_rig(3), make_rig(2, k1=-0.2), make_rig(4, size=(640, 480), separation_deg=90)],
    ids=["two", "three", "distorted", "four-wide"],
)
def test_sensible_rigs_pass_with_and_without_points(calibration, truth):
    tracks = project_tracks(calibration, truth, noise_px=0.5)
    assert check_calibration_geometry(calibration) == []
    assert check_calibration_geometry(calibration, _points(tracks, calibration.camera_names)) == []
    result = ta.run_to_end(ta.triangulate(tracks, calibration))
    assert not any("calibration" in w for w in result.attrs["warnings"])


def test_synthetic_session_calibration_passes(tmp_path):
    from napari_facehmm.synthetic import generate_session

    truth = generate_session(tmp_path / "s", n_cameras=3, seconds=2.0, seed=4, render_video=False)
    result = ta.run_to_end(ta.triangulate_files(truth.pose2d_paths, truth.calibration_path))
    assert result.attrs["warnings"] == []


def test_pair_geometry_numbers_are_the_rig(rig, truth):
    """camA and camB: 500 mm from the origin, 35 degrees apart on the arc."""
    tracks = project_tracks(rig, truth, noise_px=0.5)
    (pair,) = camera_pair_geometry(rig, _points(tracks, rig.camera_names))
    expected_baseline = np.linalg.norm(rig.camera("camA").position - rig.camera("camB").position)
    assert pair.baseline == pytest.approx(expected_baseline)
    assert pair.axes_angle_deg == pytest.approx(35.0, abs=0.5)
    assert pair.scene_distance == pytest.approx(500.0, rel=0.1)
    assert pair.parallax_deg == pytest.approx(35.0, abs=2.0)
    (no_points,) = camera_pair_geometry(rig)  # where the optical axes meet: the origin
    assert no_points.scene_distance == pytest.approx(500.0, rel=0.01)


# -------------------------------------------------------- refused, numbers
def test_same_pose_is_refused_naming_file_cameras_and_baseline(rig, truth, tmp_path):
    path = write_calibration(_same_pose(rig), tmp_path / "calibration.toml")
    tracks = project_tracks(rig, truth, noise_px=0.5)
    output = tmp_path / "pose-3d" / "session1.csv"
    with pytest.raises(CalibrationCheckError) as caught:
        ta.run_to_end(ta.triangulate_files(tracks, path, output))
    message = str(caught.value)
    assert str(path) in message
    assert "'camA' and 'camB' are at the same place" in message and "baseline 0 mm" in message
    assert "optical axes 0.00 degrees apart" in message
    assert {p.kind for p in caught.value.problems} >= {"coincident"}
    assert not output.exists() and not output.parent.exists()
    # insisting runs it; the problems stay as warnings
    result = ta.run_to_end(ta.triangulate_files(tracks, path, output, check_calibration=False))
    assert output.is_file()
    assert any("same place" in w for w in result.attrs["warnings"])


def test_zero_focal_length_is_refused(rig, truth):
    tracks = project_tracks(rig, truth, noise_px=0.5)
    broken = _with_matrix(rig, "camB", np.diag([0.0, 0.0, 1.0]))
    with pytest.raises(CalibrationCheckError, match=r"camera 'camB': focal length fx=0, fy=0 px.*at least 16 px"):
        ta.run_to_end(ta.triangulate(tracks, broken, calibration_source="rig/calibration.toml"))
    with pytest.raises(CalibrationCheckError, match="rig/calibration.toml"):
        ta.run_to_end(ta.triangulate(tracks, broken, calibration_source="rig/calibration.toml"))
    tiny = _with_matrix(rig, "camA", [[2.0, 0, 159.5], [0, 2.0, 119.5], [0, 0, 1]])
    with pytest.raises(CalibrationCheckError, match="fx=2, fy=2"):
        ta.run_to_end(ta.triangulate(tracks, tiny))


def test_principal_point_far_outside_is_refused(rig, truth, tmp_path):
    tracks = project_tracks(rig, truth, noise_px=0.5)
    path = write_calibration(
        _with_matrix(rig, "camB", [[416.0, 0, 5000.0], [0, 416.0, 119.5], [0, 0, 1]]), tmp_path / "c.toml"
    )
    with pytest.raises(CalibrationCheckError) as caught:
        ta.run_to_end(ta.triangulate_files(tracks, path))
    message = str(caught.value)
    assert str(path) in message and "camera 'camB'" in message
    assert "(5000, 119.5)" in message and "320x240" in message and "x -160..480" in message


def test_reprojection_error_beyond_sense_is_refused(rig, truth):
    """camB's 2D file from another session, the subject sitting 60 mm higher."""
    tracks = project_tracks(rig, truth, noise_px=0.5)
    other = project_tracks(rig, face_motion(40, seed=5) + np.array([0.0, 60.0, 0.0]), noise_px=0.5)
    mixed = {"camA": tracks["camA"], "camB": other["camB"].copy(source="other/session2-camB.h5")}
    with pytest.raises(CalibrationCheckError) as caught:
        ta.run_to_end(ta.triangulate(mixed, rig))
    message = str(caught.value)
    median = float(message.split("median reprojection error ")[1].split(" px")[0])
    assert median > 40
    assert "over the 20 px" in message and "other/session2-camB.h5" in message
    assert [p.kind for p in caught.value.problems] == ["reprojection"]
    result = ta.run_to_end(ta.triangulate(mixed, rig, check_calibration=False))
    assert np.nanmedian(result.attrs["error"]) == pytest.approx(median, abs=0.05)
    assert any("median reprojection error" in w for w in result.attrs["warnings"])


def test_cameras_a_few_mm_apart(rig, truth):
    """Parallel cameras 3 mm apart: the other rig's points land behind them; their own have no parallax."""
    camera_a = rig.camera("camA")
    close = Calibration(
        [camera_a, dataclasses.replace(rig.camera("camB"), rotation=camera_a.rotation.copy(),
                                       translation=camera_a.translation + np.array([3.0, 0.0, 0.0]))]
    )
    foreign = project_tracks(rig, truth, noise_px=0.5)
    problems = check_calibration_geometry(close, _points(foreign, close.camera_names))
    assert {p.kind for p in problems} == {"behind"}
    assert "triangulate behind it" in problems[0].message
    own = project_tracks(close, truth, noise_px=0.5)
    (problem,) = check_calibration_geometry(close, _points(own, close.camera_names))
    assert problem.kind == "parallax" and "baseline 3 mm" in problem.message
    wider = Calibration(
        [camera_a, dataclasses.replace(close.camera("camB"), translation=camera_a.translation + [30.0, 0, 0])]
    )
    assert check_calibration_geometry(wider, _points(project_tracks(wider, truth, 0.5), wider.camera_names)) == []


def test_three_cameras_two_at_one_place_and_leaving_one_out(truth):
    rig3 = make_rig(3)
    tracks = project_tracks(rig3, truth, noise_px=0.5)
    broken = _same_pose(rig3, "camA", "camC")
    with pytest.raises(CalibrationCheckError, match="'camA' and 'camC' are at the same place"):
        ta.run_to_end(ta.triangulate(tracks, broken))
    result = ta.run_to_end(ta.triangulate(tracks, broken, exclude_cameras=["camC"]))
    assert result.attrs["cameras"] == ("camA", "camB")


# ------------------------------------------------------------- the commands
def test_cli_refuses_with_exit_2_writes_nothing_and_trust_runs(rig, truth, tmp_path, capsys):
    from napari_facehmm.cli import main

    tracks = project_tracks(rig, truth, noise_px=0.5)
    project = _project(tmp_path, _same_pose(rig), tracks)
    calibration = project / "calibration" / "calibration.toml"
    before = calibration.read_bytes()
    assert main(["triangulate", str(project), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert str(calibration) in err and "same place" in err and "baseline 0 mm" in err
    assert "--trust-calibration" in err and "Traceback" not in err
    assert not (project / "pose-3d").exists() or not any((project / "pose-3d").iterdir())
    assert calibration.read_bytes() == before

    assert main(["triangulate", str(project), "--quiet", "--trust-calibration"]) == 0
    captured = capsys.readouterr()
    assert (project / "pose-3d" / "session1.csv").is_file()
    assert "warning" in captured.err and "same place" in captured.err


@pytest.mark.parametrize("case", ["principal point", "reprojection"])
def test_cli_refuses_other_nonsense_and_trust_runs(case, rig, truth, tmp_path, capsys):
    from napari_facehmm.cli import main

    tracks = project_tracks(rig, truth, noise_px=0.5)
    calibration = rig
    if case == "principal point":
        calibration = _with_matrix(rig, "camA", [[416.0, 0, 159.5], [0, 416.0, -900.0], [0, 0, 1]])
    else:
        tracks["camB"] = project_tracks(rig, face_motion(40, seed=5) + [0.0, 60.0, 0.0], 0.5)["camB"]
    project = _project(tmp_path, calibration, tracks)
    assert main(["triangulate", str(project), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert str(project / "calibration" / "calibration.toml") in err and case in err
    assert not (project / "pose-3d" / "session1.csv").exists()
    assert main(["triangulate", str(project), "--quiet", "--trust-calibration"]) == 0
    assert (project / "pose-3d" / "session1.csv").is_file()


def test_cli_zero_focal_length_file_is_refused(rig, truth, tmp_path, capsys):
    """Refused by the reader or the check, either way naming the file, exit 2, nothing written."""
    from napari_facehmm.cli import main

    tracks = project_tracks(rig, truth, noise_px=0.5)
    project = _project(tmp_path, _with_matrix(rig, "camB", np.diag([0.0, 0.0, 1.0])), tracks)
    assert main(["triangulate", str(project), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert str(project / "calibration" / "calibration.toml") in err and "Traceback" not in err
    assert "f" in err and ("fx=0" in err or "fx, fy > 0" in err)
    assert not (project / "pose-3d" / "session1.csv").exists()


def test_facehmm_run_triangulation_step_refuses_as_a_project_error(rig, truth, tmp_path):
    """``facehmm run`` calls triangulate_files: the refusal is a FaceHMMError (exit 2 in cli.main)."""
    from napari_facehmm.commands.run import _triangulate

    tracks = project_tracks(rig, truth, noise_px=0.5)
    session_dir = tmp_path / "session"
    with pytest.raises(FaceHMMError, match="same place") as refusal:
        _triangulate(
            [tracks["camA"], tracks["camB"]], ["camA", "camB"], _same_pose(rig), tmp_path / "my-calibration.toml",
            ["camA", "camB"], None, session_dir, "session1", True,
        )
    # the message names the user's calibration file, not the renamed copy run works with
    assert "my-calibration.toml" in str(refusal.value)
    assert not (session_dir / "pose-3d" / "session1.csv").exists()
