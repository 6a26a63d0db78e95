"""Pre-labeling extracted frames with the built-in face model (labeling.prelabel_folder, PrelabelSet)."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from napari_facehmm import labeling
from napari_facehmm.errors import DataError
from napari_facehmm.face import FACE_KEYPOINTS
from napari_facehmm.io.dlc import LabelData, image_frame_index, read_labels, write_labels
from napari_facehmm.io.video import write_video

N_KEYPOINTS = len(FACE_KEYPOINTS)

needs_facemesh = pytest.mark.skipif(
    not __import__("napari_facehmm.tracking.facemesh", fromlist=["x"]).facemesh_available(),
    reason="mediapipe (the built-in face model) is not installed",
)


# --------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def face_session(tmp_path_factory):
    """A rendered synthetic face (640x480, 2 s) whose true landmark pixels are known."""
    from napari_facehmm.synthetic import generate_session

    out = tmp_path_factory.mktemp("prelabel_session")
    truth = generate_session(out, n_cameras=1, size=(640, 480), seconds=2)
    camera = truth.camera_names[0]
    return truth.video_paths[camera], truth.points_2d_true[camera]


def _face_project(tmp_path: Path, video: Path, bodyparts=FACE_KEYPOINTS, n_frames: int = 8) -> Path:
    skeleton = [edge for edge in labeling.FACE_SKELETON if set(edge) <= set(bodyparts)]
    config = labeling.create_project(
        "face", "tester", [video], tmp_path / "work", bodyparts=bodyparts, skeleton=skeleton, use_deeplabcut=False
    )
    labeling.run_to_end(labeling.extract_frames(config, n_frames=n_frames, algorithm="uniform", use_deeplabcut=False))
    return config


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# ------------------------------------------------------- the face model's proposals
@needs_facemesh
def test_proposals_land_on_the_true_landmarks_and_read_back_as_machine_labels(face_session, tmp_path):
    video, truth_px = face_session
    config = _face_project(tmp_path, video)
    project = labeling.open_project(config)
    folder = project.labeled_data(video)
    steps = []
    result = labeling.run_to_end(labeling.prelabel_folder(project, video.stem), steps.append)

    assert result.path == folder / "machinelabels-iter0.h5"
    assert (folder / "machinelabels.csv").is_file()
    assert not project.labels_path(video).exists()  # the user's labels file is never written
    assert steps[-1][:2] == (8, 8) and all(total == 8 for _, total, _ in steps)
    assert result.proposed_keypoints == FACE_KEYPOINTS and result.empty_keypoints == ()
    assert result.n_frames_with_face == 8

    images, keypoints, positions, likelihood = labeling.read_machine_labels(result.path)
    assert images == sorted(p.name for p in folder.glob("img*.png")) == list(result.images)
    assert keypoints == FACE_KEYPOINTS
    truth = np.stack([truth_px[image_frame_index(name)] for name in images])
    errors_px = np.linalg.norm(positions - truth, axis=2)
    # measured: median 4.2 px, 95th percentile 9 px over 8 frames x 21 landmarks at 640x480
    assert np.median(errors_px) < 10.0
    assert np.percentile(errors_px, 95) < 20.0
    # likelihood is the face presence score, one per image
    assert np.all((likelihood > 0.5) & (likelihood <= 1.0))
    assert np.allclose(likelihood, likelihood[:, :1])
    # DeepLabCut's layout: 3-level rows, (scorer, bodyparts, coords) columns, scorer FaceMesh
    table = pd.read_hdf(result.path, "df_with_missing")
    assert list(table.index[0]) == ["labeled-data", folder.name, images[0]]
    assert list(table.columns.names) == ["scorer", "bodyparts", "coords"]
    assert set(table.columns.get_level_values("scorer")) == {"FaceMesh"}
    assert labeling.is_face_model_proposals(result.path)

    # opened for checking: every point is a proposal, nothing is saved yet
    labels = labeling.load_prelabels(config, video.stem)
    assert isinstance(labels, labeling.PrelabelSet)
    assert labels.machine.all() and not labels.dirty
    np.testing.assert_allclose(labels.positions, positions)
    counts = labels.counts()
    assert (counts.n_confirmed, counts.n_to_check, counts.n_without_proposals) == (0, 8, 0)


@needs_facemesh
def test_bodyparts_that_are_not_face_landmarks_stay_empty_and_are_named(face_session, tmp_path):
    video, truth_px = face_session
    config = _face_project(tmp_path, video, bodyparts=("whisker", "nose1", "chin"), n_frames=3)
    result = labeling.run_to_end(labeling.prelabel_folder(config, video.stem))
    assert result.proposed_keypoints == ("nose1", "chin")
    assert result.empty_keypoints == ("whisker",)
    assert any("whisker" in message for message in result.messages)
    images, keypoints, positions, likelihood = labeling.read_machine_labels(result.path)
    assert keypoints == ("whisker", "nose1", "chin")
    assert np.isnan(positions[:, 0]).all() and np.isnan(likelihood[:, 0]).all()
    truth = np.stack([truth_px[image_frame_index(name)] for name in images])
    columns = [FACE_KEYPOINTS.index("nose1"), FACE_KEYPOINTS.index("chin")]
    assert np.median(np.linalg.norm(positions[:, 1:] - truth[:, columns], axis=2)) < 10.0


@needs_facemesh
def test_an_earlier_machinelabels_file_is_replaced_with_a_backup_and_collected_data_is_untouched(
    face_session, tmp_path
):
    video, _ = face_session
    config = _face_project(tmp_path, video, n_frames=3)
    project = labeling.open_project(config)
    folder = project.labeled_data(video)
    images = [f"labeled-data/{folder.name}/{p.name}" for p in sorted(folder.glob("img*.png"))]
    human = np.full((3, N_KEYPOINTS, 2), np.nan)
    human[0, 0] = (100.0, 120.0)
    write_labels(LabelData("tester", FACE_KEYPOINTS, images, human), project.labels_path(video))
    old = np.full((3, N_KEYPOINTS, 2), 5.0)
    labeling.write_machine_labels(
        folder / "machinelabels-iter0.h5", folder.name, [Path(i).name for i in images], FACE_KEYPOINTS,
        old, np.full((3, N_KEYPOINTS), 0.9), scorer="DLC_resnet50_faceDec4shuffle1_100",
    )
    labels_digest = _digest(project.labels_path(video))
    csv_digest = _digest(project.labels_path(video).with_suffix(".csv"))

    labeling.run_to_end(labeling.prelabel_folder(project, video.stem))

    assert _digest(project.labels_path(video)) == labels_digest
    assert _digest(project.labels_path(video).with_suffix(".csv")) == csv_digest
    assert labeling.is_face_model_proposals(folder / "machinelabels-iter0.h5")
    backup = folder / "machinelabels-iter0.h5.bak"
    assert backup.is_file() and not labeling.is_face_model_proposals(backup)
    np.testing.assert_allclose(pd.read_hdf(backup).to_numpy()[:, 0], 5.0)
    assert not list(folder.glob(".*tmp*"))  # no temporary files left
    # the human label wins over the proposal where both exist
    labels = labeling.load_prelabels(project, video.stem)
    np.testing.assert_allclose(labels.positions[0, 0], [100.0, 120.0])
    assert not labels.machine[0, 0] and labels.machine[0, 1:].all()
    assert labels.in_labels_file.all()


def test_a_project_without_face_landmarks_writes_nothing_and_says_why(tmp_path):
    frames = [np.full((48, 64, 3), 40, np.uint8) for _ in range(6)]
    video = write_video(frames, tmp_path / "mouse.mp4", fps=30.0)
    config = labeling.create_project(
        "mouse", "tester", [video], tmp_path / "work", bodyparts=("snout", "tailbase"), skeleton=(),
        use_deeplabcut=False,
    )
    labeling.run_to_end(labeling.extract_frames(config, n_frames=2, algorithm="uniform", use_deeplabcut=False))
    folder = labeling.open_project(config).labeled_data("mouse")
    before = sorted(p.name for p in folder.iterdir())
    with pytest.raises(DataError, match="none of the project's bodyparts .*snout.*nothing was written"):
        labeling.run_to_end(labeling.prelabel_folder(config, "mouse"))
    assert sorted(p.name for p in folder.iterdir()) == before


def test_the_deeplabcut_mouse_example_is_not_a_face(shared_data, tmp_path):
    source = shared_data / "dlc" / "openfield-Pranav-2018-10-30"
    if not source.is_dir():
        pytest.skip(f"DeepLabCut example project {source} is absent")
    project_dir = tmp_path / source.name
    shutil.copytree(source, project_dir, ignore=shutil.ignore_patterns("videos"))  # never write into shared
    folder = project_dir / "labeled-data" / "m4s1"
    before = {p.name: _digest(p) for p in folder.iterdir()}
    with pytest.raises(DataError) as raised:
        labeling.run_to_end(labeling.prelabel_folder(project_dir / "config.yaml", "m4s1"))
    message = str(raised.value)
    for bodypart in ("snout", "leftear", "rightear", "tailbase"):
        assert bodypart in message
    assert "nothing was written" in message and "lefteye1" in message
    assert {p.name: _digest(p) for p in folder.iterdir()} == before


@needs_facemesh
def test_images_without_a_face_write_nothing(tmp_path):
    from napari_facehmm.tracking.facemesh import NoFaceError

    frames = [np.full((120, 160, 3), 30 + 5 * i, np.uint8) for i in range(10)]
    video = write_video(frames, tmp_path / "blank.mp4", fps=30.0)
    config = labeling.create_project("face", "tester", [video], tmp_path / "work", use_deeplabcut=False)
    labeling.run_to_end(labeling.extract_frames(config, n_frames=3, algorithm="uniform", use_deeplabcut=False))
    with pytest.raises(NoFaceError, match="no face in any of its 3 images; nothing was written"):
        labeling.run_to_end(labeling.prelabel_folder(config, "blank"))
    assert labeling.find_machine_labels(labeling.open_project(config).labeled_data("blank")) is None


@needs_facemesh
def test_cancelling_writes_nothing(face_session, tmp_path):
    video, _ = face_session
    config = _face_project(tmp_path, video, n_frames=4)
    job = labeling.prelabel_folder(config, video.stem)
    assert next(job)[:2] == (0, 4)
    job.close()  # Cancel
    assert labeling.find_machine_labels(labeling.open_project(config).labeled_data(video)) is None


# ------------------------------------------------------- the confirmation rule (no model needed)
def _proposed_project(tmp_path: Path, human: dict[int, np.ndarray] | None = None):
    """A face project of 4 gray frames with proposals (scorer FaceMesh) at known places."""
    frames = [np.full((60, 80, 3), 8 * i, np.uint8) for i in range(24)]
    video = write_video(frames, tmp_path / "cam1.mp4", fps=30.0)
    config = labeling.create_project("face", "tester", [video], tmp_path / "work", use_deeplabcut=False)
    labeling.run_to_end(labeling.extract_frames(config, n_frames=4, algorithm="uniform", use_deeplabcut=False))
    project = labeling.open_project(config)
    folder = project.labeled_data("cam1")
    names = sorted(p.name for p in folder.glob("img*.png"))
    proposals = np.stack([np.column_stack([np.arange(N_KEYPOINTS) + 10.0 * r, np.full(N_KEYPOINTS, 30.0)])
                          for r in range(len(names))])
    labeling.write_machine_labels(folder / "machinelabels-iter0.h5", "cam1", names, FACE_KEYPOINTS,
                                  proposals, np.full(proposals.shape[:2], 0.99), scorer="FaceMesh")
    if human:
        positions = np.full((len(human), N_KEYPOINTS, 2), np.nan)
        images = []
        for i, (row, values) in enumerate(sorted(human.items())):
            positions[i] = values
            images.append(f"labeled-data/cam1/{names[row]}")
        write_labels(LabelData("tester", FACE_KEYPOINTS, images, positions), project.labels_path("cam1"))
    return project, names, proposals


def test_only_confirmed_frames_are_saved_with_their_proposals_as_labels(tmp_path):
    project, names, proposals = _proposed_project(tmp_path)
    labels = labeling.load_prelabels(project, "cam1")
    with pytest.raises(DataError, match="No frame is confirmed"):
        labels.save()
    assert not project.labels_path("cam1").exists()

    # frame 1: a proposal moved in the points layer (napari's data after a drag)
    data, names_in_layer, machine = labels.to_points()
    assert machine.all()
    moved = next(i for i, (p, k) in enumerate(zip(data, names_in_layer)) if p[0] == 1 and k == "chin")
    data[moved, 1:] = (40.0, 55.0)  # (y, x)
    labels.update_from_points(data, names_in_layer)
    # frame 2: accepted as it is (the C key)
    labels.confirm(2)
    assert labels.confirmed.tolist() == [False, True, True, False]
    assert not labels.machine[1].any() and not labels.machine[2].any() and labels.machine[[0, 3]].all()
    counts = labels.counts()
    assert (counts.n_confirmed, counts.n_to_check, counts.n_without_proposals) == (2, 2, 0)
    assert labels.dirty
    assert (labels.progress().n_labeled, labels.progress().n_frames_done) == (2 * N_KEYPOINTS, 2)
    labels.save()

    saved = read_labels(project.labels_path("cam1"))
    assert [Path(i).name for i in saved.images] == [names[1], names[2]]
    chin = FACE_KEYPOINTS.index("chin")
    expected_1 = proposals[1].copy()
    expected_1[chin] = (55.0, 40.0)
    np.testing.assert_allclose(saved.positions[0], expected_1)
    np.testing.assert_allclose(saved.positions[1], proposals[2])

    # reopened: the saved frames are labels, the others still proposals
    again = labeling.load_prelabels(project, "cam1")
    assert again.in_labels_file.tolist() == [False, True, True, False]
    assert again.machine[[0, 3]].all() and not again.machine[[1, 2]].any()


def test_editing_a_point_by_any_means_confirms_its_frame(tmp_path):
    project, _, _ = _proposed_project(tmp_path)
    labels = labeling.load_prelabels(project, "cam1")
    labels.set_point(0, "nose1", 3.0, 4.0)
    labels.mark_not_visible(1, "lear")
    labels.clear_point(2, "rear")
    assert labels.confirmed.tolist() == [True, True, True, False]
    saved = labels.to_label_data()
    assert len(saved.images) == 3
    assert np.isnan(saved.positions[1, FACE_KEYPOINTS.index("lear")]).all()
    assert np.isnan(saved.positions[2, FACE_KEYPOINTS.index("rear")]).all()
    assert np.isfinite(saved.positions[:, FACE_KEYPOINTS.index("chin")]).all()  # accepted proposals
    # a points-layer update that moves nothing confirms nothing
    data, names, _ = labels.to_points()
    labels.update_from_points(data, names)
    assert not labels.confirmed[3]


def test_frames_already_labeled_keep_their_labels_and_not_their_unseen_proposals(tmp_path):
    partial = np.full((N_KEYPOINTS, 2), np.nan)
    partial[:5] = [(1.0 + k, 2.0) for k in range(5)]
    project, names, _ = _proposed_project(tmp_path, human={3: partial})
    labels = labeling.load_prelabels(project, "cam1")
    assert labels.in_labels_file.tolist() == [False, False, False, True]
    assert not labels.machine[3, :5].any() and labels.machine[3, 5:].all()  # proposals fill the rest
    assert labels.counts().n_to_check == 4
    labels.confirm(0)
    labels.save()
    saved = read_labels(project.labels_path("cam1"))
    assert [Path(i).name for i in saved.images] == [names[0], names[3]]
    row = [Path(i).name for i in saved.images].index(names[3])
    np.testing.assert_allclose(saved.positions[row, :5], partial[:5])
    assert np.isnan(saved.positions[row, 5:]).all()  # unconfirmed proposals of a labeled frame: not saved


def test_refinement_of_deeplabcut_predictions_is_unchanged(tmp_path):
    """Machine labels of a DeepLabCut network keep the refinement rule: saving writes them all."""
    project, names, proposals = _proposed_project(tmp_path)
    folder = project.labeled_data("cam1")
    labeling.write_machine_labels(folder / "machinelabels-iter0.h5", "cam1", names, FACE_KEYPOINTS,
                                  proposals, np.full(proposals.shape[:2], 0.9), scorer="DLC_resnet50")
    assert not labeling.is_face_model_proposals(folder / "machinelabels-iter0.h5")
    labels = labeling.load_for_refinement(project, "cam1")
    assert type(labels) is labeling.LabelSet
    labels.save()
    assert len(read_labels(project.labels_path("cam1")).images) == len(names)


def test_changed_rows_treats_nan_as_equal():
    before = np.full((3, 2, 2), np.nan)
    before[0] = 1.0
    after = before.copy()
    after[2, 1] = (4.0, 5.0)
    assert labeling.changed_rows(before, after).tolist() == [2]
    assert labeling.changed_rows(before, before.copy()).tolist() == []
