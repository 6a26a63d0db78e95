"""npe2 sample data, now in :mod:`napari_facehmm._napari.sample_data`; its names stay importable from here."""

from ._napari.sample_data import (
    SAMPLE_CAMERAS,
    SAMPLE_LAYOUT_VERSION,
    SAMPLE_SECONDS,
    cache_dir,
    synthetic_face_session,
    synthetic_session_folder,
)

__all__ = [
    "SAMPLE_CAMERAS",
    "SAMPLE_LAYOUT_VERSION",
    "SAMPLE_SECONDS",
    "cache_dir",
    "synthetic_face_session",
    "synthetic_session_folder",
]
