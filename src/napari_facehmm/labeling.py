"""Labeling face landmarks in a DeepLabCut project (Qt-free core).

Everything the labeling widget does that is not drawing lives here, so it
runs and is tested without a window:

- :func:`create_project` / :func:`open_project`: a DeepLabCut project
  (``config.yaml``, ``videos/``, ``labeled-data/<video>/``), made by
  ``deeplabcut.create_new_project`` when DeepLabCut is installed or written
  from the files alone when it is not.
- :func:`extract_frames`: pick frames to label (``"uniform"`` or
  ``"kmeans"`` like DeepLabCut) and write them as
  ``labeled-data/<video>/img<NNNN>.png``; synchronized cameras get the same
  frame indices.
- :class:`LabelSet`: the labels of one ``labeled-data/<video>`` folder while
  they are edited (positions, points marked not visible, progress, the
  current keypoint logic), converted to and from napari layer data by pure
  functions, and saved as ``CollectedData_<scorer>.h5/.csv`` through
  :func:`napari_facehmm.io.dlc.write_labels`.
- :func:`load_labels` and :func:`load_for_refinement`: open a folder's
  labels, optionally merged with DeepLabCut's ``machinelabels-iter<N>.h5``
  predictions for outlier frames (human labels win where both exist).
- :func:`prelabel_folder` and :func:`load_prelabels`: proposals of the
  built-in face model for a folder's extracted frames, written as
  DeepLabCut's machine labels and checked in a :class:`PrelabelSet`, where a
  proposal becomes a label only once a person confirms its frame
  (:data:`PRELABEL_RULE`).
- :class:`AutosaveClock`: when an autosave is due.

Long work (frame extraction) is a generator yielding ``(done, total,
message)`` and returning its result (``StopIteration.value``).
"""

from __future__ import annotations

import contextlib
import datetime
import math
import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from collections.abc import Generator, Iterable, Mapping, Sequence

import numpy as np

from .errors import DataError, FileFormatError
from .face import FACE_KEYPOINTS, FACE_SKELETON
from .progress import Progress, run_to_end
from .tracking.dlc import deeplabcut_available

__all__ = [
    "PRELABEL_RULE",
    "AutosaveClock",
    "ConfirmationCounts",
    "ImageStack",
    "LabelProgress",
    "LabelSet",
    "LabelingProject",
    "PrelabelSet",
    "Prelabels",
    "changed_rows",
    "create_project",
    "deeplabcut_available",
    "extract_frames",
    "face_model_keypoints",
    "find_machine_labels",
    "frame_image_name",
    "in_subprocess",
    "is_face_model_proposals",
    "labeled_data_folders",
    "load_for_refinement",
    "load_labels",
    "load_prelabels",
    "open_project",
    "prelabel_folder",
    "read_machine_labels",
    "run_to_end",
    "select_frames_kmeans",
    "select_frames_uniform",
    "write_machine_labels",
]


#: DeepLabCut's default number of frames to extract per video.
DEFAULT_FRAMES_PER_VIDEO = 20

_IMAGE_SUFFIXES = (".png",)


# --------------------------------------------------------------------- helpers
def _import_deeplabcut():
    # DLClight keeps DeepLabCut from importing its own Qt GUI.
    os.environ.setdefault("DLClight", "True")
    import deeplabcut

    return deeplabcut


def _want_deeplabcut(use_deeplabcut: bool | None) -> bool:
    if use_deeplabcut is None:
        return deeplabcut_available()
    if use_deeplabcut and not deeplabcut_available():
        from .errors import MissingDependencyError

        raise MissingDependencyError("deeplabcut", "dlc", "Using DeepLabCut's project functions")
    return bool(use_deeplabcut)


def frame_image_name(frame_index: int, n_frames: int) -> str:
    """DeepLabCut's image name for frame ``frame_index`` of a video of ``n_frames`` frames.

    DeepLabCut zero-pads the index to ``ceil(log10(n_frames))`` digits
    (``img0042.png`` in a video of 1,000 to 10,000 frames), both in
    ``extract_frames`` and ``extract_outlier_frames``.
    """
    width = int(math.ceil(math.log10(n_frames))) if n_frames > 1 else 0
    return f"img{str(int(frame_index)).zfill(width)}.png"


_PROTOCOL_PREFIX = "@facehmm-labeling "
_SUBPROCESS_FUNCTIONS = ("create_project", "extract_frames")


def in_subprocess(function: str, **kwargs) -> Generator[Progress, None, object]:
    """Run :func:`create_project` or :func:`extract_frames` in a fresh Python process.

    DeepLabCut imports torchvision, which crashes (segmentation fault) when
    it is first imported into a process where a napari viewer already
    exists; the widget therefore runs the DeepLabCut variants here. Progress
    and the result come back as JSON lines on stdout (DeepLabCut's own
    prints go to stderr); closing the generator (Cancel) terminates the
    process.

    Parameters
    ----------
    function
        ``"create_project"`` or ``"extract_frames"``.
    **kwargs
        Its arguments (JSON-serializable; paths as strings).

    Yields
    ------
    tuple
        ``(done, total, message)`` from ``extract_frames``.

    Returns
    -------
    object
        What the function returns (paths as :class:`~pathlib.Path`).
    """
    import json
    import signal
    import subprocess
    import sys
    import tempfile

    if function not in _SUBPROCESS_FUNCTIONS:
        raise ValueError(f"in_subprocess runs {_SUBPROCESS_FUNCTIONS}; got {function!r}")
    request = json.dumps({"function": function, "kwargs": _jsonable(kwargs)})
    with tempfile.TemporaryFile(mode="w+") as log:
        process = subprocess.Popen(
            [sys.executable, "-c", "from napari_facehmm.labeling import _subprocess_main; _subprocess_main()"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
            start_new_session=True,
        )
        result, error = None, None
        try:
            process.stdin.write(request)
            process.stdin.close()
            for line in process.stdout:
                if not line.startswith(_PROTOCOL_PREFIX):
                    continue
                message = json.loads(line[len(_PROTOCOL_PREFIX):])
                if message["kind"] == "progress":
                    yield tuple(message["value"])
                elif message["kind"] == "result":
                    result = message["value"]
                elif message["kind"] == "error":
                    error = message
            process.wait()
        except GeneratorExit:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            process.wait()
            raise
        if error is not None:
            kind = {"DataError": DataError, "FileFormatError": FileFormatError}.get(error["type"])
            if kind is FileFormatError:
                raise FileFormatError(error.get("path"), error["problem"])
            if kind is DataError:
                raise DataError(error["message"])
            raise DataError(f"{function} failed: {error['type']}: {error['message']}")
        if process.returncode != 0 or result is None:
            log.seek(0)
            tail = log.read()[-2000:]
            raise DataError(f"{function} ended with status {process.returncode} and no result:\n{tail}")
    if function == "create_project":
        return Path(result)
    return {video: [Path(p) for p in paths] for video, paths in result.items()}


def _jsonable(value):
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.integer):
        return int(value)
    return value


def _subprocess_main() -> None:
    """The child side of :func:`in_subprocess` (reads the request from stdin)."""
    import json
    import sys

    protocol = sys.stdout
    sys.stdout = sys.stderr  # DeepLabCut prints a lot; keep stdout for our messages

    def send(kind, value=None, **extra):
        protocol.write(_PROTOCOL_PREFIX + json.dumps({"kind": kind, "value": value, **extra}) + "\n")
        protocol.flush()

    request = json.loads(sys.stdin.read())
    try:
        function = request["function"]
        if function not in _SUBPROCESS_FUNCTIONS:
            raise ValueError(f"unknown function {function!r}")
        kwargs = request["kwargs"]
        if function == "create_project":
            result = str(create_project(**kwargs))
        else:
            written = run_to_end(extract_frames(**kwargs), lambda step: send("progress", list(step)))
            result = {video: [str(p) for p in paths] for video, paths in written.items()}
        send("result", result)
    except FileFormatError as error:
        send("error", type="FileFormatError", message=str(error), problem=error.problem,
             path=str(error.path) if error.path else None)
    except Exception as error:  # reported to the parent, which raises it there
        send("error", type=type(error).__name__, message=str(error))


