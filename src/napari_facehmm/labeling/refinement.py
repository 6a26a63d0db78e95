"""Refinement: DeepLabCut's machine labels merged with a folder's labels.

``machinelabels-iter<N>.h5`` files (DeepLabCut's predictions for outlier
frames, or the face model's proposals) are found, read and written here
(:func:`find_machine_labels`, :func:`read_machine_labels`,
:func:`write_machine_labels`); :func:`load_for_refinement` merges them
with the folder's labels (human labels win where both exist).
"""

from __future__ import annotations

import re
from pathlib import Path
from collections.abc import Sequence

import numpy as np

from ..errors import DataError, FileFormatError
from .images import _image_files
from .label_set import LabelSet, _check_keypoints, load_labels
from .project import LabelingProject, as_project


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

    from ..io._atomic import atomic_write_path

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
    project = as_project(project)
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
