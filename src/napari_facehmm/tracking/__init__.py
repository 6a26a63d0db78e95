"""Landmark tracking: the built-in face tracker, DeepLabCut, Anipose 3D, and their checks (Qt-free).

One package or module per tool and job:

- :mod:`.facemesh`: the built-in face tracker (MediaPipe face mesh), video in,
  landmarks out; :mod:`.facemesh_jobs`: several videos through it for the dock.
- :mod:`.dlc`: DeepLabCut 3 projects, training, evaluation, analysis and
  refinement, each step run in a child process by :mod:`._dlc_worker`.
- :mod:`.anipose`: Anipose's project layout, camera calibration, world frame,
  2D filters and triangulation.
- :mod:`.calibration_checks`: whether a calibration is sensible enough to
  triangulate with; :mod:`.sync`: frame offsets between unsynchronized cameras.
- :mod:`.anipose_qc`: reprojection of 3D results and their per-point errors;
  :mod:`.frame_quality`: the one ranking of worst frames (QC docks, 3D QC,
  outlier picker); :mod:`.frame_picking`: frames worth relabeling.
"""