# --------------------------------------------------------------------- project
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


def open_project(config_path: str | Path) -> LabelingProject:
    """Read a DeepLabCut ``config.yaml`` for labeling.

    Raises
    ------
    FileFormatError
        If the file is missing, not YAML, or lacks ``scorer`` / ``bodyparts``,
        or is a multi-animal project (not supported for face labeling).
    """
    from .io.dlc import read_dlc_config

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


def _config_text(
    task: str,
    scorer: str,
    date: str,
    project_path: Path,
    video_sets: Mapping[str, str],
    bodyparts: Sequence[str],
    skeleton: Sequence[tuple[str, str]],
) -> str:
    """A ``config.yaml`` with the keys, order and comments DeepLabCut 3.0 writes."""
    import yaml

    def dump(value) -> str:
        text = yaml.safe_dump(value, default_flow_style=False, sort_keys=False).rstrip()
        # a bare scalar is dumped as a document ending in "..."
        return text[:-3].rstrip() if text.endswith("...") else text

    videos = dump({str(k): {"crop": v} for k, v in video_sets.items()})
    return f"""\
# Config schema version. Do not edit manually.
config_version: 0
# Project definitions (do not edit)
Task: {dump(task)}
scorer: {dump(scorer)}
date: {date}
multianimalproject: false
identity:

# Project path (change when moving around)
project_path: {dump(str(project_path))}
pose_config_path:

# Default DeepLabCut engine to use for shuffle creation (either pytorch or tensorflow)
engine: pytorch

# Annotation data set configuration (and individual video cropping parameters)
video_sets:
{_indent(videos)}
bodyparts:
{dump(list(bodyparts))}
individuals:
- individual_1
uniquebodyparts: []
multianimalbodyparts: []

# Fraction of video to start/stop when extracting frames for labeling/refinement
start: 0.0
stop: 1.0
numframes2pick: {DEFAULT_FRAMES_PER_VIDEO}

# Plotting configuration
{_skeleton_entry([list(edge) for edge in skeleton], dump)}
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


def _skeleton_entry(edges: list[list[str]], dump) -> str:
    # an empty list must be written on the key's line: "skeleton:" then "[]" alone is not YAML
    return "skeleton:\n" + dump(edges) if edges else "skeleton: []"


def _indent(text: str, spaces: int = 2) -> str:
    return "\n".join(" " * spaces + line for line in text.splitlines())


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
        True: ``deeplabcut.create_new_project`` then ``edit_config`` for the
        bodyparts and skeleton. False: write the same folders and a
        ``config.yaml`` with DeepLabCut's keys ourselves. None (default): use
        DeepLabCut when it is installed.

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
        from deeplabcut.utils import auxiliaryfunctions

        auxiliaryfunctions.edit_config(str(config_path), {"bodyparts": bodyparts, "skeleton": skeleton})
        return config_path

    from .io.video import VideoReader

    today = datetime.date.today()
    project_path = working_directory / f"{project}-{experimenter}-{today.isoformat()}"
    config_path = project_path / "config.yaml"
    if project_path.exists():
        return config_path
    for sub in ("videos", "labeled-data", "training-datasets", "dlc-models"):
        (project_path / sub).mkdir(parents=True)
    video_sets = {}
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
        video_sets[str(destination)] = f"0, {width}, 0, {height}"
        (project_path / "labeled-data" / video.stem).mkdir(exist_ok=True)
    date = today.strftime("%b") + str(today.day)
    config_path.write_text(
        _config_text(project, experimenter, date, project_path, video_sets, bodyparts, skeleton)
    )
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


# ------------------------------------------------------------ frame selection
def select_frames_uniform(
    n_frames: int, n_pick: int, start: float = 0.0, stop: float = 1.0, seed: int | None = 0
) -> np.ndarray:
    """Frames drawn uniformly at random in time, as DeepLabCut's ``"uniform"`` algorithm.

    Parameters
    ----------
    n_frames
        Frames in the video.
    n_pick
        How many to pick (fewer if the range is shorter).
    start, stop
        Fractions of the video to pick from.
    seed
        Random seed (None: not reproducible, as DeepLabCut).

    Returns
    -------
    numpy.ndarray
        ``(n_picked,)`` sorted distinct frame indices.
    """
    first, last = _frame_range(n_frames, start, stop)
    candidates = np.arange(first, last)
    n_pick = min(int(n_pick), len(candidates))
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(candidates, size=n_pick, replace=False)).astype(np.int64)


def _frame_range(n_frames: int, start: float, stop: float) -> tuple[int, int]:
    if not 0.0 <= start < stop <= 1.0:
        raise DataError(f"need 0 <= start < stop <= 1; got start={start}, stop={stop}")
    return int(math.floor(n_frames * start)), min(n_frames, int(math.ceil(n_frames * stop)))


def _downsampled_gray(frame: np.ndarray, resize_width: int) -> np.ndarray:
    import cv2

    width = frame.shape[1]
    ratio = min(1.0, resize_width / width)
    small = cv2.resize(frame, None, fx=ratio, fy=ratio, interpolation=cv2.INTER_NEAREST)
    return small.mean(axis=2).ravel()


def select_frames_kmeans(
    readers: Sequence,
    n_pick: int,
    start: float = 0.0,
    stop: float = 1.0,
    step: int = 1,
    resize_width: int = 30,
    batch_size: int = 100,
    max_iter: int = 50,
    seed: int = 0,
) -> Generator[Progress, None, np.ndarray]:
    """Pick frames that look different: k-means on downsampled frames, one frame per cluster.

    DeepLabCut's default ``"kmeans"`` algorithm: every ``step``-th frame is
    turned to grey, shrunk to ``resize_width`` pixels wide, flattened and
    centred; ``MiniBatchKMeans`` makes ``n_pick`` clusters. Where DeepLabCut
    takes a random member of each cluster we take the member nearest its
    centre (reproducible, and the most typical frame of the cluster). With
    several synchronized cameras their features are concatenated, so a
    cluster is a joint appearance of all views.

    Parameters
    ----------
    readers
        One :class:`~napari_facehmm.io.video.VideoReader` per camera (same
        frame count; the shortest bounds the range).
    n_pick
        Number of clusters (frames to pick).
    start, stop, step
        Range (fractions of the video) and stride of the candidate frames.
    resize_width, batch_size, max_iter
        As DeepLabCut's ``cluster_resizewidth`` and ``MiniBatchKMeans`` settings.
    seed
        Random state of the clustering.

    Yields
    ------
    tuple
        ``(frames_read, frames_to_read, message)``.

    Returns
    -------
    numpy.ndarray
        ``(n_picked,)`` sorted distinct frame indices (fewer than ``n_pick``
        when there are fewer candidates or empty clusters).
    """
    from sklearn.cluster import MiniBatchKMeans

    if not readers:
        raise DataError("k-means frame selection needs at least one video")
    n_frames = min(int(r.n_frames) for r in readers)
    first, last = _frame_range(n_frames, start, stop)
    candidates = np.arange(first, last, max(1, int(step)), dtype=np.int64)
    if len(candidates) <= n_pick:
        return candidates
    features = []
    for done, index in enumerate(candidates):
        features.append(np.concatenate([_downsampled_gray(r[int(index)], resize_width) for r in readers]))
        if done % 25 == 0:
            yield done, len(candidates), f"reading frame {index} of {n_frames}"
    data = np.asarray(features, dtype=np.float64)
    data -= data.mean(axis=0)
    yield len(candidates), len(candidates), f"clustering {len(candidates)} frames into {n_pick} groups"
    kmeans = MiniBatchKMeans(
        n_clusters=int(n_pick),
        tol=1e-3,
        batch_size=min(batch_size, max(1, len(candidates) // 2)),
        max_iter=max_iter,
        random_state=seed,
        n_init=3,
    )
    labels = kmeans.fit_predict(data)
    picked = []
    for cluster in range(int(n_pick)):
        members = np.flatnonzero(labels == cluster)
        if len(members) == 0:
            continue
        distances = ((data[members] - kmeans.cluster_centers_[cluster]) ** 2).sum(axis=1)
        picked.append(candidates[members[np.argmin(distances)]])
    return np.unique(np.asarray(picked, dtype=np.int64))


def _select_with_deeplabcut(video: Path, n_pick: int, algorithm: str, start: float, stop: float,
                            step: int, resize_width: int) -> np.ndarray:
    _import_deeplabcut()
    from deeplabcut.utils import frameselectiontools
    from deeplabcut.utils.auxfun_videos import VideoReader as DLCVideoReader

    cap = DLCVideoReader(str(video))
    try:
        if algorithm == "uniform":
            picked = frameselectiontools.UniformFramescv2(cap, n_pick, start, stop)
        else:
            picked = frameselectiontools.KmeansbasedFrameselectioncv2(
                cap, n_pick, start, stop, step=step, resizewidth=resize_width, color=False
            )
    finally:
        cap.close()
    return np.unique(np.asarray(picked, dtype=np.int64))


def extract_frames(
    config_path: str | Path,
    videos: Sequence[str | Path] | None = None,
    n_frames: int | Mapping[str, int] | None = None,
    algorithm: str = "kmeans",
    synchronized: bool = False,
    start: float = 0.0,
    stop: float = 1.0,
    step: int = 1,
    resize_width: int = 30,
    seed: int = 0,
    use_deeplabcut: bool | None = None,
) -> Generator[Progress, None, dict[str, list[Path]]]:
    """Pick frames of the project's videos and write them to ``labeled-data/<video>/``.

    Parameters
    ----------
    config_path
        The project's ``config.yaml``.
    videos
        Videos to extract from (default: every video of the config).
    n_frames
        Frames per video: one number, or video path/stem -> number
        (default: the config's ``numframes2pick``).
    algorithm
        ``"kmeans"`` (frames that look different) or ``"uniform"`` (random in time).
    synchronized
        The videos are synchronized cameras of one session: frame indices
        are chosen once (k-means on all views together) and the same
        indices are written for every camera. Uses the first video's count.
    start, stop, step, resize_width
        As DeepLabCut's ``start``, ``stop``, ``cluster_step``, ``cluster_resizewidth``.
    seed
        Random seed of the selection.
    use_deeplabcut
        True: select frames with DeepLabCut's own ``frameselectiontools``
        (the code behind ``deeplabcut.extract_frames``; its k-means picks a
        random member per cluster, and with synchronized cameras the indices
        come from the first camera). False: ours (seeded, and k-means on all
        cameras together). None (default): DeepLabCut when it is installed.
        Do not import DeepLabCut in a process that shows a napari viewer
        (it crashes there): use :func:`in_subprocess` from a GUI.

    Yields
    ------
    tuple
        ``(done, total, message)``; ``total`` counts frames to read and write.

    Returns
    -------
    dict
        Video stem -> written image paths.

    Notes
    -----
    Images are named as DeepLabCut names them (:func:`frame_image_name`), so
    a frame extracted twice overwrites the same file and existing labels keep
    pointing at their image.
    """
    from .io.video import VideoReader

    if algorithm not in ("kmeans", "uniform"):
        raise DataError(f"unknown frame selection algorithm {algorithm!r}; use 'kmeans' or 'uniform'")
    project = open_project(config_path)
    video_paths = [Path(v) for v in videos] if videos else project.videos
    if not video_paths:
        raise DataError(f"{project.config_path}: the project has no videos")
    for video in video_paths:
        if not video.is_file():
            raise FileFormatError(video, "video file not found")
    dlc = _want_deeplabcut(use_deeplabcut)

    def count_for(video: Path) -> int:
        if n_frames is None:
            return project.numframes2pick
        if isinstance(n_frames, Mapping):
            for key in (str(video), video.name, video.stem):
                if key in n_frames:
                    return int(n_frames[key])
            return project.numframes2pick
        return int(n_frames)

    groups = [video_paths] if synchronized else [[v] for v in video_paths]
    written: dict[str, list[Path]] = {}
    for group_number, group in enumerate(groups):
        readers = [VideoReader(v) for v in group]
        try:
            n_pick = count_for(group[0])
            if n_pick < 1:
                raise DataError(f"number of frames to extract must be >= 1; got {n_pick} for {group[0].name}")
            label = " + ".join(v.name for v in group)
            yield 0, 1, f"selecting frames of {label} ({group_number + 1}/{len(groups)})"
            if dlc:
                picked = _select_with_deeplabcut(group[0], n_pick, algorithm, start, stop, step, resize_width)
            elif algorithm == "uniform":
                picked = select_frames_uniform(min(r.n_frames for r in readers), n_pick, start, stop, seed)
            else:
                picked = yield from select_frames_kmeans(
                    readers, n_pick, start, stop, step, resize_width, seed=seed
                )
            if len(picked) == 0:
                raise DataError(f"no frames could be selected from {label}")
            total = len(picked) * len(readers)
            done = 0
            for video, reader in zip(group, readers):
                folder = project.labeled_data(video)
                folder.mkdir(parents=True, exist_ok=True)
                paths = []
                for index in picked:
                    path = folder / frame_image_name(index, reader.n_frames)
                    _write_png(reader[int(index)], path)
                    paths.append(path)
                    done += 1
                    yield done, total, f"wrote {path.parent.name}/{path.name}"
                written[video.stem] = paths
        finally:
            for reader in readers:
                reader.close()
    return written


def _write_png(rgb: np.ndarray, path: Path) -> None:
    import cv2

    image = np.asarray(rgb)
    if image.ndim == 3:
        image = cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
    if not cv2.imwrite(str(path), image):
        raise FileFormatError(path, "could not write the image")


def _read_image(path: Path) -> np.ndarray:
    import cv2

    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise FileFormatError(path, "not a readable image")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


# ---------------------------------------------------------------- label state
@dataclass(frozen=True)
class LabelProgress:
    """How far the labeling of one folder is.

    ``n_labeled`` points placed of ``n_total`` (images x keypoints);
    ``n_frames_done`` images where every keypoint is placed or marked not
    visible, of ``n_frames``.
    """

    n_labeled: int
    n_total: int
    n_frames_done: int
    n_frames: int

    def __str__(self) -> str:
        return (
            f"{self.n_labeled}/{self.n_total} points, "
            f"{self.n_frames_done}/{self.n_frames} frames done"
        )


@dataclass(eq=False)
class LabelSet:
    """The labels of one ``labeled-data/<video>`` folder while they are edited.

    Parameters
    ----------
    root
        Project folder (holds ``labeled-data``).
    scorer
        Scorer written in the labels file.
    keypoints
        ``K`` keypoint names in config order.
    images
        ``n_images`` image paths relative to ``root``
        (``labeled-data/<video>/img0042.png``).
    positions
        ``(n_images, K, 2)`` x, y in pixels; NaN = not labeled.
    skeleton
        Edges as pairs of keypoint names.
    not_visible
        ``(n_images, K)`` bool: the labeler decided the point is not
        visible (saved as NaN, as DeepLabCut does; kept so "next keypoint"
        skips it while the session lasts).
    index_style
        ``"multi"`` (3-level row index, DeepLabCut >= 2.2) or ``"single"``
        (one path string per row), kept as the file had it.
    missing_images
        Rows whose image file is absent from ``labeled-data`` (kept so no
        label is lost; the widget shows a blank frame and names them).
    machine
        ``(n_images, K)`` bool: the point comes from DeepLabCut predictions
        (refinement) and has not been touched by the labeler.
    """

    root: Path
    scorer: str
    keypoints: tuple[str, ...]
    images: list[str]
    positions: np.ndarray
    skeleton: tuple[tuple[str, str], ...] = ()
    not_visible: np.ndarray | None = None
    index_style: str = "multi"
    missing_images: list[str] = field(default_factory=list)
    machine: np.ndarray | None = None
    dirty: bool = False

    def __post_init__(self) -> None:
        self.root = Path(self.root)
        self.keypoints = tuple(str(k) for k in self.keypoints)
        self.images = [str(i) for i in self.images]
        shape = (len(self.images), len(self.keypoints))
        self.positions = np.asarray(self.positions, dtype=np.float64).reshape(*shape, 2)
        if self.not_visible is None:
            self.not_visible = np.zeros(shape, dtype=bool)
        if self.machine is None:
            self.machine = np.zeros(shape, dtype=bool)
        names = set(self.keypoints)
        self.skeleton = tuple((a, b) for a, b in self.skeleton if a in names and b in names)

    # ----------------------------------------------------------------- shape
    @property
    def n_images(self) -> int:
        return len(self.images)

    @property
    def n_keypoints(self) -> int:
        return len(self.keypoints)

    @property
    def video(self) -> str:
        """The ``labeled-data`` folder name."""
        return Path(self.images[0]).parent.name if self.images else ""

    @property
    def labels_path(self) -> Path:
        """``<root>/labeled-data/<video>/CollectedData_<scorer>.h5``."""
        return self.root / "labeled-data" / self.video / f"CollectedData_{self.scorer}.h5"

    def image_path(self, row: int) -> Path:
        return self.root / self.images[row]

    def keypoint_index(self, name: str) -> int:
        try:
            return self.keypoints.index(name)
        except ValueError:
            raise DataError(f"keypoint {name!r} is not in the landmark set {list(self.keypoints)}") from None

    # --------------------------------------------------------------- editing
    def set_point(self, row: int, keypoint: int | str, x: float, y: float) -> None:
        """Place (or move) ``keypoint`` on image ``row`` at pixel ``(x, y)``."""
        k = keypoint if isinstance(keypoint, (int, np.integer)) else self.keypoint_index(keypoint)
        self.positions[row, k] = (float(x), float(y))
        self.not_visible[row, k] = False
        self.machine[row, k] = False
        self.dirty = True

    def clear_point(self, row: int, keypoint: int | str) -> None:
        """Delete a point (it becomes unlabeled)."""
        k = keypoint if isinstance(keypoint, (int, np.integer)) else self.keypoint_index(keypoint)
        self.positions[row, k] = np.nan
        self.not_visible[row, k] = False
        self.machine[row, k] = False
        self.dirty = True

    def mark_not_visible(self, row: int, keypoint: int | str) -> None:
        """The point is not visible on this image: no position (NaN), but decided."""
        k = keypoint if isinstance(keypoint, (int, np.integer)) else self.keypoint_index(keypoint)
        self.positions[row, k] = np.nan
        self.not_visible[row, k] = True
        self.machine[row, k] = False
        self.dirty = True

    def is_decided(self, row: int) -> np.ndarray:
        """``(K,)`` bool: placed or marked not visible on image ``row``."""
        return ~np.isnan(self.positions[row, :, 0]) | self.not_visible[row]

    def next_keypoint(self, row: int, after: int = -1) -> int | None:
        """The first undecided keypoint of image ``row`` after index ``after``
        (wrapping around), or None when all are decided."""
        undecided = ~self.is_decided(row)
        for step in range(1, self.n_keypoints + 1):
            k = (after + step) % self.n_keypoints
            if undecided[k]:
                return k
        return None

    def first_unfinished_image(self, start: int = 0) -> int | None:
        """The first image at or after ``start`` (wrapping) with an undecided keypoint."""
        for step in range(self.n_images):
            row = (start + step) % self.n_images
            if not self.is_decided(row).all():
                return row
        return None

    def progress(self) -> LabelProgress:
        labeled = ~np.isnan(self.positions[:, :, 0])
        decided = labeled | self.not_visible
        return LabelProgress(
            n_labeled=int(labeled.sum()),
            n_total=int(labeled.size),
            n_frames_done=int(decided.all(axis=1).sum()) if self.n_keypoints else 0,
            n_frames=self.n_images,
        )

    # ------------------------------------------------- napari layer data (pure)
    def to_points(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Points-layer data of the labeled points.

        Returns
        -------
        data
            ``(N, 3)`` float ``(image row, y, x)`` of the N labeled points
            (napari's axis order; unlabeled points are left out, as napari
            points cannot hold NaN).
        labels
            ``(N,)`` keypoint names.
        machine
            ``(N,)`` bool, True for untouched DeepLabCut predictions.

        See Also
        --------
        update_from_points : the inverse.
        """
        rows, ks = np.nonzero(~np.isnan(self.positions[:, :, 0]))
        data = np.column_stack([rows, self.positions[rows, ks, 1], self.positions[rows, ks, 0]])
        labels = np.array([self.keypoints[k] for k in ks], dtype=object)
        return data.astype(np.float64).reshape(-1, 3), labels, self.machine[rows, ks].copy()

    def update_from_points(self, data: np.ndarray, labels: Sequence[str]) -> list[int]:
        """Take positions from points-layer data (the inverse of :meth:`to_points`).

        Parameters
        ----------
        data
            ``(N, 3)`` ``(image row, y, x)``.
        labels
            ``(N,)`` keypoint name of each point.

        Returns
        -------
        list of int
            Indices of points that duplicate a (row, keypoint) placed by a
            later point: the later one (the most recent click) wins; the
            caller removes these from the layer.

        Notes
        -----
        Points whose position did not change keep their "machine" flag;
        keypoints without a point become NaN; a placed point clears "not
        visible".
        """
        data = np.asarray(data, dtype=np.float64).reshape(-1, 3)
        if len(labels) != len(data):
            raise DataError(f"{len(labels)} labels for {len(data)} points")
        index = {k: i for i, k in enumerate(self.keypoints)}
        positions = np.full_like(self.positions, np.nan)
        owner = -np.ones(self.positions.shape[:2], dtype=np.int64)
        duplicates = []
        for i, (point, label) in enumerate(zip(data, labels)):
            if str(label) not in index:
                raise DataError(f"point {i} has keypoint {label!r}, not in {list(self.keypoints)}")
            row = int(round(point[0]))
            if not 0 <= row < self.n_images:
                duplicates.append(i)
                continue
            k = index[str(label)]
            if owner[row, k] >= 0:
                duplicates.append(int(owner[row, k]))
            owner[row, k] = i
            positions[row, k] = (point[2], point[1])
        same = np.isclose(positions, self.positions, rtol=0, atol=1e-9).all(axis=2) | (
            np.isnan(positions[:, :, 0]) & np.isnan(self.positions[:, :, 0])
        )
        if not same.all():
            self.dirty = True
        self.machine &= same & ~np.isnan(positions[:, :, 0])
        self.not_visible &= np.isnan(positions[:, :, 0])
        self.positions = positions
        return sorted(set(duplicates))

    def skeleton_vectors(self, rows: Iterable[int] | None = None) -> np.ndarray:
        """Vectors-layer data of the skeleton edges whose two ends are labeled.

        Returns
        -------
        numpy.ndarray
            ``(n_edges, 2, 3)``: for each edge its start ``(row, y, x)`` and
            its projection ``(0, dy, dx)``, napari's vectors format.
        """
        rows = np.arange(self.n_images) if rows is None else np.asarray(list(rows), dtype=np.int64)
        pieces = []
        for a, b in self.skeleton:
            ia, ib = self.keypoints.index(a), self.keypoints.index(b)
            start, end = self.positions[rows, ia], self.positions[rows, ib]
            ok = ~(np.isnan(start).any(axis=1) | np.isnan(end).any(axis=1))
            vectors = np.zeros((int(ok.sum()), 2, 3))
            vectors[:, 0, 0] = rows[ok]
            vectors[:, 0, 1:] = start[ok][:, ::-1]  # (y, x)
            vectors[:, 1, 1:] = (end[ok] - start[ok])[:, ::-1]
            pieces.append(vectors)
        return np.concatenate(pieces) if pieces else np.zeros((0, 2, 3))

    # ------------------------------------------------------------------- I/O
    def to_label_data(self):
        """The labels as :class:`napari_facehmm.io.dlc.LabelData` (not-visible points as NaN)."""
        from .io.dlc import LabelData

        return LabelData(
            scorer=self.scorer,
            keypoints=tuple(self.keypoints),
            images=list(self.images),
            positions=self.positions.copy(),
            index_style=self.index_style,
        )

    def save(self, path: str | Path | None = None) -> Path:
        """Write ``CollectedData_<scorer>.h5`` and ``.csv`` as DeepLabCut does.

        Written atomically by :func:`napari_facehmm.io.dlc.write_labels` (a
        temporary file renamed over the old one, the old one kept as
        ``.bak``), so an interrupted save leaves the previous labels intact.
        """
        from .io.dlc import write_labels

        path = Path(path) if path is not None else self.labels_path
        path.parent.mkdir(parents=True, exist_ok=True)
        write_labels(self.to_label_data(), path)
        self.dirty = False
        return path

    def image_stack(self) -> "ImageStack":
        """The images as a lazy stack (read on demand), for a napari image layer."""
        return ImageStack([self.image_path(row) for row in range(self.n_images)])

    def load_images(self) -> np.ndarray:
        """``(n_images, h, w, 3)`` uint8 RGB stack of all images, read now (see :meth:`image_stack`)."""
        stack = self.image_stack()
        return np.stack([stack[row] for row in range(len(stack))]) if len(stack) else np.zeros(
            (0, *stack.shape[1:]), np.uint8
        )


def _png_size(path: Path) -> tuple[int, int] | None:
    """``(height, width)`` from a PNG header (24 bytes), or None if not a PNG."""
    with open(path, "rb") as handle:
        header = handle.read(24)
    if len(header) < 24 or header[:8] != b"\x89PNG\r\n\x1a\n":
        return None
    width, height = int.from_bytes(header[16:20], "big"), int.from_bytes(header[20:24], "big")
    return height, width


class ImageStack:
    """A folder's images as a lazy ``(n_images, height, width, 3)`` uint8 stack.

    Only image sizes are read up front (PNG headers); pixels are read when
    an image is asked for, with a small cache, so a project of thousands of
    extracted frames opens at once and uses little memory. Missing images
    are blank; smaller images are padded at the bottom/right to the largest
    size (so pixel coordinates stay those of the file).

    Parameters
    ----------
    paths
        ``n_images`` image files.
    cache_size
        Images kept in memory.
    """

    def __init__(self, paths: Sequence[Path], cache_size: int = 32):
        from collections import OrderedDict

        self.paths = [Path(p) for p in paths]
        sizes = []
        for path in self.paths:
            if not path.is_file():
                continue
            size = _png_size(path)
            sizes.append(size if size is not None else _read_image(path).shape[:2])
        height = max((h for h, _ in sizes), default=1)
        width = max((w for _, w in sizes), default=1)
        self.shape = (len(self.paths), height, width, 3)
        self.dtype = np.dtype(np.uint8)
        self._cache: OrderedDict[int, np.ndarray] = OrderedDict()
        self._cache_size = int(cache_size)

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, index: int) -> np.ndarray:
        """``(height, width, 3)`` uint8 RGB image ``index``."""
        index = int(index)
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError(f"image {index} out of range 0..{len(self) - 1}")
        if index in self._cache:
            self._cache.move_to_end(index)
            return self._cache[index]
        image = np.zeros(self.shape[1:], dtype=np.uint8)
        path = self.paths[index]
        if path.is_file():
            pixels = _read_image(path)
            image[: pixels.shape[0], : pixels.shape[1]] = pixels
        self._cache[index] = image
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return image


