"""Frame selection: which frames of the project's videos to label.

:func:`extract_frames` picks frames (``"uniform"`` or ``"kmeans"`` like
DeepLabCut, :func:`select_frames_uniform` / :func:`select_frames_kmeans`,
or DeepLabCut's own ``frameselectiontools``) and writes them as
``labeled-data/<video>/img<NNNN>.png``; synchronized cameras get the same
frame indices.
"""

from __future__ import annotations

import math
from pathlib import Path
from collections.abc import Generator, Mapping, Sequence

import numpy as np

from ..errors import DataError, FileFormatError
from ..progress import Progress
from .images import _write_png, frame_image_name
from ..ranges import Setting
from .project import DEFAULT_FRAMES_PER_VIDEO, _import_deeplabcut, _want_deeplabcut, open_project

# extract_frames' settings, as the labeling dock's Extract tab shows them
#: per video; the default is the config's numframes2pick (a new project's: DeepLabCut's 20)
FRAMES_PER_VIDEO = Setting("n_frames", int, DEFAULT_FRAMES_PER_VIDEO, minimum=1, maximum=10_000,
                           help="frames to extract from each video")
FRAME_ALGORITHM = Setting("algorithm", str, "kmeans", choices=("kmeans", "uniform"),
                          help="kmeans: frames that look different; uniform: random in time")
SYNCHRONIZED = Setting("synchronized", bool, False,
                       help="synchronized cameras: the same frames from every video (k-means on all views together)")


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
    algorithm: str = FRAME_ALGORITHM.default,
    synchronized: bool = SYNCHRONIZED.default,
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
    from ..io.video import VideoReader

    if algorithm not in FRAME_ALGORITHM.choices:
        raise DataError(f"unknown frame selection algorithm {algorithm!r}; use {FRAME_ALGORITHM.describe()}")
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
            n_pick = FRAMES_PER_VIDEO.check(count_for(group[0]), f"number of frames to extract from {group[0].name}")
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
