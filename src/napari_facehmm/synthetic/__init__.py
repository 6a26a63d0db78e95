"""Synthetic face sessions with known truth.

A seeded generator of whole recordings like a real one- or two-camera face
session: a 3D face of the 21 landmarks switching between expression states
(sticky Markov chain) while the head moves, pinhole cameras with distortion,
2D tracks with noise and dropouts, rendered videos with a distinct mark on
every landmark, and ChArUco calibration videos - written in Anipose's
project layout together with the ground truth.

Main entry points: :func:`generate_session` (files + truth) and
:func:`simulate_face` (3D truth only, pure numpy).

- :mod:`.face`: the 3D face model, expressions and head motion.
- :mod:`.cameras`: pinhole cameras around the head, and projection.
- :mod:`.render`: the cartoon face drawn into camera frames.
- :mod:`.charuco`: ChArUco board motion and calibration videos.
- :mod:`.observe`: the 2D observation model (tracker-like noise and dropouts).
- :mod:`.truth`: :class:`SessionTruth`, the truth of a session and its file paths, and loading it.
- :mod:`.session`: whole sessions generated and written in Anipose's layout, with the truth.
"""

from .cameras import camera_names, make_cameras, perturb_extrinsics, project
from .charuco import (
    BoardMotion,
    board_corners_mm,
    board_motion,
    make_board,
    render_board_frames,
)
from .face import (
    DEFAULT_STATE_NAMES,
    EXPRESSIONS_MM,
    FaceSimulation,
    expression_offsets,
    neutral_face,
    simulate_face,
)
from .observe import observe_2d
from .render import keypoint_colors, marker_radius_px, render_face_frames
from .session import anipose_config, generate_session
from .truth import SessionTruth

__all__ = [
    "DEFAULT_STATE_NAMES",
    "EXPRESSIONS_MM",
    "BoardMotion",
    "FaceSimulation",
    "SessionTruth",
    "anipose_config",
    "board_corners_mm",
    "board_motion",
    "camera_names",
    "expression_offsets",
    "generate_session",
    "keypoint_colors",
    "make_board",
    "make_cameras",
    "marker_radius_px",
    "neutral_face",
    "observe_2d",
    "perturb_extrinsics",
    "project",
    "render_board_frames",
    "render_face_frames",
    "simulate_face",
]
