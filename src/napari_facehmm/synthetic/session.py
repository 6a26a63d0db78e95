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
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import DataError, FileFormatError
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
from .render import render_face_frames

#: scorer level of the written DeepLabCut tables
SCORER = "DLC_synthetic"
#: camera-name pattern matching both ``<s>-camA`` and ``camA-charuco``
CAM_REGEX = "(cam[A-Z])"

ProgressCallback = Callable[[int, int, str], None]


@dataclass(eq=False)
class SessionTruth:
    """What a synthetic session really is, and where its files are.

    Attributes
    ----------
    out_dir
        The session folder.
    session
        Session name (video stems are ``<session>-<camera>``).
    camera_names
        ``("camA", "camB")`` or ``("camA",)``.
    fps
        Frame rate.
    states
        ``(T,)`` int true expression state per frame.
    state_names
        Name of each state (state 0 is neutral).
    transition_matrix
        ``(n_states, n_states)`` the sticky chain the states follow.
    points_3d
        ``(T, 21, 3)`` true world landmarks (mm); world = calibration frame.
    points_face
        ``(T, 21, 3)`` true landmarks in the head's own frame (egocentric).
    head_rotvec
        ``(T, 3)`` Rodrigues vector of the head (face -> world).
    head_translation_mm
        ``(T, 3)`` head centre in the world.
    calibration
        :class:`~napari_facehmm.io.anipose.Calibration` of the true cameras.
    points_2d_true
        camera -> ``(T, 21, 2)`` exact projections (what the video shows).
    points_2d
        camera -> ``(T, 21, 2)`` the written tracks: truth + pixel noise,
        displaced points at dropouts, NaN outside the image.
    likelihood
        camera -> ``(T, 21)`` the written likelihoods (NaN where no point).
    dropouts
        camera -> ``(T, 21)`` bool, True where the track is a dropout.
    board_rotations, board_translations_mm
        ``(n_poses, 3, 3)`` and ``(n_poses, 3)`` ChArUco board poses
        (board -> world) of the first ``n_poses`` frames of the ChArUco
        videos (``min(n_board_frames, T)``; the board is out of view after
        them), empty when no video was rendered.
    params
        Generation parameters (seed, noise, sizes...).
    keypoints, skeleton
        Landmark names and edges.
    """

    out_dir: Path
    session: str
    camera_names: tuple[str, ...]
    fps: float
    states: np.ndarray
    state_names: tuple[str, ...]
    transition_matrix: np.ndarray
    points_3d: np.ndarray
    points_face: np.ndarray
    head_rotvec: np.ndarray
    head_translation_mm: np.ndarray
    calibration: object
    points_2d_true: dict[str, np.ndarray]
    points_2d: dict[str, np.ndarray]
    likelihood: dict[str, np.ndarray]
    dropouts: dict[str, np.ndarray]
    board_rotations: np.ndarray
    board_translations_mm: np.ndarray
    params: dict = field(default_factory=dict)
    keypoints: tuple[str, ...] = FACE_KEYPOINTS
    skeleton: tuple[tuple[str, str], ...] = FACE_SKELETON

    # ------------------------------------------------------------------ paths
    @property
    def n_frames(self) -> int:
        return int(self.states.shape[0])

    @property
    def config_path(self) -> Path:
        return self.out_dir / "config.toml"

    @property
    def calibration_path(self) -> Path:
        return self.out_dir / "calibration" / "calibration.toml"

    @property
    def video_paths(self) -> dict[str, Path]:
        return {c: self.out_dir / "videos-raw" / f"{self.session}-{c}.mp4" for c in self.camera_names}

    @property
    def pose2d_paths(self) -> dict[str, Path]:
        return {c: self.out_dir / "pose-2d" / f"{self.session}-{c}.h5" for c in self.camera_names}

    @property
    def charuco_video_paths(self) -> dict[str, Path]:
        return {c: self.out_dir / "calibration" / f"{c}-charuco.mp4" for c in self.camera_names}

    @property
    def truth_dir(self) -> Path:
        return self.out_dir / "truth"

    @property
    def pose3d_path(self) -> Path:
        return self.truth_dir / "pose-3d.csv"

    @property
    def states_path(self) -> Path:
        return self.truth_dir / "states.csv"

    @property
    def states_json_path(self) -> Path:
        return self.truth_dir / "states.json"

    @property
    def head_pose_path(self) -> Path:
        return self.truth_dir / "head_pose.csv"

    @property
    def has_video(self) -> bool:
        return bool(self.params.get("render_video", False))

    @property
    def paths(self) -> dict[str, Path]:
        """Every file of the session by a short key (``video/camA``, ``pose2d/camA``...)."""
        out = {
            "config": self.config_path,
            "calibration": self.calibration_path,
            "pose3d": self.pose3d_path,
            "states": self.states_path,
            "states_json": self.states_json_path,
            "head_pose": self.head_pose_path,
            "truth_npz": self.truth_dir / "truth.npz",
        }
        for cam in self.camera_names:
            out[f"pose2d/{cam}"] = self.pose2d_paths[cam]
            if self.has_video:
                out[f"video/{cam}"] = self.video_paths[cam]
                out[f"charuco/{cam}"] = self.charuco_video_paths[cam]
        return out

    # ------------------------------------------------------------ conversions
    def series_3d(self):
        """The true 3D landmarks as a :class:`~napari_facehmm.data.LandmarkSeries`."""
        from ..data import LandmarkSeries

        return LandmarkSeries(
            positions=self.points_3d, keypoints=self.keypoints, skeleton=self.skeleton, fps=self.fps
        )

    def series_2d(self, camera: str):
        """The written 2D tracks of ``camera`` as a :class:`~napari_facehmm.data.LandmarkSeries`."""
        from ..data import LandmarkSeries

        if camera not in self.camera_names:
            raise DataError(f"no camera {camera!r} in this session; it has {list(self.camera_names)}")
        return LandmarkSeries(
            positions=self.points_2d[camera],
            confidence=self.likelihood[camera],
            keypoints=self.keypoints,
            skeleton=self.skeleton,
            fps=self.fps,
            camera=camera,
            attrs={"scorer": SCORER},
        )

    # ------------------------------------------------------------------- load
    @classmethod
    def load(cls, out_dir: str | Path) -> SessionTruth:
        """Read the truth of a session folder written by :func:`generate_session`."""
        from ..io.anipose import read_calibration

        out_dir = Path(out_dir)
        npz_path = out_dir / "truth" / "truth.npz"
        json_path = out_dir / "truth" / "states.json"
        for path in (npz_path, json_path):
            if not path.is_file():
                raise FileFormatError(path, "missing: not a synthetic session folder written by facehmm synth")
        try:
            info = json.loads(json_path.read_text(encoding="utf-8"))
            arrays = dict(np.load(npz_path))
        except (OSError, ValueError) as exc:
            raise FileFormatError(npz_path, f"cannot read the session truth: {exc}") from None
        cameras = tuple(info["camera_names"])
        per_camera = {
            name: {cam: arrays[f"{name}/{cam}"] for cam in cameras}
            for name in ("points_2d_true", "points_2d", "likelihood", "dropouts")
        }
        return cls(
            out_dir=out_dir,
            session=info["session"],
            camera_names=cameras,
            fps=float(info["fps"]),
            states=arrays["states"],
            state_names=tuple(info["state_names"]),
            transition_matrix=np.asarray(info["transition_matrix"]),
            points_3d=arrays["points_3d"],
            points_face=arrays["points_face"],
            head_rotvec=arrays["head_rotvec"],
            head_translation_mm=arrays["head_translation_mm"],
            calibration=read_calibration(out_dir / "calibration" / "calibration.toml"),
            board_rotations=arrays["board_rotations"],
            board_translations_mm=arrays["board_translations_mm"],
            params=info["params"],
            **per_camera,
        )


