"""The viewer never dies on bad data (issue #18): what can be shown is shown, the bad file is named.

A short synthetic session (6 s, 2 cameras, 320x240) is copied and broken one
way per test: camB's video zeroed part-way (as ``tests/test_facemesh.py``
corrupts a video), cut short with its header still listing every frame, or
replaced by bytes no decoder opens; camB's pose-2d file replaced by bytes that
are no HDF5 file, or by a hand-labels file where a tracking result belongs.
Frames that cannot be decoded must be shown black, the user told once per
file (file and frame named), and the docks must keep working. One Qt-free
test checks the black-frame adapter on a video with a keyframe every 30
frames (decoding starts again at the next keyframe). GUI tests are marked
``gui`` one by one. Budget: about 130 s, 40 of them in the two
``facehmm view --screenshot`` subprocesses.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

gui = pytest.mark.gui

N_FRAMES = 180  # 6 s at 30 fps
CAMERA_B = "session1-camB"


@pytest.fixture(scope="module")
def clean_session(tmp_path_factory) -> Path:
    from napari_facehmm.synthetic import generate_session

    out_dir = tmp_path_factory.mktemp("bad_data_session")
    generate_session(out_dir, n_cameras=2, seconds=N_FRAMES / 30.0, fps=30.0, seed=3, size=(320, 240))
    return out_dir


def _copy(clean_session: Path, tmp_path: Path) -> Path:
    folder = tmp_path / "session"
    shutil.copytree(clean_session, folder)
    return folder


def _zero_second_half(video: Path) -> None:
    data = bytearray(video.read_bytes())
    # the mp4 index (moov) is at the end: zero 30 kB of frame data in the second half
    start = int(len(data) * 0.6)
    data[start : start + 30_000] = bytes(30_000)
    video.write_bytes(bytes(data))


@pytest.fixture
def corrupt_session(clean_session, tmp_path) -> Path:
    folder = _copy(clean_session, tmp_path)
    _zero_second_half(folder / "videos-raw" / f"{CAMERA_B}.mp4")
    return folder


def _undecodable_frames(video: Path) -> set[int]:
    """Frames a sequential read cannot decode: the answer, found without the viewer."""
    from napari_facehmm.errors import FileFormatError
    from napari_facehmm.io.video import VideoReader

    bad = set()
    with VideoReader(video) as reader:
        for index in range(reader.n_frames):
            try:
                reader.get_frame(index)
            except FileFormatError:
                bad.add(index)
    return bad


@pytest.fixture
def shown(monkeypatch) -> list[tuple[str, str]]:
    """``(severity, message)`` of every error and warning notification during the test."""
    import napari.utils.notifications as notes

    messages: list[tuple[str, str]] = []
    for severity in ("error", "warning"):
        original = getattr(notes, f"show_{severity}")

        def record(message, original=original, severity=severity):
            messages.append((severity, str(message)))
            original(message)

        monkeypatch.setattr(notes, f"show_{severity}", record)
    return messages


def _displayed(layer) -> np.ndarray:
    """The image the layer shows now (its current slice)."""
    return np.asarray(layer._slice.image.raw)


# ------------------------------------------------------------ corrupt video
@gui
def test_corrupt_video_frames_are_black_with_one_notification_and_docks_work(
    make_napari_viewer, corrupt_session, shown
):
    from napari_facehmm.widgets.app import open_face_viewer

    video_path = corrupt_session / "videos-raw" / f"{CAMERA_B}.mp4"
    bad = _undecodable_frames(video_path)
    assert 10 < len(bad) < N_FRAMES - 10, f"the corruption should hit the second half only; undecodable: {sorted(bad)}"

    viewer = make_napari_viewer()
    viewer, docks = open_face_viewer(corrupt_session, viewer=viewer, n_states=3, n_restarts=1)
    session = docks["states"].session
    assert session.states is not None and session.n_states == 3  # the fit ran on the session
    video_a = viewer.layers["session1-camA video"]
    video_b = viewer.layers[f"{CAMERA_B} video"]
    assert video_b.data.shape[0] == N_FRAMES

    black = set()
    for frame in range(N_FRAMES):  # every step of the slider, across the corrupt frames
        session.seek(frame)
        assert session.current_frame() == frame
        assert docks["ethogram"].cursor_frame == frame  # the ethogram follows
        assert _displayed(video_a).max() > 0  # the other camera is untouched
        if _displayed(video_b).max() == 0:
            black.add(frame)
    assert black == bad

    # one notification for the file, naming it and its first undecodable frame; no error
    assert [severity for severity, _ in shown] == ["warning"], shown
    message = shown[0][1]
    assert str(video_path) in message and f"{CAMERA_B}.mp4" in message
    assert re.search(rf"frames {min(bad)}-{max(bad)}\b", message), message

    # the docks keep working at the black frames: the 3D face, the summary, a new fit
    frame = max(bad)
    session.seek(frame)
    pose3d = session.pose3d()
    from napari_facehmm.layerdata import egocentric_frame

    np.testing.assert_allclose(docks["face3d"].last_positions, egocentric_frame(pose3d.positions[frame], pose3d.keypoints))
    state = int(session.states[-1])
    jumped = docks["summary"].jump_to_state(state)
    assert session.state_at(jumped) == state
    from napari_facehmm.widgets.app import fit_now

    fit_now(docks["states"], n_states=2, n_restarts=1, show_progress=False)
    assert session.n_states == 2 and len(session.states) == N_FRAMES
    assert len(shown) == 1  # still one notification after all that


@gui
def test_session_reader_opens_a_corrupt_video_without_error(make_napari_viewer, corrupt_session, shown):
    viewer = make_napari_viewer()
    layers = viewer.open(corrupt_session, plugin="napari-facehmm")
    assert sorted(layer._type_string for layer in layers) == ["image"] * 2 + ["points"] * 2 + ["vectors"] * 2
    video_b = viewer.layers[f"{CAMERA_B} video"]
    bad = _undecodable_frames(corrupt_session / "videos-raw" / f"{CAMERA_B}.mp4")
    for frame in (max(bad), min(bad), 3):
        viewer.dims.set_point(0, frame)
        assert (_displayed(video_b).max() == 0) == (frame in bad)
    assert [severity for severity, _ in shown] == ["warning"], shown
    assert f"{CAMERA_B}.mp4" in shown[0][1]


@gui
@pytest.mark.parametrize("where", ["before", "inside"])
def test_view_command_screenshots_a_corrupt_session(corrupt_session, tmp_path, where):
    """Before and inside the corrupt part: exit 0, the PNG written, the file named once when met."""
    import imageio.v2 as imageio

    bad = _undecodable_frames(corrupt_session / "videos-raw" / f"{CAMERA_B}.mp4")
    frame = min(bad) // 2 if where == "before" else (min(bad) + max(bad)) // 2
    out = tmp_path / "view.png"
    env = dict(os.environ, QT_QPA_PLATFORM="xcb")
    result = subprocess.run(
        [sys.executable, "-m", "napari_facehmm.cli", "view", str(corrupt_session),
         "--n-states", "3", "--frame", str(frame), "--screenshot", str(out)],
        capture_output=True, text=True, env=env, timeout=300,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    assert "Traceback" not in output and "KeyError" not in output
    image = imageio.imread(out)
    assert image.shape[0] >= 800 and image.shape[1] >= 1200
    assert image[..., :3].std() > 20
    # the viewer opens at frame 0 and then goes to --frame: only "inside" meets the corrupt part
    warnings = [line for line in output.splitlines() if f"{CAMERA_B}.mp4" in line]
    if where == "before":
        assert warnings == [], output[-3000:]
    else:
        assert len(warnings) == 1 and f"frames {frame}-{max(bad)}" in warnings[0], output[-3000:]


# ---------------------------------------------------------- truncated video
def _write_faststart_video(frames: np.ndarray, path: Path, keyframe_every: int = 250) -> None:
    """An mp4 with its index (moov) before the frames, as cameras and web copies write them."""
    import av

    with av.open(str(path), "w", options={"movflags": "faststart"}) as container:
        stream = container.add_stream("libx264", rate=Fraction(30))
        stream.width, stream.height = frames.shape[2], frames.shape[1]
        stream.pix_fmt = "yuv420p"
        stream.options = {"preset": "ultrafast", "g": str(keyframe_every), "keyint_min": str(keyframe_every)}
        for index, image in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            frame.pts = index
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)


@gui
def test_truncated_video_shows_the_frames_it_holds(make_napari_viewer, clean_session, tmp_path, shown):
    from napari_facehmm.errors import FileFormatError
    from napari_facehmm.io.video import VideoReader
    from napari_facehmm.widgets.app import open_face_viewer

    folder = _copy(clean_session, tmp_path)
    video_path = folder / "videos-raw" / f"{CAMERA_B}.mp4"
    with VideoReader(video_path) as reader:
        original = reader[:]
    _write_faststart_video(original, video_path)
    data = video_path.read_bytes()
    video_path.write_bytes(data[: len(data) // 2])
    with pytest.raises(FileFormatError, match="header lists 180 frames"):
        VideoReader(video_path)  # analysis still refuses it
    with VideoReader(video_path, allow_truncated=True) as reader:
        n_held = reader.n_frames
    assert 10 < n_held < N_FRAMES - 10

    viewer, docks = open_face_viewer(folder, viewer=make_napari_viewer(), n_states=3)
    video_b = viewer.layers[f"{CAMERA_B} video"]
    assert video_b.data.shape[0] == N_FRAMES  # in step with the landmarks' frame numbers
    session = docks["states"].session
    session.seek(5)
    assert _displayed(video_b).max() > 0
    for frame in (n_held, N_FRAMES - 1):
        session.seek(frame)
        assert _displayed(video_b).max() == 0
        assert docks["ethogram"].cursor_frame == frame
    assert len(shown) == 1 and shown[0][0] == "warning", shown
    assert str(video_path) in shown[0][1] and f"frames {n_held}-{N_FRAMES - 1}" in shown[0][1]
    assert f"{CAMERA_B} points" in viewer.layers and session.states is not None


def test_undecodable_frames_stop_at_the_next_keyframe(clean_session, tmp_path):
    """Qt-free: the adapter blanks exactly the frames a sequential read cannot decode, and tells once."""
    from napari_facehmm.io.video import BlankUndecodableFrames, VideoReader

    with VideoReader(clean_session / "videos-raw" / f"{CAMERA_B}.mp4") as reader:
        original = reader[:]
    video_path = tmp_path / "short_gops.mp4"
    _write_faststart_video(original, video_path, keyframe_every=30)  # keyframes at 0, 30, 60 ...
    data = bytearray(video_path.read_bytes())
    start = int(len(data) * 0.5)
    data[start : start + 8_000] = bytes(8_000)
    video_path.write_bytes(bytes(data))
    bad = _undecodable_frames(video_path)
    assert bad and max(bad) < N_FRAMES - 30, f"later keyframes should decode again; undecodable: {sorted(bad)}"

    told = []
    frames = BlankUndecodableFrames(VideoReader(video_path), lambda *args: told.append(args))
    black = {index for index in range(N_FRAMES) if frames[index].max() == 0}
    assert black == bad == set(frames.undecodable.tolist())
    first = min(bad)
    last = frames.reader.next_keyframe_index(first) - 1
    assert last % 30 == 29 and set(range(first, last + 1)) <= bad
    assert len(told) == 1 and told[0][:3] == (video_path, first, last) and f"frame {first}" in told[0][3]
    # good frames are the reader's own pixels; the read-only blank is shared, copies are fresh
    good = min(set(range(N_FRAMES)) - bad)
    np.testing.assert_array_equal(frames[good], frames.reader[good])
    assert not frames.get_frame(first, copy=False).flags.writeable and frames[first].flags.writeable


# ------------------------------------------------ files that cannot be read
def _write_labels_file(clean_session: Path, path: Path) -> None:
    from napari_facehmm.io import read_landmarks
    from napari_facehmm.io.dlc import LabelData, write_labels

    series = read_landmarks(clean_session / "pose-2d" / f"{CAMERA_B}.h5")
    images = [f"labeled-data/{CAMERA_B}/img{i:03d}.png" for i in range(5)]
    write_labels(LabelData("me", tuple(series.keypoints), images, series.positions[:5, :, :2]), path)


@gui
@pytest.mark.parametrize("bad_file", ["pose2d-not-hdf5", "pose2d-labels", "video-not-a-video"])
def test_session_with_an_unreadable_file_opens_the_rest_and_names_it(
    make_napari_viewer, clean_session, tmp_path, shown, bad_file
):
    from napari_facehmm.widgets.app import open_face_viewer

    folder = _copy(clean_session, tmp_path)
    if bad_file == "pose2d-not-hdf5":
        bad = folder / "pose-2d" / f"{CAMERA_B}.h5"
        bad.write_bytes(b"\x89HDF\r\n\x1a\n" + bytes(5000))
        expected_missing = [f"{CAMERA_B} points", f"{CAMERA_B} skeleton"]
    elif bad_file == "pose2d-labels":
        bad = folder / "pose-2d" / f"{CAMERA_B}.h5"
        bad.unlink()
        _write_labels_file(clean_session, bad)
        expected_missing = [f"{CAMERA_B} points", f"{CAMERA_B} skeleton"]
    else:
        bad = folder / "videos-raw" / f"{CAMERA_B}.mp4"
        bad.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 20)
        expected_missing = [f"{CAMERA_B} video"]
    before = bad.read_bytes()

    viewer, docks = open_face_viewer(folder, viewer=make_napari_viewer(), n_states=3)
    names = [layer.name for layer in viewer.layers]
    for camera in ("session1-camA", CAMERA_B):
        for kind in ("video", "points", "skeleton"):
            name = f"{camera} {kind}"
            assert (name in names) == (name not in expected_missing), names
    assert len(shown) == 1 and shown[0][0] == "error", shown
    assert str(bad) in shown[0][1]
    if bad_file == "pose2d-labels":
        assert "labels file" in shown[0][1]
    session = docks["states"].session
    assert session.states is not None  # fitted on what could be read
    for frame in (0, 90, N_FRAMES - 1):
        session.seek(frame)
        assert docks["ethogram"].cursor_frame == frame
    assert bad.read_bytes() == before  # the bad file is left as it was


@gui
def test_session_with_nothing_readable_is_refused_naming_the_folder(make_napari_viewer, tmp_path, shown):
    folder = tmp_path / "broken"
    (folder / "videos-raw").mkdir(parents=True)
    (folder / "videos-raw" / "s-camA.mp4").write_bytes(bytes(4000))
    viewer = make_napari_viewer()
    assert viewer.open(folder, plugin="napari-facehmm") == []
    severities = [severity for severity, _ in shown]
    assert severities == ["error", "error"], shown  # the file left out, then the folder refused
    assert "s-camA.mp4" in shown[0][1] and "broken" in shown[1][1]
