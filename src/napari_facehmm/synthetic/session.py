"""A whole synthetic recording session, in Anipose's project layout, with its truth.

Layout written by :func:`generate_session` (``<s>`` is the session name,
``<cam>`` each camera name)::

    out_dir/
      config.toml                       Anipose project config (ChArUco board, triangulation)
      videos-raw/<s>-<cam>.mp4          rendered face videos (H.264)
      pose-2d/<s>-<cam>.h5              2D tracks, DeepLabCut analysis format
      calibration/calibration.toml      the TRUE camera parameters (aniposelib layout)
      calibration/<cam>-charuco.mp4     ChArUco board videos, all cameras in sync: the board
                                        moves through its poses in the first frames, then
                                        is put away (the empty scene fills the rest)
      truth/pose-3d.csv                 true 3D landmarks, Anipose pose-3d format
      truth/states.csv                  frame,state,state_name
      truth/states.json                 state names, transition matrix, parameters
      truth/head_pose.csv               rigid head pose per frame
      truth/truth.npz                   every truth array (see SessionTruth.load)

Every video, track and table has exactly ``round(seconds * fps)`` frames.
The truth itself is :class:`~napari_facehmm.synthetic.truth.SessionTruth`
(:mod:`.truth`), the 2D tracks come from :func:`~napari_facehmm.synthetic.observe.observe_2d`
(:mod:`.observe`); both are importable from here as before.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import DataError
from ..face import FACE_KEYPOINTS, FACE_SKELETON
from .cameras import camera_names as make_camera_names
from .cameras import make_cameras, project
from .charuco import (
    BOARD_SIZE,
    DICT_SIZE,
    MARKER_BITS,
    MARKER_LENGTH_MM,
    SQUARE_LENGTH_MM,
    board_motion,
    render_board_frames,
)
from .face import FaceSimulation, simulate_face
from .observe import observe_2d
from .render import render_face_frames
from .truth import SCORER, SessionTruth

#: camera-name pattern matching both ``<s>-camA`` and ``camA-charuco``
CAM_REGEX = "(cam[A-Z])"

ProgressCallback = Callable[[int, int, str], None]


# ------------------------------------------------------------------ config
def anipose_config(project: str = "facehmm-synthetic") -> dict:
    """An Anipose ``config.toml`` for the synthetic project (as a dict)."""
    return {
        "project": project,
        "nesting": 0,
        "video_extension": "mp4",
        "calibration": {
            "board_type": "charuco",
            "board_size": list(BOARD_SIZE),
            "board_marker_bits": MARKER_BITS,
            "board_marker_dict_number": DICT_SIZE,
            "board_marker_length": MARKER_LENGTH_MM,
            "board_square_side_length": SQUARE_LENGTH_MM,
            "animal_calibration": False,
            "fisheye": False,
        },
        "labeling": {
            "scheme": [list(edge) for edge in FACE_SKELETON],
        },
        "filter": {"enabled": False},
        "triangulation": {
            "triangulate": True,
            "cam_regex": CAM_REGEX,
            "ransac": False,
            "optim": False,
            "scale_smooth": 2,
            "scale_length": 2,
            "scale_length_weak": 1,
            "reproj_error_threshold": 5,
            "score_threshold": 0.5,
            "n_deriv_smooth": 3,
        },
    }


def _write_text_atomic(path: Path, text: str) -> None:
    from ..io._atomic import atomic_write_path

    with atomic_write_path(path, backup=False) as temp:
        temp.write_text(text, encoding="utf-8")


# ------------------------------------------------------------------- main
def _counted(frames: Iterable[np.ndarray], report: Callable[[int], None]) -> Iterator[np.ndarray]:
    for i, frame in enumerate(frames):
        yield frame
        report(i + 1)


def _board_then_empty(board_frames: Iterable[np.ndarray], empty: np.ndarray, n_frames: int) -> Iterator[np.ndarray]:
    """The board frames, then the ``empty`` scene (board put away) up to ``n_frames`` frames."""
    count = 0
    for frame in board_frames:
        yield frame
        count += 1
    for _ in range(n_frames - count):
        yield empty


def generate_session(
    out_dir: str | Path,
    n_cameras: int = 2,
    seconds: float = 60.0,
    fps: float = 30.0,
    seed: int = 0,
    size: tuple[int, int] = (320, 240),
    render_video: bool = True,
    progress: ProgressCallback | None = None,
    *,
    session: str = "session1",
    n_states: int = 6,
    noise_px: float = 0.5,
    dropout_rate: float = 0.01,
    mean_dwell_s: float = 1.5,
    within_state_noise_mm: float = 0.4,
    head_motion_scale: float = 1.0,
    n_board_frames: int = 90,
    video_preset: str = "veryfast",
) -> SessionTruth:
    """Simulate and write a whole two-camera (or one-camera) session.

    Parameters
    ----------
    out_dir
        Folder to write (created; existing files of the same names are
        replaced).
    n_cameras
        1 to 8 cameras (``camA``, ``camB``...), 35° apart around the face.
    seconds, fps
        Duration and frame rate; every file has ``round(seconds*fps)`` frames.
    seed
        Seed of everything random: the same seed gives identical arrays.
    size
        ``(width, height)`` of the videos in pixels.
    render_video
        False skips the face and ChArUco videos (tracks and truth only).
    progress
        Called as ``progress(done, total, message)``; it may raise
        :class:`~napari_facehmm.errors.Cancelled` to stop.
    session
        Session name used in file names.
    n_states
        Number of expression states (2-10; the first six are neutral,
        smile, brows_raised, frown, mouth_open, eyes_closed).
    noise_px, dropout_rate
        2D tracking noise (pixels) and fraction of dropouts; see
        :func:`observe_2d`.
    mean_dwell_s, within_state_noise_mm, head_motion_scale
        Passed to :func:`~napari_facehmm.synthetic.face.simulate_face`.
    n_board_frames
        Board poses at the start of each ChArUco video (at most the session's
        frame count). The videos have the session's frame count like every
        other file: after the poses the board is out of view (the empty scene,
        cheap to render and encode, and skipped quickly by board detection).
    video_preset
        libx264 preset (speed/size trade-off).

    Returns
    -------
    SessionTruth
    """
    from ..io.anipose import Calibration, write_calibration, write_pose3d
    from ..io.dlc import write_dlc_analysis

    out_dir = Path(out_dir)
    n_frames = int(round(seconds * fps))
    if n_frames < 2:
        raise DataError(f"a session needs at least 2 frames; {seconds:g} s at {fps:g} fps gives {n_frames}")
    if not 1 <= n_cameras <= 8:
        raise DataError(f"n_cameras must be 1 to 8; got {n_cameras}")
    width, height = (int(v) for v in size)
    if width < 64 or height < 48:
        raise DataError(f"video size must be at least 64x48; got {width}x{height}")
    if render_video and (width % 2 or height % 2):
        # H.264 (yuv420p) pads odd sizes, which would no longer match the calibration
        raise DataError(f"video width and height must be even for H.264; got {width}x{height}")
    names = make_camera_names(n_cameras)

    n_board_frames = max(1, min(int(n_board_frames), n_frames))
    total = 2 + n_cameras * (1 + (2 * n_frames if render_video else 0))
    done = 0

    def report(step: int, message: str) -> None:
        nonlocal done
        done += step
        if progress is not None:
            progress(done, total, message)

    face_seed, camera_seed, board_seed, *observe_seeds = np.random.SeedSequence([seed, 2]).spawn(3 + n_cameras)
    simulation = simulate_face(
        n_frames,
        fps=fps,
        seed=int(face_seed.generate_state(1)[0]),
        n_states=n_states,
        mean_dwell_s=mean_dwell_s,
        within_state_noise_mm=within_state_noise_mm,
        head_motion_scale=head_motion_scale,
    )
    cameras = make_cameras(n_cameras, (width, height), np.random.default_rng(camera_seed))
    calibration = Calibration(
        cameras=cameras, metadata={"source": "facehmm synth (true parameters)", "seed": int(seed)}
    )
    report(1, "simulated face")

    for folder in ("videos-raw", "pose-2d", "calibration", "truth"):
        (out_dir / folder).mkdir(parents=True, exist_ok=True)

    points_2d_true, points_2d, likelihood, dropouts = {}, {}, {}, {}
    for camera, observe_seed in zip(cameras, observe_seeds):
        pixels = project(camera, simulation.points_3d)
        observed, score, lost = observe_2d(
            pixels, (width, height), np.random.default_rng(observe_seed), noise_px=noise_px, dropout_rate=dropout_rate
        )
        points_2d_true[camera.name], points_2d[camera.name] = pixels, observed
        likelihood[camera.name], dropouts[camera.name] = score, lost

    motion = board_motion(n_board_frames, fps, np.random.default_rng(board_seed)) if render_video else None
    truth = SessionTruth(
        out_dir=out_dir,
        session=session,
        camera_names=names,
        fps=float(fps),
        states=simulation.states,
        state_names=simulation.state_names,
        transition_matrix=simulation.transition_matrix,
        points_3d=simulation.points_3d,
        points_face=simulation.points_face,
        head_rotvec=simulation.head_rotvec,
        head_translation_mm=simulation.head_translation_mm,
        calibration=calibration,
        points_2d_true=points_2d_true,
        points_2d=points_2d,
        likelihood=likelihood,
        dropouts=dropouts,
        board_rotations=motion.rotations if motion is not None else np.zeros((0, 3, 3)),
        board_translations_mm=motion.translations_mm if motion is not None else np.zeros((0, 3)),
        params=dict(
            seed=int(seed),
            n_cameras=int(n_cameras),
            seconds=float(seconds),
            size=[width, height],
            render_video=bool(render_video),
            noise_px=float(noise_px),
            dropout_rate=float(dropout_rate),
            n_board_frames=int(n_board_frames) if render_video else 0,
            face_seed=int(simulation.params["seed"]),
            **{k: v for k, v in simulation.params.items() if k != "seed"},
        ),
    )

    write_calibration(calibration, truth.calibration_path)
    _write_text_atomic(truth.config_path, _toml_dumps(anipose_config()))
    _write_truth_tables(truth, simulation)
    for cam in names:
        write_dlc_analysis(truth.series_2d(cam), truth.pose2d_paths[cam], scorer=SCORER)
        report(1, f"wrote 2D tracks of {cam}")
    pose3d = truth.series_3d()
    pose3d.attrs.update(
        error=np.zeros((n_frames, len(FACE_KEYPOINTS))),
        ncams=np.full((n_frames, len(FACE_KEYPOINTS)), float(n_cameras)),
        score=np.ones((n_frames, len(FACE_KEYPOINTS))),
    )
    write_pose3d(pose3d, truth.pose3d_path)
    report(1, "wrote 3D truth")

    if render_video:
        from ..io.video import write_video
        from .render import _background

        def step(message: str, every: int) -> Callable[[int], None]:
            def on_frame(i: int) -> None:
                if i % every == 0:
                    report(every, message)

            return on_frame

        chunk = max(1, int(round(fps)))
        for camera in cameras:
            frames = render_face_frames(simulation, camera)
            write_video(_counted(frames, step(f"rendering {camera.name}", chunk)), truth.video_paths[camera.name], fps, preset=video_preset)
            report(n_frames % chunk, f"rendered {camera.name}")
            background = _background(camera.size)
            board_frames = _board_then_empty(render_board_frames(motion, camera, background=background), background, n_frames)
            write_video(
                _counted(board_frames, step(f"ChArUco {camera.name}", chunk)),
                truth.charuco_video_paths[camera.name],
                fps,
                preset=video_preset,
            )
            report(n_frames % chunk, f"ChArUco video of {camera.name}")
    return truth


def _toml_dumps(content: dict) -> str:
    import toml

    return toml.dumps(content)


def _write_truth_tables(truth: SessionTruth, simulation: FaceSimulation) -> None:
    from scipy.spatial.transform import Rotation

    n_frames = truth.n_frames
    states = pd.DataFrame(
        {
            "frame": np.arange(n_frames),
            "state": truth.states,
            "state_name": np.array(truth.state_names, dtype=object)[truth.states],
        }
    )
    _write_text_atomic(truth.states_path, states.to_csv(index=False))

    yaw_pitch_roll = Rotation.from_rotvec(truth.head_rotvec).as_euler("YXZ", degrees=True)
    head = pd.DataFrame(
        {
            "frame": np.arange(n_frames),
            "rx": truth.head_rotvec[:, 0],
            "ry": truth.head_rotvec[:, 1],
            "rz": truth.head_rotvec[:, 2],
            "tx_mm": truth.head_translation_mm[:, 0],
            "ty_mm": truth.head_translation_mm[:, 1],
            "tz_mm": truth.head_translation_mm[:, 2],
            "yaw_deg": yaw_pitch_roll[:, 0],
            "pitch_deg": yaw_pitch_roll[:, 1],
            "roll_deg": yaw_pitch_roll[:, 2],
        }
    )
    _write_text_atomic(truth.head_pose_path, head.to_csv(index=False))

    info = {
        "session": truth.session,
        "camera_names": list(truth.camera_names),
        "fps": truth.fps,
        "n_frames": n_frames,
        "state_names": list(truth.state_names),
        "transition_matrix": truth.transition_matrix.tolist(),
        "mean_dwell_s": float(simulation.params["mean_dwell_s"]),
        "keypoints": list(truth.keypoints),
        "skeleton": [list(edge) for edge in truth.skeleton],
        "coordinate_frame": (
            "world = head frame at rest: x to the subject's left, y up, z out of the face (mm); "
            "head pose maps face-frame points p to world R(rx,ry,rz) p + t"
        ),
        "params": truth.params,
    }
    _write_text_atomic(truth.states_json_path, json.dumps(info, indent=2))

    arrays = {
        "states": truth.states,
        "points_3d": truth.points_3d,
        "points_face": truth.points_face,
        "head_rotvec": truth.head_rotvec,
        "head_translation_mm": truth.head_translation_mm,
        "board_rotations": truth.board_rotations,
        "board_translations_mm": truth.board_translations_mm,
    }
    for cam in truth.camera_names:
        arrays[f"points_2d_true/{cam}"] = truth.points_2d_true[cam]
        arrays[f"points_2d/{cam}"] = truth.points_2d[cam]
        arrays[f"likelihood/{cam}"] = truth.likelihood[cam]
        arrays[f"dropouts/{cam}"] = truth.dropouts[cam]
    from ..io._atomic import atomic_write_path

    with atomic_write_path(truth.truth_dir / "truth.npz", backup=False) as temp, open(temp, "wb") as handle:
        np.savez_compressed(handle, **arrays)

