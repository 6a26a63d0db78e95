"""DeepLabCut 3 (PyTorch engine) tracking: dataset, training, evaluation, analysis, refinement.

Every DeepLabCut step runs in a separate Python process
(:mod:`napari_facehmm.tracking._dlc_worker`) started in its own process
group: the viewer never imports deeplabcut or torch, a training never blocks
it, and Cancel stops the whole group. Long steps are jobs with an
``events()`` generator and a ``cancel()`` method; the module-level
functions :func:`train` and :func:`analyze_videos` are the same jobs as
plain generators.

Offline use (no model hub): DeepLabCut 3.0.2 fetches ImageNet weights unless
training starts from a snapshot. ``init="random"`` builds the network with
random weights and hands it to DeepLabCut as that snapshot; ``init="auto"``
(default) uses pretrained weights only if they are already in the local
model-hub cache. The worker always runs with ``HF_HUB_OFFLINE=1`` so a
missing file fails at once instead of after a minute of retries.

deeplabcut is an optional extra (``napari-facehmm[dlc]``). Every entry point
here checks for it first and raises
:class:`~napari_facehmm.errors.MissingDependencyError` when it is absent.

Modules, one job each:

- :mod:`.settings`: every step's options (name, default, range), read by
  the jobs' checks, ``facehmm dlc`` and the Tracking dock's forms.
- :mod:`.project`: is deeplabcut installed; the model folder and snapshots
  of a shuffle, as DeepLabCut names them.
- :mod:`.runner`: the one child-process runner (:class:`ChildJob`;
  :class:`DLCJob` for DeepLabCut's steps, labeling's project creation and
  frame extraction use it too): environment, messages, Cancel,
  :class:`DeepLabCutError`; jobs report the project's ``Progress``.
- :mod:`.training`: the networks, the training dataset, :class:`TrainingJob`.
- :mod:`.evaluation`: :func:`evaluate`, train/test pixel errors.
- :mod:`.analysis`: :class:`AnalysisJob`, predictions for whole videos.
- :mod:`.refinement`: outlier frames, frames chosen elsewhere, merging.

The numpy frame pickers (:func:`reprojection_outlier_frames`,
:func:`uncertain_state_frames`, :func:`refinement_frames`) live in
:mod:`napari_facehmm.tracking.frame_picking`; they are re-exported here.
"""

from __future__ import annotations

# Every name of the former single module dlc.py (private ones and the errors it
# imported included) stays importable from here.
from ...errors import Cancelled, DataError, FaceHMMError, FileFormatError, MissingDependencyError
from ..frame_picking import _spread, refinement_frames, reprojection_outlier_frames, uncertain_state_frames
from .analysis import FRAME_COUNTER, AnalysisJob, AnalysisProgress, analyze_videos
from .evaluation import EvaluationResult, evaluate
from .project import (
    TORCH_PIN,
    _complete_snapshots,
    _read_config,
    _set_aside_truncated_snapshots,
    _snapshot_epoch,
    _training_fraction,
    deeplabcut_available,
    find_snapshots,
    latest_snapshot,
    model_folder,
    require_deeplabcut,
)
from .refinement import _add_video_to_config, add_frames_to_labeled_data, extract_outlier_frames, merge_datasets
from .runner import (
    EVENT_PREFIX,
    OFFLINE_ENVIRONMENT,
    ChildJob,
    DeepLabCutError,
    DLCJob,
    _run_task,
    _worker_environment,
    child_environment,
)
from .training import (
    EPOCH_LINE,
    SUGGESTED_CPU_NETWORK,
    TrainingJob,
    TrainingProgress,
    _float,
    available_networks,
    create_training_dataset,
    train,
)

__all__ = [
    "SUGGESTED_CPU_NETWORK",
    "DeepLabCutError",
    "ChildJob",
    "DLCJob",
    "TrainingJob",
    "TrainingProgress",
    "AnalysisJob",
    "AnalysisProgress",
    "EvaluationResult",
    "deeplabcut_available",
    "require_deeplabcut",
    "available_networks",
    "create_training_dataset",
    "train",
    "evaluate",
    "analyze_videos",
    "extract_outlier_frames",
    "add_frames_to_labeled_data",
    "merge_datasets",
    "model_folder",
    "find_snapshots",
    "latest_snapshot",
    "reprojection_outlier_frames",
    "uncertain_state_frames",
    "refinement_frames",
]
