"""Statistics and figures of a state sequence (Qt-free; figures use matplotlib's Agg canvas).

Tables: :func:`frame_table`, :func:`state_table`, :func:`bout_table`,
:func:`transition_table` (tidy, CSV-ready), :func:`transition_counts`,
:func:`mean_faces`. Figures live in :mod:`napari_facehmm.stats.figures` and
import matplotlib only when called. :func:`state_colors` is the palette shared
with the viewer.

- :mod:`.tables`: the tidy tables (per frame, per state, bouts, transitions,
  mean faces).
- :mod:`.figures`: the ethogram, mean-face, frequency, transition and
  kinematics figures.
- :mod:`.groups`: state fractions of sessions compared between groups
  (per-group table, permutation test).
"""

from ..colors import MISSING_COLOR, state_color_array, state_colors
from .tables import (
    bout_table,
    frame_table,
    mean_faces,
    state_table,
    transition_counts,
    transition_table,
)

__all__ = [
    "MISSING_COLOR",
    "bout_table",
    "frame_table",
    "mean_faces",
    "state_color_array",
    "state_colors",
    "state_table",
    "transition_counts",
    "transition_table",
]
