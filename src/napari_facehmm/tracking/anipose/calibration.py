"""Camera calibration from board videos: board search with progress, then aniposelib's bundle adjustment.

aniposelib prints to stdout while it calibrates; that chatter is captured
into :attr:`CalibrationResult.log` because the core never prints.
"""

from __future__ import annotations

import contextlib
import io
import itertools
from collections.abc import Generator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ...errors import DataError, FileFormatError
from ...progress import Progress, relay
from .board import BoardDetections, BoardSpec


# Frames between board checks while no board is in view (aniposelib's
# ``detect_video`` default); after a detection the next skip/2 frames are all read.
DEFAULT_DETECTION_SKIP = 20

# aniposelib's corner threshold for the pose estimate used in extrinsics
# initialisation (``calibrate_rows`` keeps rows with at least 8 ids) and for
# intrinsics initialisation (``min_corners_intrinsic=9``).
_MIN_CORNERS_EXTRINSIC = 8
_MIN_CORNERS_INTRINSIC = 9


@dataclass(eq=False)
class CalibrationResult:
    """What :func:`calibrate` returns.

    Attributes
    ----------
    calibration
        :class:`napari_facehmm.io.anipose.Calibration`; write it with
        :func:`napari_facehmm.io.anipose.write_calibration`.
    camera_errors_px
        Mean reprojection error of each camera (pixels) over the board
        corners seen by at least two cameras, after bundle adjustment.
    error_px
        aniposelib's figure: median over corners of the mean error across
        cameras (stored as ``metadata["error"]``, as Anipose does).
    detections
        :class:`BoardDetections` per camera.
    log
        What aniposelib printed while calibrating.
    frame_offsets
        ``{camera: frames}`` applied to videos found not synchronized
        (:mod:`~napari_facehmm.tracking.anipose.calibration_sync`; frame
        ``t + d`` of the camera was matched with frame ``t`` of the first
        camera); empty when they were in sync. Also in the calibration's
        ``metadata["frame_offsets"]``.
    warnings
        What the user must know: offsets applied, or videos that look out of
        sync by an amount that could not be told for sure.
    calibration_path, detections_path
        Files written by :func:`calibrate_project` (None from :func:`calibrate`).
    """

    calibration: Any
    camera_errors_px: dict[str, float]
    error_px: float
    detections: dict[str, BoardDetections]
    log: str = ""
    calibration_path: Path | None = None
    detections_path: Path | None = None
    frame_offsets: dict[str, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


def _video_frame_count(capture) -> int:
    import cv2

    return max(int(capture.get(cv2.CAP_PROP_FRAME_COUNT)), 0)


def _detect_video(
    board, path: Path, skip: int, video_index: int
) -> Generator[Progress, None, tuple[list, int, tuple[int, int]]]:
    """Search a video for the board as aniposelib's ``detect_video`` does, with progress.

    Yields ``(frames_read, n_frames, message)`` after every frame; returns
    ``(rows, frames_read, (width, height))`` with rows in aniposelib's format.
    """
    import cv2

    capture = cv2.VideoCapture(str(path))
    if not capture.isOpened():
        raise FileFormatError(path, "cannot open the video (missing file or unsupported codec)")
    try:
        n_frames = _video_frame_count(capture)
        size = (int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)), int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT)))
        rows = []
        frames_left_to_check = skip // 2
        frame_number = 0
        while True:
            ok, frame = capture.read()
            if not ok:
                break
            if frame_number % skip == 0 or frames_left_to_check > 0:
                corners, ids = board.detect_image(frame)
                if corners is not None and len(corners) > 0:
                    rows.append({"framenum": (video_index, frame_number), "corners": corners, "ids": ids})
                    frames_left_to_check = skip // 2
                frames_left_to_check = max(0, frames_left_to_check - 1)
            frame_number += 1
            yield frame_number, max(n_frames, frame_number), f"{path.name}: {len(rows)} boards"
    finally:
        capture.release()
    if frame_number == 0:
        raise FileFormatError(path, "no frame could be decoded")
    return board.fill_points_rows(rows), frame_number, size


