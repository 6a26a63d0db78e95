"""Calibration videos not started together: the frame offset between cameras from the board's motion.

Calibration matches the cameras' board detections by frame number, so a
camera started a few frames early pairs each of its views with the board
a few frames later in the others; the bundle adjustment then fits a wrong
rig, silently. The board's motion, though, is the same whatever camera
sees it: the rotation angle between two frames (the angle of
``R(t+1) R(t)^T``, conjugation by the camera's pose leaves it unchanged) and
how far the board's origin moves (mm; a rigid change of frame keeps
distances). Each camera's board pose per frame (``cv2.solvePnP`` with its
given intrinsics, or ``cv2.initCameraMatrix2D``'s guess from its own
detections) gives these two speed signals; the offset is where the other
camera's signals correlate best with the first camera's.

Sure when the best correlation is high (>= ``MIN_CORRELATION``) over
enough frame pairs (two thirds of the frames, ``MIN_OVERLAP``), and clearly
above the correlation at offsets three or more frames away (smooth motion
makes neighbouring offsets look alike).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

#: offsets searched: +/- this many frames
MAX_OFFSET_FRAMES = 30
#: a sure estimate correlates at least this well ...
MIN_CORRELATION = 0.8
#: ... over at least this many frame pairs ...
MIN_PAIRS = 20
#: ... and this much better than any offset 3+ frames away
MIN_MARGIN = 0.1
#: an offset counts only when the frames paired are at least this share of the
#: camera's frames with a known speed: a waved board's motion is nearly periodic,
#: and at a lag of half a short video a half-sized overlap can match again
#: (measured: 0.90 at 28 frames with 31 pairs in a 60-frame video, 0.99 at the truth)
MIN_OVERLAP = 2 / 3


@dataclass
class BoardSync:
    """Frame offsets of the calibration videos, estimated from the board's motion.

    Attributes
    ----------
    offsets
        ``{camera: frames}`` per video index: ``offsets[v][camera] = d``
        means frame ``t + d`` of that camera shows the board as frame ``t``
        of the first camera (it started ``d`` frames early); 0 for the first camera.
    correlation
        ``{v: {camera: best correlation}}``.
    sure
        ``{v: {camera: bool}}``.
    """

    offsets: dict[int, dict[str, int]] = field(default_factory=dict)
    correlation: dict[int, dict[str, float]] = field(default_factory=dict)
    sure: dict[int, dict[str, bool]] = field(default_factory=dict)

    @property
    def synchronized(self) -> bool:
        """Every estimate is 0 frames."""
        return all(d == 0 for per_video in self.offsets.values() for d in per_video.values())

    def describe(self) -> list[str]:
        """One line per camera whose estimated offset is not 0."""
        lines = []
        for video, per_camera in self.offsets.items():
            for camera, frames in per_camera.items():
                if frames == 0:
                    continue
                how = "sure" if self.sure[video][camera] else "unsure"
                lines.append(
                    f"calibration video {video} of camera {camera!r} is {abs(frames)} frame(s) "
                    f"{'ahead of' if frames > 0 else 'behind'} the first camera's (it started "
                    f"{'early' if frames > 0 else 'late'}; board-motion correlation "
                    f"{self.correlation[video][camera]:.2f}, {how})"
                )
        return lines


def _speeds(frames: np.ndarray, corners: np.ndarray, object_points: np.ndarray, matrix, distortions) -> np.ndarray:
    """``(n_frames, 2)`` angular speed (rad/frame) and origin speed (mm/frame), NaN where unknown."""
    import cv2

    n = int(frames.max()) + 2 if len(frames) else 0
    rotations = np.full((n, 3, 3), np.nan)
    origins = np.full((n, 3), np.nan)
    for frame, points in zip(frames, corners):
        good = np.isfinite(points[:, 0])
        if good.sum() < 6:
            continue
        ok, rvec, tvec = cv2.solvePnP(
            object_points[good].astype(np.float64), points[good].astype(np.float64), matrix, distortions
        )
        if ok:
            rotations[frame] = cv2.Rodrigues(rvec)[0]
            origins[frame] = tvec.ravel()
    speeds = np.full((n, 2), np.nan)
    turn = np.einsum("tij,tkj->tik", rotations[1:], rotations[:-1])
    cos = (np.trace(turn, axis1=1, axis2=2) - 1) / 2
    speeds[:-1, 0] = np.arccos(np.clip(cos, -1, 1))
    speeds[:-1, 1] = np.linalg.norm(origins[1:] - origins[:-1], axis=1)
    return speeds


def _correlation(a: np.ndarray, b: np.ndarray, offset: int) -> tuple[float, int]:
    """Correlation of ``a(t)`` with ``b(t + offset)`` over both speeds, and the pairs used."""
    t = np.arange(len(a))
    u = t + offset
    inside = (u >= 0) & (u < len(b))
    x, y = a[t[inside]], b[u[inside]]
    both = np.isfinite(x).all(axis=1) & np.isfinite(y).all(axis=1)
    if both.sum() < 3:
        return float("nan"), int(both.sum())
    x, y = x[both], y[both]
    scores = []
    for k in range(2):
        if x[:, k].std() == 0 or y[:, k].std() == 0:
            continue
        scores.append(float(np.corrcoef(x[:, k], y[:, k])[0, 1]))
    return (float(np.mean(scores)) if scores else float("nan")), int(both.sum())


def estimate_board_offsets(
    detections: Mapping,
    object_points: np.ndarray,
    sizes: Mapping[str, tuple[int, int]],
    intrinsics: Mapping | None = None,
    max_offset: int = MAX_OFFSET_FRAMES,
) -> BoardSync:
    """:class:`BoardSync` of ``{camera: BoardDetections}`` (the first camera is the reference).

    ``object_points`` ``(n_corners, 3)`` mm are the board's corners;
    ``intrinsics`` ``{camera: CameraParams}`` when known, else each
    camera's are guessed from its own detections.
    """
    import cv2

    signals: dict[int, dict[str, np.ndarray]] = {}
    for camera, found in detections.items():
        if intrinsics is not None and camera in intrinsics:
            matrix = np.asarray(intrinsics[camera].matrix, dtype=np.float64)
            distortions = np.asarray(intrinsics[camera].distortions, dtype=np.float64)
        else:
            views = [c for c in found.corners_px if np.isfinite(c[:, 0]).sum() >= 9]
            if not views:
                continue
            objp = [object_points[np.isfinite(c[:, 0])].astype(np.float32) for c in views]
            imgp = [c[np.isfinite(c[:, 0])].astype(np.float32) for c in views]
            matrix = cv2.initCameraMatrix2D(objp, imgp, tuple(int(v) for v in sizes[camera]))
            distortions = np.zeros(5)
        for video in np.unique(found.video_index):
            frames, corners = found.for_video(int(video))
            if len(frames):
                signals.setdefault(int(video), {})[camera] = _speeds(
                    frames, corners, object_points, matrix, distortions
                )
    sync = BoardSync()
    for video, per_camera in signals.items():
        names = list(per_camera)
        reference = per_camera[names[0]]
        sync.offsets[video], sync.correlation[video], sync.sure[video] = {names[0]: 0}, {names[0]: 1.0}, {names[0]: True}
        known_a = int(np.isfinite(reference).all(axis=1).sum())
        for camera in names[1:]:
            scores = {}
            known_b = int(np.isfinite(per_camera[camera]).all(axis=1).sum())
            needed = max(MIN_PAIRS, MIN_OVERLAP * min(known_a, known_b))
            for offset in range(-max_offset, max_offset + 1):
                score, pairs = _correlation(reference, per_camera[camera], offset)
                if pairs >= needed and np.isfinite(score):
                    scores[offset] = score
            if not scores:
                sync.offsets[video][camera], sync.correlation[video][camera] = 0, float("nan")
                sync.sure[video][camera] = False
                continue
            best = max(scores, key=scores.get)
            far = [s for d, s in scores.items() if abs(d - best) >= 3]
            margin = scores[best] - max(far) if far else scores[best]
            sync.offsets[video][camera] = best
            sync.correlation[video][camera] = scores[best]
            sync.sure[video][camera] = scores[best] >= MIN_CORRELATION and margin >= MIN_MARGIN
    return sync


def synchronize_rows(
    all_rows: list, camera_names: list[str], detections: Mapping, aniposelib_board, sizes: Mapping,
    known: Mapping | None, warnings: list[str],
) -> dict[str, int]:
    """Estimate the videos' frame offsets; shift aniposelib's rows of sure ones (in place).

    ``all_rows`` are aniposelib's detection rows per camera (``framenum`` =
    ``(video, frame)``); a camera whose frame ``t + d`` shows frame ``t`` of
    the first camera gets ``frame - d``. Lines for the user are appended to
    ``warnings``. Returns ``{camera: frames}`` applied.
    """
    sync = estimate_board_offsets(
        detections, np.asarray(aniposelib_board.get_object_points(), dtype=np.float64), sizes, known
    )
    applied: dict[str, int] = {}
    for video, per_camera in sync.offsets.items():
        for camera, frames in per_camera.items():
            if frames == 0:
                continue
            if not sync.sure[video][camera]:
                continue
            rows = all_rows[camera_names.index(camera)]
            for row in rows:
                if row["framenum"][0] == video:
                    row["framenum"] = (row["framenum"][0], row["framenum"][1] - frames)
            applied[camera] = frames
    for line in sync.describe():
        camera = line.split("'")[1]
        warnings.append(
            line + (": offset applied before calibrating" if camera in applied else
                    ": NOT applied; check that the calibration videos are synchronized")
        )
    return applied
