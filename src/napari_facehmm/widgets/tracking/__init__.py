"""The Tracking dock widget: the built-in face model, and DeepLabCut training, evaluation, analysis, refinement.

The built-in face model (:mod:`napari_facehmm.tracking.facemesh_jobs`) runs
in a worker thread of this process. All DeepLabCut work is in
:mod:`napari_facehmm.tracking.dlc` and runs in a child process; this widget
only collects settings, shows progress (a bar, and a live loss curve for
training) and offers Cancel. Errors from the core (DeepLabCut's own messages
included) are shown as napari notifications.

Tabs:

- **Built-in face model**: the videos open in the viewer (and any added) ->
  Track (one after the other, Cancel); no DeepLabCut project, no training.
  Each ``.h5`` goes to ``<session>/pose-2d/`` for a session video, else
  beside the video, and opens as points layers over its video.
- **Train**: network (DeepLabCut's list; ``cspnext_s`` suggested on a CPU),
  train fraction and shuffle -> Create dataset; epochs, batch size,
  snapshot interval and starting weights (auto / random / pretrained / a
  weights file / an earlier snapshot) -> Train, Cancel.
- **Analyze**: a snapshot -> Evaluate (train/test pixel errors); videos,
  an output folder, re-analyze or not -> Analyze (one after the other,
  Cancel); each result opens as points layers over its video.
- **Refine**: extract outlier frames (DeepLabCut's, or chosen frame numbers
  e.g. from the HMM or 3D reprojection errors), open them in the labeling
  widget, merge, then create a dataset and train again.

The parameter forms are magicgui fields made from the core's settings
(:mod:`napari_facehmm.tracking.dlc.settings`, :mod:`napari_facehmm.widgets.forms`):
each has the name, default and range of the ``facehmm dlc`` / ``facehmm track``
option it matches, and its tooltip names that option.

Modules, one per tab: :mod:`.face_model` (:class:`FaceModelTab`),
:mod:`.train`, :mod:`.analyze` and :mod:`.refine` (the DeepLabCut tabs, mixed
into the dock so their widgets stay attributes of it; the dock provides what
their methods use: ``status``, ``viewer``, the project (``_require_project``,
``shuffle_spin``) and ``_report``, ``_info``, ``_start_worker``); :mod:`.dock`
the :class:`TrackingWidget` itself (project, status, notifications, workers).
"""

from __future__ import annotations

# Every name of the former single module tracking.py stays importable from here.
from .dock import TrackingWidget
from .face_model import FaceModelTab, _cancellable, layer_video_path
from .train import INIT_CHOICES, LossPlot

__all__ = ["TrackingWidget"]
