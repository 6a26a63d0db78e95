"""Head-centred coordinates: egocentric subtraction and rigid (Kabsch) alignment.

All functions are pure numpy, vectorized over frames, and work for 2D and 3D
points. NaN marks a missing point, as in :class:`~napari_facehmm.data.LandmarkSeries`.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from ..errors import DataError
from ..face import REFERENCE_KEYPOINT


def egocentric(positions: np.ndarray, ref_index: int) -> np.ndarray:
    """Positions relative to one reference landmark, frame by frame.

    Parameters
    ----------
    positions
        ``(n_frames, n_keypoints, n_dims)`` positions, NaN = missing.
    ref_index
        Index of the reference keypoint (e.g. ``nose1``).

    Returns
    -------
    numpy.ndarray
        ``(n_frames, n_keypoints, n_dims)``: ``positions - positions[:, ref_index]``.
        Frames where the reference is missing are all NaN. This removes head
        translation but not head rotation (see :func:`rigid_align`).
    """
    positions = np.asarray(positions, dtype=np.float64)
    return positions - positions[:, ref_index : ref_index + 1, :]


def egocentric_frame(positions: np.ndarray, keypoints: Sequence[str]) -> np.ndarray:
    """Positions of one frame centred on the face, for the 2D fallback of the 3D view.

    The one centring helper for drawing a face: :func:`egocentric` on the
    reference keypoint when it is there, the mean of the present points
    otherwise (re-exported by :mod:`napari_facehmm.layerdata`).

    Parameters
    ----------
    positions
        ``(K, D)`` positions of one frame.
    keypoints
        Keypoint names (the reference ``nose1`` centres the face when present,
        otherwise the mean of the present points).

    Returns
    -------
    numpy.ndarray
        ``(K, D)`` positions minus the centre (NaN kept).
    """
    positions = np.asarray(positions, dtype=float)
    keypoints = list(keypoints)
    if REFERENCE_KEYPOINT in keypoints:
        reference = keypoints.index(REFERENCE_KEYPOINT)
        if not np.isnan(positions[reference]).any():
            return egocentric(positions[None], reference)[0]
    if np.isnan(positions).all():
        return positions.copy()
    return positions - np.nanmean(positions, axis=0)


def kabsch(
    points: np.ndarray, template: np.ndarray, weights: np.ndarray, scale: bool = False
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Best rigid transform ``points ≈ s * R @ template + t`` for every frame (batched SVD).

    Parameters
    ----------
    points
        ``(n_frames, n_points, n_dims)`` observed points; values where
        ``weights`` is 0 are ignored (may be NaN).
    template
        ``(n_points, n_dims)`` template points.
    weights
        ``(n_frames, n_points)`` non-negative weights (1 = use, 0 = missing).
        Frames whose weights sum to 0 get NaN.
    scale
        Also fit an isotropic scale ``s`` (otherwise ``s = 1``).

    Returns
    -------
    rotations
        ``(n_frames, n_dims, n_dims)`` proper rotations (det +1).
    translations
        ``(n_frames, n_dims)``.
    scales
        ``(n_frames,)`` (ones unless ``scale``).
    """
    weights = np.asarray(weights, dtype=np.float64)
    points = np.where(weights[..., None] > 0, points, 0.0)
    total = weights.sum(axis=1)
    safe_total = np.where(total > 0, total, 1.0)
    w = weights / safe_total[:, None]
    mean_points = np.einsum("tp,tpd->td", w, points)
    mean_template = w @ template  # (T, D): the template's centroid over the points seen
    centred_points = points - mean_points[:, None, :]
    centred_template = template[None, :, :] - mean_template[:, None, :]
    # cross-covariance H = sum_i w_i x_i y_i^T, one (D, D) per frame
    cross = np.einsum("tp,tpi,tpj->tij", w, centred_points, centred_template)
    u, sigma, vt = np.linalg.svd(cross)
    det = np.linalg.det(u @ vt)
    correction = np.ones(sigma.shape)
    correction[:, -1] = np.sign(det) + (det == 0)  # reflection -> flip the weakest axis
    rotations = (u * correction[:, None, :]) @ vt
    if scale:
        template_var = np.einsum("tp,tpd->t", w, centred_template**2)
        scales = (sigma * correction).sum(axis=1) / np.where(template_var > 0, template_var, 1.0)
    else:
        scales = np.ones(len(points))
    translations = mean_points - scales[:, None] * np.einsum("tij,tj->ti", rotations, mean_template)
    bad = total <= 0
    rotations[bad] = np.nan
    translations[bad] = np.nan
    scales[bad] = np.nan
    return rotations, translations, scales


