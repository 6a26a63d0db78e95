"""A DeepLabCut project for labeling: create it, open it, list its folders.

:func:`create_project` / :func:`open_project`: a DeepLabCut project
(``config.yaml``, ``videos/``, ``labeled-data/<video>/``), made by
``deeplabcut.create_new_project`` when DeepLabCut is installed or written
from the files alone when it is not; :class:`LabelingProject` is what the
labeling step reads from its ``config.yaml``.
"""

from __future__ import annotations

import datetime
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from collections.abc import Sequence

from ..errors import DataError, FileFormatError
from ..face import FACE_KEYPOINTS, FACE_SKELETON
from ..tracking.dlc import deeplabcut_available


#: DeepLabCut's default number of frames to extract per video.
DEFAULT_FRAMES_PER_VIDEO = 20


def _import_deeplabcut():
    # DLClight keeps DeepLabCut from importing its own Qt GUI.
    os.environ.setdefault("DLClight", "True")
    import deeplabcut

    return deeplabcut


def _want_deeplabcut(use_deeplabcut: bool | None) -> bool:
    if use_deeplabcut is None:
        return deeplabcut_available()
    if use_deeplabcut and not deeplabcut_available():
        from ..errors import MissingDependencyError

        raise MissingDependencyError("deeplabcut", "dlc", "Using DeepLabCut's project functions")
    return bool(use_deeplabcut)


@dataclass
class LabelingProject:
    """What the labeling step needs from a DeepLabCut ``config.yaml``.

    Parameters
    ----------
    config_path
        The ``config.yaml``.
    scorer
        The experimenter name; labels go to ``CollectedData_<scorer>.h5``.
    bodyparts
        Keypoint names, in the config's order.
    skeleton
        Edges as pairs of keypoint names.
    video_sets
        Video path (as written in the config) -> its settings (``crop``).
    numframes2pick
        The config's default number of frames to extract per video.
    iteration
        Refinement iteration (names ``machinelabels-iter<N>.h5``).
    """

    config_path: Path
    scorer: str
    bodyparts: tuple[str, ...]
    skeleton: tuple[tuple[str, str], ...]
    video_sets: dict[str, dict]
    numframes2pick: int = DEFAULT_FRAMES_PER_VIDEO
    iteration: int = 0

    @property
    def root(self) -> Path:
        """The project folder: the folder of ``config.yaml`` (not the config's possibly
        stale ``project_path``, so a moved project still works)."""
        return self.config_path.parent

    @property
    def videos(self) -> list[Path]:
        """The project's videos, resolved against ``videos/`` when the configured path is gone."""
        found = []
        for name in self.video_sets:
            path = Path(name)
            if not path.exists() and (self.root / "videos" / path.name).exists():
                path = self.root / "videos" / path.name
            found.append(path)
        return found

    def labeled_data(self, video: str | Path) -> Path:
        """``labeled-data/<video stem>`` folder of ``video`` (a path or a folder name)."""
        name = Path(video).stem if Path(video).suffix else Path(video).name
        return self.root / "labeled-data" / name

    def labels_path(self, video: str | Path) -> Path:
        """``labeled-data/<video>/CollectedData_<scorer>.h5``."""
        return self.labeled_data(video) / f"CollectedData_{self.scorer}.h5"


def as_project(project: LabelingProject | str | Path) -> LabelingProject:
    """``project`` itself, or the project read from it when it is a ``config.yaml`` path (:func:`open_project`)."""
    return project if isinstance(project, LabelingProject) else open_project(project)


def open_project(config_path: str | Path) -> LabelingProject:
    """Read a DeepLabCut ``config.yaml`` for labeling.

    Raises
    ------
    FileFormatError
        If the file is missing, not YAML, or lacks ``scorer`` / ``bodyparts``,
        or is a multi-animal project (not supported for face labeling).
    """
    from ..io.dlc import read_dlc_config

    config_path = Path(config_path)
    if config_path.is_dir():
        config_path = config_path / "config.yaml"
    if not config_path.is_file():
        raise FileFormatError(config_path, "no such DeepLabCut config.yaml")
    config = read_dlc_config(config_path)
    raw = dict(config.raw or {})
    if raw.get("multianimalproject"):
        raise FileFormatError(
            config_path, "multi-animal projects are not supported for face labeling; use one face"
        )
    bodyparts = tuple(str(b) for b in (config.bodyparts or ()))
    if not bodyparts:
        raise FileFormatError(config_path, "the config lists no bodyparts")
    skeleton = tuple(
        (str(a), str(b)) for a, b in (config.skeleton or ()) if a in bodyparts and b in bodyparts
    )
    return LabelingProject(
        config_path=config_path.resolve(),
        scorer=str(config.scorer),
        bodyparts=bodyparts,
        skeleton=skeleton,
        video_sets={str(k): dict(v or {}) for k, v in (config.video_sets or {}).items()},
        numframes2pick=int(config.numframes2pick or DEFAULT_FRAMES_PER_VIDEO),
        iteration=int(raw.get("iteration", 0) or 0),
    )