def calibrate(
    videos: Mapping[str, str | Path | Sequence[str | Path]],
    board: BoardSpec | None = None,
    *,
    skip: int = DEFAULT_DETECTION_SKIP,
    fisheye: bool = False,
    n_iters: int = 6,
    max_nfev: int = 200,
    n_samp_iter: int = 1000,
    n_samp_full: int = 5000,
    random_seed: int | None = 0,
    intrinsics=None,
    synchronize: bool = True,
) -> Generator[Progress, None, CalibrationResult]:
    """Calibrate cameras from videos of a calibration board (Anipose's ``calibrate``).

    Parameters
    ----------
    videos
        ``{camera_name: video or [videos]}``; the i-th videos of all cameras
        must be synchronized recordings (frames are matched by number).
    board
        The board; default :class:`BoardSpec()` (Anipose's example board).
    skip
        Search every ``skip``-th frame while no board is visible, every
        frame for ``skip // 2`` frames after a detection (aniposelib's rule).
        1 searches every frame.
    fisheye
        Fisheye camera model.
    n_iters, max_nfev, n_samp_iter, n_samp_full
        aniposelib's ``bundle_adjust_iter`` settings. Anipose's command line
        samples 1000 corners (200 per iteration); we take up to 5000 (1000),
        i.e. every corner of a 90-frame two-camera video: on the synthetic
        session the baseline error drops from 0.40-0.58 % (depending on the
        random sample) to 0.36 % for about 10 s more.
    random_seed
        Seed of numpy's global generator, which aniposelib's point
        resampling uses, during the bundle adjustment (the previous state is
        restored after); None leaves it alone. Fixed for reproducible results.
    intrinsics
        A ``calibration.toml`` (or :class:`~napari_facehmm.io.anipose.Calibration`)
        whose cameras' intrinsics (matrix, distortions, image size) are kept
        as they are: only the cameras' poses are fitted
        (:mod:`~napari_facehmm.tracking.anipose.known_intrinsics`). None:
        intrinsics are fitted too, as Anipose does.
    synchronize
        Estimate each camera's frame offset from the board's motion before
        calibrating; a sure non-zero offset is applied (and said in
        ``warnings``), an unsure one only said. False matches frames by
        number, as Anipose does.

    Yields
    ------
    tuple
        ``(done, total, message)``: one unit per decoded frame, plus one for
        the bundle adjustment.

    Returns
    -------
    CalibrationResult

    Raises
    ------
    DataError
        Fewer than two cameras, a camera whose videos never show the board
        (named), or no frame where two cameras see the board together.
    FileFormatError
        A video that cannot be opened or decoded.
    """
    from ...io.anipose import Calibration

    board = board if board is not None else BoardSpec()
    if len(videos) < 2:
        raise DataError(f"calibration needs at least two cameras; got {list(videos)}")
    camera_names = list(videos)
    video_lists = {
        name: [Path(v) for v in ([paths] if isinstance(paths, (str, Path)) else paths)]
        for name, paths in videos.items()
    }
    for name, paths in video_lists.items():
        if not paths:
            raise DataError(f"camera {name!r} has no calibration video")
        for path in paths:
            if not path.is_file():
                raise FileFormatError(path, f"calibration video of camera {name!r} does not exist")
    skip = max(int(skip), 1)

    import cv2

    aniposelib_board = board.build()
    # frame counts up front so the progress total is known
    counts = {}
    for name, paths in video_lists.items():
        for path in paths:
            capture = cv2.VideoCapture(str(path))
            if not capture.isOpened():
                raise FileFormatError(path, "cannot open the video (missing file or unsupported codec)")
            counts[path] = _video_frame_count(capture)
            capture.release()
    total = sum(counts.values()) + 1
    done = 0

    all_rows: list[list[dict]] = []
    sizes: dict[str, tuple[int, int]] = {}
    detections: dict[str, BoardDetections] = {}
    for name in camera_names:
        rows_camera: list[dict] = []
        frames_read = 0
        for video_index, path in enumerate(video_lists[name]):
            start = done
            rows, n_read, size = yield from relay(
                _detect_video(aniposelib_board, path, skip, video_index),
                lambda step: (min(start + step[0], total - 1), total, f"detecting board, camera {name}: {step[2]}"),
            )
            if name in sizes and sizes[name] != size:
                raise DataError(
                    f"calibration videos of camera {name!r} differ in size: {sizes[name]} and {size} ({path})"
                )
            sizes[name] = size
            rows_camera.extend(rows)
            frames_read += n_read
            # keep the total right when the container's frame count was off
            total += n_read - counts[path]
            done = start + n_read
        all_rows.append(rows_camera)
        detections[name] = _detections_from_rows(name, video_lists[name], rows_camera, board, frames_read)

    known = None
    if intrinsics is not None:
        from .known_intrinsics import read_intrinsics

        known = read_intrinsics(intrinsics, camera_names, sizes)
    warnings: list[str] = []
    frame_offsets: dict[str, int] = {}
    if synchronize:
        from .calibration_sync import synchronize_rows

        frame_offsets = synchronize_rows(all_rows, camera_names, detections, aniposelib_board, sizes, known, warnings)
    _check_detections(camera_names, all_rows, video_lists)
    yield done, total, "bundle adjustment"

    from aniposelib.cameras import CameraGroup

    group = CameraGroup.from_names(camera_names, fisheye=fisheye)
    for camera in group.cameras:
        camera.set_size(sizes[camera.get_name()])
    if known is not None:
        from .known_intrinsics import set_intrinsics

        set_intrinsics(group, known)
    log = io.StringIO()
    # aniposelib resamples points with numpy's global generator: seed it for
    # reproducible calibrations, and give the caller's state back afterwards
    saved_random_state = np.random.get_state()
    if random_seed is not None:
        np.random.seed(random_seed)
    try:
        with contextlib.redirect_stdout(log):
            error = group.calibrate_rows(
                all_rows,
                aniposelib_board,
                init_intrinsics=known is None,
                init_extrinsics=True,
                only_extrinsics=known is not None,
                verbose=False,
                n_iters=n_iters,
                max_nfev=max_nfev,
                n_samp_iter=n_samp_iter,
                n_samp_full=n_samp_full,
            )
    except (ValueError, IndexError, np.linalg.LinAlgError, KeyError) as err:
        raise DataError(
            f"bundle adjustment failed for cameras {camera_names} ({type(err).__name__}: {err}); "
            "check that the videos are synchronized and show the board from both cameras at once"
        ) from err
    finally:
        np.random.set_state(saved_random_state)
    if known is not None:
        from .known_intrinsics import check_unchanged

        check_unchanged(group, known)
        group.metadata["intrinsics_from"] = str(intrinsics) if isinstance(intrinsics, (str, Path)) else "given"
    if frame_offsets:
        group.metadata["frame_offsets"] = dict(frame_offsets)
    group.metadata["adjusted"] = False
    group.metadata["error"] = float(error)
    camera_errors = _board_camera_errors(group, all_rows, aniposelib_board)
    calibration = Calibration.from_aniposelib(group)
    yield total, total, f"calibrated; median error {float(error):.3f} px"
    return CalibrationResult(
        calibration=calibration,
        camera_errors_px=camera_errors,
        error_px=float(error),
        detections=detections,
        log=log.getvalue(),
        frame_offsets=frame_offsets,
        warnings=warnings,
    )



