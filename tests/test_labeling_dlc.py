"""Labeling with DeepLabCut installed: its project, its frame selection, its loader, its training set."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import yaml

from napari_facehmm import labeling
from napari_facehmm.face import FACE_KEYPOINTS, FACE_SKELETON
from napari_facehmm.io.video import write_video

pytestmark = pytest.mark.dlc

os.environ.setdefault("DLClight", "True")
# Imported at collection, before any test opens a napari viewer: torchvision (which
# DeepLabCut imports) crashes the process when first imported after a viewer exists.
deeplabcut = pytest.importorskip("deeplabcut", reason="deeplabcut is not installed (pip install napari-facehmm[dlc])")


def _video(path: Path, n_frames: int = 30) -> Path:
    frames = []
    for i in range(n_frames):
        frame = np.full((64, 96, 3), 40, np.uint8)
        frame[10:40, (i * 2) % 80 : (i * 2) % 80 + 16] = 220
        frames.append(frame)
    return write_video(frames, path, fps=30.0)


@pytest.fixture(scope="module")
def dlc_project(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("dlc")
    video = _video(tmp / "cam1.mp4")
    return labeling.create_project("face", "tester", [video], tmp / "work", use_deeplabcut=True)


def test_deeplabcut_project_has_the_face_landmarks_and_our_config_has_its_keys(dlc_project, tmp_path):
    config = deeplabcut.utils.auxiliaryfunctions.read_config(str(dlc_project))
    assert list(config["bodyparts"]) == list(FACE_KEYPOINTS)
    assert [tuple(edge) for edge in config["skeleton"]] == list(FACE_SKELETON)
    ours = labeling.create_project(
        "face", "tester", [_video(tmp_path / "cam1.mp4", 5)], tmp_path / "work", use_deeplabcut=False
    )
    dlc_raw = yaml.safe_load(dlc_project.read_text())
    our_raw = yaml.safe_load(ours.read_text())
    assert list(our_raw) == list(dlc_raw)  # same keys, same order
    for key in ("Task", "scorer", "date", "bodyparts", "skeleton", "numframes2pick", "engine"):
        assert our_raw[key] == dlc_raw[key], key
    # DeepLabCut reads the config we wrote without DeepLabCut
    assert deeplabcut.utils.auxiliaryfunctions.read_config(str(ours))["bodyparts"] == list(FACE_KEYPOINTS)


def test_labels_are_read_by_deeplabcut_and_train_a_dataset(dlc_project):
    written = labeling.run_to_end(
        labeling.extract_frames(dlc_project, n_frames=6, algorithm="kmeans", use_deeplabcut=True)
    )
    assert len(written["cam1"]) >= 4  # DeepLabCut's k-means may return fewer than asked
    labels = labeling.load_labels(dlc_project, "cam1")
    rng = np.random.default_rng(0)
    truth = rng.uniform(5, 60, size=labels.positions.shape)
    truth[0, 3] = np.nan  # one point not visible
    for row in range(labels.n_images):
        for k in range(labels.n_keypoints):
            if np.isnan(truth[row, k, 0]):
                labels.mark_not_visible(row, k)
            else:
                labels.set_point(row, k, *truth[row, k])
    path = labels.save()

    # DeepLabCut's own reader of CollectedData (what create_training_dataset uses)
    from deeplabcut.generate_training_dataset.trainingsetmanipulation import merge_annotateddatasets
    from deeplabcut.utils import auxiliaryfunctions

    cfg = auxiliaryfunctions.read_config(str(dlc_project))
    training_folder = Path(cfg["project_path"]) / auxiliaryfunctions.get_training_set_folder(cfg)
    (training_folder).mkdir(parents=True, exist_ok=True)
    merged = merge_annotateddatasets(cfg, training_folder)
    assert merged is not None and len(merged) == labels.n_images
    assert list(merged.columns.get_level_values("bodyparts").unique()) == list(FACE_KEYPOINTS)
    values = merged.to_numpy().reshape(labels.n_images, len(FACE_KEYPOINTS), 2)
    np.testing.assert_allclose(values, truth)
    assert path.name == "CollectedData_tester.h5"

    deeplabcut.create_training_dataset(str(dlc_project), num_shuffles=1)
    shuffle_docs = list(training_folder.glob("Documentation_data-face_*shuffle1.pickle"))
    assert shuffle_docs, sorted(p.name for p in training_folder.iterdir())
    assert list(training_folder.glob("CollectedData_tester.h5"))
