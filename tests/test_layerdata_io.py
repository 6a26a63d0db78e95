"""Readers, writer and sample data of the manifest, without a window."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from napari_facehmm import _reader
from napari_facehmm._reader import (
    NULL_LAYER,
    find_session_files,
    get_landmarks_reader,
    get_session_reader,
    get_video_reader,
)
from napari_facehmm._writer import labels_from_layer, write_dlc_labels
from napari_facehmm.layerdata import VideoFrames


def test_readers_refuse_paths_they_do_not_own(tmp_path):
    (tmp_path / "notes.txt").write_text("x")
    assert get_video_reader(str(tmp_path / "notes.txt")) is None
    assert get_landmarks_reader(str(tmp_path / "clip.mp4")) is None
    assert get_landmarks_reader(str(tmp_path / "CollectedData_me.h5")) is None  # labels
    assert get_session_reader(str(tmp_path)) is None  # a folder without a session
    assert get_video_reader([str(tmp_path / "a.mp4"), str(tmp_path / "b.mp4")]) is None
    assert callable(get_video_reader(str(tmp_path / "clip.MP4")))
    assert callable(get_landmarks_reader(str(tmp_path / "tracks.h5")))
    # CSV files are claimed by their header: other tables (napari's own points
    # CSV, any table) are left to napari's CSV reader
    (tmp_path / "table.csv").write_text("a,b\n1,2\n")
    (tmp_path / "napari-points.csv").write_text("index,axis-0,axis-1,axis-2\n0,3,10.5,20.5\n")
    assert get_landmarks_reader(str(tmp_path / "table.csv")) is None
    assert get_landmarks_reader(str(tmp_path / "napari-points.csv")) is None
    assert get_landmarks_reader(str(tmp_path / "missing.csv")) is None
    (tmp_path / "tracks.csv").write_text("scorer,DLC,DLC\nbodyparts,nose1,nose1\ncoords,x,y\n0,1.0,2.0\n")
    assert callable(get_landmarks_reader(str(tmp_path / "tracks.csv")))


def test_unreadable_owned_files_notify_and_add_nothing(tmp_path, monkeypatch):
    shown = []
    # the readers' guard lives in _napari.readers now (_reader only re-exports)
    monkeypatch.setattr("napari_facehmm._napari.readers._notify_error", shown.append)
    bad_csv = tmp_path / "tracks.csv"
    # a DeepLabCut header without its bodyparts and coords rows
    bad_csv.write_text("scorer,DLC,DLC\n0,1.0,2.0\n")
    assert get_landmarks_reader(str(bad_csv))(str(bad_csv)) == NULL_LAYER
    bad_video = tmp_path / "clip.mp4"
    bad_video.write_bytes(b"not a video at all" * 10)
    assert get_video_reader(str(bad_video))(str(bad_video)) == NULL_LAYER
    assert len(shown) == 2
    assert "tracks.csv" in shown[0] and "clip.mp4" in shown[1]


def test_find_session_files_names_cameras_and_files(tmp_path):
    for sub, name in [
        ("videos-raw", "rec-1-camA.mp4"),
        ("videos-raw", "rec-1-camB.mp4"),
        ("pose-2d", "rec-1-camA.h5"),
        ("pose-2d", "rec-1-camB.h5"),
        ("pose-3d", "rec-1.csv"),
        ("calibration", "calibration.toml"),
    ]:
        (tmp_path / sub).mkdir(exist_ok=True)
        (tmp_path / sub / name).write_text("")
    files = find_session_files(tmp_path)
    assert files["session"] == "rec-1"
    assert files["cameras"] == ["camA", "camB"]
    assert files["pose2d"]["camB"].name == "rec-1-camB.h5"
    assert files["pose3d"].name == "rec-1.csv"
    assert files["calibration"] is not None and files["model"] is None
    assert callable(get_session_reader(str(tmp_path)))


def test_find_session_files_keeps_trials_apart(tmp_path):
    # an Anipose project folder with two trials: one session's files, never a mix
    for sub, names in [
        ("videos-raw", ["s1-camA.mp4", "s1-camB.mp4", "s2-camA.mp4", "s2-camB.mp4"]),
        ("pose-2d", ["s1-camA.h5", "s1-camB.h5", "s2-camA.h5", "s2-camB.h5"]),
        ("pose-3d", ["s2.csv"]),
    ]:
        (tmp_path / sub).mkdir()
        for name in names:
            (tmp_path / sub / name).write_text("")
    files = find_session_files(tmp_path)
    assert files["session"] == "s2" and files["pose3d"].name == "s2.csv"  # the triangulated trial
    assert files["cameras"] == ["camA", "camB"]
    assert {p.name for p in files["videos"].values()} == {"s2-camA.mp4", "s2-camB.mp4"}
    assert {p.name for p in files["pose2d"].values()} == {"s2-camA.h5", "s2-camB.h5"}
    (tmp_path / "pose-3d" / "s2.csv").unlink()
    files = find_session_files(tmp_path)
    assert files["session"] == "s1" and files["pose3d"] is None  # the first trial, without s2's 3D
    assert {p.name for p in files["pose2d"].values()} == {"s1-camA.h5", "s1-camB.h5"}
    # cameras that the project's cam_regex does not name: "<session>-<camera>"
    other = tmp_path / "other"
    (other / "videos-raw").mkdir(parents=True)
    for name in ("take-left.mp4", "take-right.mp4"):
        (other / "videos-raw" / name).write_text("")
    files = find_session_files(other)
    assert files["session"] == "take" and files["cameras"] == ["left", "right"]


def test_writer_saves_label_points_as_collected_data(tmp_path):
    from napari_facehmm.io.dlc import read_labels

    folder = tmp_path / "labeled-data" / "vid1"
    folder.mkdir(parents=True)
    data = np.array([[0, 10.0, 20.0], [0, 11.0, 21.0], [2, 30.0, 40.0]])
    meta = {
        "features": pd.DataFrame({"keypoint": ["nose1", "chin", "nose1"]}),
        "metadata": {"facehmm": {"keypoints": ("nose1", "chin", "lear")}},
    }
    written = write_dlc_labels(str(folder / "CollectedData_alice.h5"), data, meta)
    assert any(path.endswith(".h5") for path in written)
    labels = read_labels(folder / "CollectedData_alice.h5")
    assert labels.scorer == "alice"
    assert tuple(labels.keypoints) == ("nose1", "chin", "lear")
    assert len(labels.images) == 3 and labels.images[2].endswith("img002.png")
    np.testing.assert_allclose(labels.positions[0, 0], [20.0, 10.0])
    np.testing.assert_allclose(labels.positions[2, 0], [40.0, 30.0])
    assert np.isnan(labels.positions[1]).all() and np.isnan(labels.positions[0, 2]).all()


def test_writer_rejects_points_without_keypoint_names(tmp_path):
    from napari_facehmm.errors import DataError

    with pytest.raises(DataError, match="keypoint"):
        labels_from_layer(tmp_path / "CollectedData_a.h5", np.zeros((2, 3)), {})


def test_sample_data_generates_once_and_opens_as_a_session(tmp_path, monkeypatch):
    from napari_facehmm import _sample_data

    monkeypatch.setenv("FACEHMM_CACHE", str(tmp_path))
    folder = _sample_data.synthetic_session_folder(seconds=2.0, n_cameras=1)
    assert (folder / ".complete").is_file()
    stamp = (folder / ".complete").stat().st_mtime_ns
    assert _sample_data.synthetic_session_folder(seconds=2.0, n_cameras=1) == folder
    assert (folder / ".complete").stat().st_mtime_ns == stamp  # not generated again
    layers = _reader.read_session(folder)
    kinds = [layer_type for _, _, layer_type in layers]
    assert kinds == ["image", "vectors", "points"]
    video = layers[0][0]
    assert isinstance(video, VideoFrames) and video.shape[0] == 60
    points_meta = layers[2][1]["metadata"]["facehmm"]
    assert points_meta["pose3d"] is not None and points_meta["pose3d"].n_dims == 3