def _image_files(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in _IMAGE_SUFFIXES and p.is_file())


def _relative_image(folder: Path, image: str) -> str:
    # DLC writes POSIX-style relative paths; labels made on Windows have backslashes.
    parts = str(image).replace("\\", "/").split("/")
    return "/".join(["labeled-data", folder.name, parts[-1]])


def load_labels(project: LabelingProject | str | Path, video: str | Path) -> LabelSet:
    """Open the labels of ``labeled-data/<video>`` (its images plus any ``CollectedData``).

    Parameters
    ----------
    project
        A :class:`LabelingProject` or the path of its ``config.yaml``.
    video
        A video path or the ``labeled-data`` folder name.

    Raises
    ------
    DataError
        If the labels file's keypoints disagree with the config's bodyparts
        (nothing is written; the message lists both so the config can be fixed).
    FileFormatError
        If the labels file is unreadable.

    Notes
    -----
    Rows of the labels file whose image is absent stay in the set (they are
    saved again, so nothing is lost) and are listed in ``missing_images``.
    """
    if not isinstance(project, LabelingProject):
        project = open_project(project)
    folder = project.labeled_data(video)
    images = [f"labeled-data/{folder.name}/{p.name}" for p in _image_files(folder)]
    positions = {}
    index_style = "multi"
    scorer = project.scorer
    labels_path = project.labels_path(folder.name)
    if labels_path.is_file():
        from .io.dlc import read_labels

        label_data = read_labels(labels_path)
        _check_keypoints(label_data.keypoints, project, labels_path)
        order = [label_data.keypoints.index(k) for k in project.bodyparts]
        index_style = label_data.index_style
        for image, xy in zip(label_data.images, np.asarray(label_data.positions)[:, order]):
            positions[_relative_image(folder, image)] = xy
    if not images and not positions:
        raise DataError(f"{folder}: no images to label (extract frames first)")
    present = set(images)
    missing = sorted(set(positions) - present)
    rows = sorted(present | set(positions))
    array = np.full((len(rows), len(project.bodyparts), 2), np.nan)
    for i, image in enumerate(rows):
        if image in positions:
            array[i] = positions[image]
    return LabelSet(
        root=project.root,
        scorer=scorer,
        keypoints=project.bodyparts,
        images=rows,
        positions=array,
        skeleton=project.skeleton,
        index_style=index_style,
        missing_images=missing,
    )


