"""Labeling core: projects, frame extraction, label state, saving, refinement (no Qt, no DLC)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from napari_facehmm import labeling
from napari_facehmm.errors import DataError, FileFormatError
from napari_facehmm.face import FACE_KEYPOINTS, FACE_SKELETON
from napari_facehmm.io.dlc import read_dlc_config, read_labels
from napari_facehmm.io.video import VideoReader, write_video


# ------------------------------------------------------------------ fixtures
def _segment_video(path: Path, n_segments: int = 6, frames_per_segment: int = 12, size=(64, 48)) -> Path:
    """A video of ``n_segments`` visually distinct scenes (a bar at a different place in each)."""
    width, height = size
    frames = []
    for segment in range(n_segments):
        for i in range(frames_per_segment):
            frame = np.full((height, width, 3), 30, np.uint8)
            x0 = int(segment * (width - 8) / max(n_segments - 1, 1))
            frame[:, x0 : x0 + 8] = 230
            frame[: 2 + i % 3, :] = 90  # a little within-scene variation
            frames.append(frame)
    return write_video(frames, path, fps=30.0)


@pytest.fixture
def project(tmp_path) -> Path:
    """A DeepLabCut project written without DeepLabCut, with one video."""
    video = _segment_video(tmp_path / "cam1.mp4")
    return labeling.create_project("face", "tester", [video], tmp_path / "work", use_deeplabcut=False)


def _write_images(folder: Path, names, size=(40, 30)) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for i, name in enumerate(names):
        labeling._write_png(np.full((size[1], size[0], 3), 20 * i, np.uint8), folder / name)


# --------------------------------------------------------------------- names
def test_frame_image_name_pads_like_deeplabcut():
    # DeepLabCut: str(index).zfill(ceil(log10(n_frames)))
    assert labeling.frame_image_name(5, 40) == "img05.png"
    assert labeling.frame_image_name(7, 1000) == "img007.png"
    assert labeling.frame_image_name(7, 1001) == "img0007.png"
    assert labeling.frame_image_name(12345, 54000) == "img12345.png"


# ------------------------------------------------------------------ projects
def test_create_project_without_deeplabcut_writes_a_dlc_project(project):
    root = project.parent
    assert project.name == "config.yaml"
    assert root.name.startswith("face-tester-")
    for sub in ("videos", "labeled-data", "training-datasets", "dlc-models"):
        assert (root / sub).is_dir()
    assert (root / "videos" / "cam1.mp4").exists()
    assert (root / "labeled-data" / "cam1").is_dir()
    config = read_dlc_config(project)
    assert config.bodyparts == FACE_KEYPOINTS
    assert config.skeleton == FACE_SKELETON
    assert config.scorer == "tester"
    raw = yaml.safe_load(project.read_text())
    assert raw["video_sets"] == {str(root / "videos" / "cam1.mp4"): {"crop": "0, 64, 0, 48"}}
    assert raw["multianimalproject"] is False and raw["engine"] == "pytorch"
    opened = labeling.open_project(project)
    assert opened.root == root.resolve()
    assert opened.videos == [root / "videos" / "cam1.mp4"]


def test_create_project_validates_the_landmark_set(tmp_path):
    video = _segment_video(tmp_path / "v.mp4", n_segments=2, frames_per_segment=2)
    with pytest.raises(DataError, match="repeated"):
        labeling.create_project("p", "me", [video], tmp_path, bodyparts=["a", "a"], skeleton=(), use_deeplabcut=False)
    with pytest.raises(DataError, match="not in the landmark set"):
        labeling.create_project("p", "me", [video], tmp_path, bodyparts=["a", "b"], skeleton=[("a", "c")],
                                use_deeplabcut=False)
    with pytest.raises(FileFormatError, match="not found"):
        labeling.create_project("p", "me", [tmp_path / "nope.mp4"], tmp_path, use_deeplabcut=False)


def test_create_project_without_a_skeleton_writes_a_readable_config(tmp_path):
    video = _segment_video(tmp_path / "v.mp4", n_segments=2, frames_per_segment=2)
    config = labeling.create_project("p", "me", [video], tmp_path, bodyparts=["snout", "tailbase"], skeleton=(),
                                     use_deeplabcut=False)
    assert yaml.safe_load(config.read_text())["skeleton"] == []
    opened = labeling.open_project(config)
    assert opened.bodyparts == ("snout", "tailbase") and opened.skeleton == ()


# ----------------------------------------------------------- frame selection
def test_kmeans_picks_one_distinct_frame_per_scene(tmp_path):
    n_segments, per_segment = 6, 12
    video = _segment_video(tmp_path / "scenes.mp4", n_segments, per_segment)
    reader = VideoReader(video)
    try:
        picked = labeling.run_to_end(labeling.select_frames_kmeans([reader], n_segments, seed=0))
    finally:
        reader.close()
    assert len(picked) == n_segments
    assert len(set(picked.tolist())) == n_segments
    # well spread: one frame from each scene
    assert sorted(set((picked // per_segment).tolist())) == list(range(n_segments))


def test_uniform_selection_is_distinct_and_in_range():
    picked = labeling.select_frames_uniform(100, 10, start=0.5, stop=1.0, seed=1)
    assert len(picked) == 10 and len(np.unique(picked)) == 10
    assert picked.min() >= 50 and picked.max() < 100
    assert len(labeling.select_frames_uniform(5, 10)) == 5


def test_extract_frames_writes_dlc_named_pngs(project):
    job = labeling.extract_frames(project, n_frames=4, algorithm="kmeans", use_deeplabcut=False)
    messages = []
    while True:
        try:
            messages.append(next(job))
        except StopIteration as stop:
            written = stop.value
            break
    assert messages and all(len(m) == 3 for m in messages)
    paths = written["cam1"]
    assert len(paths) == 4
    for path in paths:
        assert path.parent == project.parent / "labeled-data" / "cam1"
        assert path.is_file()
        # 72 frames -> 2 digits, as DeepLabCut pads
        assert len(path.stem) == len("img") + 2


def test_synchronized_cameras_get_the_same_frame_indices(tmp_path):
    cam1 = _segment_video(tmp_path / "sess_cam1.mp4")
    cam2 = _segment_video(tmp_path / "sess_cam2.mp4", size=(48, 48))
    config = labeling.create_project("face", "tester", [cam1, cam2], tmp_path / "work", use_deeplabcut=False)
    written = labeling.run_to_end(
        labeling.extract_frames(config, n_frames={"sess_cam1": 5}, synchronized=True, use_deeplabcut=False)
    )
    names1 = sorted(p.name for p in written["sess_cam1"])
    names2 = sorted(p.name for p in written["sess_cam2"])
    assert len(names1) == 5 and names1 == names2
    # the images are the frames of each camera at those indices
    first = written["sess_cam2"][0]
    index = int(first.stem[3:])
    reader = VideoReader(cam2)
    try:
        expected = reader[index]
    finally:
        reader.close()
    assert np.abs(labeling._read_image(first).astype(int) - expected.astype(int)).max() <= 1


# ---------------------------------------------------------------- label state
def _label_set(project_path: Path, names=("img01.png", "img05.png", "img09.png")) -> labeling.LabelSet:
    _write_images(project_path.parent / "labeled-data" / "cam1", names)
    return labeling.load_labels(project_path, "cam1")


def test_points_conversion_round_trip_and_most_recent_click_wins(project):
    labels = _label_set(project)
    labels.set_point(0, "nose1", 10.0, 12.0)
    labels.set_point(2, "chin", 3.5, 7.25)
    data, names, machine = labels.to_points()
    np.testing.assert_allclose(data, [[0, 12.0, 10.0], [2, 7.25, 3.5]])
    assert list(names) == ["nose1", "chin"] and not machine.any()
    # a second click for nose1 on image 0: it wins and the first is reported as duplicate
    data2 = np.vstack([data, [[0, 20.0, 21.0]]])
    duplicates = labels.update_from_points(data2, list(names) + ["nose1"])
    assert duplicates == [0]
    np.testing.assert_allclose(labels.positions[0, FACE_KEYPOINTS.index("nose1")], [21.0, 20.0])
    vectors = labels.skeleton_vectors()
    assert vectors.shape == (0, 2, 3)  # no edge has both ends labeled
    labels.set_point(0, "nose3", 25.0, 30.0)
    vectors = labels.skeleton_vectors()
    np.testing.assert_allclose(vectors, [[[0, 20.0, 21.0], [0, 10.0, 4.0]]])


def test_next_keypoint_skips_placed_and_not_visible_and_progress_counts(project):
    labels = _label_set(project)
    assert labels.next_keypoint(0) == 0
    labels.set_point(0, 0, 1, 1)
    labels.mark_not_visible(0, 1)
    assert labels.next_keypoint(0) == 2
    assert labels.next_keypoint(0, after=20) == 2
    for k in range(2, len(FACE_KEYPOINTS)):
        labels.set_point(0, k, k, k)
    assert labels.next_keypoint(0) is None
    progress = labels.progress()
    assert (progress.n_labeled, progress.n_total) == (20, 3 * 21)
    assert (progress.n_frames_done, progress.n_frames) == (1, 3)
    assert labels.first_unfinished_image() == 1
    assert str(progress) == "20/63 points, 1/3 frames done"


def test_save_and_reload_keeps_coordinates_and_nan(project):
    labels = _label_set(project)
    rng = np.random.default_rng(0)
    truth = rng.uniform(0, 30, size=(3, 21, 2))
    truth[1, 4] = np.nan
    truth[2, :] = np.nan
    for row in range(3):
        for k in range(21):
            if not np.isnan(truth[row, k, 0]):
                labels.set_point(row, k, *truth[row, k])
    labels.mark_not_visible(1, 4)
    path = labels.save()
    assert path == project.parent / "labeled-data" / "cam1" / "CollectedData_tester.h5"
    assert path.with_suffix(".csv").is_file()
    assert not labels.dirty
    table = pd.read_hdf(path, "df_with_missing")
    assert table.columns.names == ["scorer", "bodyparts", "coords"]
    assert list(table.index[0]) == ["labeled-data", "cam1", "img01.png"]
    again = labeling.load_labels(project, "cam1")
    assert again.images == labels.images
    np.testing.assert_allclose(again.positions, truth)
    csv = pd.read_csv(path.with_suffix(".csv"), header=[0, 1, 2], index_col=[0, 1, 2])
    np.testing.assert_allclose(csv.to_numpy().reshape(3, 21, 2), truth)


def test_interrupted_save_leaves_previous_labels_intact(project, monkeypatch):
    labels = _label_set(project)
    labels.set_point(0, "nose1", 5.0, 6.0)
    path = labels.save()
    before = path.read_bytes()
    labels.set_point(0, "nose1", 50.0, 60.0)
    labels.set_point(1, "chin", 1.0, 2.0)

    def killed(*args, **kwargs):
        raise KeyboardInterrupt("killed between write and rename")

    monkeypatch.setattr(os, "replace", killed)
    with pytest.raises(KeyboardInterrupt):
        labels.save()
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert labels.dirty  # the failed save did not mark the labels saved
    kept = labeling.load_labels(project, "cam1")
    np.testing.assert_allclose(kept.positions[0, FACE_KEYPOINTS.index("nose1")], [5.0, 6.0])
    assert np.isnan(kept.positions[1]).all()
    leftovers = [p.name for p in path.parent.iterdir() if ".tmp" in p.name]
    assert leftovers == []


def test_config_disagreeing_with_labels_is_a_clear_error_and_loses_nothing(project):
    labels = _label_set(project)
    labels.set_point(0, "nose1", 5.0, 6.0)
    path = labels.save()
    before = path.read_bytes()
    text = project.read_text().replace("- chin\n", "- jaw\n")
    project.write_text(text)
    with pytest.raises(DataError) as error:
        labeling.load_labels(project, "cam1")
    message = str(error.value)
    assert "CollectedData_tester.h5" in message
    assert "only in the labels file: ['chin']" in message
    assert "only in the config: ['jaw']" in message
    assert path.read_bytes() == before


def test_labels_in_another_keypoint_order_are_reordered_to_the_config(project):
    from napari_facehmm.io.dlc import LabelData, write_labels

    _write_images(project.parent / "labeled-data" / "cam1", ["img01.png"])
    reversed_keypoints = tuple(reversed(FACE_KEYPOINTS))
    positions = np.arange(21 * 2, dtype=float).reshape(1, 21, 2)
    write_labels(LabelData("tester", reversed_keypoints, ["labeled-data/cam1/img01.png"], positions),
                 project.parent / "labeled-data" / "cam1" / "CollectedData_tester.h5")
    labels = labeling.load_labels(project, "cam1")
    assert labels.keypoints == FACE_KEYPOINTS
    np.testing.assert_allclose(labels.positions[0], positions[0][::-1])


def test_missing_images_are_reported_by_name_and_their_labels_kept(project):
    labels = _label_set(project)
    labels.set_point(1, "nose1", 5.0, 6.0)
    labels.save()
    (project.parent / "labeled-data" / "cam1" / "img05.png").unlink()
    again = labeling.load_labels(project, "cam1")
    assert again.missing_images == ["labeled-data/cam1/img05.png"]
    assert again.images == ["labeled-data/cam1/img01.png", "labeled-data/cam1/img05.png",
                            "labeled-data/cam1/img09.png"]
    np.testing.assert_allclose(again.positions[1, FACE_KEYPOINTS.index("nose1")], [5.0, 6.0])
    assert again.load_images().shape == (3, 30, 40, 3)


def test_bad_labels_file_is_a_file_format_error(project):
    _write_images(project.parent / "labeled-data" / "cam1", ["img01.png"])
    (project.parent / "labeled-data" / "cam1" / "CollectedData_tester.h5").write_bytes(b"not hdf5")
    with pytest.raises(FileFormatError, match="CollectedData_tester.h5"):
        labeling.load_labels(project, "cam1")


# ----------------------------------------------------------------- refinement
def _write_machine_labels(folder: Path, images, positions, scorer="DLC_Resnet50_faceNov26shuffle1_snapshot_010",
                          iteration=0) -> Path:
    """machinelabels-iter<N>.h5 as deeplabcut.extract_outlier_frames writes it."""
    columns = pd.MultiIndex.from_product(
        [[scorer], list(FACE_KEYPOINTS), ["x", "y", "likelihood"]], names=["scorer", "bodyparts", "coords"]
    )
    values = np.concatenate([positions, np.full(positions.shape[:2] + (1,), 0.9)], axis=2)
    index = pd.MultiIndex.from_tuples([("labeled-data", folder.name, name) for name in images])
    table = pd.DataFrame(values.reshape(len(images), -1), index=index, columns=columns)
    path = folder / f"machinelabels-iter{iteration}.h5"
    table.to_hdf(path, key="df_with_missing", mode="w")
    return path


def test_refinement_merges_predictions_with_labels_winning(project):
    folder = project.parent / "labeled-data" / "cam1"
    labels = _label_set(project, names=("img01.png", "img05.png"))
    nose = FACE_KEYPOINTS.index("nose1")
    labels.set_point(0, nose, 1.0, 2.0)
    labels.save()
    _write_images(folder, ["img07.png"])
    predicted = np.full((2, 21, 2), 9.0)
    predicted[1, 3] = np.nan
    _write_machine_labels(folder, ["img01.png", "img07.png"], predicted)
    assert labeling.find_machine_labels(folder).name == "machinelabels-iter0.h5"
    merged = labeling.load_for_refinement(project, "cam1")
    assert merged.images == ["labeled-data/cam1/img01.png", "labeled-data/cam1/img05.png",
                             "labeled-data/cam1/img07.png"]
    np.testing.assert_allclose(merged.positions[0, nose], [1.0, 2.0])  # human label wins
    assert not merged.machine[0, nose]
    np.testing.assert_allclose(merged.positions[0, nose + 1], [9.0, 9.0])
    assert merged.machine[0, nose + 1]
    assert np.isnan(merged.positions[1]).all()
    assert np.isnan(merged.positions[2, 3]).all()
    # correct one prediction, then save: machine labels become CollectedData
    merged.set_point(2, 0, 4.0, 4.0)
    assert not merged.machine[2, 0]
    merged.save()
    saved = read_labels(folder / "CollectedData_tester.h5")
    assert saved.scorer == "tester"
    row = saved.images.index("labeled-data/cam1/img07.png")
    np.testing.assert_allclose(saved.positions[row, 0], [4.0, 4.0])
    np.testing.assert_allclose(saved.positions[row, 1], [9.0, 9.0])
    np.testing.assert_allclose(saved.positions[saved.images.index("labeled-data/cam1/img01.png"), nose], [1.0, 2.0])


def test_machine_labels_with_wrong_columns_are_rejected(project, tmp_path):
    folder = project.parent / "labeled-data" / "cam1"
    folder.mkdir(parents=True, exist_ok=True)
    pd.DataFrame({"a": [1.0]}).to_hdf(folder / "machinelabels-iter0.h5", key="df_with_missing", mode="w")
    with pytest.raises(FileFormatError, match="expected columns"):
        labeling.load_for_refinement(project, "cam1")


# ---------------------------------------------------------------- subprocess
def test_in_subprocess_streams_progress_and_returns_paths(project):
    job = labeling.in_subprocess("extract_frames", config_path=str(project), n_frames=3,
                                 algorithm="uniform", use_deeplabcut=False)
    progress = []
    while True:
        try:
            progress.append(next(job))
        except StopIteration as stop:
            written = stop.value
            break
    assert progress[-1][:2] == (3, 3)
    assert [p.parent.name for p in written["cam1"]] == ["cam1"] * 3
    assert all(p.is_file() for p in written["cam1"])


def test_in_subprocess_raises_the_childs_error(project):
    job = labeling.in_subprocess("extract_frames", config_path=str(project), algorithm="spectral")
    with pytest.raises(DataError, match="unknown frame selection algorithm 'spectral'"):
        labeling.run_to_end(job)


# ------------------------------------------------------------------- autosave
def test_autosave_clock():
    clock = labeling.AutosaveClock(interval_s=60)
    clock.saved(100.0)
    assert not clock.due(130.0, dirty=True)
    assert clock.due(160.0, dirty=True)
    assert not clock.due(500.0, dirty=False)
    clock.interval_s = 0
    assert not clock.due(500.0, dirty=True)


# ------------------------------------------------------------------ real data
def test_real_deeplabcut_project_opens_and_saves_without_loss(shared_data, tmp_path):
    """DeepLabCut's openfield example (older single-path row index, 116 labeled images)."""
    import shutil

    source = shared_data / "dlc" / "openfield-Pranav-2018-10-30"
    project_path = tmp_path / "openfield"
    shutil.copytree(source / "labeled-data", project_path / "labeled-data")
    shutil.copy(source / "config.yaml", project_path / "config.yaml")
    project = labeling.open_project(project_path / "config.yaml")
    assert labeling.labeled_data_folders(project) == ["m4s1"]
    labels = labeling.load_labels(project, "m4s1")
    original = pd.read_hdf(source / "labeled-data" / "m4s1" / "CollectedData_Pranav.h5")
    assert labels.n_images == len(original) == 116
    assert labels.missing_images == []
    assert labels.keypoints == ("snout", "leftear", "rightear", "tailbase")
    expected = original.to_numpy().reshape(116, 4, 2)
    order = np.argsort([str(i).replace("\\", "/") for i in original.index])
    np.testing.assert_allclose(labels.positions, expected[order])
    assert labels.progress().n_labeled == int((~np.isnan(expected[..., 0])).sum())
    stack = labels.load_images()
    assert stack.shape == (116, 480, 640, 3) and stack.std() > 10
    # edit one point, save, read back: the rest is unchanged
    labels.set_point(0, "snout", 100.5, 200.25)
    labels.save()
    again = labeling.load_labels(project, "m4s1")
    expected_after = expected[order].copy()
    expected_after[0, 0] = [100.5, 200.25]
    np.testing.assert_allclose(again.positions, expected_after)


