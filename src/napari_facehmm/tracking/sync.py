"""Frame offset between unsynchronized cameras, from the head motion they all see.

Two webcams started by hand begin recording a few frames (or seconds) apart.
The same head movement, blink or mouth opening is then at different frame
numbers in each camera's 2D tracks. :func:`estimate_offsets` finds, for each
camera, the shift that best lines its motion up with a reference camera's,
and returns it in :func:`~napari_facehmm.tracking.anipose.align_cameras`'
convention (frames to drop at the start of the camera that started early).

What is correlated, and why these signals: each is an event that every
viewpoint sees with the same timing and (mostly) the same sign:

- ``x``, ``y``: the head's image motion, the median over landmarks of each
  landmark's displacement (a median of displacements, not a displacement of
  the centroid, so a landmark that drops out or jumps moves nothing),
  divided by the face length;
- ``scale``: the change of the face's apparent size (median over pairs of
  rigid landmarks of the change of their log distance): moving towards or
  away from the cameras;
- ``left_eye``, ``right_eye``, ``mouth``, ``left_brow``, ``right_brow``:
  lid, lip and brow-to-eye distances divided by the face length; blinks and
  mouth movements are sharp, so they pin the lag to the frame.

Each signal is differenced, ``s[t + k] - s[t - k]`` (a band-pass: slow
drifts out, frame-to-frame pixel noise damped), robustly z-scored (median
and MAD) and clipped at ``CLIP_Z`` so a tracking glitch cannot make a peak.
Missing frames are NaN and take no part: the normalised cross-correlation at
each lag uses only the frames valid in both cameras (a masked correlation
computed with FFTs; an hour at 30 fps takes about 5 s). The signals'
correlations with ``k = 3`` are averaged and the best lag within
``+-max_offset_frames`` is the coarse answer; the frame is then picked
within 3 frames of it by the ``k = 1`` correlations, each signal weighted by
its agreement at the coarse peak. Whole frames only, no sub-frame answer.

The estimate is *sure* when its peak correlation reaches
``MIN_PEAK_CORRELATION``, beats the best other peak (beyond the main peak's
width) by ``MIN_PEAK_RATIO``, and at least half of the signals peak on
their own within ``AGREE_FRAMES`` of it. Measured on synthetic 40 s
two-camera sessions (100 px face, 2 % dropouts, 2 % missing points), 5
lags each (0 to 45 frames, both directions): at 0.5 and 1 px noise 40 of 40
exact and sure (peak 0.43-0.63); at 2 px 39 of 40 exact, one a frame off
yet called sure (peak 0.27-0.33, ratio over 1.59); of 146 pairs of
unrelated sessions (20 and 40 s) none was sure (peaks up to 0.23, at most 3
signals agreeing, but a peak ratio up to 1.98: the ratio alone would not do).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from ..data import LandmarkSeries
from ..errors import DataError
from ..face import RIGID_KEYPOINTS

#: Half-width ``k`` of the difference ``s[t + k] - s[t - k]`` that finds the
#: lag and judges it (wide: more signal over pixel noise, a broader peak) ...
COARSE_DIFFERENCE_FRAMES = 3
#: ... and of the one that picks the frame within ``+-COARSE_DIFFERENCE_FRAMES`` of it.
FINE_DIFFERENCE_FRAMES = 1

#: z-scores beyond this are clipped (a dropout or tracking jump stays one frame's worth).
CLIP_Z = 4.0

#: Fewest frames a camera needs (shorter recordings cannot show a lag).
MIN_FRAMES = 30

#: A lag counts only where the two recordings overlap by at least this share
#: of the shortest camera (and :data:`MIN_FRAMES` frames are valid in both).
MIN_OVERLAP_SHARE = 0.5

#: Default search range in seconds (further capped below half the shortest camera).
DEFAULT_MAX_OFFSET_S = 10.0

#: A sure estimate's peak correlation is at least this ...
MIN_PEAK_CORRELATION = 0.1
#: ... at least this many times the next best peak ...
MIN_PEAK_RATIO = 1.5
#: ... and at least half the signals (and two) peak on their own within
#: this many frames of it.
AGREE_FRAMES = 2

# Face lengths tried in turn for normalising: the first pair of landmarks
# present in the series is used (nose bridge to chin is the longest and does
# not move with the eyes or brows).
_FACE_LENGTH_PAIRS = (("nose1", "chin"), ("nose1", "lowlip"), ("nose1", "nose2"))

# Distance signals: name -> landmark pair (lids, lips, brow to upper lid).
_OPENINGS = {
    "left_eye": ("lefteye1", "lefteye2"),
    "right_eye": ("righteye1", "righteye2"),
    "mouth": ("uplip", "lowlip"),
    "left_brow": ("leyebrow2", "lefteye1"),
    "right_brow": ("reyebrow2", "righteye1"),
}

# The face length follows slow changes (distance to the camera) but not the
# jaw: a rolling median over this many seconds.
_FACE_LENGTH_WINDOW_S = 1.0


@dataclass
class SyncEstimate:
    """Frame offsets of cameras estimated from their tracks.

    Attributes
    ----------
    offsets
        ``{camera: n}`` for every camera, in
        :func:`~napari_facehmm.tracking.anipose.align_cameras`' convention:
        drop the first ``n`` frames of that camera. Every value is ``>= 0``;
        the camera that started earliest has the largest, the latest 0.
    lag_frames
        ``{camera: lag}`` relative to the reference: what the reference shows
        at its frame ``t`` this camera shows at its frame ``t + lag`` (it
        started ``lag`` frames before the reference when ``lag > 0``). The
        reference's lag is 0.
    peak_correlation
        ``{camera: r}`` the peak of the combined (mean over signals)
        normalised cross-correlation, that of the ``k = 3`` differences,
        within 3 frames of the chosen lag (NaN for the reference).
    next_best_correlation
        ``{camera: r}`` the highest other peak, farther from the chosen lag
        than the main peak's width (NaN when there is none, and for the
        reference).
    confident
        True when every camera's estimate is sure (see :attr:`sure`).
    reference
        The camera the lags are relative to.
    fps
        Frame rate used to say offsets in seconds (the reference's).
    max_offset_frames
        The lags searched were ``-max_offset_frames .. +max_offset_frames``.
    sure
        ``{camera: bool}`` per camera (True for the reference).
    signals
        ``{camera: names}`` of the signals that entered each correlation.
    agreeing
        ``{camera: names}`` of the signals whose own correlation peaks within
        :data:`AGREE_FRAMES` of the chosen lag.
    at_edge
        Cameras whose best lag is the first or last lag searched (the true
        one may lie beyond): never sure.
    """

    offsets: dict[str, int]
    lag_frames: dict[str, int]
    peak_correlation: dict[str, float]
    next_best_correlation: dict[str, float]
    confident: bool
    reference: str
    fps: float
    max_offset_frames: int
    sure: dict[str, bool] = field(default_factory=dict)
    signals: dict[str, tuple[str, ...]] = field(default_factory=dict)
    agreeing: dict[str, tuple[str, ...]] = field(default_factory=dict)
    at_edge: tuple[str, ...] = ()

    def describe(self) -> str:
        """One line per camera other than the reference, for a person to read.

        E.g. ``camB started 7 frames (0.23 s) before camA: correlation 0.81,
        next best 0.22 (sure)``; a lag of 0 says the cameras look synchronized.
        """
        lines = []
        for camera, lag in self.lag_frames.items():
            if camera == self.reference:
                continue
            peak = self.peak_correlation[camera]
            next_best = self.next_best_correlation[camera]
            frames = abs(lag)
            seconds = frames / self.fps
            unit = "frame" if frames == 1 else "frames"
            if lag > 0:
                what = f"{camera} started {frames} {unit} ({seconds:.2f} s) before {self.reference}"
            elif lag < 0:
                what = f"{camera} started {frames} {unit} ({seconds:.2f} s) after {self.reference}"
            else:
                what = f"{camera} and {self.reference} look synchronized (lag 0 frames)"
            next_text = "none" if np.isnan(next_best) else f"{next_best:.2f}"
            n_agreeing, n_signals = len(self.agreeing.get(camera, ())), len(self.signals.get(camera, ()))
            verdict = (
                "sure"
                if self.sure.get(camera)
                else f"unsure: {_why_unsure(peak, next_best, n_agreeing, n_signals, camera in self.at_edge)}"
            )
            lines.append(f"{what}: correlation {peak:.2f}, next best {next_text} ({verdict})")
        return "\n".join(lines)


def _min_agreeing(n_signals: int) -> int:
    return max(2, -(-n_signals // 2))


def _why_unsure(peak: float, next_best: float, n_agreeing: int, n_signals: int, at_edge: bool) -> str:
    if at_edge:
        return "the best lag is at the edge of the lags searched; the offset may be larger"
    if not np.isfinite(peak) or peak < MIN_PEAK_CORRELATION:
        return f"peak below {MIN_PEAK_CORRELATION:g}, the cameras' motions barely agree at any lag"
    if np.isfinite(next_best) and next_best > 0 and peak < MIN_PEAK_RATIO * next_best:
        return (
            f"another lag correlates almost as well (peak under {MIN_PEAK_RATIO:g}x the next best); "
            "the recordings may not overlap or show too little motion"
        )
    return (
        f"only {n_agreeing} of {n_signals} motion signals peak at this lag "
        f"(at least {_min_agreeing(n_signals)} needed)"
    )


def _is_sure(peak: float, next_best: float, n_agreeing: int, n_signals: int, at_edge: bool) -> bool:
    if at_edge or not np.isfinite(peak) or peak < MIN_PEAK_CORRELATION:
        return False
    if np.isfinite(next_best) and next_best > 0 and peak < MIN_PEAK_RATIO * next_best:
        return False
    return n_agreeing >= _min_agreeing(n_signals)


# ------------------------------------------------------------------ signals
def _difference(values: np.ndarray, k: int) -> np.ndarray:
    """``values[t + k] - values[t - k]`` along axis 0, NaN within ``k`` of the ends."""
    out = np.full(values.shape, np.nan)
    if values.shape[0] > 2 * k:
        out[k:-k] = values[2 * k :] - values[: -2 * k]
    return out


def _rolling_median(values: np.ndarray, window: int) -> np.ndarray:
    import pandas as pd

    return pd.Series(values).rolling(window, center=True, min_periods=1).median().to_numpy()


def _face_length_px(series: LandmarkSeries) -> np.ndarray:
    """``(T,)`` face length per frame (slowly varying), for normalising; never NaN.

    The first of :data:`_FACE_LENGTH_PAIRS` the series has, smoothed by a
    rolling median; else the median spread of the landmarks, a constant.
    """
    positions = series.positions
    window = max(3, int(round(_FACE_LENGTH_WINDOW_S * series.fps)) | 1)
    for first, second in _FACE_LENGTH_PAIRS:
        if first in series.keypoints and second in series.keypoints:
            a, b = series.keypoint_index(first), series.keypoint_index(second)
            length = np.linalg.norm(positions[:, a] - positions[:, b], axis=1)
            if np.isfinite(length).sum() >= MIN_FRAMES and np.nanmedian(length) > 0:
                smooth = _rolling_median(length, window)
                fallback = np.nanmedian(length)
                return np.where(np.isfinite(smooth) & (smooth > 0), smooth, fallback)
    # no such pair: twice the landmarks' median distance to their median
    # (a constant; 1 when nothing is tracked, which the caller then rejects)
    spread = 1.0
    rows = np.isfinite(positions[:, :, 0]).any(axis=1)
    if rows.any():
        centre = np.nanmedian(positions[rows], axis=1, keepdims=True)
        distances = np.linalg.norm(positions[rows] - centre, axis=2)
        if np.isfinite(distances).any() and np.nanmedian(distances) > 0:
            spread = float(np.nanmedian(distances))
    return np.full(series.n_frames, 2.0 * spread)


def _nanmedian_rows(values: np.ndarray) -> np.ndarray:
    """Median over axis 1 ignoring NaN; NaN (without a warning) for all-NaN rows."""
    out = np.full(values.shape[0], np.nan)
    valid = np.isfinite(values).any(axis=1)
    if valid.any():
        out[valid] = np.nanmedian(values[valid], axis=1)
    return out


def motion_signals(series: LandmarkSeries, difference_frames: int = FINE_DIFFERENCE_FRAMES) -> dict[str, np.ndarray]:
    """The per-frame motion signals of one camera that :func:`estimate_offsets` correlates.

    Parameters
    ----------
    series
        2D series ``(T, K, 2)`` pixels, NaN where a point is missing.
    difference_frames
        ``k`` of the difference ``s[t + k] - s[t - k]``.

    Returns
    -------
    dict
        ``{name: (T,) float}`` for the signals the series' landmarks allow
        (see the module docstring), before z-scoring; NaN where a frame is
        missing or within ``k`` of an end. Signals with no finite value are
        left out.
    """
    k = int(difference_frames)
    positions = series.positions
    face_length = _face_length_px(series)
    signals: dict[str, np.ndarray] = {}

    moves = _difference(positions, k)  # (T, K, 2)
    for axis, name in enumerate(("x", "y")):
        signals[name] = _nanmedian_rows(moves[:, :, axis]) / face_length

    rigid = [series.keypoint_index(name) for name in RIGID_KEYPOINTS if name in series.keypoints]
    if len(rigid) >= 2:
        first, second = np.triu_indices(len(rigid), 1)
        a, b = np.array(rigid)[first], np.array(rigid)[second]
        distances = np.linalg.norm(positions[:, a] - positions[:, b], axis=2)
        with np.errstate(divide="ignore", invalid="ignore"):
            log_distances = np.log(np.where(distances > 0, distances, np.nan))
        signals["scale"] = _nanmedian_rows(_difference(log_distances, k))

    for name, (first_name, second_name) in _OPENINGS.items():
        if first_name in series.keypoints and second_name in series.keypoints:
            a, b = series.keypoint_index(first_name), series.keypoint_index(second_name)
            opening = np.linalg.norm(positions[:, a] - positions[:, b], axis=1) / face_length
            signals[name] = _difference(opening, k)
    return {name: values for name, values in signals.items() if np.isfinite(values).any()}


def _robust_z(values: np.ndarray) -> np.ndarray | None:
    """Median-centred, MAD-scaled, clipped at :data:`CLIP_Z`; None when flat or nearly empty."""
    finite = np.isfinite(values)
    if finite.sum() < MIN_FRAMES:
        return None
    centre = np.median(values[finite])
    spread = 1.4826 * np.median(np.abs(values[finite] - centre))
    if not spread > 0:
        return None
    return np.clip((values - centre) / spread, -CLIP_Z, CLIP_Z)


# --------------------------------------------------------- correlation
def masked_correlation(
    reference: np.ndarray, other: np.ndarray, max_lag: int, min_overlap: int
) -> np.ndarray:
    """Normalised cross-correlation over the frames valid in both, at each lag.

    Parameters
    ----------
    reference, other
        ``(T_ref,)`` and ``(T_other,)`` signals, NaN where missing.
    max_lag
        Lags ``-max_lag .. max_lag`` are computed.
    min_overlap
        Lags with fewer frames valid in both signals give NaN.

    Returns
    -------
    numpy.ndarray
        ``(2 * max_lag + 1,)``: entry ``max_lag + lag`` is the correlation of
        ``reference[t]`` with ``other[t + lag]`` over the valid ``t``
        (sums of products over the overlap, each signal's energy taken over
        the same overlap; both signals are already centred).
    """
    valid_ref, valid_other = np.isfinite(reference), np.isfinite(other)
    a = np.where(valid_ref, reference, 0.0)
    b = np.where(valid_other, other, 0.0)
    mask_a, mask_b = valid_ref.astype(float), valid_other.astype(float)

    # zero padding to a power of two >= len(a) + len(b) - 1: no circular wrap
    n_fft = 1 << int(np.ceil(np.log2(len(a) + len(b) - 1)))
    lags = np.arange(-max_lag, max_lag + 1)

    def correlate(first: np.ndarray, second: np.ndarray) -> np.ndarray:
        # c[lag] = sum_t first[t] * second[t + lag], at index lag (mod n_fft)
        full = np.fft.irfft(np.conj(np.fft.rfft(first, n_fft)) * np.fft.rfft(second, n_fft), n_fft)
        out = full[lags % n_fft]
        # lags beyond the signals' lengths have no overlap
        out[(lags >= len(second)) | (lags <= -len(first))] = 0.0
        return out

    products = correlate(a, b)
    energy_a = correlate(a * a, mask_b)
    energy_b = correlate(mask_a, b * b)
    counts = np.rint(correlate(mask_a, mask_b))
    with np.errstate(invalid="ignore", divide="ignore"):
        result = products / np.sqrt(energy_a * energy_b)
    result[(counts < min_overlap) | ~(energy_a > 0) | ~(energy_b > 0)] = np.nan
    return result


def _peaks(curve: np.ndarray) -> tuple[int, float, float]:
    """Index of the best value, the value, and the best other local maximum beyond the peak's width.

    The main peak's width is where the curve stays above half its height
    (at least 2 frames each side), so the next best is a separate peak, not
    the main peak's shoulder.
    """
    best = int(np.nanargmax(curve))
    peak = float(curve[best])
    half = peak / 2.0
    left = best
    while left > 0 and np.isfinite(curve[left - 1]) and curve[left - 1] > half:
        left -= 1
    right = best
    while right < len(curve) - 1 and np.isfinite(curve[right + 1]) and curve[right + 1] > half:
        right += 1
    left, right = min(left, best - 2), max(right, best + 2)
    padded = np.concatenate(([-np.inf], np.where(np.isfinite(curve), curve, -np.inf), [-np.inf]))
    local_max = (padded[1:-1] >= padded[:-2]) & (padded[1:-1] >= padded[2:]) & np.isfinite(curve)
    outside = np.ones(len(curve), dtype=bool)
    outside[max(left, 0) : right + 1] = False
    candidates = curve[local_max & outside]
    next_best = float(candidates.max()) if candidates.size else float("nan")
    return best, peak, next_best


# ------------------------------------------------------------- estimate
def _check_inputs(series_by_camera: Mapping[str, LandmarkSeries], reference: str | None) -> str:
    names = list(series_by_camera)
    if len(names) < 2:
        raise DataError(f"estimating camera offsets needs at least two cameras; got {names}")
    for name, series in series_by_camera.items():
        where = f"camera {name!r}" + (f" ({series.source})" if series.source else "")
        if series.n_dims != 2:
            raise DataError(f"{where}: offsets are estimated from 2D tracks; got a {series.n_dims}D series")
        if series.n_frames < MIN_FRAMES:
            raise DataError(
                f"{where}: {series.n_frames} frames is too few to estimate an offset (at least {MIN_FRAMES})"
            )
    if reference is None:
        return names[0]
    if reference not in series_by_camera:
        raise DataError(f"reference camera {reference!r} is not among the cameras {names}")
    return reference


def _z_signals(
    series_by_camera: Mapping[str, LandmarkSeries], min_confidence: float, difference_frames: int
) -> dict[str, dict[str, np.ndarray]]:
    """``{camera: {signal: (T,) z-scores}}``; DataError for a camera without any usable signal."""
    out: dict[str, dict[str, np.ndarray]] = {}
    for name, series in series_by_camera.items():
        usable = series.masked(min_confidence) if min_confidence > 0 else series
        signals = {}
        for signal_name, values in motion_signals(usable, difference_frames).items():
            z = _robust_z(values)
            if z is not None:
                signals[signal_name] = z
        if not signals:
            where = f"camera {name!r}" + (f" ({series.source})" if series.source else "")
            raise DataError(
                f"{where}: no usable motion signal (landmarks missing or below confidence "
                f"{min_confidence:g} in nearly every frame); cannot estimate its offset"
            )
        out[name] = signals
    return out


def _signal_correlations(
    reference_signals: Mapping[str, np.ndarray],
    other_signals: Mapping[str, np.ndarray],
    names: tuple[str, ...],
    n_frames: tuple[int, int],
    lags: np.ndarray,
    shortest: int,
) -> np.ndarray:
    """``(n_signals, n_lags)`` masked correlation of each signal in ``names`` (NaN where it does not count).

    ``n_frames`` are the reference's and the other camera's frame counts.
    """
    max_lag = int(lags[-1])
    curves = [
        masked_correlation(reference_signals[s], other_signals[s], max_lag, MIN_FRAMES) for s in names
    ]
    stacked = np.array(curves).reshape(len(curves), lags.size)
    # lags where the recordings overlap by less than MIN_OVERLAP_SHARE of the
    # shortest would compare a sliver of each: left out
    overlap = np.minimum(n_frames[0], n_frames[1] - lags) - np.maximum(0, -lags)
    stacked[:, overlap < MIN_OVERLAP_SHARE * shortest] = np.nan
    return stacked


def _weighted_mean(curves: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """``(n_lags,)`` weighted mean over the signals that count at each lag, NaN where none does."""
    finite = np.isfinite(curves)
    weight_sum = (finite * weights[:, None]).sum(axis=0)
    total = (np.where(finite, curves, 0.0) * weights[:, None]).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(weight_sum > 0, total / weight_sum, np.nan)


def estimate_offsets(
    series_by_camera: Mapping[str, LandmarkSeries],
    max_offset_frames: int | None = None,
    reference: str | None = None,
    *,
    min_confidence: float = 0.5,
) -> SyncEstimate:
    """Estimate each camera's frame offset from the head motion it tracked.

    Parameters
    ----------
    series_by_camera
        ``{camera: 2D series}``, positions ``(T_camera, K, 2)`` pixels; frame
        counts may differ. Landmarks are matched by name (the project's 21
        face landmarks, :data:`~napari_facehmm.face.FACE_KEYPOINTS`; signals
        whose landmarks are absent are skipped).
    max_offset_frames
        Largest lag searched, either way. Default: 10 s of frames, at most
        half the shortest camera minus one.
    reference
        Camera the lags are relative to (default: the first).
    min_confidence
        Points whose confidence is below this are treated as missing (a
        tracker's lost points must not make motion).

    Returns
    -------
    SyncEstimate
        Offsets in :func:`~napari_facehmm.tracking.anipose.align_cameras`'
        convention, lags, correlations and whether the estimate is sure.

    Raises
    ------
    DataError
        Fewer than two cameras, a 3D series, a camera with fewer than
        :data:`MIN_FRAMES` frames, an unknown reference, a negative
        ``max_offset_frames``, or a camera whose tracks give no usable
        signal (all missing, or no motion the reference also has).
    """
    reference = _check_inputs(series_by_camera, reference)
    shortest = min(series.n_frames for series in series_by_camera.values())
    fps = float(series_by_camera[reference].fps)
    if max_offset_frames is None:
        max_offset_frames = min(int(round(DEFAULT_MAX_OFFSET_S * fps)), shortest // 2 - 1)
    max_offset_frames = int(max_offset_frames)
    if max_offset_frames < 0:
        raise DataError(f"max_offset_frames must be 0 or more; got {max_offset_frames}")

    coarse = _z_signals(series_by_camera, min_confidence, COARSE_DIFFERENCE_FRAMES)
    fine = _z_signals(series_by_camera, min_confidence, FINE_DIFFERENCE_FRAMES)
    lags = np.arange(-max_offset_frames, max_offset_frames + 1)
    lag_frames, peaks, next_bests, sure, used, agreed = {}, {}, {}, {}, {}, {}
    edge: list[str] = []
    for name in series_by_camera:
        if name == reference:
            lag_frames[name], peaks[name], next_bests[name], sure[name] = 0, float("nan"), float("nan"), True
            used[name] = agreed[name] = tuple(coarse[name])
            continue
        common = tuple(s for s in coarse[reference] if s in coarse[name])
        n_frames = (series_by_camera[reference].n_frames, series_by_camera[name].n_frames)
        coarse_curves = _signal_correlations(coarse[reference], coarse[name], common, n_frames, lags, shortest)
        curve = _weighted_mean(coarse_curves, np.ones(len(common)))
        if not np.isfinite(curve).any():
            raise DataError(
                f"cameras {reference!r} and {name!r}: too few frames tracked in both at any lag "
                f"within +-{max_offset_frames} frames to estimate an offset"
            )
        best, peak, next_best = _peaks(curve)
        # Unrelated recordings give peaks where one or two signals happen to
        # line up; the same recording seen twice lines most of them up (on
        # synthetic sessions, 5-8 of 8 signals against at most 3).
        own_peaks = [
            int(np.nanargmax(c)) if np.isfinite(c).any() else -10 * AGREE_FRAMES for c in coarse_curves
        ]
        agreeing = tuple(s for s, own in zip(common, own_peaks) if abs(own - best) <= AGREE_FRAMES)
        coarse_best = best
        # The wide difference finds the peak reliably but flattens it over a
        # few frames; the one-frame difference picks the frame within them,
        # each signal weighted by how well it agrees at the peak (a signal the
        # viewpoints see differently, or that noise drowns, counts less).
        # Measured on 40 s synthetic sessions at 2 px noise on a 100 px face:
        # 3/30 lags off by one with equal weights, 0/30 with these.
        weights = np.clip(np.nan_to_num(coarse_curves[:, best]), 0.0, None)
        fine_names = tuple(s for s in common if s in fine[reference] and s in fine[name])
        fine_weights = np.array([weights[common.index(s)] for s in fine_names])
        if fine_names and fine_weights.sum() > 0:
            fine_curves = _signal_correlations(fine[reference], fine[name], fine_names, n_frames, lags, shortest)
            fine_curve = _weighted_mean(fine_curves, fine_weights)
            fine_curve[np.abs(lags - lags[coarse_best]) > COARSE_DIFFERENCE_FRAMES] = np.nan
            if np.isfinite(fine_curve).any():
                best = int(np.nanargmax(fine_curve))
        searched = np.flatnonzero(np.isfinite(curve))
        if {coarse_best, best} & {int(searched[0]), int(searched[-1])}:
            edge.append(name)
        lag_frames[name] = int(lags[best])
        peaks[name], next_bests[name] = peak, next_best
        sure[name] = _is_sure(peak, next_best, len(agreeing), len(common), name in edge)
        used[name], agreed[name] = common, agreeing

    earliest = min(lag_frames.values())
    offsets = {name: int(lag - earliest) for name, lag in lag_frames.items()}
    return SyncEstimate(
        offsets=offsets,
        lag_frames=lag_frames,
        peak_correlation=peaks,
        next_best_correlation=next_bests,
        confident=all(sure.values()),
        reference=reference,
        fps=fps,
        max_offset_frames=max_offset_frames,
        sure=sure,
        signals=used,
        agreeing=agreed,
        at_edge=tuple(edge),
    )
