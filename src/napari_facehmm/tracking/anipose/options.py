"""The Anipose steps' options: names, defaults and accepted ranges, written once.

``facehmm calibrate`` and ``facehmm triangulate`` build their options from
these (:mod:`napari_facehmm.commands.calibrate`,
:mod:`napari_facehmm.commands.triangulate`), the 3D (Anipose) dock its forms
(:mod:`napari_facehmm.widgets.anipose`), and ``tests/test_settings.py`` checks
that the two agree. A default of None means the project decides: its
``config.toml`` (``[calibration]``, ``[triangulation]``, ``[filter]``), else
Anipose's own default, named in the help and used by the dock's form.
"""

from __future__ import annotations

from ...ranges import Setting
from .calibration import DEFAULT_DETECTION_SKIP
from .settings import ANIPOSE_TRIANGULATION_DEFAULTS, FILTER_2D_CHOICES

__all__ = [
    "BOARD_SIZE", "SQUARE_LENGTH", "MARKER_LENGTH", "MARKER_BITS", "DICT_NUMBER", "SKIP", "FISHEYE",
    "SCORE_THRESHOLD", "OPTIM", "RANSAC", "FILTER", "NO_FILTER", "TRUST_CALIBRATION", "KEEP_ALL_CAMERAS", "FPS",
]

# ------------------------------------------------------------------ calibration (the board and the search)
#: one side of the board; ``facehmm calibrate --board-size X Y`` takes two
BOARD_SIZE = Setting(
    "board_size", int, None, minimum=2, maximum=100,
    help="squares (ChArUco) or inner corners (checkerboard) per side",
)
SQUARE_LENGTH = Setting(
    "square_length", float, None, minimum=0.0, maximum=10_000.0, min_open=True, unit="mm",
    help="square side length",
)
MARKER_LENGTH = Setting(
    "marker_length", float, None, minimum=0.0, maximum=10_000.0, min_open=True, unit="mm",
    help="ArUco marker side length, less than the square's",
)
#: the ArUco dictionaries OpenCV has: bits per marker side ...
MARKER_BITS = Setting(
    "marker_bits", int, None, minimum=4, maximum=7, help="ArUco marker bits per side (4 for DICT_4X4_*)"
)
#: ... and markers in them
DICT_NUMBER = Setting(
    "dict_number", int, None, choices=(50, 100, 250, 1000), help="markers in the ArUco dictionary"
)
SKIP = Setting(
    "skip", int, None, minimum=1, maximum=10_000,
    help=f"search every N-th frame while no board is seen (default {DEFAULT_DETECTION_SKIP}, as aniposelib)",
)
FISHEYE = Setting("fisheye", bool, None, help="fisheye camera model")

# ------------------------------------------------------------------ triangulation
SCORE_THRESHOLD = Setting(
    "score_threshold", float, None, minimum=0.0, maximum=1.0,
    help=f"2D points below this likelihood are dropped "
    f"(Anipose default {ANIPOSE_TRIANGULATION_DEFAULTS['score_threshold']:g})",
)
OPTIM = Setting(
    "optim", bool, None,
    help="refine with temporal and skeleton-length constraints (aniposelib triangulate_optim)",
)
RANSAC = Setting("ransac", bool, None, help="per point, drop cameras that disagree (3+ cameras)")
FILTER = Setting(
    "filter", str, None, choices=FILTER_2D_CHOICES, help="2D filter before triangulation (Anipose's filter step)"
)
#: the dock's entry for "no 2D filter" (the CLI: no ``--filter``)
NO_FILTER = "none"
TRUST_CALIBRATION = Setting(
    "trust_calibration", bool, False,
    help="triangulate even when the calibration check finds nonsense (cameras at the same place, "
    "impossible intrinsics, reprojection errors beyond sense); the problems are printed as warnings",
)
KEEP_ALL_CAMERAS = Setting(
    "keep_all_cameras", bool, False,
    help="with 3+ cameras, keep a camera that disagrees with the others (default: it is left out, "
    "and the output says so with the errors with and without it)",
)
FPS = Setting("fps", float, 30.0, minimum=0.0, maximum=10_000.0, min_open=True, help="frame rate of the videos")
