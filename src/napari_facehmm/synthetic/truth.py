"""The truth of a synthetic session: :class:`SessionTruth`, its file paths, and loading it back.

:func:`~napari_facehmm.synthetic.session.generate_session` builds and writes it;
:meth:`SessionTruth.load` reads it from a session folder.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import DataError, FileFormatError
from ..face import FACE_KEYPOINTS, FACE_SKELETON

#: scorer level of the written DeepLabCut tables
SCORER = "DLC_synthetic"


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
