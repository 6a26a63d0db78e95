"""The plugin's layer types and helpers that add layers, now in :mod:`napari_facehmm._napari.layers`.

Every name stays importable from here.
"""

from .._napari.layers import FacePoints, add_layer_data, build_layers, open_session, set_face_colors

__all__ = ["FacePoints", "add_layer_data", "build_layers", "open_session", "set_face_colors"]
