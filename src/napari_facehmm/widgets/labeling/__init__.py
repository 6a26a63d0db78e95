"""The labeling widget: DeepLabCut projects, frame extraction, landmark labeling.

All state and file logic is in :mod:`napari_facehmm.labeling`; this package
only draws it and turns clicks and keys into calls of that core. The dock
(:class:`LabelingWidget`, in :mod:`.widget`, with saving, autosave and
closing) is put together from one part per job. Each part is a class mixed
into :class:`LabelingWidget`, which builds it: its methods use the dock's
widgets and state.

- :mod:`.project_tab`: the Project tab (create a project, open a ``config.yaml``);
- :mod:`.extract_tab`: the Extract tab (frames per video, extraction, Cancel);
- :mod:`.label_tab`: the Label tab (a folder shown as layers, keys, the
  keypoint list, moving between images and keypoints);
- :mod:`.points`: the points layer and the label set kept in step, and
  :func:`keypoint_colors`;
- :mod:`.prelabel`: pre-labeling with the face model and confirming its proposals;
- :mod:`.epipolar_view`: the other cameras' frames of the same instant, with
  epipolar lines and hints.

Layers of an open ``labeled-data/<video>`` folder:

- ``<video> frames``: the extracted images as a stack (slider = image);
- ``<video> skeleton``: a vectors layer with the skeleton edges, rebuilt on
  every change of the points;
- ``<video> labels``: the points, one per (image, keypoint), colored by
  keypoint. In add mode a click places the current keypoint (highlighted
  in the keypoint list) and moves on to the next unplaced one.

Keys (napari-deeplabcut's where it has them): Left/Right previous/next
image (napari's own), Shift+Right first image with unplaced landmarks,
Down/Up next/previous keypoint, N mark the current keypoint not visible,
E show/hide point borders, Ctrl+S (Cmd+S) save, 2/P add mode, 3/S select mode
(napari's own; drag selected points to move them, Delete removes them),
C confirm the frame's proposals.

Machine proposals (DeepLabCut's predictions when refining, the face model's
when pre-labeling) are drawn as hollow rings with a black border; labels as
filled discs with a white border. "Pre-label with the face model" fills the
extracted frames with the built-in tracker's proposals; a frame's proposals
become labels only when the frame is confirmed
(:data:`napari_facehmm.labeling.PRELABEL_RULE`, shown in the dock).
"""

from .points import keypoint_colors
from .widget import LabelingWidget

__all__ = ["LabelingWidget", "keypoint_colors"]
