"""Pure conversions to napari layer data, now in :mod:`napari_facehmm._napari`.

Points and skeleton in :mod:`~napari_facehmm._napari.convert`, state colours
and bands in :mod:`~napari_facehmm._napari.state_colors`, the lazy video array
in :mod:`~napari_facehmm._napari.video_frames`. Every name stays importable
from here (also ``keypoint_colors`` and ``egocentric_frame``, re-exported
from :mod:`napari_facehmm.colors` and :mod:`napari_facehmm.features.geometry`).
Like those modules, this one never imports napari or Qt.
"""

from ._napari.convert import (
    METADATA_KEY,
    PointsData,
    likelihood_shown,
    points_layer_kwargs,
    points_to_series,
    series_metadata,
    series_to_points,
    skeleton_edges_present,
    skeleton_to_vectors,
    skeleton_vectors_shown,
)
from ._napari.state_colors import state_band_image, states_for_frames, states_to_point_colors
from ._napari.video_frames import VideoFrames
from .colors import keypoint_colors
from .features.geometry import egocentric_frame

__all__ = [
    "METADATA_KEY",
    "PointsData",
    "VideoFrames",
    "egocentric_frame",
    "keypoint_colors",
    "likelihood_shown",
    "points_layer_kwargs",
    "points_to_series",
    "series_metadata",
    "series_to_points",
    "skeleton_edges_present",
    "skeleton_to_vectors",
    "skeleton_vectors_shown",
    "state_band_image",
    "states_for_frames",
    "states_to_point_colors",
]
