"""Calibrating extrinsics with intrinsics the user already has (issue #16), known answers.

Truth: the 2-camera rig and 12 lossless ChArUco board poses of
``test_anipose_calibration`` (distortion-free cameras, focal 416 px at
320x240). The given intrinsics are the true ones with digits no fit would
land on (focal + 0.123456789 px, k1 = -1.234567891e-4): they must come out
bit-for-bit, in memory and through ``calibration.toml``, while the poses are
still recovered (baseline within 1 %). Budget: about 15 s.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from test_anipose_support import board_poses, make_rig, render_board, write_video

from napari_facehmm.errors import DataError
from napari_facehmm.io.anipose import Calibration, read_calibration, write_calibration
from napari_facehmm.tracking import anipose as ta


def _given(rig: Calibration) -> Calibration:
    cameras = []
    for camera in rig.cameras:
        matrix = camera.matrix.copy()
        matrix[0, 0] += 0.123456789
        matrix[1, 1] += 0.123456789
        cameras.append(
            dataclasses.replace(
                camera,
                matrix=matrix,
                distortions=np.array([-1.234567891e-4, 0.0, 0.0, 0.0, 0.0]),
                rotation=np.zeros(3),
                translation=np.zeros(3),
            )
        )
    return Calibration(cameras=cameras)


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    folder = tmp_path_factory.mktemp("known")
    board = ta.BoardSpec()
    rig = make_rig(2)
    poses = board_poses(12, np.random.default_rng(1), board)
    paths = {c.name: write_video(render_board(c, poses, board), folder / f"calib-{c.name}.avi") for c in rig.cameras}
    given_path = write_calibration(_given(rig), folder / "intrinsics.toml")
    return dict(board=board, rig=rig, videos=paths, given_path=given_path, folder=folder)


def test_given_intrinsics_come_out_bit_for_bit(videos, tmp_path):
    given = read_calibration(videos["given_path"])
    result = ta.run_to_end(ta.calibrate(videos["videos"], videos["board"], skip=1, intrinsics=videos["given_path"]))
    written = read_calibration(write_calibration(result.calibration, tmp_path / "calibration.toml"))
    for calibration in (result.calibration, written):
        for camera, expected in zip(calibration.cameras, given.cameras):
            assert camera.matrix.tobytes() == expected.matrix.tobytes(), camera.name
            assert np.ravel(camera.distortions).tobytes() == np.ravel(expected.distortions).tobytes(), camera.name
            assert tuple(camera.size) == tuple(expected.size)
    # the poses are still calibrated
    _, translation = ta.relative_pose(result.calibration, "camA", "camB")
    _, true_translation = ta.relative_pose(videos["rig"], "camA", "camB")
    assert np.linalg.norm(translation) == pytest.approx(np.linalg.norm(true_translation), rel=0.01)
    assert max(result.camera_errors_px.values()) < 0.5
    assert result.calibration.metadata["intrinsics_from"] == str(videos["given_path"])


def test_without_given_intrinsics_they_are_fitted(videos):
    given = read_calibration(videos["given_path"])
    result = ta.run_to_end(ta.calibrate(videos["videos"], videos["board"], skip=1))
    assert not np.array_equal(result.calibration.cameras[0].matrix, given.cameras[0].matrix)


def test_given_intrinsics_must_name_the_cameras_and_sizes(videos, tmp_path):
    other = Calibration(cameras=[dataclasses.replace(c, name=f"x{c.name}") for c in _given(videos["rig"]).cameras])
    path = write_calibration(other, tmp_path / "other.toml")
    with pytest.raises(DataError, match=r"no camera \['camA', 'camB'\]"):
        ta.run_to_end(ta.calibrate(videos["videos"], videos["board"], skip=1, intrinsics=path))
    wrong_size = Calibration(cameras=[dataclasses.replace(c, size=(640, 480)) for c in _given(videos["rig"]).cameras])
    path = write_calibration(wrong_size, tmp_path / "size.toml")
    with pytest.raises(DataError, match="640x480 px but its calibration video is 320x240"):
        ta.run_to_end(ta.calibrate(videos["videos"], videos["board"], skip=1, intrinsics=path))


def test_cli_keeps_the_intrinsics(videos, tmp_path, capsys):
    import shutil

    from napari_facehmm.cli import main

    project = tmp_path / "project"
    (project / "calibration").mkdir(parents=True)
    for path in videos["videos"].values():
        shutil.copy(path, project / "calibration" / path.name)
    assert main(["calibrate", str(project), "--skip", "1", "--intrinsics", str(videos["given_path"]), "--quiet"]) == 0
    assert "intrinsics kept from" in capsys.readouterr().out
    written = read_calibration(project / "calibration" / "calibration.toml")
    given = read_calibration(videos["given_path"])
    for camera, expected in zip(written.cameras, given.cameras):
        assert camera.matrix.tobytes() == expected.matrix.tobytes()
