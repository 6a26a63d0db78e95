"""A camera that disagrees with the others (3+ cameras): found by leaving each camera out in turn.

Why not each camera's reprojection error after the all-camera fit: the
least-squares fit spreads one badly calibrated camera's error over every
camera (measured on a synthetic 4-camera rig with camD's pose 3 degrees and
20 mm off: camA 12.4 px, camB 4.2, camC 16.0, camD 7.6 -- the bad camera is
not even the highest). Nor the two-view error of each camera with its best
partner (:func:`~napari_facehmm.tracking.anipose.dlt._best_pair_errors`):
a wrong pose moves points mostly along the epipolar lines, which a two-view
fit absorbs (camD 0.72 px against 0.24 px for the others on the same rig).

Here each camera ``c`` in turn is left out: the others triangulate every
point (DLT), and two figures are kept, medians over the points ``c`` and at
least two others see:

- ``predicted``: the distance in ``c``'s image between its own 2D point and
  the others' 3D point projected into it (how far ``c`` is from what the
  others agree on);
- ``rest``: the mean reprojection error of the others among themselves (how
  well they agree without ``c``).

A bad camera has a large ``predicted`` error and a small ``rest`` (the
others agree once it is gone); a good camera leaves the bad one among the
rest, so its ``rest`` is large. Camera ``c`` is flagged when leaving it out
makes the rest agree ``ratio`` times better than leaving out any other
camera does, *and* its ``predicted`` error is over an absolute floor
(``min_px``): a camera tracked at 1.5 px among 0.7 px ones is not flagged
however the ratios fall.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from ...progress import run_to_end
from .dlt import _mean_over_cameras, _reprojection_px, _triangulate_dlt

#: default ratio between the others' agreement without the flagged camera and without any other camera
BAD_CAMERA_RATIO = 3.0
#: default floor (px) of the flagged camera's error against the others' 3D points
BAD_CAMERA_MIN_PX = 2.0


@dataclass(frozen=True)
class LeaveOneOut:
    """Each camera left out in turn (see the module's docstring).

    Attributes
    ----------
    cameras
        Camera names, in the order of the figures.
    predicted_px
        ``{camera: median px}`` between the camera's points and the others' 3D points projected into it.
    rest_px
        ``{camera: median px}`` mean reprojection error of the other cameras without it.
    """

    cameras: tuple[str, ...]
    predicted_px: dict[str, float]
    rest_px: dict[str, float]

    def describe(self, name: str) -> str:
        """Camera ``name``'s figures in words."""
        others = min(v for n, v in self.rest_px.items() if n != name)
        return (
            f"{self.predicted_px[name]:.2f} px from the points the others triangulate; without it they agree "
            f"to {self.rest_px[name]:.2f} px, with it at best {others:.2f} px"
        )

    def bad_camera(self, ratio: float = BAD_CAMERA_RATIO, min_px: float = BAD_CAMERA_MIN_PX) -> str | None:
        """The camera whose absence makes the others agree ``ratio`` x better than any other's, over ``min_px``.

        None when no camera is flagged (or fewer than three cameras have figures).
        """
        finite = [c for c in self.cameras if np.isfinite(self.rest_px[c]) and np.isfinite(self.predicted_px[c])]
        if len(finite) < 3:
            return None
        best = min(finite, key=lambda c: self.rest_px[c])
        others = min(self.rest_px[c] for c in finite if c != best)
        if self.predicted_px[best] > min_px and others > ratio * max(self.rest_px[best], 1e-9):
            return best
        return None


def two_cameras_note(median_error_px: float, camera_errors_px: Mapping[str, float], min_px: float) -> str:
    """The warning for two cameras that disagree: which one is wrong cannot be told, so both numbers."""
    per_camera = ", ".join(f"{n} {e:.2f} px" for n, e in camera_errors_px.items())
    return (
        f"two cameras disagree: median reprojection error {median_error_px:.2f} px ({per_camera}), over "
        f"{min_px:g} px; with two cameras the wrong one cannot be told: check both calibrations and the "
        "tracking, or add a third camera"
    )


def leave_one_out(
    group, names: Sequence[str], points_flat: np.ndarray, chunk: int
) -> LeaveOneOut:
    """:class:`LeaveOneOut` figures of ``(C, N, 2)`` undistorted-later pixel points (NaN: unseen).

    ``group`` is the aniposelib ``CameraGroup`` of ``names`` (same order).
    Needs three or more cameras (NaN figures otherwise).
    """
    n_cams = points_flat.shape[0]
    predicted = {name: float("nan") for name in names}
    rest = dict(predicted)
    if n_cams < 3:
        return LeaveOneOut(tuple(names), predicted, rest)
    seen = np.isfinite(points_flat[:, :, 0])
    for c, name in enumerate(names):
        others = [i for i in range(n_cams) if i != c]
        usable = seen[c] & (seen[others].sum(axis=0) >= 2)
        if not usable.any():
            continue
        sub_group = group.subset_cameras(others)
        sub_points = points_flat[others][:, usable]
        p3d = run_to_end(_triangulate_dlt(sub_group, sub_points, chunk))
        rest[name] = float(np.nanmedian(_mean_over_cameras(_reprojection_px(sub_group, p3d, sub_points))))
        own = group.subset_cameras([c])
        predicted[name] = float(np.nanmedian(_reprojection_px(own, p3d, points_flat[[c]][:, usable])))
    return LeaveOneOut(tuple(names), predicted, rest)
