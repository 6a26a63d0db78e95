"""Anipose 3D: camera calibration from board videos and triangulation of 2D tracks.

The engine behind ``facehmm calibrate`` and ``facehmm triangulate`` (and the
viewer's 3D widget). It drives aniposelib 0.8.0 -- the library Anipose itself
uses -- and keeps Anipose's file layouts, defaults and output columns, so a
project made here opens in Anipose and the other way round.

Both long jobs are generators yielding ``(done, total, message)`` tuples and
returning their result (``StopIteration.value``): a widget runs them in a
``thread_worker`` and Cancel simply stops iterating; :func:`run_to_end`
drains one without progress.

Entry points:

* :func:`calibrate` (videos per camera + :class:`BoardSpec`) and
  :func:`calibrate_project` (an Anipose folder) return a
  :class:`CalibrationResult`: ``calibration``, ``camera_errors_px``, and
  ``detections[camera].for_video(i) -> (frames, corners_px (n, n_corners, 2))``
  to draw the found board corners over a calibration video.
* :func:`triangulate` (2D series per camera + calibration + a
  :class:`TriangulationSettings`, or its fields as keywords),
  :func:`triangulate_files` (DLC files) and :func:`triangulate_project` (an
  Anipose folder) return 3D :class:`~napari_facehmm.data.LandmarkSeries`
  with Anipose's ``error``, ``ncams``, ``score``, ``M`` and ``center``.

aniposelib (and jax, numba, OpenCV) is imported inside the functions that
need it. aniposelib prints to stdout while it calibrates; that chatter is
captured into the result's ``log`` because the core never prints.

Modules, one per job (every name is importable from this package):

- :mod:`.layout`: ``config.toml``, the project's folders, camera and session
  names in file names, the sessions of a 2D folder.
- :mod:`.board`: :class:`BoardSpec`, :class:`BoardDetections` and their CSV.
- :mod:`.calibration`: :func:`calibrate` (board search, bundle adjustment).
- :mod:`.world_frame`: calibrations as aniposelib groups, camera poses,
  points moved between world frames, Anipose's output frame (``axes``).
- :mod:`.filters`: Anipose's 2D filters (``medfilt``, ``viterbi``).
- :mod:`.settings`: Anipose's defaults, :class:`TriangulationSettings` and
  :func:`triangulation_options` (a ``config.toml``'s options).
- :mod:`.align`: per-camera 2D series checked and stacked (offsets).
- :mod:`.dlt`: DLT in chunks, RANSAC camera subsets, per-camera errors.
- :mod:`.optimize`: aniposelib's ``optim_points`` in chunks.
- :mod:`.triangulation`: :func:`triangulate` and :func:`triangulate_files`.
- :mod:`.project_jobs`: the jobs the CLI and the 3D dock run:
  :func:`calibrate_to_files`, :func:`triangulate_session` (one session, with
  the reprojection QC), :func:`calibrate_project`, :func:`triangulate_project`.
"""

from __future__ import annotations

# Anipose turns on 64-bit jax globally when its triangulation is imported;
# that would change every other jax user in the process. Must be set before
# aniposelib is first imported.
import os

os.environ.setdefault("ANIPOSE_DISABLE_JAX_X64", "1")

from ...progress import Progress, run_to_end  # noqa: E402
from .align import align_cameras  # noqa: E402
from .board import BoardDetections, BoardSpec, load_board_detections, save_board_detections  # noqa: E402
from .calibration import DEFAULT_DETECTION_SKIP, CalibrationResult, calibrate  # noqa: E402
from .dlt import camera_error_warnings, disagreeing_cameras  # noqa: E402
from .filters import filter_2d_median, filter_2d_viterbi  # noqa: E402
from .layout import (  # noqa: E402
    DEFAULT_CAM_REGEX,
    VIDEO_EXTENSIONS,
    ProjectLayout,
    calibration_videos,
    camera_name_from_path,
    group_by_session,
    project_layout,
    project_sessions,
    read_project_config,
    session_name_from_path,
)
from .project_jobs import (  # noqa: E402
    SessionTriangulation,
    calibrate_project,
    calibrate_to_files,
    triangulate_project,
    triangulate_session,
)
from .settings import (  # noqa: E402
    ANIPOSE_FILTER_DEFAULTS,
    ANIPOSE_TRIANGULATION_DEFAULTS,
    FILTER_2D_CHOICES,
    TriangulationSettings,
    triangulation_options,
)
from .triangulation import triangulate, triangulate_files  # noqa: E402
from .world_frame import as_camera_group, change_world_frame, coordinate_frame, relative_pose  # noqa: E402

__all__ = [
    "ANIPOSE_FILTER_DEFAULTS",
    "ANIPOSE_TRIANGULATION_DEFAULTS",
    "DEFAULT_CAM_REGEX",
    "DEFAULT_DETECTION_SKIP",
    "FILTER_2D_CHOICES",
    "VIDEO_EXTENSIONS",
    "BoardDetections",
    "BoardSpec",
    "CalibrationResult",
    "Progress",
    "ProjectLayout",
    "SessionTriangulation",
    "TriangulationSettings",
    "align_cameras",
    "as_camera_group",
    "calibrate",
    "calibrate_project",
    "calibrate_to_files",
    "calibration_videos",
    "camera_error_warnings",
    "camera_name_from_path",
    "change_world_frame",
    "disagreeing_cameras",
    "coordinate_frame",
    "filter_2d_median",
    "filter_2d_viterbi",
    "group_by_session",
    "load_board_detections",
    "project_layout",
    "project_sessions",
    "read_project_config",
    "relative_pose",
    "run_to_end",
    "save_board_detections",
    "session_name_from_path",
    "triangulate",
    "triangulate_files",
    "triangulate_project",
    "triangulate_session",
    "triangulation_options",
]
