"""Feature matrices for the HMM: settings, standardization and :func:`build_features`."""

from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass, fields
from typing import Any, Sequence

import numpy as np

from .. import face
from ..data import COORD_NAMES, LandmarkSeries
from ..errors import DataError
from .coverage import (
    DEFAULT_MIN_OBSERVED,
    check_min_observed,
    frames_with_state,
    no_state_reasons,
    observed_fraction,
)
from .geometry import (
    egocentric,
    face_frame_rotation,
    mean_rotation,
    rigid_align,
    rotation_angles,
)
from .kinematics import angular_kinematics, interpolate_gaps, kinematics
from .scaler import FeatureScaler

MODES = ("egocentric", "rigid")
FEATURE_SETS = ("expression", "expression+head")


@dataclass
class FeatureSettings:
    """How a :class:`LandmarkSeries` becomes an HMM feature matrix.

    Parameters
    ----------
    mode
        ``"rigid"`` (default): align each frame to a template face estimated
        from the data using the rigid keypoints (removes head translation and
        rotation). ``"egocentric"``: subtract the reference keypoint, as the
        reference analysis does (removes translation only, so head rotation
        stays in the features and competes with expression).
    reference_keypoint
        The keypoint subtracted in egocentric mode (default ``nose1``); its own
        coordinates are then always 0 and are left out of the features.
    rigid_keypoints
        Keypoints that move little with expression, used in rigid mode.
    feature_set
        ``"expression"``: head-centred landmark coordinates only.
        ``"expression+head"``: plus head speed (and angular speed in rigid mode).
    max_gap_frames
        Interior gaps up to this many frames are filled linearly per keypoint
        coordinate; longer gaps split the series into segments.
    min_segment_frames
        Valid runs shorter than this are dropped (their frames get no state).
    min_observed
        A frame gets a state when at least this fraction of its features is
        observed (after gap filling); its missing features stay NaN and the
        HMM uses the observed ones (default 0.5; 1 = complete frames only).
    keypoints
        Keypoints whose coordinates become features; None = all of the series.
    standardize
        z-score every feature (mean and SD of the fitting session, kept in the
        :class:`FeatureScaler` so new sessions are scaled identically).
    drop_empty_keypoints
        Drop keypoints that are never present (with a warning) instead of
        raising :class:`DataError`.
    min_confidence
        Points with a lower confidence/likelihood are treated as missing
        (0 keeps every point).
    scale
        Rigid mode only: also remove isotropic scale (useful for 2D tracks
        whose face distance to the camera changes).
    """

    mode: str = "rigid"
    reference_keypoint: str = face.REFERENCE_KEYPOINT
    rigid_keypoints: tuple[str, ...] = face.RIGID_KEYPOINTS
    feature_set: str = "expression+head"
    max_gap_frames: int = 5
    min_segment_frames: int = 3
    min_observed: float = DEFAULT_MIN_OBSERVED
    keypoints: tuple[str, ...] | None = None
    standardize: bool = True
    drop_empty_keypoints: bool = False
    min_confidence: float = 0.0
    scale: bool = False

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise DataError(f"feature mode must be one of {MODES}; got {self.mode!r}")
        if self.feature_set not in FEATURE_SETS:
            raise DataError(f"feature set must be one of {FEATURE_SETS}; got {self.feature_set!r}")
        if int(self.max_gap_frames) < 0:
            raise DataError(f"max_gap_frames must be >= 0; got {self.max_gap_frames}")
        if int(self.min_segment_frames) < 1:
            raise DataError(f"min_segment_frames must be >= 1; got {self.min_segment_frames}")
        self.max_gap_frames = int(self.max_gap_frames)
        self.min_segment_frames = int(self.min_segment_frames)
        self.rigid_keypoints = tuple(str(k) for k in self.rigid_keypoints)
        if self.keypoints is not None:
            self.keypoints = tuple(str(k) for k in self.keypoints)
        self.min_confidence = float(self.min_confidence)
        self.min_observed = check_min_observed(self.min_observed)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able dict (tuples become lists); :meth:`from_dict` is the inverse."""
        out = asdict(self)
        out["rigid_keypoints"] = list(self.rigid_keypoints)
        out["keypoints"] = None if self.keypoints is None else list(self.keypoints)
        return out

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "FeatureSettings":
        """Settings from :meth:`to_dict` output; unknown keys raise :class:`DataError`."""
        known = {f.name for f in fields(cls)}
        unknown = set(values) - known
        if unknown:
            raise DataError(f"unknown feature settings {sorted(unknown)}; known: {sorted(known)}")
        values = dict(values)
        for key in ("rigid_keypoints", "keypoints"):
            if values.get(key) is not None:
                values[key] = tuple(values[key])
        return cls(**values)


@dataclass(eq=False)
class FeatureMatrix:
    """Features of one session, ready for ``FaceHMM.fit(values, lengths)``.

    Attributes
    ----------
    values
        ``(n_valid, D)`` float64 features of the valid frames (standardized
        when the settings say so).
    valid
        ``(n_frames,)`` bool: frames that have features (and will get a state).
    lengths
        ``(n_segments,)`` lengths of the runs of consecutive valid frames;
        ``lengths.sum() == n_valid``.
    names
        ``D`` feature names, e.g. ``"lefteye1_x"``, ``"head_speed"``.
    frame_indices
        ``(n_frames,)`` video frame of every row of the series.
    fps
        Frames per second.
    keypoints
        Keypoints of :attr:`coords`.
    coords
        ``(n_frames, n_keypoints, n_dims)`` head-centred coordinates
        (egocentric or rigidly aligned) after gap filling; NaN where missing.
    scaler
        :class:`FeatureScaler` to apply to other sessions.
    head_pose
        ``translations (T, D)`` head position; in rigid mode also
        ``rotations (T, D, D)`` (face frame -> data frame),
        ``reference_rotation (D, D)`` (the session's mean head orientation),
        ``angles (T, A)`` in degrees relative to it and ``angle_names``.
    kinematics
        ``position (T, D)``, ``velocity (T, D)`` /s, ``acceleration (T, D)``
        /s², ``speed (T,)`` /s of the head; rigid mode adds
        ``angular_speed (T,)`` degrees/s.
    unscaled
        ``(n_valid, D)`` the features before standardization.
    observed
        ``(n_frames,)`` fraction of the features observed in each frame;
        ``values`` keeps NaN where a frame with a state misses a feature.
    reasons
        ``(n_frames,)`` why a frame has no state ("" where it has one);
        see :mod:`.coverage`.
    settings
        The :class:`FeatureSettings` used.
    """

    values: np.ndarray
    valid: np.ndarray
    lengths: np.ndarray
    names: list[str]
    frame_indices: np.ndarray
    fps: float
    keypoints: tuple[str, ...]
    coords: np.ndarray
    scaler: FeatureScaler
    head_pose: dict[str, Any]
    kinematics: dict[str, np.ndarray]
    unscaled: np.ndarray
    settings: FeatureSettings
    skeleton: tuple[tuple[str, str], ...] = ()
    observed: np.ndarray | None = None
    reasons: np.ndarray | None = None

    @property
    def n_frames(self) -> int:
        return len(self.valid)

    @property
    def n_valid(self) -> int:
        return int(self.valid.sum())

    def to_frames(self, per_valid: np.ndarray, fill: Any = np.nan) -> np.ndarray:
        """Spread a per-valid-frame array ``(n_valid, ...)`` to all frames ``(n_frames, ...)``.

        Frames without features get ``fill`` (NaN, or e.g. -1 for states).
        """
        per_valid = np.asarray(per_valid)
        out_dtype = np.result_type(per_valid.dtype, np.asarray(fill).dtype)
        out = np.full((self.n_frames,) + per_valid.shape[1:], fill, dtype=out_dtype)
        out[self.valid] = per_valid
        return out


def _check_keypoints(series: LandmarkSeries, settings: FeatureSettings) -> tuple[list[str], list[str]]:
    """Keypoints used for features and for the rigid pose, after empty ones are handled."""
    wanted = list(settings.keypoints) if settings.keypoints is not None else list(series.keypoints)
    for name in wanted:
        series.keypoint_index(name)  # DataError naming the keypoint if absent
    rigid = list(settings.rigid_keypoints) if settings.mode == "rigid" else []
    if settings.mode == "rigid":
        absent = [k for k in rigid if k not in series.keypoints]
        if absent:
            raise DataError(
                f"rigid keypoints {absent} are not in the series; it has {list(series.keypoints)}. "
                "Choose rigid keypoints that exist (or use egocentric mode)."
            )
    else:
        series.keypoint_index(settings.reference_keypoint)
    present = np.isfinite(series.positions).all(axis=2).any(axis=0)
    empty = [k for k, p in zip(series.keypoints, present) if not p]
    involved = set(wanted) | set(rigid) | (
        {settings.reference_keypoint} if settings.mode == "egocentric" else set()
    )
    empty_used = [k for k in empty if k in involved]
    if empty_used:
        if not settings.drop_empty_keypoints or (
            settings.mode == "egocentric" and settings.reference_keypoint in empty_used
        ):
            raise DataError(
                f"keypoints {empty_used} have no valid position in any frame"
                f"{f' of {series.source}' if series.source else ''}; "
                "drop them (drop_empty_keypoints) or fix the tracking"
            )
        warnings.warn(f"dropping keypoints never present: {empty_used}", stacklevel=3)
        wanted = [k for k in wanted if k not in empty_used]
        rigid = [k for k in rigid if k not in empty_used]
    return wanted, rigid


def build_features(
    series: LandmarkSeries,
    settings: FeatureSettings | None = None,
    scaler: FeatureScaler | None = None,
) -> FeatureMatrix:
    """Turn a landmark series into an HMM feature matrix.

    Steps: mask low-confidence points; fill interior gaps up to
    ``max_gap_frames``; head-centre (egocentric or rigid); add head kinematics
    if asked; keep frames with at least ``min_observed`` of their features
    observed (missing ones stay NaN), in runs of at least
    ``min_segment_frames`` (:mod:`.coverage`); standardize.

    Parameters
    ----------
    series
        ``positions (T, K, D)`` with NaN = missing.
    settings
        :class:`FeatureSettings`; defaults if None.
    scaler
        A :class:`FeatureScaler` from an earlier fit (e.g. stored with a
        model): its layout, mean/SD and rigid template are reused so the new
        features are comparable. A different layout raises :class:`DataError`.

    Returns
    -------
    FeatureMatrix

    Raises
    ------
    DataError
        Missing reference/rigid keypoints, keypoints that are never present,
        no valid frame, zero-variance features, or a layout that differs from
        ``scaler``'s.
    """
    settings = settings or FeatureSettings()
    if scaler is not None and scaler.n_dims != series.n_dims:
        raise DataError(
            f"the stored model was fit on {scaler.n_dims}D landmarks; this series is {series.n_dims}D"
        )
    if settings.min_confidence > 0:
        series = series.masked(settings.min_confidence)
    used, rigid = _check_keypoints(series, settings)
    n_dims = series.n_dims
    positions = interpolate_gaps(series.positions, settings.max_gap_frames, series.frame_indices)

    head_pose: dict[str, Any] = {}
    template = None
    template_keypoints: list[str] = []
    if settings.mode == "egocentric":
        ref = series.keypoint_index(settings.reference_keypoint)
        coords = egocentric(positions, ref)
        translations = positions[:, ref, :].copy()
        head_pose["translations"] = translations
        feature_keypoints = [k for k in used if k != settings.reference_keypoint]
    else:
        rigid_idx = [series.keypoint_index(k) for k in rigid]
        given = None
        if scaler is not None and scaler.template is not None:
            if list(scaler.template_keypoints) != rigid:
                raise DataError(
                    f"the stored model's rigid keypoints {scaler.template_keypoints} differ from "
                    f"this series' {rigid}"
                )
            given = scaler.template
        coords, rotations, translations, template = rigid_align(
            positions, rigid_idx, scale=settings.scale, template=given
        )
        if given is None:
            # put the template in a face frame (ears -> x, nose -> forward) so that
            # the head angles and the mean-face plots read naturally
            face_rotation = face_frame_rotation(template, rigid)
            if face_rotation is not None:
                template = template @ face_rotation
                coords = coords @ face_rotation
                rotations = rotations @ face_rotation
        # angles about the face's own axes, around the session's mean pose: the
        # data frame's axes are arbitrary (camera placement), the mean pose is not
        reference_rotation = mean_rotation(rotations)
        angles, angle_names = rotation_angles(rotations, reference_rotation)
        head_pose.update(
            translations=translations,
            rotations=rotations,
            reference_rotation=reference_rotation,
            angles=angles,
            angle_names=angle_names,
        )
        template_keypoints = rigid
        feature_keypoints = list(used)

    keypoint_rows = [series.keypoint_index(k) for k in feature_keypoints]
    head_valid = np.isfinite(translations).all(axis=1)
    motion = kinematics(translations, series.fps, head_valid, series.frame_indices)
    if settings.mode == "rigid":
        motion["angular_speed"] = angular_kinematics(
            head_pose["rotations"], series.fps, head_valid, series.frame_indices
        )
        motion["angles"] = head_pose["angles"]

    columns = [coords[:, keypoint_rows, :].reshape(len(coords), -1)]
    names = feature_names(feature_keypoints, n_dims)
    if settings.feature_set == "expression+head":
        columns.append(motion["speed"][:, None])
        names.append("head_speed")
        if settings.mode == "rigid":
            columns.append(motion["angular_speed"][:, None])
            names.append("head_angular_speed")
    all_values = np.concatenate(columns, axis=1)
    if not names:
        raise DataError("no features: the keypoint selection leaves nothing to model")

    observed = observed_fraction(all_values)
    valid, runs = frames_with_state(observed, settings.min_observed, series.frame_indices, settings.min_segment_frames)
    if not valid.any():
        raise DataError(
            f"no frame has at least {settings.min_observed:.0%} of its {len(names)} features observed"
            f"{f' in {series.source}' if series.source else ''} "
            f"(in runs of >= {settings.min_segment_frames} frames); check for keypoints that are "
            "mostly missing, or lower min_observed"
        )
    lengths = np.array([b - a for a, b in runs], dtype=np.int64)
    unscaled = all_values[valid]

    if scaler is not None:
        if list(scaler.names) != names:
            only_model = [n for n in scaler.names if n not in names]
            only_data = [n for n in names if n not in scaler.names]
            raise DataError(
                "these features do not have the layout the model was fit on "
                f"({len(scaler.names)} vs {len(names)} features; only in the model: "
                f"{only_model[:8]}; only here: {only_data[:8]})"
            )
        values = scaler.transform(unscaled)
    else:
        std = np.nanstd(unscaled, axis=0)  # NaN: features missing in a frame that has a state
        scale_ref = max(float(np.nanmax(np.abs(unscaled))), 1e-300)
        flat = ~(std > 1e-9 * scale_ref)  # an all-NaN column counts as flat
        if flat.any():
            raise DataError(
                f"features with zero variance (constant over all {len(unscaled)} valid frames): "
                f"{[n for n, f in zip(names, flat) if f]}; drop these keypoints"
            )
        if settings.standardize:
            scaler = FeatureScaler(names, np.nanmean(unscaled, axis=0), std, n_dims)
        else:
            scaler = FeatureScaler(names, np.zeros(len(names)), np.ones(len(names)), n_dims)
        scaler.template = template
        scaler.template_keypoints = template_keypoints
        values = scaler.transform(unscaled)

    return FeatureMatrix(
        values=np.ascontiguousarray(values, dtype=np.float64),
        valid=valid,
        lengths=lengths,
        names=names,
        frame_indices=series.frame_indices.copy(),
        fps=series.fps,
        keypoints=tuple(series.keypoints),
        coords=coords,
        scaler=scaler,
        head_pose=head_pose,
        kinematics=motion,
        unscaled=unscaled,
        settings=settings,
        skeleton=tuple(series.skeleton),
        observed=observed,
        reasons=no_state_reasons(
            observed, valid, np.isfinite(series.positions).all(axis=2).any(axis=1),
            settings.min_observed, settings.min_segment_frames,
        ),
    )


def feature_names(keypoints: Sequence[str], n_dims: int) -> list[str]:
    """Coordinate feature names ``<keypoint>_<x|y|z>`` in column order."""
    return [f"{k}_{COORD_NAMES[d]}" for k in keypoints for d in range(n_dims)]


#: Reference and rigid keypoints for landmark sets other than the 21-point face:
#: OpenFace / iBUG 68 (nose tip lm_30; nose bridge, eye corners and jaw ends are rigid).
_KNOWN_LANDMARK_SETS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    (face.REFERENCE_KEYPOINT, face.REFERENCE_KEYPOINT, face.RIGID_KEYPOINTS),
    (
        "lm_30",
        "lm_30",
        ("lm_27", "lm_28", "lm_29", "lm_30", "lm_36", "lm_39", "lm_42", "lm_45", "lm_0", "lm_16"),
    ),
)


def settings_for_keypoints(keypoints: Sequence[str], **changes: Any) -> FeatureSettings:
    """:class:`FeatureSettings` whose reference and rigid keypoints fit a landmark set.

    The 21-point face uses ``nose1`` and :data:`face.RIGID_KEYPOINTS`; OpenFace's
    68 points (``lm_0..lm_67``) use the nose tip ``lm_30`` and the nose bridge,
    eye corners and jaw ends. ``changes`` (e.g. ``mode="rigid"``) override;
    ``None`` values are ignored.
    """
    names = set(keypoints)
    values = {k: v for k, v in changes.items() if v is not None}
    for marker, reference, rigid in _KNOWN_LANDMARK_SETS:
        if marker in names:
            values.setdefault("reference_keypoint", reference)
            values.setdefault("rigid_keypoints", tuple(k for k in rigid if k in names))
            break
    return FeatureSettings(**values)
