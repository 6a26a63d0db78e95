"""A synthetic 3D face: neutral shape, expression states, head motion.

Everything here is pure numpy (plus :mod:`scipy.ndimage` for smoothing) and
deterministic from a seed; no file is written.

Coordinate frames
-----------------
*Face frame* (millimetres): origin at the centre of the head (the pivot of
head rotations), ``x`` towards the subject's left (so the subject's left eye
appears on the *right* of a frontal image), ``y`` up, ``z`` out of the face,
towards a frontal viewer. The nose tip is at ``z`` of about +108 mm.

*World frame*: the face frame of the head at rest. A head pose maps face
points to world points: ``world = R @ face + t``.

Landmark conventions (see :data:`napari_facehmm.face.FACE_KEYPOINTS`):
``lefteye1``/``lefteye2`` are the centres of the upper and lower eyelid of
the subject's left eye (so their distance is the eye opening);
``leyebrow1..3`` run from the inner to the outer end of the left brow;
``nose1`` is the bridge between the eyes, ``nose2`` the base of the nose,
``nose3``/``nose4`` the left/right wings; ``uplip``/``lowlip`` the middle
of the upper/lower lip and ``llip``/``rlip`` the left/right mouth corners;
``lear``/``rear`` the ears and ``chin`` the chin.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..errors import DataError
from ..face import FACE_KEYPOINTS, FACE_SKELETON
from ..io.anipose import rodrigues_to_matrix

#: Neutral face, face frame, millimetres; adult proportions (inter-pupillary
#: distance 62 mm, eye opening 10 mm, mouth 50 mm wide, ears 144 mm apart).
NEUTRAL_FACE_MM: dict[str, tuple[float, float, float]] = {
    "lefteye1": (31.0, 35.0, 78.0),
    "lefteye2": (31.0, 25.0, 78.0),
    "righteye1": (-31.0, 35.0, 78.0),
    "righteye2": (-31.0, 25.0, 78.0),
    "leyebrow1": (15.0, 46.0, 87.0),
    "leyebrow2": (32.0, 51.0, 85.0),
    "leyebrow3": (48.0, 47.0, 77.0),
    "reyebrow1": (-15.0, 46.0, 87.0),
    "reyebrow2": (-32.0, 51.0, 85.0),
    "reyebrow3": (-48.0, 47.0, 77.0),
    "nose1": (0.0, 30.0, 90.0),
    "nose2": (0.0, -8.0, 106.0),
    "nose3": (17.0, -3.0, 92.0),
    "nose4": (-17.0, -3.0, 92.0),
    "uplip": (0.0, -24.0, 98.0),
    "llip": (25.0, -31.0, 88.0),
    "lowlip": (0.0, -38.0, 96.0),
    "rlip": (-25.0, -31.0, 88.0),
    "rear": (-72.0, 12.0, 0.0),
    "chin": (0.0, -68.0, 88.0),
    "lear": (72.0, 12.0, 0.0),
}

#: Expression states as landmark displacements from the neutral face
#: (face frame, mm), given for the subject's left side and the midline;
#: right-side landmarks get the mirrored displacement (``x`` negated) unless
#: listed. Each state moves several landmarks by 4-14 mm so that states stay
#: separable in egocentric coordinates after 2D noise and triangulation.
EXPRESSIONS_MM: dict[str, dict[str, tuple[float, float, float]]] = {
    "neutral": {},
    "smile": {
        "llip": (7.0, 6.0, -4.0),
        "uplip": (0.0, 1.5, 0.0),
        "lowlip": (0.0, -1.5, 0.0),
        "lefteye2": (0.0, 2.5, 0.5),
        "nose3": (1.5, 1.5, 0.0),
    },
    "brows_raised": {
        "leyebrow1": (0.0, 8.0, 0.5),
        "leyebrow2": (0.0, 9.0, 0.5),
        "leyebrow3": (0.0, 7.0, 0.0),
        "lefteye1": (0.0, 3.0, 0.0),
    },
    "frown": {
        "leyebrow1": (-5.0, -5.0, 1.5),
        "leyebrow2": (-2.0, -4.0, 1.0),
        "leyebrow3": (0.0, -2.0, 0.0),
        "lefteye1": (0.0, -2.5, 0.0),
        "llip": (-2.0, -5.0, 0.0),
        "lowlip": (0.0, 2.0, 1.5),
        "chin": (0.0, 2.0, 1.0),
    },
    "mouth_open": {
        "lowlip": (0.0, -15.0, -3.0),
        "chin": (0.0, -11.0, -4.0),
        "llip": (-3.0, -5.0, -1.0),
        "uplip": (0.0, 1.5, 0.0),
    },
    "eyes_closed": {
        "lefteye1": (0.0, -8.5, 0.5),
        "lefteye2": (0.0, 0.5, 0.0),
        "leyebrow1": (0.0, -1.5, 0.0),
        "leyebrow2": (0.0, -1.5, 0.0),
    },
    "pucker": {
        "llip": (-9.0, 0.0, 5.0),
        "uplip": (0.0, -1.0, 6.0),
        "lowlip": (0.0, 1.0, 6.0),
    },
    "smirk_left": {
        "llip": (5.0, 7.0, -3.0),
        "lefteye2": (0.0, 2.0, 0.0),
    },
    "squint": {
        "lefteye1": (0.0, -4.5, 0.0),
        "lefteye2": (0.0, 2.5, 0.0),
        "leyebrow1": (-1.5, -3.0, 0.0),
        "leyebrow2": (0.0, -2.5, 0.0),
    },
    "jaw_left": {
        "chin": (9.0, -3.0, 0.0),
        "lowlip": (6.0, -3.0, 0.0),
        "llip": (3.0, -1.0, 0.0),
        "rlip": (3.0, -1.0, 0.0),
    },
}

#: Expressions that are not mirrored to the right side (asymmetric ones).
ASYMMETRIC_EXPRESSIONS = frozenset({"smirk_left", "jaw_left"})

#: Left landmark -> right landmark, for mirroring symmetric expressions.
MIRROR_PAIRS = {
    "lefteye1": "righteye1",
    "lefteye2": "righteye2",
    "leyebrow1": "reyebrow1",
    "leyebrow2": "reyebrow2",
    "leyebrow3": "reyebrow3",
    "nose3": "nose4",
    "llip": "rlip",
    "lear": "rear",
}

#: Default states, in order: state 0 is neutral.
DEFAULT_STATE_NAMES = ("neutral", "smile", "brows_raised", "frown", "mouth_open", "eyes_closed")


def neutral_face() -> np.ndarray:
    """``(21, 3)`` neutral landmark positions in the face frame (mm), in
    :data:`~napari_facehmm.face.FACE_KEYPOINTS` order."""
    return np.array([NEUTRAL_FACE_MM[k] for k in FACE_KEYPOINTS], dtype=np.float64)


def expression_offsets(state_names: tuple[str, ...] | list[str]) -> np.ndarray:
    """``(n_states, 21, 3)`` landmark displacements (mm) of each named state.

    Symmetric expressions are mirrored from the left side onto the right side.
    """
    index = {k: i for i, k in enumerate(FACE_KEYPOINTS)}
    offsets = np.zeros((len(state_names), len(FACE_KEYPOINTS), 3))
    for s, name in enumerate(state_names):
        if name not in EXPRESSIONS_MM:
            raise DataError(
                f"unknown expression {name!r}; known: {', '.join(EXPRESSIONS_MM)}"
            )
        for keypoint, delta in EXPRESSIONS_MM[name].items():
            offsets[s, index[keypoint]] = delta
            mirror = MIRROR_PAIRS.get(keypoint)
            if mirror is not None and name not in ASYMMETRIC_EXPRESSIONS:
                offsets[s, index[mirror]] = (-delta[0], delta[1], delta[2])
    return offsets


def default_state_names(n_states: int) -> tuple[str, ...]:
    """The first ``n_states`` expressions (``n_states`` from 2 to 10)."""
    names = tuple(EXPRESSIONS_MM)
    if not 2 <= n_states <= len(names):
        raise DataError(f"n_states must be between 2 and {len(names)}; got {n_states}")
    return names[:n_states]


def sticky_transition_matrix(
    n_states: int, mean_dwell_frames: float, rng: np.random.Generator
) -> np.ndarray:
    """``(n_states, n_states)`` row-stochastic matrix of a sticky chain.

    The diagonal is ``1 - 1/mean_dwell_frames`` (geometric dwell times with
    that mean); the rest of each row is split by a Dirichlet(2) draw so that
    some transitions are more likely than others, as in real behaviour.
    """
    if mean_dwell_frames <= 1:
        raise DataError(f"mean dwell must exceed one frame; got {mean_dwell_frames:g} frames")
    stay = 1.0 - 1.0 / mean_dwell_frames
    matrix = np.zeros((n_states, n_states))
    for s in range(n_states):
        others = [o for o in range(n_states) if o != s]
        matrix[s, others] = (1.0 - stay) * rng.dirichlet(np.full(len(others), 2.0))
        matrix[s, s] = stay
    return matrix


def sample_markov_chain(
    transition: np.ndarray, n_frames: int, rng: np.random.Generator, initial_state: int = 0
) -> np.ndarray:
    """``(n_frames,)`` int state sequence of the chain ``transition``."""
    n_states = transition.shape[0]
    states = np.empty(n_frames, dtype=np.int64)
    uniforms = rng.random(n_frames)
    cumulative = np.cumsum(transition, axis=1)
    cumulative[:, -1] = 1.0  # guard against rounding leaving a gap below 1
    state = initial_state
    for t in range(n_frames):
        if t > 0:
            state = int(np.searchsorted(cumulative[state], uniforms[t], side="right"))
            state = min(state, n_states - 1)
        states[t] = state
    return states


def smooth_noise(
    rng: np.random.Generator, shape: tuple[int, ...], sigma_frames: float, std: float
) -> np.ndarray:
    """Gaussian noise smoothed along axis 0, with standard deviation ``std``.

    White noise is low-pass filtered with a Gaussian kernel of
    ``sigma_frames`` and rescaled by the kernel's known gain, so the result
    has the requested marginal standard deviation without data-dependent
    normalisation.
    """
    from scipy.ndimage import gaussian_filter1d

    white = rng.standard_normal(shape)
    if sigma_frames <= 0:
        return std * white
    smoothed = gaussian_filter1d(white, sigma_frames, axis=0, mode="reflect")
    gain = 1.0 / np.sqrt(2.0 * np.sqrt(np.pi) * sigma_frames)
    return smoothed * (std / gain)


def rotation_matrices(rotvecs: np.ndarray) -> np.ndarray:
    """``(n, 3, 3)`` rotation matrices of ``(n, 3)`` Rodrigues vectors.

    The project's one conversion, :func:`napari_facehmm.io.anipose.rodrigues_to_matrix`.
    """
    return rodrigues_to_matrix(np.asarray(rotvecs, dtype=np.float64).reshape(-1, 3))


def head_motion(
    n_frames: int,
    fps: float,
    rng: np.random.Generator,
    rotation_amplitude_deg: tuple[float, float, float] = (10.0, 6.0, 4.0),
    translation_amplitude_mm: tuple[float, float, float] = (25.0, 15.0, 20.0),
) -> tuple[np.ndarray, np.ndarray]:
    """Slow, smooth rigid head motion.

    Each of yaw, pitch, roll and the three translations is a sum of three
    sinusoids with random periods between 2.5 and 20 s and random phases,
    scaled so its peak is about the given amplitude.

    Returns
    -------
    rotvecs
        ``(n_frames, 3)`` Rodrigues vectors (face frame -> world frame).
    translations_mm
        ``(n_frames, 3)`` translations of the head centre (mm).
    """
    from scipy.spatial.transform import Rotation

    times_s = np.arange(n_frames) / fps

    def wander(amplitude: float) -> np.ndarray:
        frequencies_hz = rng.uniform(1 / 20.0, 1 / 2.5, size=3)
        phases = rng.uniform(0, 2 * np.pi, size=3)
        weights = rng.uniform(0.5, 1.0, size=3)
        signal = (weights[:, None] * np.sin(2 * np.pi * frequencies_hz[:, None] * times_s + phases[:, None])).sum(0)
        return amplitude * signal / weights.sum()

    yaw, pitch, roll = (np.deg2rad(wander(a)) for a in rotation_amplitude_deg)
    # yaw about the vertical axis, then pitch (nodding) and roll (tilting)
    rotations = Rotation.from_euler("YXZ", np.column_stack([yaw, pitch, roll]))
    translations = np.column_stack([wander(a) for a in translation_amplitude_mm])
    return rotations.as_rotvec(), translations


@dataclass(eq=False)
class FaceSimulation:
    """Ground truth of a simulated face, before any camera.

    Attributes
    ----------
    points_3d
        ``(n_frames, 21, 3)`` world landmark positions (mm).
    points_face
        ``(n_frames, 21, 3)`` the same in the face frame (egocentric truth).
    states
        ``(n_frames,)`` int state of each frame.
    state_names
        ``n_states`` names; state 0 is ``"neutral"``.
    transition_matrix
        ``(n_states, n_states)`` the chain the states were drawn from.
    head_rotvec
        ``(n_frames, 3)`` Rodrigues vectors, face -> world.
    head_translation_mm
        ``(n_frames, 3)`` head centre in the world frame.
    neutral_mm
        ``(21, 3)`` neutral face (face frame).
    offsets_mm
        ``(n_states, 21, 3)`` expression displacements.
    intensity
        ``(n_frames,)`` expression intensity of each frame (1 = nominal).
    fps
        Frames per second.
    """

    points_3d: np.ndarray
    points_face: np.ndarray
    states: np.ndarray
    state_names: tuple[str, ...]
    transition_matrix: np.ndarray
    head_rotvec: np.ndarray
    head_translation_mm: np.ndarray
    neutral_mm: np.ndarray
    offsets_mm: np.ndarray
    intensity: np.ndarray
    fps: float
    keypoints: tuple[str, ...] = FACE_KEYPOINTS
    skeleton: tuple[tuple[str, str], ...] = FACE_SKELETON
    params: dict = field(default_factory=dict)

    @property
    def n_frames(self) -> int:
        return self.states.shape[0]

    def to_series(self):
        """The world-frame truth as a 3D :class:`~napari_facehmm.data.LandmarkSeries`."""
        from ..data import LandmarkSeries

        return LandmarkSeries(
            positions=self.points_3d,
            keypoints=self.keypoints,
            skeleton=self.skeleton,
            fps=self.fps,
        )


def simulate_face(
    n_frames: int,
    fps: float = 30.0,
    seed: int = 0,
    n_states: int = 6,
    state_names: tuple[str, ...] | None = None,
    mean_dwell_s: float = 1.5,
    within_state_noise_mm: float = 0.4,
    intensity_spread: float = 0.1,
    transition_s: float = 0.05,
    head_motion_scale: float = 1.0,
) -> FaceSimulation:
    """Simulate a face switching between expression states while the head moves.

    Parameters
    ----------
    n_frames
        Number of frames.
    fps
        Frame rate (sets the time scale of dwell times and motion).
    seed
        Seed of every random draw; the same seed gives identical arrays.
    n_states
        Number of expression states (2 to 10) when ``state_names`` is None.
    state_names
        Expressions to use, from :data:`EXPRESSIONS_MM`; overrides ``n_states``.
    mean_dwell_s
        Mean time spent in a state before switching (sticky Markov chain).
    within_state_noise_mm
        Standard deviation of the smooth per-landmark jitter within a state.
    intensity_spread
        Each visit of a state has its own intensity ``1 ± intensity_spread``
        (uniform) scaling the expression displacement.
    transition_s
        Duration of the smooth (raised-cosine) blend from one expression to
        the next; the state label switches at the blend's midpoint.
    head_motion_scale
        Multiplies the default rotation (10, 6, 4 deg yaw/pitch/roll) and
        translation (25, 15, 20 mm) amplitudes; 0 keeps the head still.

    Returns
    -------
    FaceSimulation
    """
    if n_frames < 1:
        raise DataError(f"n_frames must be positive; got {n_frames}")
    if fps <= 0:
        raise DataError(f"fps must be positive; got {fps}")
    names = tuple(state_names) if state_names is not None else default_state_names(n_states)
    # independent streams, so that changing one part leaves the others unchanged
    chain_rng, intensity_rng, jitter_rng, head_rng = (
        np.random.default_rng(s) for s in np.random.SeedSequence([seed, 1]).spawn(4)
    )
    transition = sticky_transition_matrix(len(names), mean_dwell_s * fps, chain_rng)
    states = sample_markov_chain(transition, n_frames, chain_rng)

    neutral = neutral_face()
    offsets = expression_offsets(names)

    # per-visit intensity, then per-frame displacement, then a raised-cosine
    # blend across each switch (the label changes at the blend midpoint)
    starts = np.flatnonzero(np.r_[True, states[1:] != states[:-1]])
    visit_intensity = 1.0 + intensity_spread * intensity_rng.uniform(-1, 1, size=starts.size)
    visit_of_frame = np.searchsorted(starts, np.arange(n_frames), side="right") - 1
    intensity = visit_intensity[visit_of_frame]
    displacement = offsets[states] * intensity[:, None, None]
    half_frames = 0.5 * transition_s * fps
    if half_frames > 0.5 and starts.size > 1:
        displacement = _blend_switches(displacement, starts[1:], half_frames)

    jitter = smooth_noise(
        jitter_rng, (n_frames, len(FACE_KEYPOINTS), 3), sigma_frames=0.1 * fps, std=within_state_noise_mm
    )
    points_face = neutral[None] + displacement + jitter

    rotvecs, translations = head_motion(
        n_frames,
        fps,
        head_rng,
        rotation_amplitude_deg=tuple(head_motion_scale * a for a in (10.0, 6.0, 4.0)),
        translation_amplitude_mm=tuple(head_motion_scale * a for a in (25.0, 15.0, 20.0)),
    )
    rotations = rotation_matrices(rotvecs)
    points_3d = np.einsum("tij,tkj->tki", rotations, points_face) + translations[:, None, :]
    return FaceSimulation(
        points_3d=points_3d,
        points_face=points_face,
        states=states,
        state_names=names,
        transition_matrix=transition,
        head_rotvec=rotvecs,
        head_translation_mm=translations,
        neutral_mm=neutral,
        offsets_mm=offsets,
        intensity=intensity,
        fps=float(fps),
        params={
            "seed": seed,
            "mean_dwell_s": mean_dwell_s,
            "within_state_noise_mm": within_state_noise_mm,
            "intensity_spread": intensity_spread,
            "transition_s": transition_s,
            "head_motion_scale": head_motion_scale,
        },
    )


def _blend_switches(displacement: np.ndarray, switch_frames: np.ndarray, half_frames: float) -> np.ndarray:
    """Replace the step at each switch by a raised-cosine ramp of ``2*half_frames``.

    ``displacement`` is ``(T, K, 3)``; the ramp around switch frame ``s`` goes
    from the displacement at ``s-1`` to the one at ``s``, centred on
    ``s - 0.5``. Ramps are clipped to the neighbouring visits.
    """
    out = displacement.copy()
    n_frames = displacement.shape[0]
    bounds = np.r_[0, switch_frames, n_frames]
    reach = int(np.ceil(half_frames))
    for i, s in enumerate(switch_frames):
        before, after = displacement[s - 1], displacement[s]
        lo = max(bounds[i] + 1, s - reach)
        hi = min(bounds[i + 2] - 1, s + reach)
        for t in range(lo, hi + 1):
            u = np.clip((t - (s - 0.5)) / (2 * half_frames) + 0.5, 0.0, 1.0)
            weight = 0.5 - 0.5 * np.cos(np.pi * u)
            out[t] = (1 - weight) * before + weight * after
    return out
