"""A DeepLabCut project's ``config.yaml``, read and checked: :class:`DLCConfig`."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import FileFormatError
from ._checks import check_is_file

__all__ = ["DLCConfig", "read_dlc_config"]


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
