"""Calibration videos not started together (issue #16): the offset found from the board's motion, known answers.

Truth: two synthetic cameras (``make_cameras``, 320x240) and the synthetic
ChArUco board waved for 60 frames (``board_motion``), rendered losslessly;
camB's video misses its first 4 frames (it started 4 frames late), so its
frame ``t - 4`` shows what camA's frame ``t`` shows. Measured when written
(75 frames): offset -4 found with correlation 0.99; calibrating with the
offset applied gave 0.05 px per camera, matching frames by number 1.7 px and
a baseline about 58 mm off. Budget: about 40 s (rendering and one bundle adjustment).
"""

from __future__ import annotations

import numpy as np
import pytest
from test_anipose_support import write_video

from napari_facehmm.io.anipose import Calibration
from napari_facehmm.progress import run_to_end
from napari_facehmm.synthetic import board_motion, make_cameras, render_board_frames
from napari_facehmm.synthetic.session import anipose_config
from napari_facehmm.tracking import anipose as ta
from napari_facehmm.tracking.anipose.calibration import _detect_video, _detections_from_rows
from napari_facehmm.tracking.anipose.calibration_sync import BoardSync, estimate_board_offsets

LATE = 4


@pytest.fixture(scope="module")
def rig(tmp_path_factory):
    folder = tmp_path_factory.mktemp("sync")
    cameras = make_cameras(2, (320, 240), np.random.default_rng(0))
    motion = board_motion(60, 30.0, np.random.default_rng(4))
    frames = {c.name: [f[..., 0] for f in render_board_frames(motion, c)] for c in cameras}
    videos = {
        "camA": write_video(frames["camA"], folder / "camA-charuco.avi"),
        "camB": write_video(frames["camB"], folder / "camB-charuco.avi"),
        "camB_late": write_video(frames["camB"][LATE:], folder / "camB-late-charuco.avi"),
    }
    board = ta.BoardSpec.from_config(anipose_config())
    built = board.build()
    detections = {}
    for key, path in videos.items():
        rows, n_read, size = run_to_end(_detect_video(built, path, 1, 0))
        detections[key] = _detections_from_rows(key, [path], rows, board, n_read)
    return dict(cameras=cameras, videos=videos, board=board, built=built, detections=detections)


def _offsets(rig, other: str) -> BoardSync:
    detections = {"camA": rig["detections"]["camA"], "camB": rig["detections"][other]}
    points = np.asarray(rig["built"].get_object_points(), dtype=np.float64)
    return estimate_board_offsets(detections, points, {"camA": (320, 240), "camB": (320, 240)})


def test_synchronized_videos_have_no_offset(rig):
    sync = _offsets(rig, "camB")
    assert sync.offsets[0] == {"camA": 0, "camB": 0} and sync.sure[0]["camB"]
    assert sync.synchronized and sync.describe() == []


def test_a_late_camera_is_found_and_said(rig):
    sync = _offsets(rig, "camB_late")
    assert sync.offsets[0]["camB"] == -LATE and sync.sure[0]["camB"]
    assert sync.correlation[0]["camB"] > 0.9
    (line,) = sync.describe()
    assert f"{LATE} frame(s) behind" in line and "started late" in line


def test_calibration_applies_the_offset(rig):
    videos = {"camA": rig["videos"]["camA"], "camB": rig["videos"]["camB_late"]}
    result = run_to_end(ta.calibrate(videos, rig["board"], skip=1))
    assert result.frame_offsets == {"camB": -LATE}
    assert result.calibration.metadata["frame_offsets"] == {"camB": -LATE}
    assert any("applied" in w and f"{LATE} frame(s)" in w for w in result.warnings)
    assert max(result.camera_errors_px.values()) < 0.2
    _, translation = ta.relative_pose(result.calibration, "camA", "camB")
    _, true_translation = ta.relative_pose(Calibration(cameras=rig["cameras"]), "camA", "camB")
    assert np.linalg.norm(translation - true_translation) < 0.01 * np.linalg.norm(true_translation)
