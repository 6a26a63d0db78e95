"""DeepLabCut labeled frames: ``CollectedData_<scorer>.h5``/``.csv`` and image names.

:class:`LabelData` holds one labels file; :func:`read_labels` and
:func:`write_labels` read and write it as DeepLabCut 3 does (both row index
styles read; the ``.h5`` and ``.csv`` written together or not at all);
:func:`image_frame_index` reads the frame number in an image name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import DataError, FaceHMMError, FileFormatError, UnsupportedFileError
from .dlc_tables import H5_KEY, LEVELS_SINGLE, _select_individual, _table_arrays, read_dlc_table

__all__ = ["LabelData", "read_labels", "write_labels", "labels_to_dataframe", "image_frame_index"]

#: a hidden temporary of a labels save at least this old is left over from a
#: killed save and is removed when the labels are read
STALE_LABEL_TEMPORARY_S = 60.0


@dataclass(eq=False)
class LabelData:
    """Hand labels of one ``CollectedData_<scorer>`` file.

    Parameters
    ----------
    scorer
        The labeler's name (``scorer`` in ``config.yaml``).
    keypoints
        ``K`` bodypart names, in column order.
    images
        ``n_images`` image paths relative to the project, with ``/``
        separators: ``"labeled-data/<video>/img0001.png"``.
    positions
        ``(n_images, K, 2)`` pixel coordinates ``(x, y)``; NaN = unlabeled.
    index_style
        ``"multi"`` (3-level row MultiIndex, DeepLabCut >= 2.2) or
        ``"single"`` (one path string per row, older projects): how the file
        that was read stored its rows.
    source
        The file read, if any.
    """

    scorer: str
    keypoints: tuple[str, ...]
    images: list[str]
    positions: np.ndarray
    index_style: str = "multi"
    source: Path | None = None

    def __post_init__(self) -> None:
        self.scorer = str(self.scorer)
        self.keypoints = tuple(str(k) for k in self.keypoints)
        self.images = [str(i).replace("\\", "/") for i in self.images]
        positions = np.asarray(self.positions, dtype=np.float64)
        expected = (len(self.images), len(self.keypoints), 2)
        if positions.shape != expected:
            raise DataError(f"label positions must have shape {expected}; got {positions.shape}")
        if len(set(self.keypoints)) != len(self.keypoints):
            raise DataError(f"keypoint names repeat: {list(self.keypoints)}")
        if len(set(self.images)) != len(self.images):
            repeated = sorted({i for i in self.images if self.images.count(i) > 1})
            raise DataError(f"images repeat: {repeated[:5]}")
        if self.index_style not in ("multi", "single"):
            raise DataError(f"index_style must be 'multi' or 'single'; got {self.index_style!r}")
        self.positions = positions
        self.source = Path(self.source) if self.source is not None else None

    @classmethod
    def empty(cls, scorer: str, keypoints: tuple[str, ...] | list[str], images: list[str]) -> "LabelData":
        """Labels for ``images`` with every point unlabeled (NaN)."""
        return cls(scorer, tuple(keypoints), list(images), np.full((len(images), len(keypoints), 2), np.nan))

    @property
    def n_images(self) -> int:
        return len(self.images)

    @property
    def labeled(self) -> np.ndarray:
        """``(n_images, K)`` True where a point is labeled."""
        return ~np.isnan(self.positions).any(axis=2)

    def image_index(self, image: str) -> int:
        """Row of ``image`` (a relative path); :class:`DataError` if absent."""
        image = str(image).replace("\\", "/")
        try:
            return self.images.index(image)
        except ValueError:
            raise DataError(f"image {image!r} is not among the {self.n_images} labeled images") from None


def _image_paths(index: pd.Index, path: Path) -> list[str]:
    if isinstance(index, pd.MultiIndex):
        return ["/".join(str(part) for part in row) for row in index]
    if index.dtype != object and not pd.api.types.is_string_dtype(index.dtype):
        raise FileFormatError(
            path, f"rows must be labeled images, as in CollectedData_<scorer>.h5; they are {index.dtype} frame "
            "numbers: this is the tracking output of a video, not a labels file"
        )
    return [str(row).replace("\\", "/") for row in index]


def read_labels(path: str | Path, individual: str | None = None) -> LabelData:
    """Read ``CollectedData_<scorer>.h5`` or ``.csv``.

    Parameters
    ----------
    path
        The labels file; both row index styles are read.
    individual
        For multi-animal label files: which individual (required when there
        are several).

    Returns
    -------
    LabelData
    """
    from ._atomic import finish_interrupted_replacement, remove_stale_temporaries

    path = Path(path)
    # A save killed between its two renames is completed (its files were whole);
    # then temporaries of a save killed earlier are removed (only old ones, in
    # case another process is saving these labels right now).
    finish_interrupted_replacement(path.with_suffix(".h5"))
    for stale_of in (path.with_suffix(".h5"), path.with_suffix(".csv")):
        remove_stale_temporaries(stale_of, min_age_s=STALE_LABEL_TEMPORARY_S)
    table = read_dlc_table(path)
    index_style = "multi" if isinstance(table.index, pd.MultiIndex) else "single"
    images = _image_paths(table.index, path)
    if len(set(images)) != len(images):
        repeated = sorted({i for i in images if images.count(i) > 1})
        raise FileFormatError(path, f"images repeat in the rows: {repeated[:5]}")
    sub = _select_individual(table, individual, path)
    bodyparts, positions, _ = _table_arrays(sub, path)
    return LabelData(
        scorer=str(table.columns.get_level_values("scorer")[0]),
        keypoints=bodyparts,
        images=images,
        positions=positions,
        index_style=index_style,
        source=path,
    )


def labels_to_dataframe(labels: LabelData) -> pd.DataFrame:
    """The table DeepLabCut keeps for ``labels``.

    Columns ``(scorer, bodyparts, coords)`` with ``x, y`` (float64); rows a
    3-level MultiIndex ``("labeled-data", video, image)`` as DeepLabCut 3
    writes (images whose path does not have exactly three parts keep a
    single string index, as older DeepLabCut wrote).
    """
    columns = pd.MultiIndex.from_product([[labels.scorer], list(labels.keypoints), ["x", "y"]], names=LEVELS_SINGLE)
    parts = [tuple(image.split("/")) for image in labels.images]
    if parts and all(len(p) == 3 for p in parts):
        index = pd.MultiIndex.from_tuples(parts)
    else:
        index = pd.Index(labels.images, dtype=object)
    return pd.DataFrame(
        labels.positions.reshape(labels.n_images, -1).astype(np.float64), index=index, columns=columns
    )


def write_labels(labels: LabelData, path_h5: str | Path) -> Path:
    """Write labels as DeepLabCut does: ``.h5`` (key ``df_with_missing``) and ``.csv``.

    The two files change together or not at all: both are written to hidden
    temporaries first, then both renamed into place; if the second rename
    fails, the first file gets its previous version back
    (:func:`~napari_facehmm.io._atomic.atomic_write_paths`). The previous
    versions are kept as ``<name>.bak``, each file keeps its permissions, and
    a file this process may not write is refused as a plain write would
    refuse it (root may write a read-only file, which then stays read-only). Hidden temporaries left beside
    them by a save that was killed are removed first. The CSV goes beside
    the ``.h5`` with the same stem.

    Parameters
    ----------
    labels
        The labels; rows are written with DeepLabCut 3's 3-level index.
    path_h5
        ``.../labeled-data/<video>/CollectedData_<scorer>.h5``.

    Returns
    -------
    Path
        The ``.h5`` path.

    Raises
    ------
    FaceHMMError
        The files could not be written (a file or folder we may not write, full disk,
        ...); the message names the file and the cause, and both files hold
        their previous labels.
    """
    from ._atomic import atomic_write_paths, finish_interrupted_replacement, remove_stale_temporaries

    path_h5 = Path(path_h5)
    if path_h5.suffix.lower() not in (".h5", ".hdf5"):
        raise UnsupportedFileError(path_h5, "labels are written to an .h5 path (the .csv goes beside it)")
    path_csv = path_h5.with_suffix(".csv")
    table = labels_to_dataframe(labels)
    finish_interrupted_replacement(path_h5)
    for path in (path_h5, path_csv):
        remove_stale_temporaries(path)
    writing = path_h5
    try:
        with atomic_write_paths([path_h5, path_csv], backup=True) as (temp_h5, temp_csv):
            table.to_hdf(temp_h5, key=H5_KEY, mode="w")
            writing = path_csv
            table.to_csv(temp_csv)
    # PyTables reports HDF5 write failures (a full disk) as RuntimeErrors.
    except (OSError, RuntimeError) as error:
        filename = getattr(error, "filename", None)
        where = Path(filename) if filename in (str(path_h5), str(path_csv)) else writing
        cause = (error.strerror if isinstance(error, OSError) else None) or str(error)
        raise FaceHMMError(
            f"{where}: could not save the labels: {cause}. "
            f"{path_h5.name} and {path_csv.name} still hold the previous labels."
        ) from error
    return path_h5


_DIGITS = re.compile(r"(\d+)(?!.*\d)")


def image_frame_index(image: str) -> int | None:
    """Frame number in an image name (``img0042.png`` -> 42), or None."""
    match = _DIGITS.search(Path(image).stem)
    return int(match.group(1)) if match else None