def _check_keypoints(keypoints: Sequence[str], project: LabelingProject, path: Path) -> None:
    in_file, in_config = list(keypoints), list(project.bodyparts)
    if set(in_file) == set(in_config):
        return
    only_file = [k for k in in_file if k not in in_config]
    only_config = [k for k in in_config if k not in in_file]
    problem = "its keypoints disagree with the bodyparts of " f"{project.config_path}"
    if only_file:
        problem += f"; only in the labels file: {only_file}"
    if only_config:
        problem += f"; only in the config: {only_config}"
    problem += ". Nothing was changed: edit the config's bodyparts to match, then reopen."
    raise DataError(f"{path}: {problem}")


# ----------------------------------------------------------------- refinement
_MACHINE_NAME = re.compile(r"machinelabels-iter(\d+)\.h5$")


def find_machine_labels(folder: str | Path, iteration: int | None = None) -> Path | None:
    """``machinelabels-iter<N>.h5`` of a ``labeled-data`` folder (the given or highest N)."""
    folder = Path(folder)
    found = {}
    for path in folder.glob("machinelabels-iter*.h5"):
        match = _MACHINE_NAME.search(path.name)
        if match:
            found[int(match.group(1))] = path
    if not found:
        return None
    if iteration is not None:
        return found.get(int(iteration))
    return found[max(found)]