def _detections_from_rows(
    camera: str, videos: list[Path], rows: list[dict], board: BoardSpec, frames_read: int
) -> BoardDetections:
    n_corners = board.n_corners
    corners = np.full((len(rows), n_corners, 2), np.nan)
    for i, row in enumerate(rows):
        corners[i] = np.asarray(row["filled"], dtype=np.float64).reshape(n_corners, 2)
    return BoardDetections(
        camera=camera,
        videos=list(videos),
        video_index=np.array([r["framenum"][0] for r in rows], dtype=np.int64),
        frame_indices=np.array([r["framenum"][1] for r in rows], dtype=np.int64),
        corners_px=corners,
        n_frames_read=frames_read,
    )


def _check_detections(
    camera_names: list[str], all_rows: list[list[dict]], video_lists: Mapping[str, list[Path]]
) -> None:
    """Clear errors for what would otherwise fail deep in aniposelib."""
    for name, rows in zip(camera_names, all_rows):
        videos = ", ".join(str(v) for v in video_lists[name])
        if not rows:
            raise DataError(f"camera {name!r}: the calibration board was never detected in {videos}")
        if not any(np.asarray(r["ids"]).size >= _MIN_CORNERS_INTRINSIC for r in rows):
            raise DataError(
                f"camera {name!r}: the board was never seen with {_MIN_CORNERS_INTRINSIC} or more "
                f"corners in {videos}; show the whole board closer to the camera"
            )
    usable = [
        {r["framenum"] for r in rows if np.asarray(r["ids"]).size >= _MIN_CORNERS_EXTRINSIC}
        for rows in all_rows
    ]
    linked = set()
    for a, b in itertools.combinations(range(len(camera_names)), 2):
        if usable[a] & usable[b]:
            linked.update((a, b))
    lonely = [camera_names[i] for i in range(len(camera_names)) if i not in linked]
    if lonely:
        raise DataError(
            f"camera(s) {lonely} never see the board in the same frame as another camera "
            f"(with {_MIN_CORNERS_EXTRINSIC}+ corners); the calibration videos must be synchronized "
            "and show the board to two cameras at once"
        )


def _board_camera_errors(group, all_rows: list[list[dict]], board) -> dict[str, float]:
    """Mean reprojection error per camera over corners seen by two or more cameras."""
    from aniposelib.boards import extract_points, merge_rows

    names = group.get_names()
    merged = merge_rows(all_rows, cam_names=names)
    points_2d, _ = extract_points(merged, board, cam_names=names, min_cameras=2, check_rtvecs=False)
    if points_2d.shape[1] == 0:
        return {name: float("nan") for name in names}
    points_3d = group.triangulate(points_2d)
    errors = np.linalg.norm(group.reprojection_error(points_3d, points_2d, mean=False), axis=2)
    return {name: float(np.nanmean(errors[i])) for i, name in enumerate(names)}
