"""npe2 writer: a points layer of manual labels -> DeepLabCut ``CollectedData``.

The points are ``[image_index, y, x]``; the layer's ``keypoint`` feature names
each point's bodypart. The image paths, scorer and bodypart order come from
``layer.metadata["facehmm"]`` (``images``, ``scorer``, ``keypoints``) as the
labeling widget sets them, or from DLC's napari-plugin keys ``paths`` /
``header``; failing both, the images are named ``img<index>.png`` in the
folder being written to (DLC's ``labeled-data/<video>/`` layout).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..errors import DataError, FaceHMMError
from .convert import METADATA_KEY, points_to_series


def _keypoint_names(meta: dict, n_points: int) -> np.ndarray:
    features = meta.get("features")
    if features is not None and "keypoint" in getattr(features, "columns", ()):
        return np.asarray(features["keypoint"], dtype=object)
    properties = meta.get("properties") or {}
    if "keypoint" in properties:
        return np.asarray(properties["keypoint"], dtype=object)
    if "label" in properties:  # DLC's own napari plugin
        return np.asarray(properties["label"], dtype=object)
    raise DataError(f"the {n_points} points have no 'keypoint' feature naming their bodypart")


def labels_from_layer(path: Path, data: np.ndarray, meta: dict):
    """Build :class:`napari_facehmm.io.dlc.LabelData` from a points layer's data and meta."""
    from ..io.dlc import LabelData

    data = np.asarray(data, dtype=float)
    if data.ndim != 2 or data.shape[1] != 3:
        raise DataError(f"label points must be (N, 3) [image, y, x]; got shape {data.shape}")
    names = _keypoint_names(meta, len(data))
    metadata = meta.get("metadata") or {}
    ours = metadata.get(METADATA_KEY, {}) if isinstance(metadata, dict) else {}
    keypoints = tuple(ours.get("keypoints") or dict.fromkeys(str(n) for n in names))
    image_index = np.rint(data[:, 0]).astype(np.int64)
    images = ours.get("images") or metadata.get("paths")
    if images is None:
        folder = path.parent
        n_images = int(image_index.max()) + 1 if len(image_index) else 0
        width = max(3, len(str(max(n_images - 1, 0))))
        images = [f"labeled-data/{folder.name}/img{i:0{width}d}.png" for i in range(n_images)]
    images = [str(p) for p in images]
    if len(image_index) and (image_index.min() < 0 or image_index.max() >= len(images)):
        raise DataError(f"points lie on image {image_index.max()} but the layer lists {len(images)} images")
    scorer = ours.get("scorer")
    if scorer is None and path.stem.startswith("CollectedData_"):
        scorer = path.stem[len("CollectedData_") :]
    # one row per image, in the layer's image order; unknown bodyparts raise DataError
    positions = points_to_series(data, keypoints, names, frame_indices=np.arange(len(images))).positions
    return LabelData(
        scorer=scorer or "facehmm",
        keypoints=keypoints,
        images=images,
        positions=positions,
        index_style=ours.get("index_style", "multi"),
    )


def write_dlc_labels(path: str, data: Any, meta: dict) -> list[str]:
    """npe2 single-layer writer: save label points as ``CollectedData_<scorer>.h5`` (+ ``.csv``)."""
    from ..io.dlc import write_labels

    target = Path(path)
    if target.suffix.lower() not in (".h5", ".csv"):
        target = target.with_suffix(".h5")
    try:
        labels = labels_from_layer(target, data, meta)
        written = write_labels(labels, target.with_suffix(".h5"))
    except FaceHMMError as exc:
        from napari.utils.notifications import show_error

        show_error(f"napari-facehmm could not save labels to {target.name}: {exc}")
        return []
    return [str(written), str(written.with_suffix(".csv"))]  # write_labels writes both, as DeepLabCut
