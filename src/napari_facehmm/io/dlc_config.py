"""A DeepLabCut project's ``config.yaml``: read and checked (:class:`DLCConfig`), and changed.

:func:`update_dlc_config` is the one writer of ``config.yaml`` (a new
project's, a training fraction, a video added for refinement). It edits the
file as DeepLabCut 3 writes it (``deeplabcut.core.config.utils.write_config``:
ruamel's round-trip YAML, lines never wrapped, so that a long video path
stays a plain key), keeping the user's comments and key order, and replaces
it atomically with a backup.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePath
from typing import Any

from ..errors import DataError, FileFormatError
from ._checks import check_is_file

__all__ = ["DLCConfig", "read_dlc_config", "update_dlc_config", "NEW_CONFIG_TEMPLATE"]


@dataclass(eq=False)
class DLCConfig:
    """The parts of a DeepLabCut ``config.yaml`` this plugin uses.

    ``bodyparts`` are the multi-animal bodyparts followed by the unique ones
    in a multi-animal project; ``skeleton`` is a tuple of name pairs;
    ``project_path`` is the folder of the config file when the stored one
    does not exist (DeepLabCut rewrites it the same way). ``raw`` is the
    whole parsed file.
    """

    path: Path
    task: str
    scorer: str
    date: str
    bodyparts: tuple[str, ...]
    skeleton: tuple[tuple[str, str], ...]
    video_sets: dict[str, Any]
    numframes2pick: int
    project_path: Path
    multianimal: bool = False
    individuals: tuple[str, ...] = ()
    raw: dict[str, Any] = field(default_factory=dict)

    @property
    def labeled_data_dir(self) -> Path:
        return self.project_path / "labeled-data"

    def labels_path(self, video_name: str) -> Path:
        """``labeled-data/<video_name>/CollectedData_<scorer>.h5``."""
        return self.labeled_data_dir / video_name / f"CollectedData_{self.scorer}.h5"


def _name_list(value: Any, key: str, path: Path) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, (str, int)) for v in value):
        raise FileFormatError(path, f"{key} must be a list of names; got {value!r}")
    return tuple(str(v) for v in value)


def read_dlc_config(path: str | Path) -> DLCConfig:
    """Read and validate a DeepLabCut project ``config.yaml``.

    Raises
    ------
    FileFormatError
        Missing or empty file, YAML errors, or missing/malformed
        ``Task``, ``scorer``, ``bodyparts`` (``multianimalbodyparts``),
        ``video_sets``, ``skeleton`` or ``numframes2pick``.
    """
    import yaml

    path = Path(path)
    check_is_file(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as error:
        raise FileFormatError(path, f"not valid YAML ({error})") from None
    if not isinstance(raw, dict):
        raise FileFormatError(path, "empty, or not a mapping of settings")
    missing = [k for k in ("Task", "scorer", "bodyparts") if raw.get(k) in (None, "")]
    if missing:
        raise FileFormatError(path, f"missing required settings: {', '.join(missing)}")
    multianimal = bool(raw.get("multianimalproject") or False)
    if multianimal:
        bodyparts = _name_list(raw.get("multianimalbodyparts"), "multianimalbodyparts", path)
        bodyparts += _name_list(raw.get("uniquebodyparts"), "uniquebodyparts", path)
        individuals = _name_list(raw.get("individuals"), "individuals", path)
    else:
        bodyparts = _name_list(raw.get("bodyparts"), "bodyparts", path)
        individuals = ()
    if not bodyparts:
        raise FileFormatError(path, "no bodyparts listed")
    if len(set(bodyparts)) != len(bodyparts):
        raise FileFormatError(path, f"bodyparts repeat: {list(bodyparts)}")
    skeleton_raw = raw.get("skeleton") or []
    if not isinstance(skeleton_raw, list):
        raise FileFormatError(path, f"skeleton must be a list of [a, b] pairs; got {skeleton_raw!r}")
    edges = []
    for entry in skeleton_raw:
        if not isinstance(entry, (list, tuple)) or len(entry) < 2:
            raise FileFormatError(path, f"skeleton entries must be [a, b] pairs; got {entry!r}")
        # A longer entry is a chain a-b-c: consecutive pairs.
        edges.extend((str(a), str(b)) for a, b in zip(entry[:-1], entry[1:]))
    video_sets = raw.get("video_sets") or {}
    if not isinstance(video_sets, dict):
        raise FileFormatError(path, f"video_sets must be a mapping of video path to settings; got {video_sets!r}")
    numframes = raw.get("numframes2pick", 20)
    if isinstance(numframes, bool) or not isinstance(numframes, int) or numframes < 1:
        raise FileFormatError(path, f"numframes2pick must be a positive whole number; got {numframes!r}")
    stored = raw.get("project_path")
    project_path = Path(stored) if stored and Path(str(stored)).is_dir() else path.parent
    return DLCConfig(
        path=path,
        task=str(raw["Task"]),
        scorer=str(raw["scorer"]),
        date=str(raw.get("date") or ""),
        bodyparts=bodyparts,
        skeleton=tuple(edges),
        video_sets={str(k): v for k, v in video_sets.items()},
        numframes2pick=int(numframes),
        project_path=project_path,
        multianimal=multianimal,
        individuals=individuals,
        raw=raw,
    )


#: A new single-animal project's ``config.yaml`` before its settings are filled in: the keys,
#: order, comments and defaults of ``deeplabcut.create_new_project`` (DeepLabCut 3.0).
NEW_CONFIG_TEMPLATE = """\
# Config schema version. Do not edit manually.
config_version: 0
# Project definitions (do not edit)
Task: ''
scorer: ''
date: ''
multianimalproject: false
identity:

