"""npe2 readers, now in :mod:`napari_facehmm._napari.readers` (videos, landmark files)
and :mod:`napari_facehmm._napari.session` (session folders).

Every public name stays importable from here; ``napari.yaml`` points at the
new modules. Monkeypatch the module that uses a name (e.g.
``napari_facehmm._napari.readers._notify_error``), not this one.
"""

from ._napari.readers import (
    LANDMARK_SUFFIXES,
    MANIFEST_VIDEO_SUFFIXES,
    NULL_LAYER,
    LayerData,
    get_landmarks_reader,
    get_video_reader,
    landmark_layers,
    notify_skipped,
    notify_undecodable,
    video_layer,
    with_face_skeleton,
)
from ._napari.session import (
    CAMERA_GAP_PX,
    find_session_files,
    get_session_reader,
    is_session_folder,
    read_session,
)

__all__ = [
    "CAMERA_GAP_PX",
    "LANDMARK_SUFFIXES",
    "MANIFEST_VIDEO_SUFFIXES",
    "NULL_LAYER",
    "LayerData",
    "find_session_files",
    "get_landmarks_reader",
    "get_session_reader",
    "get_video_reader",
    "is_session_folder",
    "landmark_layers",
    "notify_skipped",
    "notify_undecodable",
    "read_session",
    "video_layer",
    "with_face_skeleton",
]