def read_machine_labels(path: str | Path) -> tuple[list[str], tuple[str, ...], np.ndarray, np.ndarray]:
    """Read DeepLabCut's predictions for extracted outlier frames.

    ``extract_outlier_frames`` writes ``machinelabels-iter<N>.h5`` (key
    ``df_with_missing``): rows are images (a 3-level index
    ``("labeled-data", video, "img042.png")`` or path strings), columns
    ``(scorer, bodyparts, coords)`` with coords ``x, y, likelihood``.

    Returns
    -------
    images
        ``n_images`` image names (file name only).
    keypoints
        ``K`` keypoint names.
    positions
        ``(n_images, K, 2)`` x, y (NaN where not predicted).
    likelihood
        ``(n_images, K)`` (NaN when the file has none).
    """
    import pandas as pd

    path = Path(path)
    if not path.is_file():
        raise FileFormatError(path, "no such machine labels file")
    try:
        table = pd.read_hdf(path)
    except Exception as error:  # pandas/pytables raise many types for a bad file
        raise FileFormatError(path, f"not a readable DeepLabCut HDF5 table ({error})") from None
    columns = table.columns
    if not isinstance(columns, pd.MultiIndex) or "bodyparts" not in columns.names or "coords" not in columns.names:
        raise FileFormatError(
            path, f"expected columns (scorer, bodyparts, coords); got levels {list(columns.names)}"
        )
    if "individuals" in columns.names:
        raise FileFormatError(path, "multi-animal machine labels are not supported for face labeling")
    coords = set(columns.get_level_values("coords"))
    if not {"x", "y"} <= coords:
        raise FileFormatError(path, f"coords must include x and y; got {sorted(coords)}")
    keypoints = tuple(dict.fromkeys(str(b) for b in columns.get_level_values("bodyparts")))
    flat = table.droplevel("scorer", axis=1) if "scorer" in columns.names else table
    if flat.columns.duplicated().any():
        # rows written under several scorers (DeepLabCut's network and a
        # labeler's): each (bodypart, coord) takes the value one of them has
        flat = flat.T.groupby(level=["bodyparts", "coords"], sort=False).first().T
    positions = np.full((len(table), len(keypoints), 2), np.nan)
    likelihood = np.full((len(table), len(keypoints)), np.nan)
    for k, name in enumerate(keypoints):
        positions[:, k, 0] = flat[(name, "x")].to_numpy(dtype=np.float64)
        positions[:, k, 1] = flat[(name, "y")].to_numpy(dtype=np.float64)
        if "likelihood" in coords:
            likelihood[:, k] = flat[(name, "likelihood")].to_numpy(dtype=np.float64)
    if isinstance(table.index, pd.MultiIndex):
        images = [str(row[-1]) for row in table.index]
    else:
        images = [str(row).replace("\\", "/").split("/")[-1] for row in table.index]
    return images, keypoints, positions, likelihood


