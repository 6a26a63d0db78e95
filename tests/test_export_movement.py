"""export/movement_netcdf.py and io/movement_netcdf.py: movement's poses dataset in netCDF, out and back.

Known answers: the session's own files (pose-3d/session1.csv, pose-2d/*.h5,
states.csv), compared exactly after xarray.open_dataset, movement's dataset
validator and the plugin's reader.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from _export_session import FPS, make_analysed_session
from napari_facehmm.errors import DataError, FileFormatError
from napari_facehmm.face import FACE_SKELETON
from napari_facehmm.io import read_landmarks
from napari_facehmm.io.anipose import read_pose3d
from napari_facehmm.io.dlc import read_dlc_analysis
from napari_facehmm.progress import run_to_end

xr = pytest.importorskip("xarray")
pytest.importorskip("movement")


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    from napari_facehmm.export.movement_netcdf import write_movement

    root = tmp_path_factory.mktemp("movement_export")
    data = make_analysed_session(root)
    path = run_to_end(write_movement(data.session, data.analysis, root / "session.nc"))
    return data, path


def _dims(dataset):
    time, space, keypoints, individuals = dataset["position"].dims
    return time, keypoints, individuals


def test_opens_with_xarray_as_movement_poses(exported):
    from movement.validators.datasets import ValidPosesInputs

    data, path = exported
    with xr.open_dataset(path) as dataset:
        ValidPosesInputs.validate(dataset)  # what movement's loader checks in a netCDF file
        assert dataset.attrs["ds_type"] == "poses" and dataset.attrs["fps"] == FPS
        assert dataset.attrs["source_software"] == "Anipose" and dataset.attrs["track"] == "3d"
        time, keypoints, individuals = _dims(dataset)
        original = read_pose3d(data.session / "pose-3d" / "session1.csv")
        assert np.isnan(original.positions).any()
        position = dataset["position"].transpose(time, keypoints, "space", individuals).to_numpy()[..., 0]
        np.testing.assert_array_equal(position, original.positions)
        np.testing.assert_array_equal(dataset["confidence"].to_numpy()[..., 0], original.confidence)
        np.testing.assert_allclose(dataset[time].to_numpy(), np.arange(original.n_frames) / FPS)
        assert list(dataset[keypoints].to_numpy()) == list(original.keypoints)
        assert list(dataset[individuals].to_numpy()) == ["session1"]
        states = pd.read_csv(data.analysis / "states.csv")["state"].fillna(-1).to_numpy(dtype=np.int64)
        np.testing.assert_array_equal(dataset["state"].to_numpy(), states)
        names = pd.read_csv(data.analysis / "state_stats.csv")["name"].tolist()
        assert list(dataset.attrs["state_names"]) == names
        assert {tuple(edge) for edge in json.loads(dataset.attrs["skeleton"])} == set(FACE_SKELETON)


def test_reader_gives_back_the_series(exported):
    data, path = exported
    original = read_pose3d(data.session / "pose-3d" / "session1.csv")
    back = read_landmarks(path)
    assert back.attrs["format"] == "movement" and back.fps == FPS and back.n_dims == 3
    np.testing.assert_array_equal(back.positions, original.positions)
    np.testing.assert_array_equal(back.frame_indices, original.frame_indices)
    assert set(back.skeleton) == set(FACE_SKELETON)


def test_a_camera_track(exported, tmp_path):
    from napari_facehmm.export.movement_netcdf import write_movement

    data, _ = exported
    path = run_to_end(write_movement(data.session, data.analysis, tmp_path / "camA.nc", track="camA"))
    original = read_dlc_analysis(data.session / "pose-2d" / "session1-camA.h5")
    back = read_landmarks(path)
    assert back.camera == "camA" and back.n_dims == 2
    np.testing.assert_array_equal(back.positions, original.positions)
    np.testing.assert_array_equal(back.confidence, original.confidence)
    with pytest.raises(DataError, match="no track 'camC'"):
        run_to_end(write_movement(data.session, data.analysis, tmp_path / "camC.nc", track="camC"))
    assert not (tmp_path / "camC.nc").exists()


def test_reads_movements_own_datasets(tmp_path):
    """A dataset movement builds (two individuals, time in frames) as SLEAP or Lightning Pose tracks come."""
    from movement.io.load_poses import from_numpy

    rng = np.random.default_rng(0)
    position = rng.normal(size=(20, 2, 3, 2))
    dataset = from_numpy(position, np.ones((20, 3, 2)), ["mouse", "rat"], ["a", "b", "c"], fps=None, source_software="SLEAP")
    path = tmp_path / "two.nc"
    dataset.to_netcdf(path)
    with pytest.raises(FileFormatError, match="choose one with individual="):
        read_landmarks(path)
    series = read_landmarks(path, individual="rat")
    np.testing.assert_array_equal(series.positions, position[..., 1].transpose(0, 2, 1))
    np.testing.assert_array_equal(series.frame_indices, np.arange(20))
    assert series.attrs["source_software"] == "SLEAP" and series.fps == 30.0


def test_reader_refuses_netcdf_without_poses(tmp_path):
    from napari_facehmm.io.movement_netcdf import is_movement_poses

    path = tmp_path / "weather.nc"
    xr.Dataset({"temperature": ("time", np.arange(5.0))}).to_netcdf(path)
    assert not is_movement_poses(path)
    with pytest.raises(FileFormatError, match="no 'position' variable"):
        read_landmarks(path)