def create_project(
    project: str,
    experimenter: str,
    videos: Sequence[str | Path],
    working_directory: str | Path,
    bodyparts: Sequence[str] = FACE_KEYPOINTS,
    skeleton: Sequence[tuple[str, str]] = FACE_SKELETON,
    copy_videos: bool = False,
    use_deeplabcut: bool | None = None,
) -> Path:
    """Create a DeepLabCut project for face labeling; return its ``config.yaml``.

    Parameters
    ----------
    project, experimenter
        Task name and scorer; the folder is ``<project>-<experimenter>-<YYYY-MM-DD>``
        in ``working_directory``, as DeepLabCut names it.
    videos
        Video files (one per camera for synchronized cameras).
    bodyparts, skeleton
        The landmark set (default: the 21 face landmarks and their skeleton).
    copy_videos
        Copy the videos into ``videos/`` instead of linking them.
    use_deeplabcut
        True: ``deeplabcut.create_new_project``, then the bodyparts and
        skeleton set with :func:`~napari_facehmm.io.dlc_config.update_dlc_config`.
        False: write the same folders and a ``config.yaml`` with DeepLabCut's
        keys, order and comments ourselves (the same function, from
        DeepLabCut's template). None (default): use DeepLabCut when it is
        installed.

    Notes
    -----
    Like DeepLabCut, an existing project folder of the same name is not
    touched: its ``config.yaml`` is returned.
    """
    bodyparts = [str(b) for b in bodyparts]
    if not bodyparts:
        raise DataError("a project needs at least one keypoint")
    if len(set(bodyparts)) != len(bodyparts):
        repeated = sorted({b for b in bodyparts if bodyparts.count(b) > 1})
        raise DataError(f"keypoint names must be unique; repeated: {repeated}")
    unknown = sorted({n for edge in skeleton for n in edge} - set(bodyparts))
    if unknown:
        raise DataError(f"skeleton names keypoints that are not in the landmark set: {unknown}")
    if not project or not experimenter:
        raise DataError("a project needs a name and an experimenter")
    video_paths = [Path(v).expanduser().resolve() for v in videos]
    if not video_paths:
        raise DataError("a project needs at least one video")
    for video in video_paths:
        if not video.is_file():
            raise FileFormatError(video, "video file not found")
    working_directory = Path(working_directory).expanduser().resolve()
    working_directory.mkdir(parents=True, exist_ok=True)
    skeleton = [[str(a), str(b)] for a, b in skeleton]

    if _want_deeplabcut(use_deeplabcut):
        deeplabcut = _import_deeplabcut()
        config_path = deeplabcut.create_new_project(
            project,
            experimenter,
            [str(v) for v in video_paths],
            working_directory=str(working_directory),
            copy_videos=copy_videos,
        )
        if str(config_path) == "nothingcreated":
            raise DataError(f"DeepLabCut could not open any of the videos {video_paths}")
        config_path = Path(config_path)
        from ..io.dlc_config import update_dlc_config

        # not DeepLabCut's edit_config: it reads the file as a plain dict and drops its comments
        update_dlc_config(config_path, {"bodyparts": bodyparts, "skeleton": skeleton}, backup=False)
        return config_path

    from ..io.dlc_config import update_dlc_config
    from ..io.video import VideoReader

    today = datetime.date.today()
    project_path = working_directory / f"{project}-{experimenter}-{today.isoformat()}"
    config_path = project_path / "config.yaml"
    if project_path.exists():
        return config_path
    for sub in ("videos", "labeled-data", "training-datasets", "dlc-models"):
        (project_path / sub).mkdir(parents=True)
    frame_sizes = {}
    for video in video_paths:
        destination = project_path / "videos" / video.name
        if copy_videos:
            shutil.copy2(video, destination)
        else:
            try:
                destination.symlink_to(video)
            except OSError:
                # file systems without symlinks (exFAT): copy, as DeepLabCut does
                shutil.copy2(video, destination)
        reader = VideoReader(destination)
        try:
            width, height = int(reader.width), int(reader.height)
        finally:
            reader.close()
        frame_sizes[destination] = (width, height)
        (project_path / "labeled-data" / video.stem).mkdir(exist_ok=True)
    settings = {
        "Task": project,
        "scorer": experimenter,
        "date": today.strftime("%b") + str(today.day),
        "project_path": project_path,
        "bodyparts": bodyparts,
        "skeleton": skeleton,
        "numframes2pick": DEFAULT_FRAMES_PER_VIDEO,
    }
    update_dlc_config(config_path, settings, frame_sizes, new=True)
    return config_path


def labeled_data_folders(project: LabelingProject) -> list[str]:
    """Names of the ``labeled-data`` folders that hold images (DLC's ``*_labeled`` plots excluded)."""
    base = project.root / "labeled-data"
    if not base.is_dir():
        return []
    return sorted(
        p.name
        for p in base.iterdir()
        if p.is_dir() and not p.name.endswith("_labeled") and not p.name.startswith(".")
    )
