"""Rendering of the synthetic face into camera frames (numpy + cv2).

A frame shows a cartoon head (hair, skin ellipse, ears, neck), eyes whose
lids follow the eye landmarks, brows, nose and lips that follow the
expression, and on top of it each of the 21 landmarks as a small filled
disc of its own colour (:func:`keypoint_colors`), centred on the landmark's
exact (distorted) projection, so that a pose-estimation network can learn
them and tests can find them by colour.

The cartoon does not model self-occlusion: every landmark is drawn (and
tracked) in every camera, the far ear included, as if the head were
transparent there. Landmark discs are drawn from far to near, so where two
overlap the nearer one is on top.

cv2 is imported inside the functions that draw (it is a heavy import).
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from ..colors import keypoint_colors_rgb8
from ..face import FACE_KEYPOINTS
from .cameras import project
from .face import FaceSimulation, rotation_matrices

#: cv2 drawing with ``shift`` bits of sub-pixel precision
_SHIFT = 4
_SCALE = 1 << _SHIFT

SKIN_RGB = (222, 180, 150)
SKIN_SHADE_RGB = (196, 150, 122)
HAIR_RGB = (70, 48, 34)
BROW_RGB = (60, 40, 28)
LIP_RGB = (176, 84, 88)
MOUTH_RGB = (60, 20, 24)
IRIS_RGB = (50, 80, 110)
EYE_WHITE_RGB = (245, 245, 240)

# auxiliary points (face frame, mm) drawn but not tracked
_STATIC_AUX_MM = {
    "head_center": (0.0, 2.0, 0.0),
    "head_top": (0.0, 110.0, 0.0),
    "hair_center": (0.0, 16.0, -8.0),
    "hair_top": (0.0, 122.0, -8.0),
    "leye_inner": (17.0, 30.0, 81.0),
    "leye_outer": (45.0, 30.0, 75.0),
    "reye_inner": (-17.0, 30.0, 81.0),
    "reye_outer": (-45.0, 30.0, 75.0),
    "neck_ul": (-42.0, -70.0, -10.0),
    "neck_ur": (42.0, -70.0, -10.0),
    "neck_lr": (50.0, -220.0, -10.0),
    "neck_ll": (-50.0, -220.0, -10.0),
}
_STATIC_NAMES = tuple(_STATIC_AUX_MM)
# points derived from landmarks: (name, landmark, offset in the face frame)
_DERIVED_AUX = (
    ("uplip_inner", "uplip", (0.0, -6.5, -1.0)),
    ("lowlip_inner", "lowlip", (0.0, 7.5, -1.0)),
    ("leye_center", "lefteye1", None),
    ("reye_center", "righteye1", None),
)


def keypoint_colors(n_keypoints: int = len(FACE_KEYPOINTS)) -> np.ndarray:
    """``(n_keypoints, 3)`` uint8 RGB colours, all far apart from each other.

    The project's one keypoint palette (:func:`napari_facehmm.colors.keypoint_colors`)
    as 8-bit colours, so a mark in a rendered frame has the colour the viewer
    gives its keypoint.
    """
    return keypoint_colors_rgb8(n_keypoints)


def marker_radius_px(size: tuple[int, int]) -> float:
    """Radius of the landmark discs for an image of ``size`` (width, height)."""
    return max(2.5, min(size) / 75.0)


def render_points(simulation: FaceSimulation) -> tuple[np.ndarray, dict[str, int]]:
    """World positions of the landmarks and the auxiliary drawing points.

    Returns
    -------
    points
        ``(n_frames, 21 + n_aux, 3)`` world points (mm): the landmarks
        first, then the auxiliary points.
    index
        Name -> column in ``points`` for the auxiliary points.
    """
    n_frames = simulation.n_frames
    keypoint_index = {k: i for i, k in enumerate(simulation.keypoints)}
    static = np.broadcast_to(np.array([_STATIC_AUX_MM[n] for n in _STATIC_NAMES]), (n_frames, len(_STATIC_NAMES), 3))
    derived = []
    for name, landmark, offset in _DERIVED_AUX:
        if offset is None:
            # eye centre: midway between the upper and lower lid landmarks
            upper = simulation.points_face[:, keypoint_index[landmark]]
            lower = simulation.points_face[:, keypoint_index[landmark.replace("1", "2")]]
            derived.append(0.5 * (upper + lower))
        else:
            derived.append(simulation.points_face[:, keypoint_index[landmark]] + np.array(offset))
    aux_face = np.concatenate([static, np.stack(derived, axis=1)], axis=1)
    rotations = rotation_matrices(simulation.head_rotvec)
    aux_world = np.einsum("tij,tkj->tki", rotations, aux_face) + simulation.head_translation_mm[:, None]
    points = np.concatenate([simulation.points_3d, aux_world], axis=1)
    names = _STATIC_NAMES + tuple(n for n, _, _ in _DERIVED_AUX)
    n_keypoints = simulation.points_3d.shape[1]
    return points, {name: n_keypoints + i for i, name in enumerate(names)}


def _background(size: tuple[int, int]) -> np.ndarray:
    width, height = size
    rows = np.linspace(0.0, 1.0, height)[:, None, None]
    top = np.array([168.0, 178.0, 190.0])
    bottom = np.array([112.0, 120.0, 132.0])
    column_shade = 1.0 - 0.08 * np.abs(np.linspace(-1, 1, width))[None, :, None]
    return np.clip((top * (1 - rows) + bottom * rows) * column_shade, 0, 255).astype(np.uint8)


def _curve(start: np.ndarray, middle: np.ndarray, end: np.ndarray, n: int = 9) -> np.ndarray:
    """``(n, 2)`` quadratic Bézier from ``start`` to ``end`` passing through ``middle``."""
    control = 2 * middle - 0.5 * (start + end)
    t = np.linspace(0, 1, n)[:, None]
    return (1 - t) ** 2 * start + 2 * (1 - t) * t * control + t**2 * end


def _fixed(points: np.ndarray) -> np.ndarray:
    return np.round(points * _SCALE).astype(np.int32)


def _head_ellipse(frame: np.ndarray, center: np.ndarray, top: np.ndarray, half_width_px: float, color) -> None:
    """Fill an ellipse centred on ``center`` whose upper vertex is ``top`` (pixels)."""
    import cv2

    up = top - center
    half_height_px = float(np.hypot(*up))
    angle_deg = float(np.degrees(np.arctan2(up[1], up[0]))) + 90.0
    axes = (int(round(half_width_px * _SCALE)), int(round(half_height_px * _SCALE)))
    cv2.ellipse(frame, tuple(_fixed(center)), axes, angle_deg, 0, 360, color, -1, cv2.LINE_AA, _SHIFT)


def render_face_frames(
    simulation: FaceSimulation, camera, marker_radius: float | None = None
) -> Iterator[np.ndarray]:
    """Yield the ``(height, width, 3)`` uint8 RGB frames of ``camera``.

    Parameters
    ----------
    simulation
        The face to draw.
    camera
        Its true :class:`~napari_facehmm.io.anipose.CameraParams`; drawing uses the same (distorted) projection
        as the 2D truth, so each landmark disc is centred on its true pixel.
    marker_radius
        Disc radius in pixels; :func:`marker_radius_px` when None.
    """
    import cv2

    width, height = camera.size
    background = _background(camera.size)
    points, aux = render_points(simulation)
    pixels = project(camera, points)
    # depth of the head centre, for sizes of things drawn as 2D ellipses
    rotation = camera.rotation_matrix
    depth_mm = (points[:, aux["head_center"]] @ rotation.T + camera.translation)[:, 2]
    n_keypoints = simulation.points_3d.shape[1]
    keypoint_depth_mm = (points[:, :n_keypoints] @ rotation.T + camera.translation)[..., 2]
    focal = camera.matrix[0, 0]
    colors = [tuple(int(c) for c in rgb) for rgb in keypoint_colors(simulation.points_3d.shape[1])]
    radius = marker_radius if marker_radius is not None else marker_radius_px(camera.size)
    kp = {k: i for i, k in enumerate(simulation.keypoints)}
    lines = cv2.LINE_AA

    for t in range(simulation.n_frames):
        frame = background.copy()
        p = pixels[t]
        if not np.isfinite(p).all():
            yield frame
            continue
        px_per_mm = focal / depth_mm[t]

        neck = _fixed(p[[aux["neck_ul"], aux["neck_ur"], aux["neck_lr"], aux["neck_ll"]]])
        cv2.fillPoly(frame, [neck], SKIN_SHADE_RGB, lines, _SHIFT)
        _head_ellipse(frame, p[aux["hair_center"]], p[aux["hair_top"]], 80.0 * px_per_mm, HAIR_RGB)
        _head_ellipse(frame, p[aux["head_center"]], p[aux["head_top"]], 70.0 * px_per_mm, SKIN_RGB)
        for ear in ("lear", "rear"):
            center = p[kp[ear]]
            axes = (int(round(9 * px_per_mm * _SCALE)), int(round(24 * px_per_mm * _SCALE)))
            cv2.ellipse(frame, tuple(_fixed(center)), axes, 0, 0, 360, SKIN_SHADE_RGB, -1, lines, _SHIFT)

        for side, upper, lower in (("l", "lefteye1", "lefteye2"), ("r", "righteye1", "righteye2")):
            inner, outer = p[aux[f"{side}eye_inner"]], p[aux[f"{side}eye_outer"]]
            top = _curve(inner, p[kp[upper]], outer)
            bottom = _curve(outer, p[kp[lower]], inner)
            outline = _fixed(np.vstack([top, bottom]))
            cv2.fillPoly(frame, [outline], EYE_WHITE_RGB, lines, _SHIFT)
            opening_px = float(np.hypot(*(p[kp[upper]] - p[kp[lower]])))
            iris_px = min(5.5 * px_per_mm, 0.5 * opening_px)
            if iris_px > 0.5:
                center = tuple(_fixed(p[aux[f"{side}eye_center"]]))
                cv2.circle(frame, center, int(round(iris_px * _SCALE)), IRIS_RGB, -1, lines, _SHIFT)
            cv2.polylines(frame, [outline], True, BROW_RGB, 1, lines, _SHIFT)

        brow_px = max(1, int(round(3.0 * px_per_mm)))
        for brow in (("leyebrow1", "leyebrow2", "leyebrow3"), ("reyebrow1", "reyebrow2", "reyebrow3")):
            curve = _curve(p[kp[brow[0]]], p[kp[brow[1]]], p[kp[brow[2]]])
            cv2.polylines(frame, [_fixed(curve)], False, BROW_RGB, brow_px, lines, _SHIFT)

        nose_ridge = _curve(p[kp["nose1"]], 0.5 * (p[kp["nose1"]] + p[kp["nose2"]]), p[kp["nose2"]])
        cv2.polylines(frame, [_fixed(nose_ridge)], False, SKIN_SHADE_RGB, max(1, brow_px - 1), lines, _SHIFT)
        nostrils = _curve(p[kp["nose3"]], p[kp["nose2"]], p[kp["nose4"]])
        cv2.polylines(frame, [_fixed(nostrils)], False, SKIN_SHADE_RGB, max(1, brow_px - 1), lines, _SHIFT)

        upper_outer = _curve(p[kp["rlip"]], p[kp["uplip"]], p[kp["llip"]])
        lower_outer = _curve(p[kp["llip"]], p[kp["lowlip"]], p[kp["rlip"]])
        cv2.fillPoly(frame, [_fixed(np.vstack([upper_outer, lower_outer]))], LIP_RGB, lines, _SHIFT)
        upper_inner = _curve(p[kp["rlip"]], p[aux["uplip_inner"]], p[kp["llip"]])
        lower_inner = _curve(p[kp["llip"]], p[aux["lowlip_inner"]], p[kp["rlip"]])
        gap_px = p[aux["lowlip_inner"]][1] - p[aux["uplip_inner"]][1]
        if gap_px > 0.5:
            cv2.fillPoly(frame, [_fixed(np.vstack([upper_inner, lower_inner]))], MOUTH_RGB, lines, _SHIFT)
        else:
            cv2.polylines(frame, [_fixed(upper_inner)], False, MOUTH_RGB, 1, lines, _SHIFT)

        jaw = _curve(p[kp["rear"]], p[kp["chin"]], p[kp["lear"]], n=15)
        cv2.polylines(frame, [_fixed(jaw)], False, SKIN_SHADE_RGB, 1, lines, _SHIFT)

        # far landmarks first, so a nearer landmark's disc covers a farther one
        for i in np.argsort(-keypoint_depth_mm[t]):
            center = p[i]
            if 0 <= center[0] < width and 0 <= center[1] < height:
                cv2.circle(frame, tuple(_fixed(center)), int(round(radius * _SCALE)), colors[i], -1, lines, _SHIFT)
        yield frame
