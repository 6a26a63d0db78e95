"""A tiny DeepLabCut project from the synthetic face, and tests of the DLC layer that need no training.

:func:`make_tiny_dlc_project` is imported by the DeepLabCut end-to-end
tests and the Tracking widget tests: 128x128 rendered faces (distinct
colored landmark marks), a few landmarks labeled with their true pixels on
about 30 frames, a short video, and a ``config.yaml`` as DeepLabCut writes it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

TINY_KEYPOINTS = ("lefteye1", "righteye1", "nose1", "uplip", "chin")


def make_tiny_dlc_project(
    root: Path,
    n_labeled: int = 30,
    n_video_frames: int = 40,
    size: int = 128,
    keypoints: tuple[str, ...] = TINY_KEYPOINTS,
    seed: int = 0,
    train_fraction: float = 0.8,
) -> dict:
    """Write a single-animal DeepLabCut 3 project in ``root``.

    Returns a dict with ``config`` (path), ``video`` (path of a video that
    was not labeled), ``truth`` ``(n_video_frames, K, 2)`` true pixels of
    that video, ``keypoints``.
    """
    import yaml

    from napari_facehmm import synthetic
    from napari_facehmm.io.dlc import LabelData, write_labels
    from napari_facehmm.io.video import write_video

    root = Path(root)
    n_frames = n_labeled + n_video_frames
    simulation = synthetic.simulate_face(n_frames, fps=30.0, seed=seed)
    (camera,) = synthetic.make_cameras(1, size=(size, size), rng=np.random.default_rng(seed))
    frames = list(synthetic.render_face_frames(simulation, camera))
    pixels = synthetic.project(camera, simulation.points_3d)  # (T, 21, 2)
    columns = [simulation.keypoints.index(k) for k in keypoints]
    pixels = pixels[:, columns]

    video_name = "face_labeled"
    labeled_dir = root / "labeled-data" / video_name
    labeled_dir.mkdir(parents=True)
    videos_dir = root / "videos"
    videos_dir.mkdir()
    import cv2

    images = []
    for i in range(n_labeled):
        name = f"img{i:03d}.png"
        cv2.imwrite(str(labeled_dir / name), frames[i][:, :, ::-1])
        images.append(f"labeled-data/{video_name}/{name}")
    labels = LabelData(scorer="tester", keypoints=keypoints, images=images, positions=pixels[:n_labeled])
    write_labels(labels, labeled_dir / "CollectedData_tester.h5")

    labeled_video = videos_dir / f"{video_name}.mp4"
    write_video(frames[:n_labeled], labeled_video, fps=30.0)
    new_video = videos_dir / "face_new.mp4"
    write_video(frames[n_labeled:], new_video, fps=30.0)

    config = {
        "Task": "tinyface",
        "scorer": "tester",
        "date": "Nov26",
        "multianimalproject": False,
        "identity": None,
        "project_path": str(root),
        "engine": "pytorch",
        "video_sets": {str(labeled_video): {"crop": f"0, {size}, 0, {size}"}},
        "bodyparts": list(keypoints),
        "start": 0,
        "stop": 1,
        "numframes2pick": 5,
        "skeleton": [["lefteye1", "righteye1"], ["nose1", "uplip"]],
        "skeleton_color": "black",
        "pcutoff": 0.6,
        "dotsize": 3,
        "alphavalue": 0.7,
        "colormap": "rainbow",
        "TrainingFraction": [train_fraction],
        "iteration": 0,
        "default_net_type": "resnet_50",
        "default_augmenter": "default",
        "snapshotindex": -1,
        "detector_snapshotindex": -1,
        "batch_size": 1,
        "detector_batch_size": 1,
        "cropping": False,
        "x1": 0,
        "x2": size,
        "y1": 0,
        "y2": size,
        "corner2move2": [50, 50],
        "move2corner": True,
    }
    config_path = root / "config.yaml"
    config_path.write_text(yaml.safe_dump(config, sort_keys=False))
    return {
        "config": config_path,
        "video": new_video,
        "labeled_video": labeled_video,
        "truth": pixels[n_labeled:],
        "keypoints": keypoints,
    }


# ---------------------------------------------------------------- tests without training
def test_missing_deeplabcut_raises_install_hint(without_deeplabcut, tmp_path):
    from napari_facehmm.errors import MissingDependencyError
    from napari_facehmm.tracking import dlc

    config = tmp_path / "config.yaml"
    config.write_text("Task: t\nscorer: s\nbodyparts: [a]\nTrainingFraction: [0.8]\n")
    calls = [
        lambda: dlc.require_deeplabcut(),
        lambda: dlc.available_networks(),
        lambda: dlc.create_training_dataset(config),
        lambda: next(dlc.train(config, epochs=1)),
        lambda: dlc.TrainingJob(config, epochs=1),
        lambda: dlc.evaluate(config),
        lambda: next(dlc.analyze_videos(config, [tmp_path / "v.mp4"])),
        lambda: dlc.extract_outlier_frames(config, [tmp_path / "v.mp4"]),
        lambda: dlc.merge_datasets(config),
    ]
    for call in calls:
        with pytest.raises(MissingDependencyError) as info:
            call()
        message = str(info.value)
        assert 'pip install "napari-facehmm[dlc]"' in message
        assert "pip install torch==2.14.1 torchvision==0.29.1" in message
        assert "deeplabcut" in message


def test_model_folder_matches_deeplabcut_naming(tmp_path):
    from napari_facehmm.tracking import dlc

    project = make_tiny_dlc_project(tmp_path / "p", n_labeled=4, n_video_frames=3)
    folder = dlc.model_folder(project["config"], shuffle=3)
    assert folder == tmp_path / "p" / "dlc-models-pytorch" / "iteration-0" / "tinyfaceNov26-trainset80shuffle3"
    assert dlc.find_snapshots(project["config"], shuffle=3) == []
    with pytest.raises(dlc.DataError, match="training set index 2"):
        dlc.model_folder(project["config"], trainingsetindex=2)


def test_truncated_snapshot_is_set_aside(tmp_path):
    import zipfile

    from napari_facehmm.tracking.dlc import _complete_snapshots, _set_aside_truncated_snapshots

    good = tmp_path / "snapshot-001.pt"
    with zipfile.ZipFile(good, "w") as archive:
        archive.writestr("data.pkl", b"x" * 100)
    cut = tmp_path / "snapshot-002.pt"
    cut.write_bytes(good.read_bytes()[:50])
    assert _complete_snapshots(tmp_path) == [good]
    moved = _set_aside_truncated_snapshots(tmp_path)
    assert moved == [tmp_path / "snapshot-002.pt.partial"]
    assert good.exists() and not cut.exists()


def test_training_stopped_by_closing_its_events_sets_aside_a_cut_snapshot(tmp_path, monkeypatch):
    # Ctrl+C in `facehmm dlc train`, or a caller dropping train()'s generator, stops the
    # child like Cancel does; the snapshot it was writing must not pass for the last one
    import importlib.util

    if importlib.util.find_spec("deeplabcut") is None:
        pytest.skip("deeplabcut is not installed (TrainingJob checks for it)")
    from napari_facehmm.tracking import dlc

    project = make_tiny_dlc_project(tmp_path / "p", n_labeled=4, n_video_frames=3)
    job = dlc.TrainingJob(project["config"], epochs=3)
    job.train_folder.mkdir(parents=True, exist_ok=True)
    (job.train_folder / "snapshot-002.pt").write_bytes(b"PK cut short")

    def messages():  # DLCJob.messages: cancels the child when its consumer stops
        try:
            yield {"event": "line", "text": "Epoch 1/3 (lr=0.0005), train loss 0.5, valid loss 0.6"}
            yield {"event": "line", "text": "Epoch 2/3 (lr=0.0005), train loss 0.4, valid loss 0.5"}
        finally:
            job.cancelled = True

    monkeypatch.setattr(job, "messages", messages)
    events = job.events()
    next(events), next(events)  # "starting", epoch 1
    events.close()
    assert not (job.train_folder / "snapshot-002.pt").exists()
    assert (job.train_folder / "snapshot-002.pt.partial").exists()


def test_epoch_line_parsing():
    from napari_facehmm.tracking.dlc import EPOCH_LINE

    match = EPOCH_LINE.search("2026-11-26 10:00:00 Epoch 3/20 (lr=0.0005), train loss 0.01464, valid loss 0.02000")
    assert (match["epoch"], match["n_epochs"], float(match["train_loss"]), float(match["valid_loss"])) == (
        "3",
        "20",
        0.01464,
        0.02,
    )
    match = EPOCH_LINE.search("Epoch 12/12 (lr=[0.0001]), train loss 1126954880.00000")
    assert match["epoch"] == "12" and match["valid_loss"] is None


def test_add_frames_to_labeled_data_like_deeplabcut(tmp_path):
    import pandas as pd

    from napari_facehmm.data import LandmarkSeries
    from napari_facehmm.io.dlc import read_dlc_config
    from napari_facehmm.io.video import VideoReader
    from napari_facehmm.tracking import dlc

    project = make_tiny_dlc_project(tmp_path / "p", n_labeled=4, n_video_frames=12)
    truth = project["truth"]
    predictions = LandmarkSeries(truth, keypoints=project["keypoints"])
    written = dlc.add_frames_to_labeled_data(project["config"], project["video"], [7, 2, 7], predictions=predictions)
    folder = tmp_path / "p" / "labeled-data" / "face_new"
    # 12 frames -> 2 digits, as DeepLabCut pads (ceil(log10(n_frames)))
    assert written == [folder / "img02.png", folder / "img07.png"]
    import cv2

    with VideoReader(project["video"]) as reader:
        frame = reader[7]
    image = cv2.imread(str(folder / "img07.png"))[:, :, ::-1]
    assert np.array_equal(image, frame)
    machine = pd.read_hdf(folder / "machinelabels-iter0.h5", "df_with_missing")
    assert list(machine.index) == [("labeled-data", "face_new", "img02.png"), ("labeled-data", "face_new", "img07.png")]
    assert list(machine.columns.get_level_values("bodyparts").unique()) == list(project["keypoints"])
    np.testing.assert_allclose(machine.to_numpy().reshape(2, -1, 2), truth[[2, 7]])
    config = read_dlc_config(project["config"])
    assert any(Path(v).stem == "face_new" for v in config.video_sets)
    assert (tmp_path / "p" / "config.yaml.bak").exists()
    # adding more appends, keeping the earlier rows
    dlc.add_frames_to_labeled_data(project["config"], project["video"], [9], predictions=predictions)
    machine = pd.read_hdf(folder / "machinelabels-iter0.h5", "df_with_missing")
    assert len(machine) == 3
    with pytest.raises(dlc.DataError, match="outside"):
        dlc.add_frames_to_labeled_data(project["config"], project["video"], [12])


def test_disagreement_frames():
    from napari_facehmm.data import LandmarkSeries
    from napari_facehmm.tracking import dlc

    error = np.zeros((5, 2))
    error[3, 1] = 25.0
    error[1, 0] = np.nan
    series = LandmarkSeries(np.zeros((5, 2, 3)), keypoints=("a", "b"), frame_indices=np.arange(100, 105))
    series.attrs["error"] = error
    assert dlc.reprojection_outlier_frames(series, threshold_px=10.0).tolist() == [103]
    probabilities = np.array([[0.9, 0.1], [0.5, 0.5], [0.2, 0.8]])
    assert dlc.uncertain_state_frames(probabilities, threshold=0.6).tolist() == [1]
    with pytest.raises(dlc.DataError):
        dlc.reprojection_outlier_frames(LandmarkSeries(np.zeros((5, 2, 3)), keypoints=("a", "b")))


def test_cli_without_deeplabcut_prints_install_hint(without_deeplabcut, tmp_path, capsys):
    from napari_facehmm import cli

    project = make_tiny_dlc_project(tmp_path / "p", n_labeled=4, n_video_frames=3)
    for argv in (
        ["dlc", "train", str(project["config"]), "--epochs", "2", "--batch-size", "4", "--init", "random"],
        ["dlc", "create-dataset", str(project["config"])],
        ["dlc", "evaluate", str(project["config"])],
        ["dlc", "analyze", str(project["config"]), str(project["video"])],
        ["dlc", "outliers", str(project["config"]), str(project["video"])],
    ):
        assert cli.main(argv) == 2
        error = capsys.readouterr().err
        assert 'pip install "napari-facehmm[dlc]"' in error, argv
    # adding chosen frames needs no deeplabcut
    assert cli.main(["dlc", "add-frames", str(project["config"]), str(project["video"]), "0", "2"]) == 0
    assert "2 frame(s) written" in capsys.readouterr().out
    import pandas as pd

    pd.DataFrame({"frame": [1, 2], "state_probability": [0.2, 0.99]}).to_csv(tmp_path / "states.csv")
    argv = ["dlc", "add-frames", str(project["config"]), str(project["video"]), "--from", str(tmp_path / "states.csv")]
    assert cli.main(argv) == 0
    assert "1 frame(s) written" in capsys.readouterr().out
    assert cli.main(["dlc", "add-frames", str(project["config"]), str(project["video"])]) == 2
    assert "no frames to add" in capsys.readouterr().err
    assert cli.main(["dlc"]) == 1


def test_weights_file_tensors_are_matched_by_name_and_shape():
    from napari_facehmm.tracking._dlc_worker import _matching_state_dict

    target = {
        "backbone.model.conv1.weight": np.zeros((8, 3, 3, 3)),
        "backbone.model.bn1.weight": np.zeros(8),
        "heads.bodypart.weight": np.zeros((5, 8)),
    }
    # timm-style backbone weights: no prefix; one tensor of another shape is left alone
    source = {"conv1.weight": np.ones((8, 3, 3, 3)), "bn1.weight": np.ones(4), "fc.weight": np.ones((10, 8))}
    merged, n_matched = _matching_state_dict(source, target)
    assert n_matched == 1
    assert merged["backbone.model.conv1.weight"].sum() == 8 * 27
    assert merged["backbone.model.bn1.weight"].sum() == 0
    assert set(merged) == set(target)
    # a whole-model state dict matches without prefix
    merged, n_matched = _matching_state_dict({"heads.bodypart.weight": np.ones((5, 8))}, target)
    assert n_matched == 1 and merged["heads.bodypart.weight"].sum() == 40
    assert _matching_state_dict({"other": np.ones(3)}, target)[1] == 0


def test_refinement_frames_from_pose3d_and_states_table(tmp_path):
    import pandas as pd

    from napari_facehmm.data import LandmarkSeries
    from napari_facehmm.errors import FileFormatError
    from napari_facehmm.io.anipose import write_pose3d
    from napari_facehmm.tracking import dlc

    n_frames = 20
    series = LandmarkSeries(np.random.default_rng(0).normal(size=(n_frames, 2, 3)), keypoints=("a", "b"))
    error = np.full((n_frames, 2), 2.0)
    error[[4, 11, 17], 1] = 30.0
    series.attrs.update(error=error, ncams=np.full((n_frames, 2), 2.0), score=np.ones((n_frames, 2)))
    pose3d = write_pose3d(series, tmp_path / "session1.csv")
    assert dlc.refinement_frames(pose3d, reprojection_threshold_px=10.0).tolist() == [4, 11, 17]
    assert dlc.refinement_frames(pose3d, reprojection_threshold_px=10.0, max_frames=2).tolist() == [4, 17]

    states = pd.DataFrame(
        {"frame": [100, 101, 102, 103], "time_s": [0, 0.1, 0.2, 0.3], "state": [0, 1, None, 2],
         "state_probability": [0.95, 0.4, np.nan, 0.55]}
    )
    states.to_csv(tmp_path / "states.csv", index=False)
    assert dlc.refinement_frames(tmp_path / "states.csv", probability_threshold=0.6).tolist() == [101, 103]

    (tmp_path / "other.csv").write_text("x,y\n1,2\n")
    with pytest.raises(FileFormatError, match="neither"):
        dlc.refinement_frames(tmp_path / "other.csv")
    with pytest.raises(FileFormatError, match="does not exist"):
        dlc.refinement_frames(tmp_path / "missing.csv")


def test_latest_snapshot_is_the_most_trained_not_the_best(tmp_path):
    from napari_facehmm.tracking import dlc

    names = ["snapshot-best-010.pt", "snapshot-025.pt", "snapshot-020.pt"]
    paths = [tmp_path / n for n in names]
    listed = sorted(paths, key=dlc._snapshot_epoch)
    assert [p.name for p in listed] == ["snapshot-020.pt", "snapshot-025.pt", "snapshot-best-010.pt"]
    assert dlc.latest_snapshot(listed).name == "snapshot-025.pt"
    assert dlc.latest_snapshot([tmp_path / "snapshot-best-030.pt", tmp_path / "snapshot-030.pt"]).name == "snapshot-030.pt"
    assert dlc.latest_snapshot([]) is None


def test_added_frames_join_deeplabcuts_machine_labels_for_refinement(tmp_path):
    """DeepLabCut's outlier extraction writes machinelabels under its network scorer with
    x, y, likelihood; frames we add join that file under the same scorer, and refinement
    reads both (an older file that mixes two scorers reads too)."""
    import pandas as pd

    from napari_facehmm import labeling
    from napari_facehmm.data import LandmarkSeries
    from napari_facehmm.tracking import dlc

    project = make_tiny_dlc_project(tmp_path / "p", n_labeled=4, n_video_frames=12)
    truth, keypoints = project["truth"], list(project["keypoints"])
    folder = tmp_path / "p" / "labeled-data" / "face_new"
    folder.mkdir(parents=True)
    network = "DLC_cspnext_s_faceNov26shuffle1_snapshot_020"
    columns = pd.MultiIndex.from_product([[network], keypoints, ["x", "y", "likelihood"]],
                                         names=["scorer", "bodyparts", "coords"])
    values = np.concatenate([truth[3], np.full((len(keypoints), 1), 0.9)], axis=1).reshape(1, -1)
    dlc_rows = pd.DataFrame(values, index=pd.MultiIndex.from_tuples([("labeled-data", "face_new", "img03.png")]),
                            columns=columns)
    dlc_rows.to_hdf(folder / "machinelabels-iter0.h5", key="df_with_missing", mode="w")

    predictions = LandmarkSeries(truth, keypoints=project["keypoints"])
    dlc.add_frames_to_labeled_data(project["config"], project["video"], [5], predictions=predictions)
    machine = pd.read_hdf(folder / "machinelabels-iter0.h5", "df_with_missing")
    assert machine.columns.get_level_values("scorer").unique().tolist() == [network]
    assert list(machine.columns) == list(columns)  # DeepLabCut's layout kept
    assert len(machine) == 2

    images, names, positions, likelihood = labeling.read_machine_labels(folder / "machinelabels-iter0.h5")
    assert images == ["img03.png", "img05.png"] and list(names) == keypoints
    np.testing.assert_allclose(positions, truth[[3, 5]])
    assert likelihood[0].tolist() == [0.9] * len(keypoints) and np.isnan(likelihood[1]).all()
    refined = labeling.load_for_refinement(project["config"], "face_new")
    assert {Path(image).name for image in refined.images} >= {"img03.png", "img05.png"}

    # a file an earlier version wrote with two scorers (network + labeler) still reads
    ours = machine.loc[[("labeled-data", "face_new", "img05.png")]].copy()
    ours.columns = pd.MultiIndex.from_tuples([("tester", b, c) for _, b, c in ours.columns], names=columns.names)
    mixed = pd.concat([dlc_rows, ours[[c for c in ours.columns if c[2] != "likelihood"]]])
    mixed.to_hdf(folder / "machinelabels-iter0.h5", key="df_with_missing", mode="w")
    images, _, positions, _ = labeling.read_machine_labels(folder / "machinelabels-iter0.h5")
    assert images == ["img03.png", "img05.png"]
    np.testing.assert_allclose(positions, truth[[3, 5]])
