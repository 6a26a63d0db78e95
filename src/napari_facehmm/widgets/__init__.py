"""The napari docks (Qt): they call the core and show its results.

- :mod:`.app`: assembles the face viewer (a session's layers and every dock).
- :mod:`.states`: fit or load the expression-state HMM; :mod:`.ethogram`: the
  state band under the canvas; :mod:`.summary`: mean faces, frequencies,
  dwell times; :mod:`.face3d`: the current frame's face in 3D.
- :mod:`.qc`: tracking likelihood, reprojection error and worst frames.
- :mod:`.labeling`: the labeling dock; :mod:`.tracking`: the built-in face
  model and DeepLabCut; :mod:`.anipose`: calibration, triangulation, 3D QC.
- :mod:`._session`: the state the docks of one window share; :mod:`._worker`:
  a dock's long job in a thread (:class:`~._worker.DockJob`: progress, Cancel,
  errors); :mod:`.forms`: the parameter forms (magicgui fields built from the
  core's settings). The layers themselves are built on the napari side,
  :mod:`napari_facehmm._napari` (:mod:`._layers` re-exports its layer types).
"""
