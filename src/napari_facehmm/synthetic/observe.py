"""The 2D observation model: exact projections turned into tracker-like output (noise, dropout bursts)."""

from __future__ import annotations

import numpy as np


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
