"""The one writer of DeepLabCut's config.yaml: io.dlc_config.update_dlc_config."""

from __future__ import annotations

import pytest
import yaml

from napari_facehmm.errors import DataError, FileFormatError
from napari_facehmm.io.dlc_config import NEW_CONFIG_TEMPLATE, read_dlc_config, update_dlc_config

USER_CONFIG = """\
# my lab's face project: keep this note
Task: face
scorer: ann
date: Dec4
project_path: /data/face-ann
video_sets:
  /data/videos/cam1.mp4:
    crop: 0, 640, 0, 480   # the whole frame
bodyparts:
- nose
- chin
numframes2pick: 20  # enough for a first model
TrainingFraction:
- 0.95
skeleton: []
"""


@pytest.fixture
def user_config(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text(USER_CONFIG)
    return path


def test_update_keeps_comments_and_key_order_and_adds_a_video_once(user_config, tmp_path):
    added = update_dlc_config(
        user_config, {"TrainingFraction": [0.95, 0.8]}, {tmp_path / "videos" / "cam2.mp4": (320, 240)}
    )
    assert added == [str(tmp_path / "videos" / "cam2.mp4")]
    text = user_config.read_text()
    for comment in ("# my lab's face project: keep this note", "# the whole frame", "# enough for a first model"):
        assert comment in text
    raw = yaml.safe_load(text)
    assert list(raw) == list(yaml.safe_load(USER_CONFIG))  # same keys, same order
    assert raw["TrainingFraction"] == [0.95, 0.8]
    assert raw["video_sets"] == {
        "/data/videos/cam1.mp4": {"crop": "0, 640, 0, 480"},
        str(tmp_path / "videos" / "cam2.mp4"): {"crop": "0, 320, 0, 240"},
    }
    assert (tmp_path / "config.yaml.bak").read_text() == USER_CONFIG

    # the same video again, or another of the same name (its labeled-data folder): not added
    assert update_dlc_config(user_config, videos={tmp_path / "videos" / "cam2.mp4": (320, 240)}) == []
    assert update_dlc_config(user_config, videos={"/elsewhere/cam1.avi": (320, 240)}) == []
    assert len(read_dlc_config(user_config).video_sets) == 2


def test_a_long_video_path_is_written_on_one_line(user_config):
    # with ruamel's default 80-column width a path with spaces is folded over lines;
    # DeepLabCut writes with width 1e6 (paths over 128 characters become "? " keys either way)
    long_path = "/data/" + "my face videos/" * 8 + "cam3.mp4"
    update_dlc_config(user_config, videos={long_path: (64, 48)})
    assert any(long_path in line for line in user_config.read_text().splitlines())
    assert read_dlc_config(user_config).video_sets[long_path] == {"crop": "0, 64, 0, 48"}


def test_a_new_config_is_deeplabcuts_template_with_the_settings(tmp_path):
    path = tmp_path / "config.yaml"
    update_dlc_config(
        path,
        {"Task": "face", "scorer": "ann", "bodyparts": ("nose", "chin"), "skeleton": [("nose", "chin")],
         "project_path": tmp_path},
        {tmp_path / "videos" / "cam1.mp4": (64, 48)},
        new=True,
    )
    text = path.read_text()
    template_comments = [line for line in NEW_CONFIG_TEMPLATE.splitlines() if line.startswith("#")]
    assert [line for line in text.splitlines() if line.startswith("#")] == template_comments
    raw = yaml.safe_load(text)
    assert list(raw) == list(yaml.safe_load(NEW_CONFIG_TEMPLATE))
    assert raw["skeleton"] == [["nose", "chin"]] and raw["project_path"] == str(tmp_path)
    assert raw["video_sets"] == {str(tmp_path / "videos" / "cam1.mp4"): {"crop": "0, 64, 0, 48"}}
    config = read_dlc_config(path)
    assert config.bodyparts == ("nose", "chin") and config.skeleton == (("nose", "chin"),)
    assert not (tmp_path / "config.yaml.bak").exists()
    with pytest.raises(DataError, match="exists already"):
        update_dlc_config(path, {"Task": "other"}, new=True)


def test_bad_configs_are_refused_naming_the_file(tmp_path):
    with pytest.raises(FileFormatError, match="missing.yaml"):
        update_dlc_config(tmp_path / "missing.yaml", {"Task": "face"})
    broken = tmp_path / "broken.yaml"
    broken.write_text("Task: [face\n")
    with pytest.raises(FileFormatError, match="broken.yaml: not valid YAML"):
        update_dlc_config(broken, {"Task": "face"})
    assert broken.read_text() == "Task: [face\n"
    listed = tmp_path / "list.yaml"
    listed.write_text("- a\n- b\n")
    with pytest.raises(FileFormatError, match="not a mapping of settings"):
        update_dlc_config(listed, {"Task": "face"})
    sets = tmp_path / "sets.yaml"
    sets.write_text("Task: face\nvideo_sets: [a.mp4]\n")
    with pytest.raises(FileFormatError, match="video_sets must be a mapping"):
        update_dlc_config(sets, videos={"b.mp4": (1, 1)})