def test_image_stack_is_lazy_and_pads_mixed_sizes(tmp_path):
    folder = tmp_path / "imgs"
    _write_images(folder, ["img1.png"], size=(40, 30))
    _write_images(folder, ["img2.png"], size=(20, 50))
    stack = labeling.ImageStack([folder / "img1.png", folder / "img2.png", folder / "gone.png"])
    assert stack.shape == (3, 50, 40, 3) and not stack._cache  # sizes from PNG headers only
    second = stack[1]
    assert second.shape == (50, 40, 3) and len(stack._cache) == 1
    assert (second[:, 20:] == 0).all()
    assert (stack[2] == 0).all()
    with pytest.raises(IndexError):
        stack[3]


def test_closing_an_in_subprocess_job_ends_the_child(tmp_path):
    import psutil

    video = _segment_video(tmp_path / "long.mp4", n_segments=10, frames_per_segment=40)
    config = labeling.create_project("face", "tester", [video], tmp_path / "work", use_deeplabcut=False)
    job = labeling.in_subprocess("extract_frames", config_path=str(config), n_frames=5, algorithm="kmeans",
                                 use_deeplabcut=False)
    next(job)  # the child is running
    children = [p for p in psutil.Process().children(recursive=True)
                if "_subprocess_main" in " ".join(p.cmdline())]
    assert len(children) == 1
    job.close()
    _, alive = psutil.wait_procs(children, timeout=10)
    assert not alive
    assert not list((config.parent / "labeled-data" / "long").glob("*.png"))
