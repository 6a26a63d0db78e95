"""Anipose calibration.toml and pose-3d CSV: round trips, aniposelib/OpenCV agreement, bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from napari_facehmm.data import LandmarkSeries
from napari_facehmm.errors import FileFormatError
from napari_facehmm.io._atomic import atomic_write_path, backup_path
from napari_facehmm.io.anipose import (
    Calibration,
    CameraParams,
    matrix_to_rodrigues,
    read_calibration,
    read_pose3d,
    rodrigues_to_matrix,
    write_calibration,
    write_pose3d,
)


def _two_cameras() -> Calibration:
    left = CameraParams(
        name="cam_a",
        size=(320, 240),
        matrix=[[400.0, 0, 161.5], [0, 402.0, 119.0], [0, 0, 1]],
        distortions=[-0.12, 0.05, 0.001, -0.002, 0.01],
        rotation=[0.02, 0.25, -0.01],
        translation=[-60.0, 2.0, 15.0],
    )
    right = CameraParams(
        name="cam_b",
        size=(320, 240),
        matrix=[[390.0, 0, 158.0], [0, 391.0, 121.0], [0, 0, 1]],
        distortions=[0.08, -0.02, 0.0, 0.003, 0.0],
        rotation=[-0.03, -0.3, 0.02],
        translation=[55.0, -1.0, 20.0],
    )
    return Calibration(cameras=[left, right], metadata={"error": 0.21, "note": "synthetic"})


def _points(n=50, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(0, 30, size=(n, 3)) + [0, 0, 300]


def test_projection_matches_opencv():
    import cv2

    points = _points()
    for cam in _two_cameras().cameras:
        expected, _ = cv2.projectPoints(points, cam.rotation, cam.translation, cam.matrix, cam.distortions)
        np.testing.assert_allclose(cam.project(points), expected.reshape(-1, 2), atol=1e-9)


def test_projection_keeps_nan_rows():
    cam = _two_cameras().cameras[0]
    points = _points(4)
    points[2] = np.nan
    projected = cam.project(points)
    assert np.isnan(projected[2]).all() and np.isfinite(projected[[0, 1, 3]]).all()


def test_rodrigues_matches_opencv():
    import cv2

    rvec = np.array([0.3, -1.1, 0.4])
    matrix = rodrigues_to_matrix(rvec)
    np.testing.assert_allclose(matrix, cv2.Rodrigues(rvec)[0], atol=1e-12)
    np.testing.assert_allclose(matrix_to_rodrigues(matrix), rvec, atol=1e-12)


def test_written_calibration_loads_in_aniposelib(tmp_path):
    from aniposelib.cameras import CameraGroup

    calibration = _two_cameras()
    path = write_calibration(calibration, tmp_path / "calibration.toml")
    group = CameraGroup.load(str(path))
    assert group.get_names() == ["cam_a", "cam_b"]
    assert group.metadata == {"error": 0.21, "note": "synthetic"}
    points = _points()
    theirs = group.project(points)
    ours = calibration.project(points)
    np.testing.assert_allclose(ours, theirs.reshape(ours.shape), atol=1e-6)


def test_calibration_dumped_by_aniposelib_reads_back(tmp_path):

    group = _two_cameras().to_aniposelib()
    group.metadata = {"adjusted": False}
    group.dump(str(tmp_path / "calibration.toml"))
    calibration = read_calibration(tmp_path / "calibration.toml")
    assert calibration.camera_names == ["cam_a", "cam_b"]
    assert calibration.metadata == {"adjusted": False}
    for ours, theirs in zip(calibration.cameras, group.cameras):
        np.testing.assert_array_equal(ours.matrix, theirs.get_camera_matrix())
        np.testing.assert_array_equal(ours.rotation, theirs.get_rotation())
        np.testing.assert_array_equal(ours.translation, theirs.get_translation())
        assert tuple(ours.size) == tuple(theirs.get_size())
    # the written text is byte-identical to aniposelib's own dump
    write_calibration(calibration, tmp_path / "ours.toml")
    assert (tmp_path / "ours.toml").read_text() == (tmp_path / "calibration.toml").read_text()


def test_calibration_round_trip_and_backup(tmp_path):
    path = tmp_path / "calibration.toml"
    first = _two_cameras()
    write_calibration(first, path)
    second = _two_cameras()
    second.cameras[0].translation[0] = -70.0
    write_calibration(second, path)
    assert read_calibration(path).camera("cam_a").translation[0] == -70.0
    assert read_calibration(backup_path(path)).camera("cam_a").translation[0] == -60.0
    loaded = read_calibration(path)
    np.testing.assert_array_equal(loaded.camera("cam_b").distortions, second.camera("cam_b").distortions)
    assert not [p for p in tmp_path.iterdir() if ".tmp" in p.name]


def test_camera_position_and_fisheye_projection():
    import cv2

    cam = _two_cameras().cameras[0]
    # the camera centre maps to the camera-frame origin
    np.testing.assert_allclose(cam.to_camera_frame(cam.position[None]), 0, atol=1e-9)
    fisheye = CameraParams("fe", (320, 240), cam.matrix, [0.01, -0.02, 0.003, 0.0], cam.rotation,
                           cam.translation, fisheye=True)
    points = _points(10)
    expected, _ = cv2.fisheye.projectPoints(points.reshape(-1, 1, 3), cam.rotation, cam.translation,
                                            cam.matrix, fisheye.distortions)
    np.testing.assert_allclose(fisheye.project(points), expected.reshape(-1, 2), atol=1e-9)


@pytest.mark.parametrize(
    "text, problem",
    [
        ("", "no camera tables"),
        ("this is [not toml", "not a valid TOML"),
        ("[cam_0]\nname = 'a'\nsize = [320, 240]\n", "lacks matrix"),
        (
            "[cam_0]\nname='a'\nsize=[320,240]\nmatrix=[[1,0,0],[0,1,0]]\ndistortions=[0,0,0,0,0]\n"
            "rotation=[0,0,0]\ntranslation=[0,0,0]\n",
            "matrix must have shape",
        ),
        (
            "[cam_0]\nname='a'\nsize=[320,240]\nmatrix=[[1,0,0],[0,1,0],[0,0,1]]\n"
            "distortions=[0,0,0,0,0]\nrotation=[0,0,0]\ntranslation=['x','y','z']\n",
            "must be numbers",
        ),
    ],
)
def test_bad_calibration_files(tmp_path, text, problem):
    path = tmp_path / "broken_calibration.toml"
    path.write_text(text)
    with pytest.raises(FileFormatError, match=problem) as info:
        read_calibration(path)
    assert "broken_calibration.toml" in str(info.value)


def test_missing_calibration_file(tmp_path):
    with pytest.raises(FileFormatError, match="absent_calibration.toml"):
        read_calibration(tmp_path / "absent_calibration.toml")


# ------------------------------------------------------------------ pose-3d
def _series_3d(n_frames=40, seed=1):
    rng = np.random.default_rng(seed)
    positions = rng.normal(size=(n_frames, 3, 3)) * 10
    positions[5, 1] = np.nan
    ncams = np.full((n_frames, 3), 2.0)
    ncams[5, 1] = np.nan
    error = rng.uniform(0, 2, size=(n_frames, 3))
    error[5, 1] = np.nan
    score = rng.uniform(0.5, 1, size=(n_frames, 3))
    score[5, 1] = np.nan
    rotation = rodrigues_to_matrix([0.1, 0.2, 0.3])
    return LandmarkSeries(
        positions=positions,
        keypoints=("nose1", "eye_l", "eye_r"),
        confidence=score,
        fps=30.0,
        frame_indices=np.arange(n_frames) + 10,
        attrs={"error": error, "ncams": ncams, "score": score, "M": rotation, "center": [1.0, 2.0, 3.0]},
    )


def test_pose3d_columns_match_anipose_triangulate(tmp_path):
    path = write_pose3d(_series_3d(), tmp_path / "session.csv")
    table = pd.read_csv(path)
    expected = [f"{bp}_{f}" for bp in ("nose1", "eye_l", "eye_r") for f in ("x", "y", "z", "error", "ncams", "score")]
    expected += [f"M_{i}{j}" for i in range(3) for j in range(3)] + [f"center_{i}" for i in range(3)] + ["fnum"]
    assert list(table.columns) == expected
    assert table["fnum"].dtype == np.int64 and table["nose1_ncams"].dtype == np.float64
    assert table["fnum"].iloc[0] == 10


def test_pose3d_round_trip_keeps_numbers_and_nan(tmp_path):
    series = _series_3d()
    loaded = read_pose3d(write_pose3d(series, tmp_path / "session.csv"), fps=30.0)
    np.testing.assert_allclose(loaded.positions, series.positions, rtol=1e-12, equal_nan=True)
    np.testing.assert_allclose(loaded.confidence, series.confidence, rtol=1e-12, equal_nan=True)
    for name in ("error", "ncams", "score"):
        np.testing.assert_allclose(loaded.attrs[name], series.attrs[name], rtol=1e-12, equal_nan=True)
    assert loaded.attrs["M"].shape == (40, 3, 3) and loaded.attrs["center"].shape == (40, 3)
    np.testing.assert_allclose(loaded.attrs["M"][7], series.attrs["M"], rtol=1e-12)
    np.testing.assert_allclose(loaded.attrs["center"][0], [1, 2, 3])
    np.testing.assert_array_equal(loaded.frame_indices, series.frame_indices)
    assert loaded.keypoints == series.keypoints and np.isnan(loaded.positions[5, 1]).all()


def test_pose3d_written_like_anipose_reads(tmp_path):
    # A table built exactly as anipose's triangulate() builds it (dout[...] = ...).
    n_frames = 6
    rng = np.random.default_rng(3)
    points = rng.normal(size=(n_frames, 2, 3))
    dout = pd.DataFrame()
    for k, bp in enumerate(["a", "b"]):
        for d, axis in enumerate("xyz"):
            dout[f"{bp}_{axis}"] = points[:, k, d]
        dout[f"{bp}_error"] = 0.5
        dout[f"{bp}_ncams"] = 2.0
        dout[f"{bp}_score"] = 0.9
    for i in range(3):
        for j in range(3):
            dout[f"M_{i}{j}"] = float(i == j)
    for i in range(3):
        dout[f"center_{i}"] = 0.0
    dout["fnum"] = np.arange(n_frames)
    dout.to_csv(tmp_path / "anipose.csv", index=False)
    series = read_pose3d(tmp_path / "anipose.csv")
    np.testing.assert_allclose(series.positions, points)
    np.testing.assert_allclose(series.confidence, 0.9)
    np.testing.assert_allclose(series.attrs["M"], np.broadcast_to(np.eye(3), (n_frames, 3, 3)))


@pytest.mark.parametrize(
    "content, problem",
    [
        ("", "empty"),
        ("a_x,a_y,a_z\n", "no rows"),
        ("foo,bar\n1,2\n", "no <bodypart>_x columns"),
        ("a_x,a_y,a_error\n1,2,3\n", "missing coordinate columns"),
        ("a_x,a_y,a_z,fnum\n1,2,oops,0\n", "non-numeric"),
    ],
)
def test_bad_pose3d_files(tmp_path, content, problem):
    path = tmp_path / "bad_pose3d.csv"
    path.write_text(content)
    with pytest.raises(FileFormatError, match=problem) as info:
        read_pose3d(path)
    assert "bad_pose3d.csv" in str(info.value)


# ------------------------------------------------------------------- atomic
def test_atomic_write_leaves_target_untouched_on_error(tmp_path):
    target = tmp_path / "labels.csv"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_write_path(target) as temp:
            temp.write_text("half")
            raise RuntimeError("disk full")
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["labels.csv"]
    with atomic_write_path(target) as temp:
        assert temp.parent == tmp_path and temp.suffix == ".csv" and not temp.exists()
        temp.write_text("new")
    assert target.read_text() == "new" and backup_path(target).read_text() == "old"


def test_pose3d_bodyparts_named_like_frame_columns(tmp_path):
    series = LandmarkSeries(np.random.default_rng(0).normal(size=(4, 2, 3)), ("M", "center"))
    loaded = read_pose3d(write_pose3d(series, tmp_path / "names.csv"))
    assert loaded.keypoints == ("M", "center")
    np.testing.assert_allclose(loaded.positions, series.positions)
