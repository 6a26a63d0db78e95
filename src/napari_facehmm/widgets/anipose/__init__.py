"""The "3D (Anipose)" dock: calibrate cameras, triangulate 2D tracks, check the result.

All the work is in :mod:`napari_facehmm.tracking.anipose` (calibration and
triangulation generators, :class:`~napari_facehmm.tracking.anipose.TriangulationSettings`)
and :mod:`napari_facehmm.tracking.anipose_qc` (reprojection and errors);
this dock collects the settings, runs the
generators in a ``thread_worker`` with a progress bar and Cancel, and shows
the results:

- **Calibrate**: calibration videos per camera (or an Anipose project's
  ``calibration/`` folder), the board -> ``calibration.toml`` and
  ``board-detections.csv``; reprojection error per camera; the detected
  board corners drawn over the calibration videos.
- **Triangulate**: 2D tracking files per camera (or a project's
  ``pose-2d/`` session), a calibration and Anipose's options -> the
  ``pose-3d`` CSV; error per camera, the engine's warnings and a one-click
  "exclude that camera and re-run".
- **QC**: the 3D points reprojected into each camera (crosses over the
  camera's video, beside its 2D detections), the reprojection error of
  each camera over time (mean or one keypoint) and frames sorted by error,
  with a jump button. The new 3D series also becomes the session's 3D pose,
  so the Tracking QC dock plots Anipose's error and lists its worst frames.

Errors of the project (bad files, frame-count mismatches) are shown as
napari notifications; the viewer keeps working.

The jobs are the core's :func:`~napari_facehmm.tracking.anipose.calibrate_to_files`
and :func:`~napari_facehmm.tracking.anipose.triangulate_session` (the ones
``facehmm calibrate`` and ``facehmm triangulate`` run).

Modules, one per tab: :mod:`.calibrate` (:class:`CalibrateTabMixin`),
:mod:`.triangulate` (:class:`TriangulateTabMixin`) and :mod:`.qc`
(:class:`QCTabMixin`), mixed into
the dock so their widgets stay attributes of it; :mod:`.dock` the
:class:`AniposeWidget` itself (project, progress, Cancel, the worker);
:mod:`._tables` the small camera tables the tabs share.
"""

from __future__ import annotations

# Every name of the former single module widgets/anipose.py stays importable from here.
from ._tables import _fit_height, _rows, _set_rows, _table  # noqa: F401
from .calibrate import VIDEO_SEPARATOR, CalibrateTabMixin  # noqa: F401
from .dock import AniposeWidget
from .qc import MEAN_OF_KEYPOINTS, N_SORTED_FRAMES, QCTabMixin  # noqa: F401
from .triangulate import FILTER_CHOICES, TriangulateTabMixin  # noqa: F401

__all__ = ["AniposeWidget"]
