"""export/video.py: the session video with the states drawn on it (known answers on a small synthetic session)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from napari_facehmm.errors import DataError
from napari_facehmm.export.video import read_analysis_states, write_states_video
from napari_facehmm.export.video_draw import StripRenderer, palette_rgb8
from napari_facehmm.io.dlc import read_dlc_analysis
from napari_facehmm.io.video import VideoReader
from napari_facehmm.progress import run_to_end

N_STATES = 3
FPS = 30.0


def _known_states(n_frames: int) -> np.ndarray:
    """State 0 for 10 frames, then 1, then 2, ...; frame 5 has no state."""
    states = (np.arange(n_frames) // 10) % N_STATES
    states[5] = -1
    return states


@pytest.fixture(scope="module")
def session(tmp_path_factory):
    """A 1.5 s two-camera synthetic session at 160x120 and an analysis folder with known states."""
    from napari_facehmm.synthetic import generate_session

    root = tmp_path_factory.mktemp("video_export")
    folder = root / "session"
    generate_session(folder, n_cameras=2, seconds=1.5, fps=FPS, seed=1, size=(160, 120), n_states=N_STATES, n_board_frames=4)
    n_frames = 45
    analysis = root / "analysis"
    analysis.mkdir()
    states = _known_states(n_frames)
    pd.DataFrame(
        {"frame": np.arange(n_frames), "time_s": np.arange(n_frames) / FPS, "state": pd.array(np.where(states >= 0, states, 0), dtype="Int64")}
    ).assign(state=lambda t: t["state"].mask(states < 0)).to_csv(analysis / "states.csv", index=False)
    (analysis / "summary.json").write_text(json.dumps({"n_states": N_STATES, "n_frames": n_frames}))
    pd.DataFrame({"state": range(N_STATES), "name": ["rest", "smile", "frown"]}).to_csv(analysis / "state_stats.csv", index=False)
    return folder, analysis, n_frames


def test_read_analysis_states_reads_states_and_names(session):
    _, analysis, n_frames = session
    read = read_analysis_states(analysis)
    assert read.n_states == N_STATES
    assert read.names == ("rest", "smile", "frown")
    np.testing.assert_array_equal(read.per_frame(n_frames), _known_states(n_frames))


def test_video_has_frame_count_and_landmarks_in_state_colours(session, tmp_path):
    folder, analysis, n_frames = session
    out = run_to_end(write_states_video(folder, analysis, tmp_path / "one.mp4", cameras=["camA"], radius=8, crf=10))
    xy = read_dlc_analysis(folder / "pose-2d" / "session1-camA.h5").positions
    palette = palette_rgb8(N_STATES).astype(int)
    states = _known_states(n_frames)
    with VideoReader(out) as video:
        assert len(video) == n_frames
        assert (video.width, video.height) == (160, 120 + 24)
        checked = 0
        for frame in (2, 5, 15, 25, 35):
            image = video.get_frame(frame).astype(int)
            chin = xy[frame, 19]  # "chin": low in the frame, far from the state label
            assert np.isfinite(chin).all()
            pixel = image[int(round(chin[1])), int(round(chin[0]))]
            expected = states[frame] if states[frame] >= 0 else N_STATES
            distances = np.abs(palette - pixel).sum(axis=1)
            assert distances.argmin() == expected, (frame, pixel, palette[expected])
            assert np.abs(pixel - palette[expected]).max() <= 30
            checked += 1
    assert checked == 5


def test_ethogram_strip_shows_current_state_under_the_cursor(session, tmp_path):
    folder, analysis, n_frames = session
    out = run_to_end(write_states_video(folder, analysis, tmp_path / "strip.mp4", cameras=["camA"], crf=10, window_s=1.0))
    palette = palette_rgb8(N_STATES).astype(int)
    with VideoReader(out) as video:
        image = video.get_frame(25).astype(int)  # state 2
    # 1 s = 31 frames across 160 px: 3 px right of the centre line is frame 26 (state 2)
    pixel = image[120 + 18, 160 // 2 + 3]
    assert np.abs(pixel - palette[2]).max() <= 30


def test_two_cameras_side_by_side_double_the_width(session, tmp_path):
    folder, analysis, n_frames = session
    out = run_to_end(write_states_video(folder, analysis, tmp_path / "two.mp4"))
    with VideoReader(out) as video:
        assert len(video) == n_frames
        assert video.width == 2 * 160


def test_strip_renderer_window_known_answer():
    states = np.array([0] * 5 + [1] * 5)
    strip = StripRenderer(states, 2, fps=1.0, width=5, height=10, window_s=4.0)  # 2 frames each side
    image = strip.render(4)  # window = frames 2..6: 0 0 0 1 1
    palette = palette_rgb8(2)
    np.testing.assert_array_equal(image[9, 0], palette[0])
    np.testing.assert_array_equal(image[9, 4], palette[1])
    assert (image[:, 2] == 255).all()  # the cursor


def test_refuses_existing_output_and_other_sessions_analysis(session, tmp_path):
    folder, analysis, n_frames = session
    existing = tmp_path / "exists.mp4"
    existing.write_bytes(b"keep")
    with pytest.raises(DataError, match="exists"):
        run_to_end(write_states_video(folder, analysis, existing))
    assert existing.read_bytes() == b"keep"
    other = tmp_path / "other"
    other.mkdir()
    pd.DataFrame({"frame": np.arange(n_frames + 50), "state": 0}).to_csv(other / "states.csv", index=False)
    with pytest.raises(DataError, match="another session"):
        run_to_end(write_states_video(folder, other, tmp_path / "x.mp4"))
    with pytest.raises(DataError, match="states.csv is missing"):
        run_to_end(write_states_video(folder, tmp_path / "nothing", tmp_path / "y.mp4"))
    assert not (tmp_path / "x.mp4").exists() and not (tmp_path / "y.mp4").exists()


def test_cancel_leaves_nothing(session, tmp_path):
    folder, analysis, _ = session
    job = write_states_video(folder, analysis, tmp_path / "cancelled.mp4")
    for _ in range(3):
        next(job)
    job.close()
    assert list(tmp_path.iterdir()) == []
