"""OpenFace 2 CSV reader and the read_landmarks dispatcher."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from napari_facehmm.data import LandmarkSeries
from napari_facehmm.errors import FileFormatError, UnsupportedFileError
from napari_facehmm.io import read_landmarks, sniff_landmark_format
from napari_facehmm.io.anipose import write_pose3d
from napari_facehmm.io.dlc import write_dlc_analysis
from napari_facehmm.io.openface import OPENFACE_SKELETON, read_openface

OPENFACE = "pyfeat/OpenFace_Test.csv"


def test_real_openface_2d(shared_data):
    path = shared_data / OPENFACE
    series = read_openface(path)
    # the file has frames 1..100 (its last line has no newline, so `wc -l` says 100 lines)
    assert series.positions.shape == (100, 68, 2)
    assert series.keypoints[0] == "lm_0" and series.keypoints[-1] == "lm_67"
    raw = pd.read_csv(path, skipinitialspace=True)
    np.testing.assert_allclose(series.positions[:, 0, 0], raw["x_0"])
    np.testing.assert_allclose(series.positions[:, 67, 1], raw["y_67"])
    np.testing.assert_allclose(series.confidence[:, 5], raw["confidence"])
    np.testing.assert_array_equal(series.frame_indices, raw["frame"] - 1)
    # timestamps step by 1 ms in this file
    assert series.fps == pytest.approx(1000.0)
    assert series.attrs["head_pose"].shape == (100, 6)
    assert "AU12" in series.attrs["au_names"] and series.attrs["au_intensity"].shape[0] == 100
    assert len(series.skeleton) == len(OPENFACE_SKELETON) == 16 + 4 + 4 + 3 + 4 + 6 + 6 + 12 + 8


def test_real_openface_3d(shared_data):
    series = read_openface(shared_data / OPENFACE, dims=3, fps=30.0)
    raw = pd.read_csv(shared_data / OPENFACE, skipinitialspace=True)
    assert series.positions.shape == (100, 68, 3) and series.fps == 30.0
    np.testing.assert_allclose(series.positions[:, 10], raw[["X_10", "Y_10", "Z_10"]].to_numpy())


def _openface_text(n_frames=4, success=(1, 0, 1, 1), face_ids=None, landmarks=3):
    header = ["frame"] + (["face_id"] if face_ids else []) + ["timestamp", "confidence", "success"]
    header += [f"x_{i}" for i in range(landmarks)] + [f"y_{i}" for i in range(landmarks)]
    lines = [", ".join(header)]
    for t in range(n_frames):
        row = [str(t + 1)] + ([str(face_ids[t])] if face_ids else []) + [f"{t / 25:.3f}", "0.9", str(success[t])]
        row += [f"{10 * i + t}.5" for i in range(landmarks)] + [f"{20 * i + t}.25" for i in range(landmarks)]
        lines.append(", ".join(row))
    return "\n".join(lines) + "\n"


def test_failed_frames_are_nan_and_fps_from_timestamps(tmp_path):
    path = tmp_path / "face.csv"
    path.write_text(_openface_text())
    series = read_openface(path)
    assert np.isnan(series.positions[1]).all() and np.isnan(series.confidence[1]).all()
    np.testing.assert_allclose(series.positions[2, 1], [12.5, 22.25])
    np.testing.assert_allclose(series.confidence[0], 0.9)
    assert series.fps == pytest.approx(25.0)


def test_several_faces_need_a_choice(tmp_path):
    path = tmp_path / "faces.csv"
    path.write_text(_openface_text(face_ids=[0, 1, 0, 1], success=(1, 1, 1, 1)))
    with pytest.raises(FileFormatError, match=r"several faces \(\[0, 1\]\)") as info:
        read_openface(path)
    assert "faces.csv" in str(info.value)
    face = read_openface(path, face_id=1)
    np.testing.assert_array_equal(face.frame_indices, [1, 3])


@pytest.mark.parametrize(
    "text, problem",
    [
        ("", "empty"),
        ("frame, timestamp, confidence, success\n1, 0, 1, 1\n", "no OpenFace 2D landmark columns"),
        ("frame, x_0, y_0\n", "no rows"),
        ("frame, success, x_0, y_0\n1, 1, 3.5, oops\n", "non-numeric value 'oops'"),
        ("frame, success, x_0, y_0\n2, 1, 3.5, 1\n2, 1, 4.5, 1\n", "frame 2 appears in several rows"),
    ],
)
def test_bad_openface_files(tmp_path, text, problem):
    path = tmp_path / "bad_openface.csv"
    path.write_text(text)
    with pytest.raises(FileFormatError, match=problem) as info:
        read_openface(path)
    assert "bad_openface.csv" in str(info.value)


# ------------------------------------------------------------ dispatcher
def _series(n_dims):
    rng = np.random.default_rng(0)
    return LandmarkSeries(rng.normal(size=(6, 2, n_dims)), ("a", "b"), rng.uniform(size=(6, 2)))


def test_read_landmarks_dispatch(tmp_path, shared_data):
    dlc_csv = write_dlc_analysis(_series(2), tmp_path / "vidDLC.csv")
    dlc_h5 = write_dlc_analysis(_series(2), tmp_path / "vidDLC.h5")
    pose = write_pose3d(_series(3), tmp_path / "pose3d.csv")
    openface = tmp_path / "openface.csv"
    openface.write_text(_openface_text())
    labels = shared_data / "dlc/openfield-Pranav-2018-10-30/labeled-data/m4s1/CollectedData_Pranav.csv"
    expected = {dlc_csv: "dlc", dlc_h5: "dlc", pose: "pose3d", openface: "openface",
                shared_data / OPENFACE: "openface"}
    for path, kind in expected.items():
        assert sniff_landmark_format(path) == kind
        series = read_landmarks(path)
        assert series.attrs["format"] == kind and series.source == path
    # a labels file is DeepLabCut's layout but not a time series: refused (issue #18)
    assert sniff_landmark_format(labels) == "dlc"
    with pytest.raises(FileFormatError, match="labels file, not the tracking output") as info:
        read_landmarks(labels)
    assert labels.name in str(info.value)
    assert read_landmarks(pose).n_dims == 3
    assert read_landmarks(openface, dims=2, fps=50.0).fps == 50.0
    np.testing.assert_allclose(read_landmarks(dlc_h5).positions, _series(2).positions)


def test_read_landmarks_rejects_unknown_files(tmp_path):
    other = tmp_path / "table.csv"
    other.write_text("time,value\n0,1\n")
    notes = tmp_path / "notes.txt"
    notes.write_text("hello")
    empty = tmp_path / "blank.csv"
    empty.write_text("")
    for path, error in ((other, UnsupportedFileError), (notes, UnsupportedFileError),
                        (empty, FileFormatError), (tmp_path / "nothing.csv", FileFormatError)):
        with pytest.raises(error) as info:
            read_landmarks(path)
        assert path.name in str(info.value)
    with pytest.raises(UnsupportedFileError, match="do not take"):
        read_landmarks(write_pose3d(_series(3), tmp_path / "p.csv"), individual="x")