# Project path (change when moving around)
project_path: ''
pose_config_path:

# Default DeepLabCut engine to use for shuffle creation (either pytorch or tensorflow)
engine: pytorch

# Annotation data set configuration (and individual video cropping parameters)
video_sets: {}
bodyparts: []
individuals:
- individual_1
uniquebodyparts: []
multianimalbodyparts: []

# Fraction of video to start/stop when extracting frames for labeling/refinement
start: 0.0
stop: 1.0
numframes2pick: 20

# Plotting configuration
skeleton: []
skeleton_color: black
pcutoff: 0.6
dotsize: 12
alphavalue: 0.7
colormap: rainbow

# Training,Evaluation and Analysis configuration
TrainingFraction:
- 0.95
iteration: 0
default_net_type: resnet_50
default_augmenter: default
default_track_method:
snapshotindex: -1
detector_snapshotindex: -1
batch_size: 8
detector_batch_size: 1

# Cropping Parameters (for analysis and outlier frame detection)
cropping: false
# if cropping is true for analysis, then set the values here:
x1: 0
x2: 640
y1: 277
y2: 624

# Refinement configuration (parameters from annotation dataset configuration also relevant in this stage)
corner2move2:
- 50
- 50
move2corner: true

# Conversion tables to fine-tune SuperAnimal weights
SuperAnimalConversionTables:

# These are very old parameters that are no longer used They are simply ignored.
resnet:
croppedtraining:
"""


def _round_trip_yaml():
    """ruamel's round-trip YAML set up as DeepLabCut's ``get_yaml_dumper``."""
    import numpy as np
    from ruamel.yaml import YAML

    yaml = YAML(typ="rt", pure=True)
    yaml.width = 1_000_000  # as DeepLabCut: a wrapped long path would become a "? " complex key
    yaml.representer.add_multi_representer(PurePath, lambda r, p: r.represent_str(str(p)))
    yaml.representer.add_representer(tuple, lambda r, t: r.represent_list(list(t)))
    yaml.representer.add_multi_representer(np.generic, lambda r, v: r.represent_data(v.item()))
    return yaml


def update_dlc_config(
    path: str | Path,
    settings: Mapping[str, Any] | None = None,
    videos: Mapping[str | Path, tuple[int, int]] | None = None,
    *,
    new: bool = False,
    backup: bool = True,
) -> list[str]:
    """Change settings of a DeepLabCut ``config.yaml``, keeping its comments and key order.

    Parameters
    ----------
    path
        The ``config.yaml``.
    settings
        Top-level settings to set (``{"TrainingFraction": [0.95, 0.8]}``). A
        setting already in the file keeps its place and the comments around
        it; a new one goes at the end.
    videos
        Videos to add to ``video_sets``: path (written as given) -> frame
        size ``(width_px, height_px)``, stored as DeepLabCut's ``crop:
        0, width, 0, height``. A video whose name (file stem) is listed
        already is not added again: DeepLabCut keys ``labeled-data`` folders
        by that name.
    new
        Write a new project's config: start from
        :data:`NEW_CONFIG_TEMPLATE`; ``path`` must not exist.
    backup
        Keep the previous file as ``config.yaml.bak``.

    Returns
    -------
    list of str
        The ``video_sets`` keys added.

    Raises
    ------
    FileFormatError
        ``path`` is missing (``new=False``), not YAML, or not a mapping of
        settings, or its ``video_sets`` is not a mapping.
    DataError
        ``new=True`` and ``path`` exists.
    """
    from ._atomic import atomic_write_path

    path = Path(path)
    yaml = _round_trip_yaml()
    if new:
        if path.exists():
            raise DataError(f"{path} exists already; a new project's config.yaml is not written over it")
        document = yaml.load(NEW_CONFIG_TEMPLATE)
    else:
        check_is_file(path)
        try:
            document = yaml.load(path.read_text(encoding="utf-8"))
        except Exception as error:  # ruamel's parser and scanner errors share no public base class
            raise FileFormatError(path, f"not valid YAML ({error})") from None
        if not isinstance(document, Mapping):
            raise FileFormatError(path, "empty, or not a mapping of settings")
    for key, value in (settings or {}).items():
        document[key] = value
    added = _add_video_sets(document, videos or {}, path)
    with atomic_write_path(path, backup=backup) as temporary:
        with open(temporary, "w", encoding="utf-8") as stream:
            yaml.dump(document, stream)
    return added


def _add_video_sets(document, videos: Mapping[str | Path, tuple[int, int]], path: Path) -> list[str]:
    from ruamel.yaml.comments import CommentedMap

    video_sets = document.get("video_sets")
    if video_sets is None:
        video_sets = document["video_sets"] = CommentedMap()
    if not isinstance(video_sets, Mapping):
        raise FileFormatError(path, f"video_sets must be a mapping of video path to settings; got {video_sets!r}")
    if videos and isinstance(video_sets, CommentedMap):
        video_sets.fa.set_block_style()  # the template's empty "{}" would keep the entries on one line
    listed_names = {PurePath(str(key)).stem for key in video_sets}
    added = []
    for video, (width_px, height_px) in videos.items():
        name = PurePath(str(video)).stem
        if name in listed_names:
            continue
        video_sets[str(video)] = {"crop": f"0, {int(width_px)}, 0, {int(height_px)}"}
        listed_names.add(name)
        added.append(str(video))
    return added
