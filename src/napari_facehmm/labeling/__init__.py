"""Labeling face landmarks in a DeepLabCut project (Qt-free core).

Everything the labeling widget does that is not drawing lives here, so it
runs and is tested without a window. One module per job:

- :mod:`.project`: :func:`create_project` / :func:`open_project`: a
  DeepLabCut project (``config.yaml``, ``videos/``,
  ``labeled-data/<video>/``), made by ``deeplabcut.create_new_project`` when
  DeepLabCut is installed or written from the files alone when it is not.
- :mod:`.frames`: :func:`extract_frames`: pick frames to label
  (``"uniform"`` or ``"kmeans"`` like DeepLabCut) and write them as
  ``labeled-data/<video>/img<NNNN>.png``; synchronized cameras get the same
  frame indices. Its settings (:data:`FRAMES_PER_VIDEO`, :data:`FRAME_ALGORITHM`,
  :data:`SYNCHRONIZED`) are the labeling dock's Extract form.
- :mod:`.images`: the extracted images: DeepLabCut's names
  (:func:`frame_image_name`), reading and writing them, and
  :class:`ImageStack`, a folder's images as a lazy stack.
- :mod:`.label_set`: :class:`LabelSet`: the labels of one
  ``labeled-data/<video>`` folder while they are edited (positions, points
  marked not visible, progress, the current keypoint logic), converted to
  and from napari layer data by pure functions, and saved as
  ``CollectedData_<scorer>.h5/.csv`` through
  :func:`napari_facehmm.io.dlc.write_labels`; :func:`load_labels` opens them.
- :mod:`.refinement`: DeepLabCut's ``machinelabels-iter<N>.h5`` (found,
  read and written) and :func:`load_for_refinement`: a folder's labels
  merged with those predictions for outlier frames (human labels win where
  both exist).
- :mod:`.prelabel`: :func:`prelabel_folder` and :func:`load_prelabels`:
  proposals of the built-in face model for a folder's extracted frames,
  written as DeepLabCut's machine labels and checked in a
  :class:`PrelabelSet`, where a proposal becomes a label only once a person
  confirms its frame (:data:`PRELABEL_RULE`).
- :mod:`.autosave`: :class:`AutosaveClock`: when an autosave is due.
- :mod:`.child_process`: :func:`in_subprocess`: project creation and
  frame extraction in a fresh Python process (for DeepLabCut, which cannot
  be imported beside a napari viewer).

Long work (frame extraction) is a generator yielding ``(done, total,
message)`` and returning its result (``StopIteration.value``).
- :mod:`.epipolar`: epipolar help for synchronized calibrated cameras:
  fundamental matrices, a landmark's epipolar line (as a curve in
  distorted pixels) in the other cameras, the reprojection hint of a
  landmark labeled in two cameras and every label's reprojection error.
"""

from ..progress import run_to_end
from ..tracking.dlc import deeplabcut_available
from .autosave import AutosaveClock
from .child_process import in_subprocess
from .frames import (
    FRAME_ALGORITHM,
    FRAMES_PER_VIDEO,
    SYNCHRONIZED,
    extract_frames,
    select_frames_kmeans,
    select_frames_uniform,
)
from .images import ImageStack, frame_image_name
from .label_set import LabelProgress, LabelSet, load_labels
from .prelabel import (
    PRELABEL_RULE,
    ConfirmationCounts,
    PrelabelSet,
    Prelabels,
    changed_rows,
    face_model_keypoints,
    is_face_model_proposals,
    load_prelabels,
    prelabel_folder,
)
from .project import LabelingProject, create_project, labeled_data_folders, open_project
from .refinement import find_machine_labels, load_for_refinement, read_machine_labels, write_machine_labels

# Names the single module labeling.py had beside __all__, still importable
# from here (the widget and the tests use some of them).
from ..face import FACE_KEYPOINTS, FACE_SKELETON  # noqa: F401
from ..progress import Progress  # noqa: F401
from .images import _read_image, _write_png  # noqa: F401
from .project import DEFAULT_FRAMES_PER_VIDEO  # noqa: F401

__all__ = [
    "PRELABEL_RULE",
    "AutosaveClock",
    "ConfirmationCounts",
    "ImageStack",
    "LabelProgress",
    "LabelSet",
    "LabelingProject",
    "PrelabelSet",
    "Prelabels",
    "changed_rows",
    "create_project",
    "deeplabcut_available",
    "extract_frames",
    "face_model_keypoints",
    "find_machine_labels",
    "frame_image_name",
    "in_subprocess",
    "is_face_model_proposals",
    "labeled_data_folders",
    "load_for_refinement",
    "load_labels",
    "load_prelabels",
    "open_project",
    "prelabel_folder",
    "read_machine_labels",
    "run_to_end",
    "select_frames_kmeans",
    "select_frames_uniform",
    "write_machine_labels",
]
