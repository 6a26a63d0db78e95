"""npe2 writer, now in :mod:`napari_facehmm._napari.writer`; its names stay importable from here."""

from ._napari.writer import labels_from_layer, write_dlc_labels

__all__ = ["labels_from_layer", "write_dlc_labels"]
