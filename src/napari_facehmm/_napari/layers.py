"""A points layer that keeps its extent, and helpers that add the plugin's layers.

napari's ``Points._extent_data`` takes the min and max of the whole data
array, and napari asks for it twice on every step of the time slider (the
layer list's extent and the layer thumbnail). For 54,000 frames x 22
keypoints that is 1.2 million rows, over 200 ms a step with C-ordered data.
:class:`FacePoints` computes the extent once per data change instead; with
the Fortran-ordered arrays of :mod:`.convert` a step takes
about 15 ms (see ``bench/viewer.py``).

The plugin's readers hand napari ready :class:`FacePoints` layers (napari
accepts ``Layer`` objects from readers since 0.5.6), so File > Open, drag and
drop, ``napari file.h5``, ``facehmm view`` and the docks all get them. Only
napari's File > Open Sample builds plain ``Points`` from layer-data tuples
(still fast thanks to the Fortran order, about 8x; the sample is small).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from napari.layers import Points

from .readers import notify_skipped
from .session import read_session


class FacePoints(Points):
    """``napari.layers.Points`` with a cached data extent.

    The cache is dropped whenever the data are replaced or edited (napari
    emits ``events.data`` for both; ``set_data`` fires on every slice, so it is not a trigger), so ranges stay right after a user adds
    or moves points.
    """

    def __init__(self, *args: Any, **kwargs: Any):
        self._extent_cache: np.ndarray | None = None
        super().__init__(*args, **kwargs)
        self.events.data.connect(self._drop_extent_cache)

    @property
    def _type_string(self) -> str:
        # saved and reported as a plain points layer
        return "points"

    def _drop_extent_cache(self, *_: Any) -> None:
        self._extent_cache = None

    def _set_data(self, data: Any) -> None:
        # every replacement, addition and removal of points goes through here
        self._extent_cache = None
        super()._set_data(data)
        self._extent_cache = None

    @property
    def _extent_data(self) -> np.ndarray:
        cache = getattr(self, "_extent_cache", None)
        if cache is None or cache.shape[1] != self.data.shape[1]:
            cache = Points._extent_data.fget(self)
            self._extent_cache = cache
        # callers (the augmented extent) modify the returned array
        return cache.copy()

    @property
    def _extent_data_augmented(self) -> np.ndarray:
        # napari pads every axis by half the largest point size, the frame
        # axis too, so the time slider would start at frame -3; pad only the
        # image axes (the last two).
        extent = self._extent_data
        if len(self.size):
            half = float(np.max(self.size)) / 2
            extent[0, -2:] -= half
            extent[1, -2:] += half
        return extent


def set_face_colors(layer: Points, rgba: np.ndarray) -> None:
    """Assign per-point RGBA face colors, fast.

    ``layer.face_color = rgba`` also rebuilds the layer's properties dict
    from its features (tens of ms for a million points) although direct
    colors never use it; when the layer is already in direct color mode we
    set the color manager's array and emit the layer event ourselves.
    """
    from napari.layers.utils.color_manager import ColorMode

    face = getattr(layer, "_face", None)
    if face is None or face.color_mode != ColorMode.DIRECT or len(rgba) != len(layer.data):
        layer.face_color = rgba
        return
    face.colors = rgba
    layer.events.face_color()


def build_layers(layer_data: list) -> list:
    """napari layers of layer-data tuples, :class:`FacePoints` for points.

    Null entries (napari's ``(None,)`` sentinel) are skipped.
    """
    from napari.layers import Layer

    layers = []
    for item in layer_data:
        if isinstance(item, Layer):
            layers.append(item)
            continue
        if not item or item[0] is None:
            continue
        data = item[0]
        kwargs = dict(item[1]) if len(item) > 1 else {}
        kind = item[2] if len(item) > 2 else "image"
        if kind == "points":
            layers.append(FacePoints(data, **kwargs))
        else:
            layers.append(Layer.create(data, kwargs, kind))
    return layers


def add_layer_data(viewer: Any, layer_data: list) -> list:
    """Add reader tuples to ``viewer``, building :class:`FacePoints` for points.

    Returns the layers added.
    """
    layers = build_layers(layer_data)
    for layer in layers:
        viewer.add_layer(layer)
    return layers


def open_session(viewer: Any, folder: str | Path) -> list:
    """Open a session folder in ``viewer`` (videos, points, skeletons side by side).

    What can be read opens: each file that cannot be read is left out with a
    notification naming it, and frames of a video that cannot be decoded are
    shown black (one notification per video). Raises the project's errors
    when nothing of the session can be opened (the caller shows them).
    """
    layers = add_layer_data(viewer, read_session(Path(folder), on_skipped=notify_skipped))
    if layers and viewer.dims.ndim == 3:
        # name the axes (napari labels them -3, -2, -1 otherwise)
        viewer.dims.axis_labels = ("frame", "y", "x")
    if layers and viewer.dims.ndim > 2:
        viewer.dims.set_point(0, viewer.dims.range[0][0])
    viewer.reset_view()
    return layers
