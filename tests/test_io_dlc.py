"""DeepLabCut analysis files, labels and config: real files, round trips, bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from napari_facehmm.data import LandmarkSeries
from napari_facehmm.errors import FileFormatError, UnsupportedFileError
from napari_facehmm.io._atomic import backup_path
from napari_facehmm.io.dlc import (
    LabelData,
    read_dlc_analysis,
    read_dlc_config,
    read_labels,
    write_dlc_analysis,
    write_labels,
)

OPENFIELD = "dlc/openfield-Pranav-2018-10-30"
ANALYSIS = f"{OPENFIELD}/videos/m3v1mp4DLC_resnet50_openfieldAug20shuffle1_30000.h5"
REACHING = "dlc/Reaching-Mackenzie-2018-08-30"


def _series_2d(n_frames=25, seed=0):
    rng = np.random.default_rng(seed)
    positions = rng.uniform(0, 300, size=(n_frames, 3, 2))
    confidence = rng.uniform(0, 1, size=(n_frames, 3))
    positions[4, 2] = np.nan
    confidence[4, 2] = np.nan
    return LandmarkSeries(positions, ("nose1", "eye_l", "eye_r"), confidence, fps=25.0,
                          frame_indices=np.arange(n_frames) + 3)


# -------------------------------------------------------------- real files
def test_real_analysis_file(shared_data):
    series = read_dlc_analysis(shared_data / ANALYSIS)
    assert series.positions.shape == (2330, 4, 2)
    assert series.keypoints == ("snout", "leftear", "rightear", "tailbase")
    assert series.attrs["scorer"] == "DLC_resnet50_openfieldAug20shuffle1_30000"
    table = pd.read_hdf(shared_data / ANALYSIS, "df_with_missing")
    np.testing.assert_array_equal(series.positions[:, 1, 0], table.iloc[:, 3].to_numpy())
    np.testing.assert_array_equal(series.confidence[:, 3], table.iloc[:, 11].to_numpy())
    np.testing.assert_array_equal(series.frame_indices, np.arange(2330))


@pytest.mark.parametrize("suffix", [".h5", ".csv"])
def test_real_labels_both_projects(shared_data, suffix):
    pranav = read_labels(shared_data / f"{OPENFIELD}/labeled-data/m4s1/CollectedData_Pranav{suffix}")
    assert pranav.scorer == "Pranav" and pranav.index_style == "single"
    assert pranav.positions.shape == (116, 4, 2)
    assert pranav.images[0] == "labeled-data/m4s1/img0000.png"
    np.testing.assert_allclose(pranav.positions[0, 0], [21.521, 265.428])
    mackenzie = read_labels(shared_data / f"{REACHING}/labeled-data/reachingvideo1/CollectedData_Mackenzie{suffix}")
    assert mackenzie.keypoints == ("Hand", "Finger1", "Tongue", "Joystick1", "Joystick2")
    assert mackenzie.images[0] == "labeled-data/reachingvideo1/img005.png"
    assert np.isnan(mackenzie.positions[0, 2]).all()  # Tongue unlabeled in img005
    np.testing.assert_allclose(mackenzie.positions[0, 0], [185.25173502386923, 610.3622760638572])


def test_real_labels_h5_equals_csv(shared_data):
    folder = shared_data / f"{REACHING}/labeled-data/reachingvideo1"
    from_h5 = read_labels(folder / "CollectedData_Mackenzie.h5")
    from_csv = read_labels(folder / "CollectedData_Mackenzie.csv")
    assert from_h5.images == from_csv.images
    np.testing.assert_allclose(from_h5.positions, from_csv.positions, rtol=1e-12, equal_nan=True)


def test_real_configs(shared_data):
    openfield = read_dlc_config(shared_data / f"{OPENFIELD}/config.yaml")
    assert openfield.scorer == "Pranav" and openfield.task == "openfield"
    assert openfield.bodyparts == ("snout", "leftear", "rightear", "tailbase")
    assert openfield.skeleton == () and openfield.numframes2pick == 20
    # the stored project_path is a placeholder, so the config's folder is used
    assert openfield.project_path == shared_data / OPENFIELD
    reaching = read_dlc_config(shared_data / f"{REACHING}/config.yaml")
    assert reaching.skeleton == (("Hand", "Finger1"), ("Joystick1", "Joystick2"))
    assert reaching.numframes2pick == 40 and not reaching.multianimal
    assert reaching.labels_path("reachingvideo1").name == "CollectedData_Mackenzie.h5"


# ------------------------------------------------------------- round trips
@pytest.mark.parametrize("suffix", [".h5", ".csv"])
def test_analysis_round_trip(tmp_path, suffix):
    series = _series_2d()
    path = write_dlc_analysis(series, tmp_path / f"videoDLC_test{suffix}", scorer="DLC_net")
    loaded = read_dlc_analysis(path, fps=25.0)
    np.testing.assert_allclose(loaded.positions, series.positions, rtol=1e-12, equal_nan=True)
    np.testing.assert_allclose(loaded.confidence, series.confidence, rtol=1e-12, equal_nan=True)
    np.testing.assert_array_equal(loaded.frame_indices, series.frame_indices)
    assert loaded.keypoints == series.keypoints and loaded.attrs["scorer"] == "DLC_net"


def test_analysis_layout_is_deeplabcuts(tmp_path):
    write_dlc_analysis(_series_2d(), tmp_path / "v.h5")
    table = pd.read_hdf(tmp_path / "v.h5", "df_with_missing")
    assert list(table.columns.names) == ["scorer", "bodyparts", "coords"]
    assert list(table.columns[:3]) == [("DLC_facehmm", "nose1", c) for c in ("x", "y", "likelihood")]
    assert (table.dtypes == np.float64).all()
    with pd.HDFStore(tmp_path / "v.h5", "r") as store:
        assert store.get_storer("df_with_missing").is_table  # format="table" as analyze_videos
    write_dlc_analysis(_series_2d(), tmp_path / "v.csv")
    lines = (tmp_path / "v.csv").read_text().splitlines()
    assert lines[0].startswith("scorer,DLC_facehmm") and lines[1].startswith("bodyparts,nose1")
    assert lines[2].startswith("coords,x,y,likelihood") and lines[3].startswith("3,")


def _labels():
    positions = np.arange(3 * 2 * 2, dtype=float).reshape(3, 2, 2) * 1.5
    positions[1, 0] = np.nan
    images = [f"labeled-data/vid_a/img{i:04d}.png" for i in (3, 10, 42)]
    return LabelData("Ann", ("nose1", "chin"), images, positions)


def test_labels_round_trip_and_layout(tmp_path):
    folder = tmp_path / "labeled-data" / "vid_a"
    folder.mkdir(parents=True)
    path = write_labels(_labels(), folder / "CollectedData_Ann.h5")
    for file in (path, path.with_suffix(".csv")):
        loaded = read_labels(file)
        assert loaded.index_style == "multi" and loaded.images == _labels().images
        np.testing.assert_allclose(loaded.positions, _labels().positions, rtol=1e-12, equal_nan=True)
    table = pd.read_hdf(path, "df_with_missing")
    assert isinstance(table.index, pd.MultiIndex) and table.index[0] == ("labeled-data", "vid_a", "img0003.png")
    assert list(table.columns.names) == ["scorer", "bodyparts", "coords"]
    assert set(table.columns.get_level_values("coords")) == {"x", "y"}
    assert (table.dtypes == np.float64).all()
    assert path.with_suffix(".csv").read_text().splitlines()[0] == "scorer,,,Ann,Ann,Ann,Ann"


def test_labels_rewrite_keeps_backup(tmp_path):
    path = tmp_path / "CollectedData_Ann.h5"
    write_labels(_labels(), path)
    changed = _labels()
    changed.positions[0, 0] = [7.0, 8.0]
    write_labels(changed, path)
    np.testing.assert_allclose(read_labels(path).positions[0, 0], [7, 8])
    previous = pd.read_hdf(backup_path(path), "df_with_missing")
    assert previous.iloc[0, 0] == 0.0
    assert backup_path(path.with_suffix(".csv")).exists()


def test_single_index_labels_are_read_and_written_multi(tmp_path, shared_data):
    pranav = read_labels(shared_data / f"{OPENFIELD}/labeled-data/m4s1/CollectedData_Pranav.h5")
    path = write_labels(pranav, tmp_path / "CollectedData_Pranav.h5")
    again = read_labels(path)
    assert again.index_style == "multi" and again.images == pranav.images
    np.testing.assert_array_equal(again.positions, pranav.positions)


# ---------------------------------------------------------- multi-animal
def _multi_animal_file(tmp_path, suffix):
    columns = pd.MultiIndex.from_product(
        [["S"], ["mouse1", "mouse2"], ["snout", "tail"], ["x", "y", "likelihood"]],
        names=["scorer", "individuals", "bodyparts", "coords"],
    )
    values = np.arange(4 * 12, dtype=float).reshape(4, 12)
    table = pd.DataFrame(values, columns=columns)
    path = tmp_path / f"multiDLC{suffix}"
    if suffix == ".h5":
        table.to_hdf(path, key="df_with_missing", format="table", mode="w")
    else:
        table.to_csv(path)
    return path, values


@pytest.mark.parametrize("suffix", [".h5", ".csv"])
def test_multi_animal_individual_selection(tmp_path, suffix):
    path, values = _multi_animal_file(tmp_path, suffix)
    second = read_dlc_analysis(path, individual="mouse2")
    np.testing.assert_array_equal(second.positions[:, 0], values[:, 6:8])
    np.testing.assert_array_equal(second.confidence[:, 1], values[:, 11])
    assert second.attrs["individual"] == "mouse2"
    with pytest.raises(FileFormatError, match="mouse1, mouse2") as info:
        read_dlc_analysis(path)
    assert path.name in str(info.value)
    with pytest.raises(FileFormatError, match="no individual 'cat'"):
        read_dlc_analysis(path, individual="cat")


# --------------------------------------------------------------- bad input
def _write_text(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    "name, text, problem",
    [
        ("empty.csv", "", "empty"),
        ("noheader.csv", "a,b\n1,2\n3,4\n5,6\n", "header rows must start with scorer"),
        ("onlyheader.csv", "scorer,S,S\nbodyparts,a,a\ncoords,x,y\n", "too few lines|no data rows"),
        ("badcoords.csv", "scorer,S,S\nbodyparts,a,a\ncoords,x,q\n0,1,2\n", "coords must be x, y"),
        ("text.csv", "scorer,S,S\nbodyparts,a,a\ncoords,x,y\n0,1,abc\n", "non-numeric value 'abc'"),
        ("notdlc.h5", "this is not hdf5", "not a readable HDF5"),
        ("empty.h5", "", "empty"),
    ],
)
def test_bad_dlc_files(tmp_path, name, text, problem):
    path = _write_text(tmp_path, name, text)
    for reader in (read_dlc_analysis, read_labels):
        with pytest.raises(FileFormatError, match=problem) as info:
            reader(path)
        assert name in str(info.value)


def test_wrong_h5_key(tmp_path):
    path = tmp_path / "wrongkey.h5"
    pd.DataFrame({"a": [1.0]}).to_hdf(path, key="something_else")
    with pytest.raises(FileFormatError, match="no 'df_with_missing'.*something_else") as info:
        read_dlc_analysis(path)
    assert "wrongkey.h5" in str(info.value)


def test_flat_columns_in_h5(tmp_path):
    path = tmp_path / "flat.h5"
    pd.DataFrame({"a": [1.0]}).to_hdf(path, key="df_with_missing")
    with pytest.raises(FileFormatError, match="3-level") as info:
        read_labels(path)
    assert "flat.h5" in str(info.value)


def test_unknown_extension_and_missing_file(tmp_path):
    with pytest.raises(UnsupportedFileError, match="points.txt"):
        read_dlc_analysis(_write_text(tmp_path, "points.txt", "x"))
    with pytest.raises(FileFormatError, match="gone.h5"):
        read_labels(tmp_path / "gone.h5")
    with pytest.raises(UnsupportedFileError, match="labels.csv"):
        write_labels(_labels(), tmp_path / "labels.csv")


@pytest.mark.parametrize(
    "text, problem",
    [
        ("", "empty"),
        ("Task: t\nscorer: [unclosed\n", "not valid YAML"),
        ("Task: t\nbodyparts: [a, b]\n", "missing required settings: scorer"),
        ("Task: t\nscorer: s\nbodyparts: 3\n", "bodyparts must be a list"),
        ("Task: t\nscorer: s\nbodyparts: [a]\nskeleton: [[a]]\n", "skeleton entries"),
        ("Task: t\nscorer: s\nbodyparts: [a]\nnumframes2pick: many\n", "numframes2pick"),
    ],
)
def test_bad_configs(tmp_path, text, problem):
    path = _write_text(tmp_path, "config.yaml", text)
    with pytest.raises(FileFormatError, match=problem) as info:
        read_dlc_config(path)
    assert "config.yaml" in str(info.value)


def test_multianimal_config(tmp_path):
    path = _write_text(
        tmp_path, "config.yaml",
        "Task: t\nscorer: s\nmultianimalproject: true\nbodyparts: MULTI!\n"
        "multianimalbodyparts: [nose, ear]\nuniquebodyparts: [led]\nindividuals: [m1, m2]\n"
        "skeleton: [[nose, ear, led]]\n",
    )
    config = read_dlc_config(path)
    assert config.bodyparts == ("nose", "ear", "led") and config.individuals == ("m1", "m2")
    assert config.skeleton == (("nose", "ear"), ("ear", "led"))


def test_multi_animal_labels_need_an_individual(tmp_path):
    columns = pd.MultiIndex.from_product(
        [["Ann"], ["m1", "m2"], ["nose", "ear"], ["x", "y"]],
        names=["scorer", "individuals", "bodyparts", "coords"],
    )
    index = pd.MultiIndex.from_tuples([("labeled-data", "v", f"img{i}.png") for i in range(3)])
    values = np.arange(3 * 8, dtype=float).reshape(3, 8)
    values[0, :2] = np.nan
    pd.DataFrame(values, index=index, columns=columns).to_hdf(tmp_path / "CollectedData_Ann.h5", key="df_with_missing")
    with pytest.raises(FileFormatError, match="several individuals \\(m1, m2\\)") as info:
        read_labels(tmp_path / "CollectedData_Ann.h5")
    assert "CollectedData_Ann.h5" in str(info.value)
    m2 = read_labels(tmp_path / "CollectedData_Ann.h5", individual="m2")
    assert m2.keypoints == ("nose", "ear") and m2.images[2] == "labeled-data/v/img2.png"
    np.testing.assert_array_equal(m2.positions[:, 1], values[:, 6:8])
    m1 = read_labels(tmp_path / "CollectedData_Ann.h5", individual="m1")
    assert np.isnan(m1.positions[0, 0]).all() and not m1.labeled[0, 0] and m1.labeled[0, 1]


def test_label_data_helpers_and_validation():
    from napari_facehmm.errors import DataError

    labels = LabelData.empty("Ann", ["a", "b"], ["labeled-data\\v\\img1.png", "labeled-data/v/img2.png"])
    assert labels.images[0] == "labeled-data/v/img1.png"  # Windows separators normalised
    assert labels.n_images == 2 and not labels.labeled.any()
    assert labels.image_index("labeled-data/v/img2.png") == 1
    with pytest.raises(DataError, match="not among"):
        labels.image_index("labeled-data/v/img3.png")
    with pytest.raises(DataError, match="shape"):
        LabelData("Ann", ("a",), ["x.png"], np.zeros((1, 2, 2)))
    with pytest.raises(DataError, match="repeat"):
        LabelData.empty("Ann", ["a"], ["x.png", "x.png"])


def test_image_frame_index():
    from napari_facehmm.io.dlc import image_frame_index

    assert image_frame_index("labeled-data/vid_2/img0042.png") == 42
    assert image_frame_index("frame_12_of_30.png") == 30  # the last number in the name
    assert image_frame_index("labeled-data/v/cover.png") is None
