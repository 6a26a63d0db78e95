"""export/nwb.py and io/nwb.py: an analysed synthetic session to NWB (ndx-pose) and back.

Known answers: the positions, likelihoods and states the session's own files
hold (pose-2d/*.h5, pose-3d/session1.csv, states.csv), compared exactly
(NaN where a point is missing), through pynwb, through movement's NWB
loader and through the plugin's reader; the file passes pynwb's validator.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from _export_session import FPS, N_STATES, make_analysed_session, make_session, analyse
from napari_facehmm.errors import DataError, FileFormatError
from napari_facehmm.face import FACE_KEYPOINTS, FACE_SKELETON
from napari_facehmm.io import read_landmarks
from napari_facehmm.io.anipose import read_calibration, read_pose3d
from napari_facehmm.io.dlc import read_dlc_analysis
from napari_facehmm.progress import run_to_end

pytest.importorskip("ndx_pose")


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    from napari_facehmm.export.nwb import write_nwb

    root = tmp_path_factory.mktemp("nwb_export")
    data = make_analysed_session(root)
    path = run_to_end(write_nwb(data.session, data.analysis, root / "session.nwb"))
    return data, path


def _states_csv(analysis) -> np.ndarray:
    table = pd.read_csv(analysis / "states.csv")
    return table["state"].fillna(-1).to_numpy(dtype=np.int64)


def test_passes_pynwb_validator(exported):
    import pynwb

    _, path = exported
    assert pynwb.validate(path=str(path)) == []


def test_every_track_is_a_pose_estimation_with_the_face_skeleton_and_cameras(exported):
    import ndx_pose  # noqa: F401
    import pynwb

    data, path = exported
    calibration = read_calibration(data.session / "calibration" / "calibration.toml")
    with pynwb.NWBHDF5IO(str(path), mode="r") as io:
        nwbfile = io.read()
        module = nwbfile.processing["behavior"]
        assert {"PoseEstimation", "PoseEstimation_camA", "PoseEstimation_camB", "Skeletons"} <= set(module.data_interfaces)
        skeleton = module["Skeletons"].skeletons["face"]
        assert list(skeleton.nodes[:]) == list(FACE_KEYPOINTS)
        edges = {(FACE_KEYPOINTS[a], FACE_KEYPOINTS[b]) for a, b in skeleton.edges[:]}
        assert edges == set(FACE_SKELETON)
        three_d = module["PoseEstimation"]
        assert three_d.source_software == "Anipose" and three_d.device is None
        assert set(three_d.pose_estimation_series) == set(FACE_KEYPOINTS)
        assert three_d.pose_estimation_series["chin"].unit == "mm"
        cam_b = module["PoseEstimation_camB"]
        assert cam_b.device.name == "camB" and cam_b.skeleton.name == "face"
        np.testing.assert_allclose(cam_b.device.intrinsic_matrix[:], calibration.camera("camB").matrix)
        np.testing.assert_allclose(cam_b.device.rotation_matrix[:], calibration.camera("camB").rotation_matrix)
        series = cam_b.pose_estimation_series["uplip"]
        assert series.rate == FPS and series.unit == "pixels"


def test_positions_and_confidence_round_trip_exactly(exported):
    data, path = exported
    for camera in ("camA", "camB"):
        original = read_dlc_analysis(data.session / "pose-2d" / f"session1-{camera}.h5")
        assert np.isnan(original.positions).any()  # the tracker dropped points: NaN must survive
        back = read_landmarks(path, camera=camera)
        assert back.keypoints == original.keypoints and back.camera == camera
        np.testing.assert_array_equal(back.frame_indices, original.frame_indices)
        np.testing.assert_array_equal(back.positions, original.positions)
        np.testing.assert_array_equal(back.confidence, original.confidence)
        assert set(back.skeleton) == set(FACE_SKELETON)
    original = read_pose3d(data.session / "pose-3d" / "session1.csv")
    assert np.isnan(original.positions).any()
    back = read_landmarks(path)  # the primary track: 3D
    assert back.n_dims == 3 and back.fps == FPS
    np.testing.assert_array_equal(back.positions, original.positions)
    np.testing.assert_array_equal(back.confidence, original.confidence)


def test_loads_with_movement(exported):
    from movement.io import load_dataset

    data, path = exported
    dataset = load_dataset(path, source_software="NWB")
    original = read_pose3d(data.session / "pose-3d" / "session1.csv")
    assert dataset.attrs["fps"] == FPS and dataset.sizes["space"] == 3
    keypoint_dim = dataset["position"].dims[2]
    for k, name in enumerate(original.keypoints):
        position = dataset["position"].sel({keypoint_dim: name}).squeeze().transpose(..., "space").to_numpy()
        np.testing.assert_array_equal(position, original.positions[:, k])
    camera = load_dataset(path, source_software="NWB", pose_estimation_key="PoseEstimation_camA")
    original_a = read_dlc_analysis(data.session / "pose-2d" / "session1-camA.h5")
    chin = camera["position"].sel({keypoint_dim: "chin"}).squeeze().transpose(..., "space").to_numpy()
    np.testing.assert_array_equal(chin, original_a.positions[:, original_a.keypoint_index("chin")])
    np.testing.assert_array_equal(
        camera["confidence"].sel({keypoint_dim: "chin"}).squeeze().to_numpy(),
        original_a.confidence[:, original_a.keypoint_index("chin")],
    )


def test_states_as_intervals_and_per_frame(exported):
    import pynwb

    data, path = exported
    expected = _states_csv(data.analysis)
    names = pd.read_csv(data.analysis / "state_stats.csv")["name"].tolist()
    with pynwb.NWBHDF5IO(str(path), mode="r") as io:
        nwbfile = io.read()
        per_frame = nwbfile.processing["behavior"]["expression_state"]
        np.testing.assert_array_equal(per_frame.data[:], expected)
        assert per_frame.rate == FPS
        intervals = nwbfile.intervals["expression_states"].to_dataframe()
        table_names = nwbfile.processing["behavior"]["expression_state_names"].to_dataframe()["state_name"].tolist()
    assert table_names == names and len(names) == N_STATES
    rebuilt = np.full(len(expected), -1)
    for start, stop, state, name in intervals[["start_time", "stop_time", "state", "state_name"]].itertuples(index=False):
        rebuilt[int(round(start * FPS)) : int(round(stop * FPS))] = state
        assert name == names[state]
    np.testing.assert_array_equal(rebuilt, expected)
    assert (np.diff(intervals["start_time"]) > 0).all()


def test_notes_hold_the_analysis_settings(exported):
    import pynwb

    data, path = exported
    summary = json.loads((data.analysis / "summary.json").read_text())
    with pynwb.NWBHDF5IO(str(path), mode="r") as io:
        notes = json.loads(io.read().notes)
    assert notes["summary"]["n_states"] == N_STATES == notes["model"]["n_states"]
    assert notes["summary"]["settings"] == summary["settings"]
    assert notes["model"]["feature_names"] == summary["feature_names"]


def test_two_d_session_puts_first_camera_first(tmp_path):
    from movement.io import load_dataset

    from napari_facehmm.export.nwb import write_nwb

    session = make_session(tmp_path / "flat", seconds=4.0, with_3d=False)
    analysis = analyse(session / "pose-2d" / "session1-camA.h5", tmp_path / "analysis")
    path = run_to_end(write_nwb(session, analysis, tmp_path / "flat.nwb"))
    dataset = load_dataset(path, source_software="NWB")
    assert dataset.sizes["space"] == 2 and dataset.attrs["source_software"] == "DeepLabCut"
    assert read_landmarks(path).camera == "camA"
    with pytest.raises(FileFormatError, match="no track of camera 'camC'"):
        read_landmarks(path, camera="camC")


def test_refuses_existing_output_and_other_sessions_analysis(exported, tmp_path):
    from napari_facehmm.export.nwb import write_nwb

    data, _ = exported
    existing = tmp_path / "exists.nwb"
    existing.write_bytes(b"keep")
    with pytest.raises(DataError, match="exists"):
        run_to_end(write_nwb(data.session, data.analysis, existing))
    assert existing.read_bytes() == b"keep"
    other = make_session(tmp_path / "other", seconds=5.0, with_3d=False, seed=1)
    with pytest.raises(DataError, match="another session"):
        run_to_end(write_nwb(other, data.analysis, tmp_path / "x.nwb"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["exists.nwb", "other"]


def test_reader_refuses_files_that_are_not_nwb(tmp_path):
    broken = tmp_path / "broken.nwb"
    broken.write_bytes(b"not hdf5")
    with pytest.raises(FileFormatError, match="not a readable NWB file"):
        read_landmarks(broken)