def load_for_refinement(
    project: LabelingProject | str | Path, video: str | Path, machine_path: str | Path | None = None
) -> LabelSet:
    """Labels of a folder merged with DeepLabCut's predictions for its outlier frames.

    Predictions fill the (image, keypoint) pairs that have no human label;
    where both exist the human label wins (as DeepLabCut's refinement
    does). Saving the result writes ``CollectedData_<scorer>.h5``: the
    corrected predictions become labels.

    Parameters
    ----------
    project
        A :class:`LabelingProject` or its ``config.yaml``.
    video
        A video path or ``labeled-data`` folder name.
    machine_path
        The predictions file (default: the folder's highest ``machinelabels-iter<N>.h5``).
    """
    if not isinstance(project, LabelingProject):
        project = open_project(project)
    folder = project.labeled_data(video)
    if machine_path is None:
        machine_path = find_machine_labels(folder)
        if machine_path is None:
            raise DataError(f"{folder}: no machinelabels-iter<N>.h5 (run deeplabcut.extract_outlier_frames first)")
    machine_path = Path(machine_path)
    images, keypoints, predicted, _ = read_machine_labels(machine_path)
    _check_keypoints(keypoints, project, machine_path)
    order = [keypoints.index(k) for k in project.bodyparts]
    predicted = predicted[:, order]
    try:
        labels = load_labels(project, folder.name)
    except DataError:
        if (folder / f"CollectedData_{project.scorer}.h5").is_file() or _image_files(folder):
            raise
        labels = None
    rows = list(labels.images) if labels is not None else []
    names = {Path(r).name: i for i, r in enumerate(rows)}
    extra = [f"labeled-data/{folder.name}/{name}" for name in images if name not in names]
    all_rows = sorted(set(rows) | set(extra))
    positions = np.full((len(all_rows), len(project.bodyparts), 2), np.nan)
    machine = np.zeros(positions.shape[:2], dtype=bool)
    row_of = {Path(r).name: i for i, r in enumerate(all_rows)}
    for name, xy in zip(images, predicted):
        positions[row_of[name]] = xy
        machine[row_of[name]] = ~np.isnan(xy[:, 0])
    if labels is not None:
        for r, image in enumerate(labels.images):
            human = ~np.isnan(labels.positions[r, :, 0])
            i = row_of[Path(image).name]
            positions[i, human] = labels.positions[r, human]
            machine[i, human] = False
    present = {Path(p).name for p in _image_files(folder)}
    return LabelSet(
        root=project.root,
        scorer=project.scorer,
        keypoints=project.bodyparts,
        images=all_rows,
        positions=positions,
        skeleton=project.skeleton,
        index_style=labels.index_style if labels is not None else "multi",
        missing_images=[r for r in all_rows if Path(r).name not in present],
        machine=machine,
        # not dirty: predictions become labels only once the labeler edits or saves
        dirty=False,
    )


# --------------------------------------------------------------- pre-labeling
#: The rule that decides what of the face model's proposals is saved, in the
#: words the dock shows (and the README uses).
PRELABEL_RULE = (
    "Proposals (hollow rings) become labels only when you confirm their frame: move, place or "
    "delete a point on it, or press C. Unconfirmed frames are not saved to CollectedData."
)