def _initial_template(rigid_points: np.ndarray, usable: np.ndarray) -> np.ndarray:
    """The centred rigid points of the frame most like the others (all points present)."""
    complete = np.flatnonzero(usable & np.isfinite(rigid_points).all(axis=(1, 2)))
    if len(complete) == 0:
        raise DataError(
            "rigid alignment needs at least one frame where every rigid keypoint is present"
        )
    # pick the complete frame with the median spread: robust to a few wild frames
    centred = rigid_points[complete] - rigid_points[complete].mean(axis=1, keepdims=True)
    spread = np.sqrt((centred**2).sum(axis=(1, 2)))
    chosen = np.argsort(spread)[len(spread) // 2]
    return centred[chosen]


def rigid_align(
    positions: np.ndarray,
    rigid_indices: Sequence[int],
    n_iter: int = 3,
    scale: bool = False,
    min_points: int | None = None,
    template: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Remove head translation and rotation by aligning each frame to a template face.

    The template is estimated from the data (Procrustes iteration): start from
    one complete frame, align every frame to it with :func:`kabsch`, replace
    the template by the mean of the aligned frames, repeat ``n_iter`` times.

    Parameters
    ----------
    positions
        ``(n_frames, n_keypoints, n_dims)`` positions, NaN = missing.
    rigid_indices
        Indices of the keypoints that move little with expression (nose,
        ears, eye corners); only these determine the head pose.
    n_iter
        Template refinements (2-3 suffice; the template converges fast).
    scale
        Also remove isotropic scale (e.g. 2D tracks where the face distance
        to the camera changes). Off by default: scale is part of the expression.
    min_points
        Frames with fewer present rigid keypoints are invalid (NaN pose and
        NaN aligned points). Default ``n_dims`` (2 in 2D, 3 in 3D).
    template
        ``(len(rigid_indices), n_dims)`` template to align to, e.g. one stored
        with a model; skips the estimation.

    Returns
    -------
    aligned
        ``(n_frames, n_keypoints, n_dims)`` head-centred positions:
        ``aligned[t] = (positions[t] - translations[t]) @ rotations[t]`` (divided
        by the scale if ``scale``).
    rotations
        ``(n_frames, n_dims, n_dims)`` head orientation: ``positions[t, k] ≈
        rotations[t] @ aligned[t, k] + translations[t]``.
    translations
        ``(n_frames, n_dims)`` head position (the template origin in the data's frame).
    template
        ``(len(rigid_indices), n_dims)`` template rigid points, centred at the origin.
    """
    positions = np.asarray(positions, dtype=np.float64)
    n_frames, n_keypoints, n_dims = positions.shape
    rigid_indices = np.asarray(rigid_indices, dtype=np.int64)
    if min_points is None:
        min_points = n_dims
    if len(rigid_indices) < min_points:
        raise DataError(
            f"rigid alignment needs at least {min_points} rigid keypoints; got {len(rigid_indices)}"
        )
    rigid_points = positions[:, rigid_indices, :]
    present = np.isfinite(rigid_points).all(axis=2)
    usable = present.sum(axis=1) >= min_points
    weights = (present & usable[:, None]).astype(np.float64)
    if template is None:
        template = _initial_template(rigid_points, usable)
        for _ in range(max(int(n_iter), 1)):
            rotations, translations, scales = kabsch(rigid_points, template, weights, scale)
            aligned_rigid = _to_head_frame(rigid_points, rotations, translations, scales)
            with np.errstate(invalid="ignore"):
                counts = np.isfinite(aligned_rigid).all(axis=2).sum(axis=0)
            if (counts == 0).any():
                raise DataError("a rigid keypoint is never present in a usable frame")
            template = np.nanmean(aligned_rigid, axis=0)
            template = template - template.mean(axis=0)
    template = np.asarray(template, dtype=np.float64)
    rotations, translations, scales = kabsch(rigid_points, template, weights, scale)
    aligned = _to_head_frame(positions, rotations, translations, scales)
    return aligned, rotations, translations, template


def _to_head_frame(
    points: np.ndarray, rotations: np.ndarray, translations: np.ndarray, scales: np.ndarray
) -> np.ndarray:
    """``(points - t) @ R / s`` per frame: the inverse of ``s * R @ y + t``."""
    centred = points - translations[:, None, :]
    return np.einsum("tpi,tij->tpj", centred, rotations) / scales[:, None, None]


def face_frame_rotation(template: np.ndarray, keypoints: Sequence[str]) -> np.ndarray | None:
    """A rotation putting a template into a face-centred frame, if the landmarks allow it.

    The face frame: x from the right ear to the left ear (``rear`` -> ``lear``),
    y forward (from the ears' midpoint towards ``nose1`` / the nose points),
    z = x × y (up, in 3D). Angles measured from this frame read as yaw (about z),
    pitch (about x) and roll (about y).

    Parameters
    ----------
    template
        ``(n_points, n_dims)`` template points.
    keypoints
        Names of the template points.

    Returns
    -------
    numpy.ndarray or None
        ``(n_dims, n_dims)`` rotation ``Q`` whose columns are the face axes in
        the template's coordinates (so ``template @ Q`` is in the face frame), or
        None when ``rear``/``lear`` (or, in 3D, a nose point) are not among the keypoints.
    """
    names = list(keypoints)
    n_dims = template.shape[1]
    if "rear" not in names or "lear" not in names:
        return None
    x_axis = template[names.index("lear")] - template[names.index("rear")]
    if not np.linalg.norm(x_axis) > 0:
        return None
    x_axis = x_axis / np.linalg.norm(x_axis)
    if n_dims == 2:
        return np.column_stack([x_axis, [-x_axis[1], x_axis[0]]])
    nose = [names.index(k) for k in names if k.startswith("nose")]
    if not nose:
        return None
    ear_mid = (template[names.index("lear")] + template[names.index("rear")]) / 2
    forward = template[nose].mean(axis=0) - ear_mid
    forward = forward - forward @ x_axis * x_axis
    if not np.linalg.norm(forward) > 0:
        return None
    y_axis = forward / np.linalg.norm(forward)
    z_axis = np.cross(x_axis, y_axis)
    return np.column_stack([x_axis, y_axis, z_axis])


def mean_rotation(rotations: np.ndarray) -> np.ndarray:
    """Chordal mean of rotations: the rotation closest to their arithmetic mean.

    Parameters
    ----------
    rotations
        ``(n, n_dims, n_dims)``; rows with NaN are ignored.

    Returns
    -------
    numpy.ndarray
        ``(n_dims, n_dims)`` rotation (identity if no rotation is finite).
    """
    rotations = np.asarray(rotations, dtype=np.float64)
    finite = np.isfinite(rotations).all(axis=(1, 2))
    n_dims = rotations.shape[-1]
    if not finite.any():
        return np.eye(n_dims)
    u, _, vt = np.linalg.svd(rotations[finite].mean(axis=0))
    correction = np.ones(n_dims)
    correction[-1] = 1.0 if np.linalg.det(u @ vt) >= 0 else -1.0
    return (u * correction) @ vt


def rotation_angles(
    rotations: np.ndarray, reference: np.ndarray | None = None
) -> tuple[np.ndarray, list[str]]:
    """Head orientation angles in degrees, relative to a reference orientation.

    Parameters
    ----------
    rotations
        ``(n_frames, n_dims, n_dims)`` rotations (face frame -> data frame);
        NaN rows stay NaN.
    reference
        ``(n_dims, n_dims)`` orientation that reads as zero angles; the angles
        are those of ``reference.T @ rotations[t]``, i.e. about the face's own
        axes. Default identity. Pass :func:`mean_rotation` of the track to get
        angles around the session's mean head pose (no wrap-around at ±180°).

    Returns
    -------
    angles
        ``(n_frames, 3)`` yaw (about z), pitch (about x), roll (about y), as
        intrinsic z-x-y Euler angles, for 3D; ``(n_frames, 1)`` in-plane roll for 2D.
    names
        ``["yaw_deg", "pitch_deg", "roll_deg"]`` or ``["roll_deg"]``.
    """
    rotations = np.asarray(rotations, dtype=np.float64)
    n_dims = rotations.shape[-1]
    if reference is not None:
        rotations = np.einsum("ji,tjk->tik", np.asarray(reference, dtype=np.float64), rotations)
    if n_dims == 2:
        return np.degrees(np.arctan2(rotations[:, 1, 0], rotations[:, 0, 0]))[:, None], ["roll_deg"]
    # R = Rz(yaw) @ Rx(pitch) @ Ry(roll): R[2,1] = sin(pitch)
    pitch = np.arcsin(np.clip(rotations[:, 2, 1], -1.0, 1.0))
    yaw = np.arctan2(-rotations[:, 0, 1], rotations[:, 1, 1])
    roll = np.arctan2(-rotations[:, 2, 0], rotations[:, 2, 2])
    return np.degrees(np.column_stack([yaw, pitch, roll])), ["yaw_deg", "pitch_deg", "roll_deg"]


def rotation_between_deg(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """Angle in degrees of the rotation taking each ``first[t]`` to ``second[t]``.

    Parameters
    ----------
    first, second
        ``(n, n_dims, n_dims)`` rotations.

    Returns
    -------
    numpy.ndarray
        ``(n,)`` angles in [0, 180] degrees.
    """
    relative = np.einsum("tji,tjk->tik", first, second)  # first^T @ second
    n_dims = relative.shape[-1]
    if n_dims == 2:
        return np.degrees(np.abs(np.arctan2(relative[:, 1, 0], relative[:, 0, 0])))
    cos_angle = (np.trace(relative, axis1=1, axis2=2) - 1.0) / 2.0
    return np.degrees(np.arccos(np.clip(cos_angle, -1.0, 1.0)))
