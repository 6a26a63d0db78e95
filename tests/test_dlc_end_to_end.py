"""Real DeepLabCut 3 (PyTorch, CPU) on a tiny synthetic face project.

create dataset -> train 2 epochs from random weights -> evaluate -> analyze a
video -> the .h5 reads back through ``io.dlc.read_dlc_analysis`` -> outlier
frames. Budget: under 5 minutes on 2 cores (cspnext_s at 128x128).
"""

from __future__ import annotations

import importlib.util
import math

import numpy as np
import pytest

from test_dlc_project import make_tiny_dlc_project

pytestmark = [
    pytest.mark.dlc,
    pytest.mark.slow,
    pytest.mark.skipif(importlib.util.find_spec("deeplabcut") is None, reason="deeplabcut is not installed"),
]


def test_dataset_train_evaluate_analyze_outliers(tmp_path, capsys):
    from napari_facehmm import cli
    from napari_facehmm.io.dlc import read_dlc_analysis
    from napari_facehmm.tracking import dlc

    project = make_tiny_dlc_project(tmp_path / "tinyface", n_labeled=30, n_video_frames=40)
    config = project["config"]
    networks = dlc.available_networks()
    assert {"cspnext_s", "resnet_50", "hrnet_w18"} <= set(networks)

    # the dataset through the command line
    assert cli.main(["dlc", "create-dataset", str(config), "--net", "cspnext_s", "--train-fraction", "0.8"]) == 0
    printed = capsys.readouterr().out
    assert "cspnext_s, train fraction 0.8" in printed
    assert "training crop fitted to the frames: 128x128 px" in printed
    dataset = {"train_folder": dlc.model_folder(config) / "train"}
    assert (dataset["train_folder"] / "pytorch_config.yaml").is_file()

    job = dlc.TrainingJob(config, shuffle=1, epochs=2, batch_size=8, save_epochs=1, init="random")
    events = list(job.events())
    epochs = [e.epoch for e in events if e.epoch > 0 and e.message.startswith("Epoch")]
    assert epochs == [1, 2]
    assert all(e.n_epochs == 2 for e in events if e.epoch > 0)
    assert all(math.isfinite(loss) for _, loss, _ in job.history)
    assert job.init_description == "random weights"
    assert job.returncode == 0
    snapshots = dlc.find_snapshots(config)
    assert [p.name for p in snapshots] == ["snapshot-001.pt", "snapshot-002.pt"]
    assert (dataset["train_folder"] / "learning_stats.csv").is_file()
    assert events[-1].snapshot == snapshots[-1]

    # continue from an earlier snapshot: DeepLabCut counts on from its epoch
    job = dlc.TrainingJob(config, epochs=1, batch_size=8, init=snapshots[-1])
    events = [e for e in job.events() if e.message.startswith("Epoch")]
    assert [(e.epoch, e.n_epochs) for e in events] == [(3, 3)]
    assert job.init_description == "snapshot snapshot-002.pt"
    snapshots = dlc.find_snapshots(config)
    assert [p.name for p in snapshots] == ["snapshot-001.pt", "snapshot-002.pt", "snapshot-003.pt"]

    # DeepLabCut's evaluation results CSV, read back
    result = dlc.evaluate(config, snapshot=snapshots[0])
    assert result.epochs == 1
    assert result.results_csv.is_file()
    assert math.isfinite(result.train_error_px) and math.isfinite(result.test_error_px)
    assert set(result.per_keypoint["test"]) == set(project["keypoints"])

    progress = list(dlc.analyze_videos(config, [project["video"]], snapshot=snapshots[-1]))
    assert [p.done for p in progress if p.output is not None] == [1]
    # DeepLabCut's frame counter of the video comes through too
    assert any(p.frames_done == 40 and p.n_frames == 40 for p in progress)
    output = progress[-1].output
    assert output.is_file() and output.parent == project["video"].parent
    assert output.name.endswith("shuffle1_snapshot_3.h5")
    series = read_dlc_analysis(output)
    assert series.keypoints == project["keypoints"]
    assert series.n_frames == 40
    assert series.n_dims == 2
    assert np.isfinite(series.positions).any()

    # facehmm run with the user's trained model instead of the built-in one: DeepLabCut analyzes
    # a copy of the video in its child process, its .h5 becomes the session's pose-2d file
    out = tmp_path / "run"
    assert cli.main(["run", str(project["video"]), "--dlc", str(config), "--out", str(out), "--states", "2",
                     "--restarts", "1", "--no-figures", "--drop-empty-keypoints", "--quiet"]) == 0
    pose_2d = read_dlc_analysis(out / "session" / "pose-2d" / f"{project['video'].stem}-camA.h5")
    assert pose_2d.keypoints == project["keypoints"] and pose_2d.n_frames == 40
    np.testing.assert_allclose(pose_2d.positions, series.positions, atol=1e-3, equal_nan=True)
    assert (out / "analysis" / "states.csv").is_file()
    assert "facehmm view" in capsys.readouterr().out

    # every frame is "uncertain" below p_bound=1, so DeepLabCut extracts numframes2pick (5) of them
    added = dlc.extract_outlier_frames(config, [project["video"]], algorithm="uncertain", p_bound=1.0)
    assert len(added["face_new"]) == 5
    folder = config.parent / "labeled-data" / "face_new"
    assert all((folder / name).is_file() for name in added["face_new"])
    assert (folder / "machinelabels-iter0.h5").is_file()
    # not labeled yet: DeepLabCut refuses to merge, and says which folder
    with pytest.raises(dlc.DeepLabCutError, match="face_new"):
        dlc.merge_datasets(config)
