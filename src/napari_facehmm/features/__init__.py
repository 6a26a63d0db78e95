"""Features for the HMM: head-centred landmark coordinates and head kinematics.

``build_features(series, settings)`` turns a :class:`~napari_facehmm.data.LandmarkSeries`
into a :class:`FeatureMatrix` (values of the valid frames, segment lengths, the
scaler to reuse on new sessions, head pose and kinematics). The small pure
functions it is made of are exported too.

- :mod:`.build`: :class:`FeatureSettings`, :func:`build_features`, the scaler.
- :mod:`.geometry`: head-centred coordinates: egocentric subtraction (and
  :func:`egocentric_frame`, the one centring helper for drawing a face),
  rigid (Kabsch) alignment, head rotation angles.
- :mod:`.kinematics`: segments, gap filling, head speed per second.
"""

from .build import (
    FEATURE_SETS,
    MODES,
    FeatureMatrix,
    FeatureScaler,
    FeatureSettings,
    build_features,
    feature_names,
    settings_for_keypoints,
)
from .geometry import (
    egocentric,
    egocentric_frame,
    face_frame_rotation,
    kabsch,
    mean_rotation,
    rigid_align,
    rotation_angles,
    rotation_between_deg,
)
from .kinematics import angular_kinematics, interpolate_gaps, kinematics, segments

__all__ = [
    "FEATURE_SETS",
    "MODES",
    "FeatureMatrix",
    "FeatureScaler",
    "FeatureSettings",
    "angular_kinematics",
    "build_features",
    "egocentric",
    "egocentric_frame",
    "face_frame_rotation",
    "feature_names",
    "interpolate_gaps",
    "kabsch",
    "kinematics",
    "mean_rotation",
    "rigid_align",
    "rotation_angles",
    "rotation_between_deg",
    "segments",
    "settings_for_keypoints",
]
