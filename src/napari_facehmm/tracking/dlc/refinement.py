"""Refinement: outlier frames into the project, frames chosen elsewhere, and the next iteration.

The frames worth relabeling by the 3D reprojection error or the HMM are
picked in :mod:`napari_facehmm.tracking.frame_picking`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from ...errors import DataError
from .project import _read_config, require_deeplabcut
from .runner import _run_task
from .settings import OUTLIER_ALGORITHM, EPSILON, OUTLIER_EXTRACTION, P_BOUND, SHUFFLE


def extract_outlier_frames(
    config_path: str | Path,
    videos: Sequence[str | Path],
    shuffle: int = 1,
    trainingsetindex: int = 0,
    algorithm: str = OUTLIER_ALGORITHM.default,
    extraction: str = OUTLIER_EXTRACTION.default,
    epsilon_px: float = EPSILON.default,
    p_bound: float = P_BOUND.default,
    snapshot: str | Path | None = None,
    destfolder: str | Path | None = None,
) -> dict[str, list[str]]:
    """DeepLabCut's ``extract_outlier_frames`` (``automatic=True``) on analyzed videos.

    Frames go to ``labeled-data/<video>/img<N>.png`` with the network's
    predictions in ``machinelabels-iter<i>.h5``, ready to be corrected.

    Parameters
    ----------
    algorithm
        DeepLabCut's ``outlieralgorithm``: "jump" (a point moves more than
        ``epsilon_px`` between frames), "uncertain" (likelihood below
        ``p_bound``) or "fitting" (deviates from a SARIMAX fit).
    extraction
        How ``numframes2pick`` frames are chosen among the outliers: "kmeans" or "uniform".
    snapshot
        The snapshot whose analysis to use (None: config's ``snapshotindex``).

    Returns
    -------
    dict
        Video name -> image files added to its labeled-data folder.
    """
    require_deeplabcut("Extracting outlier frames with DeepLabCut")
    config_path = Path(config_path)
    _read_config(config_path)
    shuffle = SHUFFLE.check(shuffle)
    algorithm = OUTLIER_ALGORITHM.check(algorithm, "outlier algorithm")
    extraction = OUTLIER_EXTRACTION.check(extraction, "outlier frame extraction")
    epsilon_px = EPSILON.check(epsilon_px, "jump threshold (epsilon, px)")
    p_bound = P_BOUND.check(p_bound, "likelihood bound (p_bound)")
    missing = [str(v) for v in videos if not Path(v).is_file()]
    if missing:
        raise DataError(f"video file(s) not found: {', '.join(missing)}")
    params = {
        "config": str(config_path),
        "videos": [str(Path(v).resolve()) for v in videos],
        "shuffle": int(shuffle),
        "trainingsetindex": int(trainingsetindex),
        "algorithm": algorithm,
        "extraction": extraction,
        "epsilon": float(epsilon_px),
        "p_bound": float(p_bound),
        "snapshot": None if snapshot is None else str(snapshot),
        "destfolder": None if destfolder is None else str(destfolder),
    }
    result = _run_task("outliers", params, "Extracting outlier frames with DeepLabCut")
    return {name: list(images) for name, images in result["added"].items()}


def merge_datasets(config_path: str | Path) -> int:
    """``deeplabcut.merge_datasets``: start the next refinement iteration.

    Returns the new ``iteration`` of ``config.yaml``. Create a training
    dataset and train again afterwards.

    Raises
    ------
    DeepLabCutError
        If some labeled-data folder has extracted frames but no labels.
    """
    require_deeplabcut("Merging DeepLabCut datasets")
    config_path = Path(config_path)
    _read_config(config_path)
    return int(_run_task("merge", {"config": str(config_path)}, "Merging DeepLabCut datasets")["iteration"])


def add_frames_to_labeled_data(
    config_path: str | Path,
    video: str | Path,
    frame_indices: Sequence[int],
    predictions=None,
) -> list[Path]:
    """Extract chosen frames of a video into the project as DeepLabCut does.

    For frames picked outside DeepLabCut (e.g. where the HMM or the 3D
    reprojection error disagree with the 2D tracking). Writes
    ``labeled-data/<video stem>/img<index>.png`` (index zero-padded to the
    digits of the frame count, as DeepLabCut names them), appends the
    predictions of those frames to ``machinelabels-iter<i>.h5`` (+
    ``machinelabels.csv``), and adds the video to ``video_sets`` of
    ``config.yaml`` (atomically, with a backup) so that the next training
    dataset includes the folder. Does not need deeplabcut.

    Parameters
    ----------
    config_path
        The project's ``config.yaml``.
    video
        The video the frames come from.
    frame_indices
        Frame numbers (0-based) in the video.
    predictions
        Optional :class:`~napari_facehmm.data.LandmarkSeries` (or a path to
        a DeepLabCut analysis ``.h5``) of that video: its positions at those
        frames become the machine labels to correct.

    Returns
    -------
    list of Path
        The image files written (existing images are kept, not rewritten).
    """
    import cv2
    import pandas as pd

    from ...io._atomic import atomic_write_path
    from ...io.video import VideoReader

    config = _read_config(config_path)
    video = Path(video)
    if not video.is_file():
        raise DataError(f"video {video} does not exist")
    frames = sorted({int(i) for i in frame_indices})
    if not frames:
        return []
    reader = VideoReader(video)
    try:
        n_frames = len(reader)
        bad = [i for i in frames if not 0 <= i < n_frames]
        if bad:
            raise DataError(f"frame indices {bad[:5]} are outside {video.name} (0..{n_frames - 1})")
        folder = config.labeled_data_dir / video.stem
        folder.mkdir(parents=True, exist_ok=True)
        width = int(np.ceil(np.log10(n_frames)))  # DeepLabCut's zero padding
        written = []
        for index in frames:
            image = folder / f"img{str(index).zfill(width)}.png"
            if image.exists():
                continue
            with atomic_write_path(image, backup=False) as temp:
                if not cv2.imwrite(str(temp), np.ascontiguousarray(reader[index][:, :, ::-1])):
                    raise DataError(f"could not write {image}")
            written.append(image)
    finally:
        reader.close()

    if predictions is not None:
        if not hasattr(predictions, "positions"):
            from ...io.dlc import read_dlc_analysis

            predictions = read_dlc_analysis(predictions)
        row_of = {int(f): r for r, f in enumerate(predictions.frame_indices)}
        keypoints = [k for k in config.bodyparts if k in predictions.keypoints]
        machine_file = folder / f"machinelabels-iter{config.raw.get('iteration', 0)}.h5"
        previous = pd.read_hdf(machine_file, "df_with_missing") if machine_file.is_file() else None
        scorer = config.scorer
        if previous is not None and previous.columns.get_level_values("scorer").nunique() == 1:
            # DeepLabCut's outlier extraction wrote this file under its network's
            # scorer: our rows join it under the same one, so it keeps one scorer
            scorer = previous.columns.get_level_values("scorer")[0]
        columns = pd.MultiIndex.from_product(
            [[scorer], keypoints, ["x", "y"]], names=["scorer", "bodyparts", "coords"]
        )
        values = np.full((len(frames), len(keypoints) * 2), np.nan)
        for r, index in enumerate(frames):
            if index in row_of:
                row = predictions.positions[row_of[index]]
                values[r] = np.concatenate([row[predictions.keypoint_index(k), :2] for k in keypoints])
        index = pd.MultiIndex.from_tuples(
            [("labeled-data", video.stem, f"img{str(i).zfill(width)}.png") for i in frames]
        )
        table = pd.DataFrame(values, index=index, columns=columns)
        if previous is not None:
            # DeepLabCut's columns (x, y, likelihood) first; our rows have no likelihood
            all_columns = previous.columns.append(table.columns.difference(previous.columns, sort=False))
            table = pd.concat([previous, table]).reindex(columns=all_columns)
            table = table[~table.index.duplicated(keep="first")]
        with atomic_write_path(machine_file, backup=True) as temp:
            table.to_hdf(temp, key="df_with_missing", mode="w")
        with atomic_write_path(folder / "machinelabels.csv", backup=True) as temp:
            table.to_csv(temp)

    _add_video_to_config(config, video)
    return written


def _add_video_to_config(config, video: Path) -> None:
    """Add ``video`` to ``video_sets`` (DeepLabCut only trains on listed videos' folders), once."""
    import cv2

    from ...io.dlc_config import update_dlc_config

    if video.stem in {Path(v).stem for v in config.video_sets}:
        return  # nothing to change: no rewrite, no backup
    capture = cv2.VideoCapture(str(video))
    width = int(capture.get(cv2.CAP_PROP_FRAME_WIDTH))
    height = int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT))
    capture.release()
    update_dlc_config(config.path, videos={video.resolve(): (width, height)})