# ------------------------------------------------------------- observations
def observe_2d(
    pixels_true: np.ndarray,
    size: tuple[int, int],
    rng: np.random.Generator,
    noise_px: float = 0.5,
    dropout_rate: float = 0.01,
    mean_dropout_frames: float = 3.0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Turn exact projections into tracker-like 2D output.

    Parameters
    ----------
    pixels_true
        ``(T, K, 2)`` exact pixel positions.
    size
        ``(width, height)``; points outside the image become NaN.
    rng
        Random generator.
    noise_px
        Standard deviation of the Gaussian pixel noise on each coordinate.
    dropout_rate
        Expected fraction of (frame, keypoint) entries that are dropouts.
        Dropouts come in bursts (geometric, mean ``mean_dropout_frames``):
        the point is misplaced by about 15 px with a likelihood below 0.1,
        as a tracker does when it loses a landmark.
    mean_dropout_frames
        Mean burst length.

    Returns
    -------
    positions
        ``(T, K, 2)`` observed pixels (NaN outside the image).
    likelihood
        ``(T, K)`` in [0, 1]: 0.9-1 for good points, < 0.1 at dropouts, NaN
        outside the image.
    dropouts
        ``(T, K)`` bool.
    """
    n_frames, n_keypoints, _ = pixels_true.shape
    positions = pixels_true + noise_px * rng.standard_normal(pixels_true.shape)
    likelihood = 0.9 + 0.1 * rng.beta(6.0, 1.0, size=(n_frames, n_keypoints))

    # bursts: a two-state (ok/lost) chain per keypoint
    p_end = 1.0 / mean_dropout_frames
    p_start = dropout_rate * p_end / max(1e-12, 1.0 - dropout_rate)
    draws = rng.random((n_frames, n_keypoints))
    dropouts = np.zeros((n_frames, n_keypoints), dtype=bool)
    lost = np.zeros(n_keypoints, dtype=bool)
    for t in range(n_frames):
        lost = np.where(lost, draws[t] >= p_end, draws[t] < p_start)
        dropouts[t] = lost
    n_lost = int(dropouts.sum())
    positions[dropouts] = pixels_true[dropouts] + 15.0 * rng.standard_normal((n_lost, 2))
    likelihood[dropouts] = rng.uniform(0.005, 0.09, size=n_lost)

    width, height = size
    outside = ~(
        (positions[..., 0] >= 0) & (positions[..., 0] <= width - 1) & (positions[..., 1] >= 0) & (positions[..., 1] <= height - 1)
    )
    positions[outside] = np.nan
    likelihood[outside] = np.nan
    return positions, likelihood, dropouts


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

