"""One model for several tracks of a face: the fit behind the Expression states dock.

The dock fits one ``FaceHMM`` to every track the user checks (a points layer
per camera, or the session's 3D pose) and colors each track by its own
states. :func:`run_track_analysis` is that job, in the core: one track is
exactly :func:`~napari_facehmm.analysis.run_analysis` (what ``facehmm analyze``
runs, nothing written), several tracks are fit together by
:func:`~napari_facehmm.analysis.fit_model` -- the same fit step, the same
too-few-frames rule -- and each is then decoded and summarized on its own
features (:func:`~napari_facehmm.analysis.summarize`).

Each track's features are standardized with its own statistics, as the
dock always did (two cameras see the face at different scales); the model
stores the first track's scaler and settings.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Sequence
from typing import Any

import numpy as np

from .analysis import AnalysisResult, _states_to_fit, run_analysis, summarize
from .analysis_selection import add_selection
from .analysis_stability import add_stability, fit_with_stability
from .data import LandmarkSeries
from .errors import Cancelled, DataError
from .features import FeatureSettings, build_features
from .progress import Progress

__all__ = ["run_track_analysis"]


def run_track_analysis(
    tracks: Sequence[LandmarkSeries],
    n_states: int | Sequence[int] | None = 9,
    *,
    settings: FeatureSettings | None = None,
    n_restarts: int = 3,
    n_iter: int = 100,
    seed: int = 0,
    hmm_options: dict[str, Any] | None = None,
    should_stop: Callable[[], bool] | None = None,
    stability_seeds: int = 0,
) -> Generator[Progress, None, list[AnalysisResult]]:
    """Fit one HMM to several landmark series and decode each on its own features.

    Parameters
    ----------
    tracks
        One or more :class:`LandmarkSeries` with the same keypoints and
        dimensions (e.g. the 2D tracks of the cameras of one session).
    n_states, settings, n_restarts, n_iter, seed, hmm_options, should_stop, stability_seeds
        As for :func:`~napari_facehmm.analysis.run_analysis`: ``n_states`` a
        sequence of candidates chooses among them on all tracks' frames
        (``result.info["model_selection"]`` of every result).

    Yields
    ------
    (done, total, message)
        Progress out of 100.

    Returns
    -------
    list of AnalysisResult
        One per track, in order, sharing one model (``fitted`` True).

    Raises
    ------
    DataError
        No track; tracks whose features differ (other keypoints or
        dimensions); not more frames with features than states.
    Cancelled
        ``should_stop`` returned True.
    """
    tracks = list(tracks)
    if not tracks:
        raise DataError("select at least one track (a landmark points layer or the 3D pose)")
    options = dict(n_restarts=n_restarts, n_iter=n_iter, seed=seed, hmm_options=hmm_options)
    if len(tracks) == 1:
        result = yield from run_analysis(
            tracks[0], n_states, None, settings=settings, should_stop=should_stop,
            stability_seeds=stability_seeds, **options
        )
        return [result]

    def check_stop() -> None:
        if should_stop is not None and should_stop():
            raise Cancelled("analysis cancelled")

    settings = settings or FeatureSettings()
    yield 0, 100, f"building features of {len(tracks)} tracks"
    matrices = [build_features(series, settings) for series in tracks]
    for series, matrix in zip(tracks[1:], matrices[1:]):
        if list(matrix.names) != list(matrices[0].names):
            raise DataError(
                f"the tracks have different landmarks ({len(matrices[0].keypoints)} {tracks[0].n_dims}D keypoints "
                f"vs {len(matrix.keypoints)} {series.n_dims}D); select tracks with the same keypoints"
            )
    check_stop()
    n_states, selection, fit_start = yield from _states_to_fit(
        n_states, np.concatenate([m.values for m in matrices]), np.concatenate([m.lengths for m in matrices]),
        n_restarts, seed, hmm_options, check_stop,
    )
    model, stability = yield from fit_with_stability(
        matrices, tracks[0], n_states, stability_seeds, check_stop=check_stop, progress_start=fit_start, **options
    )
    check_stop()
    yield 75, 100, "decoding states"
    results = [summarize(series, matrix, model, n_states, fitted=True) for series, matrix in zip(tracks, matrices)]
    for result in results:
        add_stability(result, stability)
        add_selection(result, selection)
    yield 100, 100, "done"
    return results