def face_model_keypoints(bodyparts: Sequence[str]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Split a project's bodyparts into those the face model proposes and the others.

    Returns
    -------
    proposed, empty
        Bodyparts that are among the 21 face landmarks
        (:data:`~napari_facehmm.face.FACE_KEYPOINTS`, the built-in tracker's
        set), and the rest, each in the project's order.
    """
    names = [str(b) for b in bodyparts]
    return (
        tuple(b for b in names if b in FACE_KEYPOINTS),
        tuple(b for b in names if b not in FACE_KEYPOINTS),
    )


@dataclass(frozen=True)
class Prelabels:
    """What :func:`prelabel_folder` wrote.

    Attributes
    ----------
    path
        The ``machinelabels-iter<N>.h5`` (``machinelabels.csv`` beside it).
    images
        Image names (``img042.png``) in row order.
    proposed_keypoints
        Bodyparts that got proposals (face landmarks).
    empty_keypoints
        Bodyparts the face model cannot propose (left empty).
    n_frames_with_face
        Images where a face was found (the others have no proposals).
    n_frames_several_faces
        Images with more than one face (the largest one was used).
    messages
        What the user should be told.
    """

    path: Path
    images: tuple[str, ...]
    proposed_keypoints: tuple[str, ...]
    empty_keypoints: tuple[str, ...]
    n_frames_with_face: int
    n_frames_several_faces: int
    messages: tuple[str, ...] = ()


def prelabel_folder(
    project: LabelingProject | str | Path,
    video: str | Path,
    min_detection_confidence: float = 0.5,
    min_presence: float = 0.5,
) -> Generator[Progress, None, Prelabels]:
    """Propose landmarks on a folder's extracted frames with the built-in face model.

    Each ``labeled-data/<video>/*.png`` image goes through MediaPipe's face
    mesh in static mode (extracted frames are far apart in time: every image
    is a fresh detection); the largest face is kept. The project's bodyparts
    that are face landmarks get the model's position and, as likelihood, the
    face presence score; other bodyparts stay empty (NaN). The proposals are
    written as DeepLabCut writes machine predictions for outlier frames:
    ``machinelabels-iter<N>.h5`` (N the config's ``iteration``, scorer
    ``FaceMesh``) and ``machinelabels.csv``, replacing an earlier file
    atomically (kept as ``.bak``). ``CollectedData_<scorer>`` is never
    touched. Open the result with :func:`load_prelabels`.

    Parameters
    ----------
    project
        A :class:`LabelingProject` or its ``config.yaml``.
    video
        A video path or the ``labeled-data`` folder name.
    min_detection_confidence, min_presence
        See :class:`~napari_facehmm.tracking.facemesh.FaceMeshTracker`.

    Yields
    ------
    tuple
        ``(images_done, n_images, message)``; close the generator to cancel
        (nothing is written then).

    Returns
    -------
    Prelabels

    Raises
    ------
    DataError
        No bodypart of the project is a face landmark, or the folder has no
        images (nothing is written).
    NoFaceError
        No image shows a face (nothing is written).
    FileFormatError
        An image cannot be read (naming it).
    MissingDependencyError
        MediaPipe is not installed.
    """
    from .progress import relay
    from .tracking.facemesh import SCORER, FaceMeshTracker, NoFaceError, mesh_to_landmarks, track_frames

    if not isinstance(project, LabelingProject):
        project = open_project(project)
    folder = project.labeled_data(video)
    proposed, empty = face_model_keypoints(project.bodyparts)
    if not proposed:
        raise DataError(
            f"{project.config_path}: none of the project's bodyparts {list(project.bodyparts)} is one of the "
            f"face model's landmarks {list(FACE_KEYPOINTS)}, so it has nothing to propose; nothing was written. "
            "Pre-labeling works for face projects that use these landmark names."
        )
    paths = _image_files(folder)
    if not paths:
        raise DataError(f"{folder}: no images to pre-label (extract frames first)")
    n_images = len(paths)

    def step(progress: Progress) -> Progress:
        done, _, _ = progress
        return done, n_images, f"face model: {done} of {n_images} images of {folder.name}"

    with FaceMeshTracker(
        max_faces=2, min_detection_confidence=min_detection_confidence, min_presence=min_presence, static=True
    ) as tracker:
        vertices, presence, n_several = yield from relay(
            track_frames((_read_image(p) for p in paths), n_images, tracker, label=folder.name), step
        )
    landmarks = mesh_to_landmarks(vertices)  # (n_images, 21, 2), NaN where no face
    found = np.isfinite(landmarks[:, 0, 0])
    n_found = int(found.sum())
    if n_found == 0:
        raise NoFaceError(
            f"{folder}: the face model found no face in any of its {n_images} images; nothing was written "
            "(it needs a face turned towards the camera, at least about 1/10 of the image high)"
        )
    positions = np.full((n_images, len(project.bodyparts), 2), np.nan)
    likelihood = np.full((n_images, len(project.bodyparts)), np.nan)
    for k, name in enumerate(project.bodyparts):
        if name in proposed:
            positions[:, k] = landmarks[:, FACE_KEYPOINTS.index(name)]
            likelihood[:, k] = presence
    path = folder / f"machinelabels-iter{project.iteration}.h5"
    names = [p.name for p in paths]
    write_machine_labels(path, folder.name, names, project.bodyparts, positions, likelihood, scorer=SCORER)
    messages = [f"{folder.name}: face-model proposals for {len(proposed)} landmarks on {n_found} of {n_images} images"]
    if n_found < n_images:
        messages.append(f"no face was found on {n_images - n_found} image(s); label those by hand")
    if empty:
        messages.append(f"not face landmarks, left empty: {', '.join(empty)}")
    if n_several:
        messages.append(f"{int(n_several)} image(s) show several faces; the largest one was used")
    return Prelabels(
        path=path,
        images=tuple(names),
        proposed_keypoints=proposed,
        empty_keypoints=empty,
        n_frames_with_face=n_found,
        n_frames_several_faces=int(n_several),
        messages=tuple(messages),
    )


def write_machine_labels(
    path: str | Path,
    folder_name: str,
    images: Sequence[str],
    keypoints: Sequence[str],
    positions: np.ndarray,
    likelihood: np.ndarray,
    scorer: str,
) -> Path:
    """Write predictions for a folder's images as DeepLabCut's ``machinelabels-iter<N>.h5``.

    The inverse of :func:`read_machine_labels`: key ``df_with_missing``, rows
    ``("labeled-data", folder_name, image)``, columns ``(scorer, bodyparts,
    coords)`` with ``x, y, likelihood``; ``machinelabels.csv`` beside it, as
    ``extract_outlier_frames`` writes. Both files are replaced together or
    not at all (the previous ones kept as ``.bak``).

    Parameters
    ----------
    path
        ``labeled-data/<folder_name>/machinelabels-iter<N>.h5``.
    folder_name
        The ``labeled-data`` folder (the video's stem).
    images
        ``n_images`` image names (``img042.png``).
    keypoints
        ``K`` bodypart names.
    positions
        ``(n_images, K, 2)`` x, y in pixels (NaN: no prediction).
    likelihood
        ``(n_images, K)``.
    scorer
        The ``scorer`` column level (the model's name).
    """
    import pandas as pd

    from .io._atomic import atomic_write_path

    path = Path(path)
    images, keypoints = [str(i) for i in images], [str(k) for k in keypoints]
    positions = np.asarray(positions, dtype=np.float64)
    likelihood = np.asarray(likelihood, dtype=np.float64)
    if positions.shape != (len(images), len(keypoints), 2) or likelihood.shape != positions.shape[:2]:
        raise DataError(
            f"machine labels for {len(images)} images x {len(keypoints)} keypoints need positions "
            f"{(len(images), len(keypoints), 2)} and likelihood {(len(images), len(keypoints))}; "
            f"got {positions.shape} and {likelihood.shape}"
        )
    columns = pd.MultiIndex.from_product(
        [[str(scorer)], keypoints, ["x", "y", "likelihood"]], names=["scorer", "bodyparts", "coords"]
    )
    index = pd.MultiIndex.from_tuples([("labeled-data", str(folder_name), image) for image in images])
    values = np.concatenate([positions, likelihood[:, :, None]], axis=2).reshape(len(images), -1)
    table = pd.DataFrame(values, index=index, columns=columns)
    with atomic_write_path(path, backup=True) as temp_h5, atomic_write_path(
        path.parent / "machinelabels.csv", backup=True
    ) as temp_csv:
        table.to_hdf(temp_h5, key="df_with_missing", mode="w")
        table.to_csv(temp_csv)
    return path


def is_face_model_proposals(path: str | Path) -> bool:
    """Whether a ``machinelabels`` file holds the face model's proposals only (scorer ``FaceMesh``)."""
    import pandas as pd

    from .tracking.facemesh import SCORER

    try:
        columns = pd.read_hdf(Path(path)).columns
    except Exception:  # unreadable files are reported by read_machine_labels when opened
        return False
    if not isinstance(columns, pd.MultiIndex) or "scorer" not in columns.names:
        return False
    return set(columns.get_level_values("scorer")) == {SCORER}


@dataclass(frozen=True)
class ConfirmationCounts:
    """Frames of a :class:`PrelabelSet` by what saving does with them.

    ``n_confirmed`` frames are saved with no proposal left on them;
    ``n_to_check`` show proposals nobody has confirmed (their proposals are
    not saved); ``n_without_proposals`` have neither (no face found, nothing
    labeled yet), of ``n_frames``.
    """

    n_confirmed: int
    n_to_check: int
    n_without_proposals: int
    n_frames: int

    def __str__(self) -> str:
        text = f"{self.n_confirmed} frame(s) confirmed, {self.n_to_check} with proposals to check"
        if self.n_without_proposals:
            text += f", {self.n_without_proposals} without proposals"
        return text


@dataclass(eq=False)
class PrelabelSet(LabelSet):
    """A :class:`LabelSet` whose untouched points are the face model's proposals.

    The rule: a proposal becomes a label only when a person confirms its
    frame, by changing a point on it (move, place, delete, not visible) or
    with :meth:`confirm`; confirming turns every proposal of the frame into a
    label. Saving writes the confirmed frames and the frames the labels file
    already had, with their unconfirmed proposals left out, so no proposal
    reaches ``CollectedData`` unseen and no earlier label is lost.

    Parameters
    ----------
    confirmed
        ``(n_images,)`` bool: frames confirmed in this session.
    in_labels_file
        ``(n_images,)`` bool: frames that have a row in ``CollectedData``
        already (kept when saving).
    """

    confirmed: np.ndarray | None = None
    in_labels_file: np.ndarray | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in ("confirmed", "in_labels_file"):
            value = getattr(self, name)
            value = np.zeros(self.n_images, dtype=bool) if value is None else np.asarray(value, dtype=bool)
            if value.shape != (self.n_images,):
                raise DataError(f"{name} must have one entry per image ({self.n_images}); got {value.shape}")
            setattr(self, name, value.copy())

    def confirm(self, row: int) -> None:
        """A person has checked image ``row``: its proposals become labels."""
        self.confirmed[row] = True
        self.machine[row] = False
        self.dirty = True

    def set_point(self, row: int, keypoint: int | str, x: float, y: float) -> None:
        super().set_point(row, keypoint, x, y)
        self.confirm(row)

    def clear_point(self, row: int, keypoint: int | str) -> None:
        super().clear_point(row, keypoint)
        self.confirm(row)

    def mark_not_visible(self, row: int, keypoint: int | str) -> None:
        super().mark_not_visible(row, keypoint)
        self.confirm(row)

    def update_from_points(self, data: np.ndarray, labels: Sequence[str]) -> list[int]:
        """:meth:`LabelSet.update_from_points`; every image whose points changed is confirmed."""
        before = self.positions.copy()
        duplicates = super().update_from_points(data, labels)
        for row in changed_rows(before, self.positions):
            self.confirm(int(row))
        return duplicates

    def saved_rows(self) -> np.ndarray:
        """``(n_images,)`` bool: the frames saving writes (confirmed, or already in the labels file)."""
        return self.confirmed | self.in_labels_file

    def counts(self) -> ConfirmationCounts:
        with_proposals = self.machine.any(axis=1)
        saved = self.saved_rows()
        return ConfirmationCounts(
            n_confirmed=int((saved & ~with_proposals).sum()),
            n_to_check=int(with_proposals.sum()),
            n_without_proposals=int((~saved & ~with_proposals).sum()),
            n_frames=self.n_images,
        )

    def progress(self) -> LabelProgress:
        """As :meth:`LabelSet.progress`, counting only labels: a proposal is not a placed point."""
        labeled = ~np.isnan(self.positions[:, :, 0]) & ~self.machine
        decided = labeled | self.not_visible
        return LabelProgress(
            n_labeled=int(labeled.sum()),
            n_total=int(labeled.size),
            n_frames_done=int(decided.all(axis=1).sum()) if self.n_keypoints else 0,
            n_frames=self.n_images,
        )

    def first_unfinished_image(self, start: int = 0) -> int | None:
        """The first image at or after ``start`` (wrapping) with proposals to check or an undecided keypoint."""
        for step in range(self.n_images):
            row = (start + step) % self.n_images
            if self.machine[row].any() or not self.is_decided(row).all():
                return row
        return None

    def to_label_data(self):
        """The saved frames (:meth:`saved_rows`) as labels; unconfirmed proposals are left out (NaN)."""
        from .io.dlc import LabelData

        rows = np.flatnonzero(self.saved_rows())
        positions = self.positions[rows].copy()
        positions[self.machine[rows]] = np.nan
        return LabelData(
            scorer=self.scorer,
            keypoints=tuple(self.keypoints),
            images=[self.images[r] for r in rows],
            positions=positions,
            index_style=self.index_style,
        )

    def save(self, path: str | Path | None = None) -> Path:
        """Write the saved frames to ``CollectedData_<scorer>.h5/.csv`` (see :meth:`to_label_data`).

        Raises
        ------
        DataError
            If no frame is confirmed and the labels file has none (nothing to write).
        """
        if not self.saved_rows().any():
            raise DataError(
                "No frame is confirmed yet, so there is nothing to save: check a frame's proposals, "
                "move the wrong ones (or press C to accept them), then save."
            )
        return super().save(path)


def changed_rows(before: np.ndarray, after: np.ndarray) -> np.ndarray:
    """Rows (images) where any point of ``(n_images, K, 2)`` positions differs (NaN equals NaN)."""
    same = np.isclose(before, after, rtol=0, atol=1e-9) | (np.isnan(before) & np.isnan(after))
    return np.flatnonzero(~same.all(axis=(1, 2)))


def load_prelabels(
    project: LabelingProject | str | Path, video: str | Path, machine_path: str | Path | None = None
) -> PrelabelSet:
    """A folder's labels with the face model's proposals, for checking them (see :class:`PrelabelSet`).

    Parameters
    ----------
    project
        A :class:`LabelingProject` or its ``config.yaml``.
    video
        A video path or ``labeled-data`` folder name.
    machine_path
        The proposals (default: ``machinelabels-iter<N>.h5`` of the config's
        iteration, else the folder's highest N).

    Notes
    -----
    Proposals fill only the points with no label, as in refinement
    (:func:`load_for_refinement`, which reads the files).
    """
    import dataclasses

    if not isinstance(project, LabelingProject):
        project = open_project(project)
    folder = project.labeled_data(video)
    if machine_path is None:
        machine_path = find_machine_labels(folder, project.iteration) or find_machine_labels(folder)
        if machine_path is None:
            raise DataError(f"{folder}: no machinelabels-iter<N>.h5 (pre-label the folder with the face model first)")
    merged = load_for_refinement(project, folder.name, machine_path)
    in_file = np.zeros(merged.n_images, dtype=bool)
    labels_path = project.labels_path(folder.name)
    if labels_path.is_file():
        from .io.dlc import read_labels

        names = {Path(image).name for image in read_labels(labels_path).images}
        in_file = np.array([Path(image).name in names for image in merged.images], dtype=bool)
    values = {f.name: getattr(merged, f.name) for f in dataclasses.fields(LabelSet)}
    return PrelabelSet(**values, in_labels_file=in_file)


# ------------------------------------------------------------------- autosave
@dataclass
class AutosaveClock:
    """Decides when an autosave is due (the widget's QTimer asks it).

    Parameters
    ----------
    interval_s
        Seconds between autosaves; 0 or less disables autosave.
    """

    interval_s: float = 120.0
    last_save_s: float | None = None

    def due(self, now_s: float, dirty: bool) -> bool:
        """True if there are unsaved changes and ``interval_s`` passed since the last save."""
        if not dirty or self.interval_s <= 0:
            return False
        return self.last_save_s is None or now_s - self.last_save_s >= self.interval_s - 1e-6

    def saved(self, now_s: float) -> None:
        self.last_save_s = now_s
