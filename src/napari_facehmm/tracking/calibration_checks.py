"""Is a calibration sensible enough to triangulate with? Checks with numbers.

A calibration can be well formed and still make nonsense 3D: two cameras
given the same pose (one camera's extrinsics copied onto another), a zero
focal length, a principal point far off the image, or a calibration of
another rig or day for these 2D tracks. aniposelib triangulates all of them
without complaint ("98% of points" of garbage, exit 0). :func:`triangulate
<napari_facehmm.tracking.anipose.triangulate>` runs these checks first (and
:func:`check_reprojection` on its result) and refuses with
:class:`CalibrationCheckError`, naming the calibration, the cameras and the
numbers, unless the caller insists (``check_calibration=False``; ``facehmm
triangulate --trust-calibration``; the 3D dock's "triangulate anyway").

Thresholds, and why they never fire on a working rig
----------------------------------------------------
Intrinsics (:func:`check_intrinsics`):

* focal lengths ``fx, fy`` finite and at least :data:`MIN_FOCAL_SHARE`
  (5%) of the image's larger side: below it the field of view is over
  ~170 degrees, which no pinhole lens has (and a fisheye of that focal
  length would see over 500 degrees). Real lenses are 0.5-3x the width;
  the synthetic rigs 1.3x.
* the principal point within half an image of the image
  (:data:`PRINCIPAL_POINT_MARGIN`): real ones are within a few percent of
  the centre (aniposelib starts it at the centre and does not move it).
* image size positive, extrinsics finite.

Camera pairs (:func:`check_calibration_geometry`), from each pair's
baseline ``b`` (distance between the camera centres, in the calibration's
units: mm for a board measured in mm) and the scene distance ``D`` (median
depth of the 2D points triangulated with this calibration, else where the
two optical axes pass closest):

* two centres closer than :data:`COINCIDENT_SHARE` (1/1000) of the scene
  distance (0.5 mm at 50 cm) are the same place, which two real cameras
  cannot share: refused for every pair, whatever the number of cameras.
* a pair whose parallax ``2 atan(b / 2D)`` (the angle between the two
  views of a scene point) is under :data:`MIN_PARALLAX_DEG` (1 degree)
  cannot measure depth: one pixel of 2D error moves a point by about
  ``D / (f * parallax)`` along the view, 14% of the distance at 1 degree
  with a focal length ``f`` of 400 px. Refused when the rig has two cameras,
  or when a camera has no partner at 1 degree or more (with three or more
  cameras a close pair is fine as long as each has another partner).
  Face rigs are 20-90 degrees apart; the synthetic ones 30-40.

With the 2D points (as :func:`triangulate
<napari_facehmm.tracking.anipose.triangulate>` passes them), a sample of up to
2000 is triangulated linearly: more than :data:`MAX_BEHIND_SHARE` (a
quarter) of the points a camera sees lying behind it is refused. Two
cameras that nearly coincide (or parallel ones a few mm apart) explain any
2D points by a scene at or behind the cameras, with small reprojection
errors; a calibration that fits puts every point in front, and 2D
outliers that land behind are a few percent.

After triangulating (:func:`check_reprojection`): a median reprojection
error over :data:`MAX_REPROJECTION_PX` (20 px) or
:data:`MAX_REPROJECTION_DIAGONAL_SHARE` (2%) of the largest image's
diagonal, whichever is larger, means the calibration does not fit the
tracks. DeepLabCut's errors are 1-10 px (5 px is Anipose's own outlier
threshold), the synthetic sessions' under 1 px. A mismatch that keeps the
head in a similar place in every view (2D files of another session of a
still subject, say) can stay under it: a few pixels cannot be told from
tracking noise.

Qt-free; numpy only.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import DataError

__all__ = [
    "COINCIDENT_SHARE",
    "MAX_BEHIND_SHARE",
    "MAX_REPROJECTION_DIAGONAL_SHARE",
    "MAX_REPROJECTION_PX",
    "MIN_FOCAL_SHARE",
    "MIN_PARALLAX_DEG",
    "PRINCIPAL_POINT_MARGIN",
    "CalibrationCheckError",
    "CalibrationProblem",
    "PairGeometry",
    "camera_pair_geometry",
    "check_calibration_geometry",
    "check_intrinsics",
    "check_reprojection",
    "refuse_or_note",
]

#: Focal length below this share of the image's larger side is refused.
MIN_FOCAL_SHARE = 0.05
#: The principal point may lie this share of the image size outside it.
PRINCIPAL_POINT_MARGIN = 0.5
#: Share of the sampled points that may triangulate behind a camera that sees them.
MAX_BEHIND_SHARE = 0.25
#: Camera centres closer than this share of the scene distance coincide.
COINCIDENT_SHARE = 1e-3
#: A camera pair needs this parallax (degrees) at the scene to measure depth.
MIN_PARALLAX_DEG = 1.0
#: Median reprojection error (px) beyond sense, at least...
MAX_REPROJECTION_PX = 20.0
#: ...or this share of the largest image's diagonal.
MAX_REPROJECTION_DIAGONAL_SHARE = 0.02

# points triangulated to estimate the scene distance
_SAMPLE_POINTS = 2000


@dataclass(frozen=True)
class CalibrationProblem:
    """One reason the calibration is refused.

    ``kind`` is ``"intrinsics"``, ``"extrinsics"``, ``"behind"``,
    ``"coincident"``, ``"parallax"`` or ``"reprojection"``; ``cameras`` the cameras concerned;
    ``message`` says what, with the numbers.
    """

    kind: str
    cameras: tuple[str, ...]
    message: str


class CalibrationCheckError(DataError):
    """The calibration fails a sense check; ``problems`` lists why.

    Raised by triangulation unless the caller insists
    (``check_calibration=False``). ``calibration_label`` is the file (or
    ``""`` for a calibration given as an object); ``hint`` ends the message
    (what the caller's user can do about it).
    """

    def __init__(self, problems: Sequence[CalibrationProblem], calibration_label: str = "", hint: str = ""):
        self.problems = list(problems)
        self.calibration_label = str(calibration_label or "")
        where = f"calibration {self.calibration_label}" if self.calibration_label else "the calibration"
        lines = "".join(f"\n  - {problem.message}" for problem in self.problems)
        end = f"\n{hint}" if hint else ""
        super().__init__(f"{where} makes no sense for triangulation (stopped; nothing written):{lines}{end}")


@dataclass(frozen=True)
class PairGeometry:
    """How two cameras see the scene.

    ``baseline`` in calibration units, angles in degrees; ``scene_distance``
    and ``parallax_deg`` are NaN when the scene distance is unknown.
    """

    cameras: tuple[str, str]
    baseline: float
    axes_angle_deg: float
    scene_distance: float
    parallax_deg: float


def _calibration(calibration: Any):
    from .anipose_qc import calibration_of

    return calibration_of(calibration)


def _cameras(calibration: Any, camera_names: Sequence[str] | None) -> list:
    calibration = _calibration(calibration)
    if camera_names is None:
        return list(calibration.cameras)
    return [calibration.camera(name) for name in camera_names]


def check_intrinsics(calibration: Any, camera_names: Sequence[str] | None = None) -> list[CalibrationProblem]:
    """Focal lengths, principal points, image sizes and extrinsics that make no sense.

    Parameters
    ----------
    calibration
        A :class:`~napari_facehmm.io.anipose.Calibration`, a ``calibration.toml``
        or an aniposelib ``CameraGroup``.
    camera_names
        Only these cameras (default all).
    """
    problems = []
    for camera in _cameras(calibration, camera_names):
        width, height = camera.size
        fx, fy = float(camera.matrix[0, 0]), float(camera.matrix[1, 1])
        cx, cy = float(camera.matrix[0, 2]), float(camera.matrix[1, 2])
        name = (camera.name,)
        if not (width > 0 and height > 0):
            problems.append(
                CalibrationProblem("intrinsics", name, f"camera {camera.name!r}: image size {width}x{height} px")
            )
            continue
        least = MIN_FOCAL_SHARE * max(width, height)
        if not (np.isfinite(fx) and np.isfinite(fy) and fx >= least and fy >= least):
            problems.append(
                CalibrationProblem(
                    "intrinsics",
                    name,
                    f"camera {camera.name!r}: focal length fx={fx:g}, fy={fy:g} px; it must be at least "
                    f"{least:g} px ({MIN_FOCAL_SHARE:g} of its {width}x{height} image, a view under ~170 degrees)",
                )
            )
        low_x, high_x = -PRINCIPAL_POINT_MARGIN * width, (1 + PRINCIPAL_POINT_MARGIN) * width
        low_y, high_y = -PRINCIPAL_POINT_MARGIN * height, (1 + PRINCIPAL_POINT_MARGIN) * height
        if not (low_x <= cx <= high_x and low_y <= cy <= high_y):
            problems.append(
                CalibrationProblem(
                    "intrinsics",
                    name,
                    f"camera {camera.name!r}: principal point (cx, cy) = ({cx:g}, {cy:g}) px lies far outside "
                    f"its {width}x{height} image (accepted: x {low_x:g}..{high_x:g}, y {low_y:g}..{high_y:g}; "
                    f"real ones are near the centre, ({(width - 1) / 2:g}, {(height - 1) / 2:g}))",
                )
            )
        if not (np.isfinite(camera.rotation).all() and np.isfinite(camera.translation).all()):
            problems.append(
                CalibrationProblem(
                    "extrinsics",
                    name,
                    f"camera {camera.name!r}: rotation {camera.rotation.tolist()} or translation "
                    f"{camera.translation.tolist()} is not finite",
                )
            )
    return problems


def _projection_matrices(cameras: list) -> np.ndarray:
    return np.stack(
        [camera.matrix @ np.column_stack([camera.rotation_matrix, camera.translation]) for camera in cameras]
    )


def _undistorted(camera, pixels: np.ndarray) -> np.ndarray:
    """``(M, 2)`` pixels without the lens distortion (pinhole pixels of the same camera)."""
    import cv2

    if not np.any(camera.distortions) or not len(pixels):
        return pixels
    try:
        if camera.fisheye:
            out = cv2.fisheye.undistortPoints(
                pixels.reshape(-1, 1, 2), camera.matrix, camera.distortions[:4], P=camera.matrix
            )
        else:
            out = cv2.undistortPoints(pixels.reshape(-1, 1, 2), camera.matrix, camera.distortions, P=camera.matrix)
    except cv2.error:
        return pixels  # a distortion OpenCV cannot invert: the estimate ignores it
    return out.reshape(-1, 2)


def _sample_points_3d(cameras: list, points_2d: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Linear (DLT) triangulation of up to ``_SAMPLE_POINTS`` points seen by 2+ cameras.

    ``points_2d (C, N, 2)`` pixels, NaN where unseen, undistorted first.
    Returns ``(M, 3)`` world points and ``(C, M)`` which camera saw each.
    """
    points_2d = np.asarray(points_2d, dtype=np.float64)
    seen = np.isfinite(points_2d).all(axis=2)
    usable = np.flatnonzero(seen.sum(axis=0) >= 2)
    if not len(usable):
        return np.zeros((0, 3)), np.zeros((len(cameras), 0), dtype=bool)
    pick = usable[np.linspace(0, len(usable) - 1, min(len(usable), _SAMPLE_POINTS)).astype(int)]
    pixels = np.nan_to_num(points_2d[:, pick])  # (C, M, 2)
    for c, camera in enumerate(cameras):
        pixels[c] = _undistorted(camera, pixels[c])
    weight = seen[:, pick].astype(np.float64)  # unseen rows drop out of the system
    projections = _projection_matrices(cameras)  # (C, 3, 4)
    rows_x = pixels[:, :, 0, None] * projections[:, None, 2] - projections[:, None, 0]
    rows_y = pixels[:, :, 1, None] * projections[:, None, 2] - projections[:, None, 1]
    system = np.concatenate([rows_x * weight[..., None], rows_y * weight[..., None]], axis=0)  # (2C, M, 4)
    system = np.transpose(system, (1, 0, 2))
    scale = np.linalg.norm(system, axis=2, keepdims=True)
    system = system / np.where(scale > 0, scale, 1.0)
    _, _, vt = np.linalg.svd(system)
    homogeneous = vt[:, -1]
    with np.errstate(divide="ignore", invalid="ignore"):
        points = homogeneous[:, :3] / homogeneous[:, 3:]
    finite = np.isfinite(points).all(axis=1)
    return points[finite], seen[:, pick][:, finite]


def _axes_meeting_distance(camera_a, camera_b) -> float:
    """Mean distance from the two centres to where their optical axes pass closest (NaN if never in front)."""
    centre_a, centre_b = camera_a.position, camera_b.position
    axis_a, axis_b = camera_a.rotation_matrix[2], camera_b.rotation_matrix[2]
    cosine = float(axis_a @ axis_b)
    if abs(cosine) > np.cos(np.deg2rad(MIN_PARALLAX_DEG)):
        return float("nan")  # (near) parallel axes meet far away or nowhere
    offset = centre_b - centre_a
    # minimise |centre_a + s axis_a - centre_b - t axis_b|
    denominator = 1.0 - cosine**2
    s = (offset @ axis_a - cosine * (offset @ axis_b)) / denominator
    t = (cosine * (offset @ axis_a) - offset @ axis_b) / denominator
    if s <= 0 or t <= 0:
        return float("nan")
    return float((s + t) / 2)


def _sample_depths(cameras: list, points_2d: np.ndarray | None) -> tuple[np.ndarray | None, np.ndarray | None]:
    """``(C, M)`` depths of the sample points in each camera, ``(C, M)`` which saw them; None without points."""
    if points_2d is None:
        return None, None
    if np.shape(points_2d)[0] != len(cameras):
        raise DataError(f"points_2d has {np.shape(points_2d)[0]} cameras; the check was given {len(cameras)}")
    world, seen = _sample_points_3d(cameras, points_2d)
    if not len(world):
        return None, None
    return np.stack([camera.to_camera_frame(world)[:, 2] for camera in cameras]), seen


def camera_pair_geometry(
    calibration: Any, points_2d: np.ndarray | None = None, camera_names: Sequence[str] | None = None
) -> list[PairGeometry]:
    """Baseline, axes angle, scene distance and parallax of every camera pair.

    Parameters
    ----------
    calibration
        Anything :func:`check_intrinsics` takes.
    points_2d
        ``(C, N, 2)`` pixel points of the cameras (``camera_names`` order,
        NaN where unseen), to estimate the scene distance from; without them
        it is where the pair's optical axes pass closest.
    camera_names
        Only these cameras (default all, in calibration order).
    """
    cameras = _cameras(calibration, camera_names)
    depths = _sample_depths(cameras, points_2d)[0]
    pairs = []
    for i, j in itertools.combinations(range(len(cameras)), 2):
        camera_a, camera_b = cameras[i], cameras[j]
        baseline = float(np.linalg.norm(camera_a.position - camera_b.position))
        cosine = float(np.clip(camera_a.rotation_matrix[2] @ camera_b.rotation_matrix[2], -1.0, 1.0))
        distance = float("nan")
        if depths is not None:
            in_front = (depths[i] > 0) & (depths[j] > 0)
            # the scene is in front of the cameras for most points of a sane calibration
            if in_front.sum() >= max(3, 0.5 * depths.shape[1]):
                distance = float(np.median((depths[i][in_front] + depths[j][in_front]) / 2))
        if not np.isfinite(distance):
            distance = _axes_meeting_distance(camera_a, camera_b)
        parallax = np.rad2deg(2 * np.arctan2(baseline, 2 * distance)) if np.isfinite(distance) else np.nan
        angle = float(np.rad2deg(np.arccos(cosine)))
        pairs.append(PairGeometry((camera_a.name, camera_b.name), baseline, angle, distance, float(parallax)))
    return pairs


def check_calibration_geometry(
    calibration: Any, points_2d: np.ndarray | None = None, camera_names: Sequence[str] | None = None
) -> list[CalibrationProblem]:
    """Everything that makes a calibration useless for triangulation, with numbers.

    Intrinsics (:func:`check_intrinsics`), cameras at the same place, and
    camera pairs too close together for the scene distance (see the module
    notes for the thresholds). Parameters as :func:`camera_pair_geometry`.

    Returns
    -------
    list of CalibrationProblem
        Empty when the calibration is sensible.
    """
    cameras = _cameras(calibration, camera_names)
    problems = check_intrinsics(calibration, camera_names)
    if any(p.kind == "extrinsics" for p in problems):
        return problems
    depths, seen = _sample_depths(cameras, points_2d)
    if depths is not None:
        for c, camera in enumerate(cameras):
            n_seen = int(seen[c].sum())
            n_behind = int((seen[c] & ~(depths[c] > 0)).sum())
            if n_seen and n_behind > MAX_BEHIND_SHARE * n_seen:
                problems.append(
                    CalibrationProblem(
                        "behind",
                        (camera.name,),
                        f"camera {camera.name!r}: {100 * n_behind / n_seen:.0f}% of the 2D points it sees "
                        f"({n_behind} of {n_seen} sampled) triangulate behind it with this calibration "
                        f"(accepted: {100 * MAX_BEHIND_SHARE:g}%; a calibration that fits puts them in front)",
                    )
                )
    pairs = camera_pair_geometry(calibration, points_2d, camera_names)
    rig_size = max([p.baseline for p in pairs] + [float(np.linalg.norm(c.position)) for c in cameras])
    focal = {c.name: float(np.sqrt(abs(c.matrix[0, 0] * c.matrix[1, 1]))) for c in cameras}
    good_partner = {c.name: False for c in cameras}
    weak_pairs = []
    for pair in pairs:
        a, b = pair.cameras
        distance_known = np.isfinite(pair.scene_distance) and pair.scene_distance > 0
        scale = pair.scene_distance if distance_known else rig_size
        where = f"scene about {pair.scene_distance:.4g} mm away" if distance_known else "scene distance unknown"
        if pair.baseline <= COINCIDENT_SHARE * scale:
            problems.append(
                CalibrationProblem(
                    "coincident",
                    pair.cameras,
                    f"cameras {a!r} and {b!r} are at the same place: baseline {pair.baseline:.3g} mm "
                    f"({where}), optical axes {pair.axes_angle_deg:.2f} degrees apart; two cameras cannot "
                    "share a centre (was one camera's pose copied onto another?)",
                )
            )
            continue
        if not distance_known:
            good_partner[a] = good_partner[b] = True  # nothing to hold against the pair
            continue
        if pair.parallax_deg >= MIN_PARALLAX_DEG:
            good_partner[a] = good_partner[b] = True
        else:
            weak_pairs.append(pair)
    for pair in weak_pairs:
        a, b = pair.cameras
        if len(cameras) > 2 and good_partner[a] and good_partner[b]:
            continue
        # a pixel is 1/f radians; the depth moves by D / (f * parallax) per pixel
        depth_per_px = pair.scene_distance / (min(focal[a], focal[b]) * np.deg2rad(pair.parallax_deg))
        problems.append(
            CalibrationProblem(
                "parallax",
                pair.cameras,
                f"cameras {a!r} and {b!r} see the scene (about {pair.scene_distance:.4g} mm away) from almost "
                f"the same place: baseline {pair.baseline:.3g} mm, {pair.parallax_deg:.2f} degrees apart seen "
                f"from the scene (at least {MIN_PARALLAX_DEG:g} needed; here one pixel of 2D error moves a point "
                f"by about {depth_per_px:.3g} mm in depth)",
            )
        )
    return problems


def check_reprojection(
    errors_px: np.ndarray,
    calibration: Any,
    camera_errors_px: Mapping[str, float] | None = None,
    sources: Mapping[str, str | Path] | None = None,
) -> list[CalibrationProblem]:
    """A median reprojection error beyond sense (see the module notes).

    Parameters
    ----------
    errors_px
        Per-point reprojection errors (Anipose's ``error`` column; NaN ignored).
    calibration
        The calibration used (for the image sizes), as :func:`check_intrinsics`.
    camera_errors_px
        ``{camera: median error}``: its cameras are the ones checked, and
        their numbers go into the message.
    sources
        ``{camera: 2D file}`` for the message.
    """
    errors = np.asarray(errors_px, dtype=np.float64).ravel()
    errors = errors[np.isfinite(errors)]
    if not len(errors):
        return []
    cameras = _cameras(calibration, list(camera_errors_px) if camera_errors_px else None)
    diagonal = max(float(np.hypot(*c.size)) for c in cameras)
    limit = max(MAX_REPROJECTION_PX, MAX_REPROJECTION_DIAGONAL_SHARE * diagonal)
    median = float(np.median(errors))
    if median <= limit:
        return []
    per_camera = ", ".join(f"{n} {e:.1f} px" for n, e in (camera_errors_px or {}).items())
    files = ", ".join(str(p) for p in (sources or {}).values() if p)
    return [
        CalibrationProblem(
            "reprojection",
            tuple(c.name for c in cameras),
            f"median reprojection error {median:.1f} px over {len(errors)} points"
            + (f" ({per_camera})" if per_camera else "")
            + f", over the {limit:.0f} px that makes sense (the larger of {MAX_REPROJECTION_PX:g} px and "
            f"{MAX_REPROJECTION_DIAGONAL_SHARE:g} of the {diagonal:.0f} px image diagonal): the calibration does "
            "not fit these 2D tracks (a calibration of another rig or day, 2D files of another session"
            + (f": {files}" if files else "")
            + ", or cameras swapped)",
        )
    ]


def refuse_or_note(
    problems: Sequence[CalibrationProblem], calibration_label: str, insist: bool, notes: list[str]
) -> None:
    """Raise :class:`CalibrationCheckError` for ``problems``, or, when ``insist``, add them to ``notes``."""
    if not problems:
        return
    if not insist:
        raise CalibrationCheckError(problems, calibration_label)
    notes.extend(f"calibration check overridden: {problem.message}" for problem in problems)
