"""Our DeepLabCut files against DeepLabCut 3's own code (slow: imports deeplabcut once).

Skipped, with the reason, when deeplabcut is not installed.
"""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pytest

from napari_facehmm.io.dlc import LabelData, read_dlc_analysis, read_dlc_config, read_labels, write_dlc_analysis, write_labels
from napari_facehmm.io.video import write_video

pytestmark = pytest.mark.dlc


@pytest.fixture(scope="module")
def deeplabcut():
    os.environ.setdefault("DLClight", "True")
    return pytest.importorskip("deeplabcut", reason="deeplabcut is not installed (pip install napari-facehmm[dlc])")


def test_deeplabcut_reads_our_labels_for_training(tmp_path, deeplabcut):
    """merge_annotateddatasets is what create_training_dataset reads labels with."""
    from deeplabcut.generate_training_dataset.trainingsetmanipulation import merge_annotateddatasets

    project = tmp_path / "face-Ann-2026-11-26"
    positions = np.random.default_rng(0).uniform(0, 200, size=(3, 2, 2))
    positions[1, 1] = np.nan
    images = [f"labeled-data/vid_a/img{i:03d}.png" for i in (4, 9, 20)]
    labels = LabelData("Ann", ("nose1", "chin"), images, positions)
    folder = project / "labeled-data" / "vid_a"
    folder.mkdir(parents=True)
    write_labels(labels, folder / "CollectedData_Ann.h5")
    cfg = {
        "project_path": str(project),
        "scorer": "Ann",
        "bodyparts": ["nose1", "chin"],
        "video_sets": {str(project / "videos" / "vid_a.mp4"): {"crop": "0, 64, 0, 48"}},
        "multianimalproject": False,
    }
    training_folder = project / "training-datasets"
    training_folder.mkdir()
    merged = merge_annotateddatasets(cfg, training_folder)
    assert merged is not None, "DeepLabCut found no labels"
    assert list(merged.index) == [tuple(i.split("/")) for i in images]
    np.testing.assert_allclose(merged.to_numpy().reshape(3, 2, 2), positions, equal_nan=True)
    # and what DeepLabCut wrote back reads with our reader
    again = read_labels(training_folder / "CollectedData_Ann.h5")
    assert again.images == images
    np.testing.assert_allclose(again.positions, positions, equal_nan=True)


def test_analysis_file_matches_deeplabcuts_writer(tmp_path, deeplabcut):
    from deeplabcut.pose_estimation_pytorch.apis.videos import create_df_from_prediction

    rng = np.random.default_rng(1)
    n_frames, keypoints = 7, ["nose1", "chin", "ear"]
    values = rng.uniform(0, 300, size=(n_frames, 1, 3, 3))
    values[..., 2] = rng.uniform(0, 1, size=(n_frames, 1, 3))
    predictions = [{"bodyparts": values[t]} for t in range(n_frames)]
    model_cfg = {"metadata": {"bodyparts": keypoints, "unique_bodyparts": [], "individuals": ["animal"]}}
    theirs = create_df_from_prediction(predictions, "DLC_Resnet50_faceNov26shuffle1_snapshot_002", False,
                                       model_cfg, tmp_path, "vidDLC", save_as_csv=True)
    series = read_dlc_analysis(tmp_path / "vidDLC.h5")
    np.testing.assert_allclose(series.positions, values[:, 0, :, :2])
    np.testing.assert_allclose(series.confidence, values[:, 0, :, 2])
    from_csv = read_dlc_analysis(tmp_path / "vidDLC.csv")
    np.testing.assert_allclose(from_csv.positions, series.positions, rtol=1e-12)
    ours_path = write_dlc_analysis(series, tmp_path / "ours.h5", scorer="DLC_Resnet50_faceNov26shuffle1_snapshot_002")
    ours = pd.read_hdf(ours_path, "df_with_missing")
    assert ours.columns.equals(theirs.columns) and list(ours.columns.names) == list(theirs.columns.names)
    assert list(ours.index) == list(theirs.index)
    np.testing.assert_allclose(ours.to_numpy(), theirs.to_numpy())
    with pd.HDFStore(tmp_path / "vidDLC.h5", "r") as a, pd.HDFStore(ours_path, "r") as b:
        assert a.get_storer("df_with_missing").is_table == b.get_storer("df_with_missing").is_table
    write_dlc_analysis(series, tmp_path / "ours.csv", scorer="DLC_Resnet50_faceNov26shuffle1_snapshot_002")
    assert (tmp_path / "ours.csv").read_text().splitlines()[:3] == (tmp_path / "vidDLC.csv").read_text().splitlines()[:3]


def test_config_written_by_deeplabcut(tmp_path, deeplabcut):
    video = write_video((np.full((48, 64, 3), i * 20, np.uint8) for i in range(5)), tmp_path / "vid_a.mp4", fps=30)
    config_path = deeplabcut.create_new_project("face", "Ann", [str(video)], working_directory=str(tmp_path),
                                                copy_videos=False)
    config = read_dlc_config(config_path)
    assert config.scorer == "Ann" and config.task == "face"
    assert config.project_path == tmp_path / config.project_path.name
    assert len(config.video_sets) == 1 and config.bodyparts
    assert config.labels_path("vid_a").parent == config.project_path / "labeled-data" / "vid_a"
