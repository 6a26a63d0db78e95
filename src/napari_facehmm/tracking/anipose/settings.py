"""How to triangulate: Anipose's defaults, :class:`TriangulationSettings`, and options from a ``config.toml``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ...errors import DataError
from .bad_camera import BAD_CAMERA_MIN_PX, BAD_CAMERA_RATIO


#: Anipose's ``[triangulation]`` defaults (``anipose/anipose.py`` DEFAULT_CONFIG).
ANIPOSE_TRIANGULATION_DEFAULTS: dict[str, Any] = {
    "score_threshold": 0.8,
    "scale_smooth": 2.0,
    "scale_length": 2.0,
    "scale_length_weak": 1.0,
    "reproj_error_threshold": 5.0,
    "n_deriv_smooth": 3,
    "optim_chunking_size": 1000,
}

#: Anipose's ``[filter]`` defaults for the 2D filters.
ANIPOSE_FILTER_DEFAULTS: dict[str, Any] = {
    "medfilt": 13,
    "offset_threshold": 25.0,
    "score_threshold": 0.05,
    "spline": True,
    "n_back": 5,
}


#: The 2D filters :func:`triangulate` can run first (Anipose's ``[filter] type``).
FILTER_2D_CHOICES = ("medfilt", "viterbi")


@dataclass(frozen=True)
class TriangulationSettings:
    """How :func:`triangulate` turns 2D tracks into 3D: Anipose's ``[triangulation]`` and ``[filter]``.

    :func:`triangulate` also takes these fields as keyword arguments (they
    build the settings, or override the ``settings`` given);
    :meth:`from_config` reads them from an Anipose ``config.toml``.

    Parameters
    ----------
    score_threshold
        Anipose's ``score_threshold``: 2D points with a lower confidence
        become NaN (default 0.8, Anipose's default); 0 to 1.
    optim
        Refine with ``triangulate_optim``'s optimisation.
    constraints, constraints_weak
        Keypoint-name pairs of constant length for ``optim``; default: the
        series' skeleton, else :data:`napari_facehmm.face.FACE_SKELETON`
        edges whose keypoints are present.
    ransac
        Per point, pick the camera subset as aniposelib's
        ``triangulate_ransac`` (vectorized); ignored with a warning for two
        cameras, where it cannot reject anything.
    ransac_threshold_px
        Error under which all cameras are kept (aniposelib's 0.5 px); > 0.
    exclude_cameras
        Cameras to leave out.
    filter_2d
        None, ``"medfilt"`` or ``"viterbi"`` (parameters in ``filter_params``).
    filter_params
        Keyword arguments of the 2D filter (:func:`filter_2d_median` or
        :func:`filter_2d_viterbi`); None: the filter's defaults.
    scale_smooth, scale_length, scale_length_weak
        ``optim`` weights of temporal smoothness and of the strong and weak
        length constraints, Anipose's defaults; >= 0.
    reproj_error_threshold
        ``optim``: reprojection error (px) beyond which a 2D point counts
        less, Anipose's default; > 0.
    n_deriv_smooth
        ``optim``: the derivative kept small for smoothness (1 speed,
        2 acceleration, 3 jerk: Anipose's default); >= 1.
    optim_chunk_frames
        ``optim`` runs on chunks of this many frames (15 frames overlap, as
        Anipose's ``optim_chunking``), bounding memory and giving progress; >= 1.
    chunk_points
        Points per DLT call (progress granularity); >= 1.
    axes, reference_point
        Anipose's output frame (see :func:`coordinate_frame`); None keeps
        the calibration's world frame (``M`` identity, ``center`` zeros).
    keep_all_cameras
        With three or more cameras, :func:`triangulate` leaves out a camera
        that disagrees with the others (see
        :mod:`~napari_facehmm.tracking.anipose.bad_camera`) and says so;
        True keeps every camera and only warns (the old behaviour).
    bad_camera_ratio, bad_camera_min_px
        When a camera counts as bad: leaving it out makes the others agree
        ``bad_camera_ratio`` times better than leaving out any other camera,
        and it is over ``bad_camera_min_px`` pixels from the point the
        others triangulate; > 1 and > 0.
    check_calibration
        Refuse a calibration that makes no sense (cameras at the same place
        or too close for the scene distance, impossible intrinsics, and after
        triangulating a median reprojection error beyond sense). False
        insists: the problems become ``attrs["warnings"]``.

    Raises
    ------
    DataError
        A value outside its range (the message gives the range) or an
        unknown ``filter_2d``.
    """

    score_threshold: float = ANIPOSE_TRIANGULATION_DEFAULTS["score_threshold"]
    optim: bool = False
    constraints: Sequence[tuple[str, str]] | None = None
    constraints_weak: Sequence[tuple[str, str]] = ()
    ransac: bool = False
    ransac_threshold_px: float = 0.5
    exclude_cameras: Sequence[str] = ()
    filter_2d: str | None = None
    filter_params: Mapping[str, Any] | None = None
    scale_smooth: float = ANIPOSE_TRIANGULATION_DEFAULTS["scale_smooth"]
    scale_length: float = ANIPOSE_TRIANGULATION_DEFAULTS["scale_length"]
    scale_length_weak: float = ANIPOSE_TRIANGULATION_DEFAULTS["scale_length_weak"]
    reproj_error_threshold: float = ANIPOSE_TRIANGULATION_DEFAULTS["reproj_error_threshold"]
    n_deriv_smooth: int = ANIPOSE_TRIANGULATION_DEFAULTS["n_deriv_smooth"]
    optim_chunk_frames: int = ANIPOSE_TRIANGULATION_DEFAULTS["optim_chunking_size"]
    chunk_points: int = 100_000
    axes: Sequence[Sequence[str]] | None = None
    reference_point: str | None = None
    check_calibration: bool = True
    keep_all_cameras: bool = False
    bad_camera_ratio: float = BAD_CAMERA_RATIO
    bad_camera_min_px: float = BAD_CAMERA_MIN_PX

    def __post_init__(self) -> None:
        if self.filter_2d and self.filter_2d not in FILTER_2D_CHOICES:
            raise DataError(f"filter_2d must be one of {sorted(FILTER_2D_CHOICES)}; got {self.filter_2d!r}")
        for name, accepted, in_range in _RANGES:
            value = getattr(self, name)
            try:
                ok = not isinstance(value, bool) and bool(in_range(value))
            except (TypeError, ValueError):
                ok = False
            if not ok:
                raise DataError(f"{name} must be {accepted}; got {value!r}")

    @classmethod
    def from_config(cls, config: Mapping[str, Any], **overrides: Any) -> TriangulationSettings:
        """Settings from an Anipose config's ``[triangulation]`` and ``[filter]``, then ``overrides``.

        As :func:`triangulation_options` (None overrides are ignored).
        """
        return cls(**triangulation_options(config, **overrides))


def _whole_at_least_1(value: Any) -> bool:
    return int(value) == value and value >= 1


#: ``(field, accepted range as the error states it, check)`` for :class:`TriangulationSettings`.
_RANGES = (
    ("score_threshold", "between 0 and 1", lambda v: 0.0 <= v <= 1.0),
    ("ransac_threshold_px", "> 0", lambda v: v > 0),
    ("scale_smooth", ">= 0", lambda v: v >= 0),
    ("scale_length", ">= 0", lambda v: v >= 0),
    ("scale_length_weak", ">= 0", lambda v: v >= 0),
    ("reproj_error_threshold", "> 0", lambda v: v > 0),
    ("n_deriv_smooth", "a whole number >= 1", _whole_at_least_1),
    ("optim_chunk_frames", "a whole number >= 1", _whole_at_least_1),
    ("chunk_points", "a whole number >= 1", _whole_at_least_1),
    ("bad_camera_ratio", "> 1", lambda v: v > 1),
    ("bad_camera_min_px", "> 0", lambda v: v > 0),
)


def triangulation_options(config: Mapping[str, Any], **overrides: Any) -> dict[str, Any]:
    """Keyword arguments of :func:`triangulate` from an Anipose config, then overrides.

    Reads ``[triangulation]`` (``score_threshold``, ``optim``, ``ransac``,
    ``scale_*``, ``reproj_error_threshold``, ``n_deriv_smooth``,
    ``optim_chunking_size``, ``constraints``, ``constraints_weak``, ``axes``,
    ``reference_point``) and ``[filter]`` (``enabled``, ``type`` medfilt or
    viterbi, their parameters) with Anipose's defaults. ``overrides`` are
    :func:`triangulate` keywords; None values are ignored.
    """
    tri = {**ANIPOSE_TRIANGULATION_DEFAULTS, **dict(config.get("triangulation", {}) or {})}
    filter_config = {**ANIPOSE_FILTER_DEFAULTS, **dict(config.get("filter", {}) or {})}
    overrides = {k: v for k, v in overrides.items() if v is not None}
    filter_name = overrides.get("filter_2d")
    if filter_name is None and filter_config.get("enabled"):
        filter_name = filter_config.get("type", "medfilt")
    filter_params = None
    if filter_name == "medfilt":
        filter_params = {
            "kernel_frames": int(filter_config["medfilt"]),
            "offset_threshold_px": float(filter_config["offset_threshold"]),
            "score_threshold": float(filter_config["score_threshold"]),
            "spline": bool(filter_config["spline"]),
        }
    elif filter_name == "viterbi":
        filter_params = {
            "n_back": int(filter_config["n_back"]),
            "offset_threshold_px": float(filter_config["offset_threshold"]),
            "score_threshold": float(filter_config["score_threshold"]),
        }
    elif filter_name is not None:
        raise DataError(f"[filter] type {filter_name!r}: only 'medfilt' and 'viterbi' are supported")
    try:
        options = {
            "score_threshold": float(tri["score_threshold"]),
            "optim": bool(tri.get("optim", False)),
            "ransac": bool(tri.get("ransac", False)),
            "constraints": [tuple(p) for p in tri["constraints"]] if tri.get("constraints") else None,
            "constraints_weak": [tuple(p) for p in tri.get("constraints_weak", [])],
            "filter_2d": filter_name,
            "filter_params": filter_params,
            "scale_smooth": float(tri["scale_smooth"]),
            "scale_length": float(tri["scale_length"]),
            "scale_length_weak": float(tri["scale_length_weak"]),
            "reproj_error_threshold": float(tri["reproj_error_threshold"]),
            "n_deriv_smooth": int(tri["n_deriv_smooth"]),
            "optim_chunk_frames": int(tri["optim_chunking_size"]),
            "axes": tri.get("axes"),
            "reference_point": tri.get("reference_point"),
        }
    except (TypeError, ValueError) as error:
        raise DataError(f"config.toml [triangulation] has a malformed value ({error})") from None
    options.update(overrides)
    return options
