"""The analysis pipeline: landmarks -> features -> HMM states -> tables and figures.

:func:`run_analysis` is a generator: it yields ``(done, total, message)``
progress tuples and returns an :class:`AnalysisResult` (``StopIteration.value``),
so the napari widget runs it in a ``thread_worker`` with Cancel and the
command line wraps it in a progress bar. :func:`analyze` runs it to the end.
Writing the outputs (tables, model, summary, figures) is
:mod:`napari_facehmm.analysis_outputs`; its names are re-exported here.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Generator

import numpy as np
import pandas as pd

from . import stats
from .analysis_outputs import (  # noqa: F401  (re-exported: analysis is where callers import them)
    FIGURE_NAMES,
    MODEL_STEM,
    OUTPUT_NAMES,
    TABLE_NAMES,
    head_motion_table,
    make_figures,
    mean_faces_table,
    skeleton_for,
    write_outputs,
)
from .data import LandmarkSeries
from .errors import DataError
from .features import FeatureMatrix, FeatureScaler, FeatureSettings, build_features
from .progress import Progress, run_to_end


# progress units of each step, out of _TOTAL
_TOTAL = 100
_SELECT_START, _FIT_START, _FIT_END = 5, 10, 75


@dataclass(eq=False)
class AnalysisResult:
    """Everything one analysis produced.

    Attributes
    ----------
    series
        The landmark series analysed.
    features
        Its :class:`~napari_facehmm.features.FeatureMatrix`.
    model
        The fitted (or loaded) ``FaceHMM``.
    n_states
        Number of states of the model.
    states
        ``(n_frames,)`` Viterbi state of every frame, -1 where the frame has
        no valid features (never a made-up state).
    posterior
        ``(n_frames, n_states)`` state probabilities; NaN rows where no state.
    frames, state_stats, bouts, transitions
        Tidy tables (see :mod:`napari_facehmm.stats`).
    mean_face, sd_face
        ``(n_states, n_keypoints, n_dims)`` head-centred mean face and SD per state.
    log_likelihood
        Log-likelihood of the features under the model.
    fitted
        True if the model was fit here, False if a saved model was applied.
    files
        Files written, by role (``"states_csv"``, ``"model"``, ``"summary"``,
        ``"ethogram_png"``, ...).
    """

    series: LandmarkSeries
    features: FeatureMatrix
    model: Any
    n_states: int
    states: np.ndarray
    posterior: np.ndarray
    frames: pd.DataFrame
    state_stats: pd.DataFrame
    bouts: pd.DataFrame
    transitions: pd.DataFrame
    mean_face: np.ndarray
    sd_face: np.ndarray
    log_likelihood: float
    fitted: bool
    state_names: list[str] | None = None
    files: dict[str, Path] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def unit(self) -> str:
        """Length unit of the coordinates: ``"mm"`` for 3D, ``"px"`` for 2D."""
        return "mm" if self.series.n_dims == 3 else "px"


def load_series(
    source: str | Path | LandmarkSeries,
    fps: float | None = None,
    camera: str | None = None,
    individual: str | None = None,
) -> LandmarkSeries:
    """A :class:`LandmarkSeries` from a series or any file :func:`io.read_landmarks` reads.

    ``fps`` overrides the file's frame rate (pose-3d CSVs carry none).
    """
    if isinstance(source, LandmarkSeries):
        series = source
    else:
        from .io import read_landmarks

        kwargs = {k: v for k, v in (("camera", camera), ("individual", individual)) if v is not None}
        series = read_landmarks(Path(source), **kwargs)
    if fps is not None:
        series = series.copy(fps=float(fps))
    return series


def _new_model(
    n_states: int, n_restarts: int, n_iter: int, seed: int, feature_names: list[str], **hmm_options
):
    from .hmm import FaceHMM

    return FaceHMM(
        n_states=n_states,
        n_restarts=n_restarts,
        n_iter=n_iter,
        random_state=seed,
        feature_names=feature_names,
        **hmm_options,
    )


def _load_model(model) -> Any:
    if isinstance(model, (str, Path)):
        from .hmm import FaceHMM

        return FaceHMM.load(Path(model))
    return model


def model_metadata(settings: FeatureSettings, features: FeatureMatrix, series: LandmarkSeries) -> dict[str, Any]:
    """What a fitted model keeps to rebuild its features on new data (:func:`features_for_model`).

    The settings (also under ``feature_settings``, the key earlier versions
    read), the z-score and rigid template, the feature and keypoint names, and
    where the training data came from. ``facehmm analyze`` and the viewer's
    Expression states dock write the same, so either loads the other's models.
    """
    return dict(
        features=settings.to_dict(),
        feature_settings=settings.to_dict(),
        scaler=features.scaler.to_dict(),
        feature_names=list(features.names),
        keypoints=list(features.keypoints),
        n_dims=int(series.n_dims),
        fps=float(series.fps),
        source=str(series.source) if series.source else None,
    )


def model_feature_settings(model: Any) -> tuple[FeatureSettings, FeatureScaler | None]:
    """The feature settings and scaler stored in a model's metadata.

    Models written by :func:`run_analysis` store ``"features"`` (settings) and
    ``"scaler"``; models saved from the viewer may store only
    ``"feature_settings"``, then the scaler is None (features are
    standardized with the new session's own statistics).

    Raises
    ------
    DataError
        The model stores no feature settings.
    """
    metadata = getattr(model, "metadata", None) or {}
    stored = metadata.get("features") or metadata.get("feature_settings")
    if not stored:
        raise DataError(
            "this model stores no feature settings (metadata 'features'); "
            "fit it with facehmm analyze or the Expression states widget"
        )
    settings = FeatureSettings.from_dict(
        {k: v for k, v in stored.items() if k in FeatureSettings.__dataclass_fields__}
    )
    scaler = FeatureScaler.from_dict(metadata["scaler"]) if metadata.get("scaler") else None
    return settings, scaler


def features_for_model(series: LandmarkSeries, model: Any) -> FeatureMatrix:
    """Features of ``series`` in the exact layout and scaling ``model`` was fit on.

    Uses the settings and scaler stored in the model's metadata (see
    :func:`model_feature_settings`); a different keypoint set or
    dimensionality raises :class:`DataError`.
    """
    settings, scaler = model_feature_settings(model)
    features = build_features(series, settings, scaler=scaler)
    expected = getattr(model, "feature_names", None) or (getattr(model, "metadata", None) or {}).get("feature_names")
    if expected and list(expected) != list(features.names):
        only_model = [n for n in expected if n not in features.names]
        only_here = [n for n in features.names if n not in expected]
        raise DataError(
            f"the model was fit on {len(expected)} features; this series gives {len(features.names)} "
            f"(only in the model: {only_model[:8]}; only here: {only_here[:8]})"
        )
    return features


def _scale_progress(item: Any, start: int, end: int) -> Progress:
    """Map a sub-step's progress item into ``[start, end]`` of the whole analysis."""
    if isinstance(item, tuple) and len(item) >= 2 and item[1]:
        done, total = item[0], item[1]
        message = str(item[2]) if len(item) > 2 else "fitting HMM"
        return start + int(round((end - start) * min(done / total, 1.0))), _TOTAL, message
    return start, _TOTAL, str(item)


def fit_model(
    feature_matrices: list[FeatureMatrix],
    series: LandmarkSeries,
    n_states: int,
    *,
    n_restarts: int = 3,
    n_iter: int = 100,
    seed: int = 0,
    hmm_options: dict[str, Any] | None = None,
    check_stop: Callable[[], None] = lambda: None,
) -> Generator[Progress, None, Any]:
    """The fit step of :func:`run_analysis` (and of ``analysis_tracks``): one ``FaceHMM`` on one or
    more feature matrices with the same features, each its own sequences; the metadata is the first's
    (``series`` its landmarks). :class:`DataError` when there are not more frames than states."""
    first = feature_matrices[0]
    if n_states < 1:
        raise DataError(f"the number of states must be at least 1; got {n_states}")
    n_valid = sum(matrix.n_valid for matrix in feature_matrices)
    if n_valid <= n_states:
        n_frames = sum(matrix.n_frames for matrix in feature_matrices)
        raise DataError(
            f"{n_states} states cannot be fit to {n_valid} frames with valid features "
            f"(of {n_frames}); use fewer states or more data"
        )
    check_stop()
    values = np.concatenate([matrix.values for matrix in feature_matrices])
    lengths = np.concatenate([matrix.lengths for matrix in feature_matrices])
    model = _new_model(n_states, n_restarts, n_iter, seed, list(first.names), **(hmm_options or {}))
    model.metadata.update(model_metadata(first.settings, first, series))
    yield _FIT_START, _TOTAL, f"fitting a {n_states}-state HMM on {values.shape}"
    for item in model.fit_progress(values, lengths):
        check_stop()
        yield _scale_progress(item, _FIT_START, _FIT_END)
    return model


def _states_to_fit(
    n_states, values, lengths, n_restarts, seed, hmm_options, check_stop
) -> Generator[Progress, None, tuple[int, Any, int]]:
    """``(n_states, selection, fit_start)``: the number given (9 when None), or the one chosen among a range
    of them (``--states auto`` / ``4-12``: :func:`~napari_facehmm.analysis_selection.select_states`).

    ``fit_start`` is where the fit's progress starts: ``_FIT_START``, or after the selection's share of the
    bar (:func:`~napari_facehmm.analysis_selection.selection_progress_end`: most of it for ``auto``).
    """
    if n_states is None or isinstance(n_states, (int, np.integer)):
        return 9 if n_states is None else int(n_states), None, _FIT_START
    from .analysis_selection import select_states, selection_progress_end

    fit_start = selection_progress_end(len(set(n_states)), _SELECT_START, _FIT_END)
    selection = yield from select_states(
        values, lengths, n_states, n_restarts=n_restarts, seed=seed, hmm_options=hmm_options,
        start=_SELECT_START, end=fit_start, total=_TOTAL, check_stop=check_stop,
    )
    return selection.n_states, selection, fit_start


def run_analysis(
    source: str | Path | LandmarkSeries,
    n_states: int | None = 9,
    out_dir: str | Path | None = None,
    *,
    settings: FeatureSettings | None = None,
    model: Any = None,
    n_restarts: int = 3,
    n_iter: int = 100,
    seed: int = 0,
    fps: float | None = None,
    camera: str | None = None,
    individual: str | None = None,
    figures: bool = True,
    hmm_options: dict[str, Any] | None = None,
    should_stop: Callable[[], bool] | None = None,
    stability_seeds: int = 0,
) -> Generator[Progress, None, AnalysisResult]:
    """Fit (or apply) a Gaussian HMM to a face's landmarks and summarize the states.

    Parameters
    ----------
    source
        A :class:`LandmarkSeries`, or a pose-3d CSV, DLC ``.h5``/``.csv`` or
        OpenFace CSV.
    n_states
        Number of states to fit (default 9, as the reference analysis), or a
        sequence of candidates to choose among from the data
        (:mod:`napari_facehmm.analysis_selection`; ``--states auto``);
        ignored when ``model`` is given.
    out_dir
        Folder for ``states.csv``, ``state_stats.csv``, ``bouts.csv``,
        ``transitions.csv``, the model and the PNG figures; None writes nothing.
    settings
        :class:`FeatureSettings`; ignored when ``model`` is given (the model's
        stored settings and scaler are used so the features match).
    model
        A fitted ``FaceHMM`` or the path of a saved one: apply it instead of fitting.
    n_restarts, n_iter, seed
        EM restarts, iterations per restart and random seed of the fit.
    fps, camera, individual
        Frame-rate override and reader options.
    figures
        Draw the PNG figures (when ``out_dir`` is given).
    hmm_options
        Extra ``FaceHMM`` arguments (``covariance_type``, ``sticky``, ``tol``...).
    should_stop
        Polled between steps; when it returns True, :class:`~napari_facehmm.errors.Cancelled` is raised.
    stability_seeds
        Fits with different seeds, this one included, to check that the states
        come back (:mod:`napari_facehmm.analysis_stability`); 0 or 1: no check.

    Yields
    ------
    (done, total, message)
        Progress.

    Returns
    -------
    AnalysisResult
    """
    from .analysis_selection import add_selection
    from .analysis_stability import add_stability, fit_with_stability
    from .errors import Cancelled

    def check_stop():
        if should_stop is not None and should_stop():
            raise Cancelled("analysis cancelled")

    yield 0, _TOTAL, "reading landmarks"
    series = load_series(source, fps=fps, camera=camera, individual=individual)
    check_stop()
    yield 5, _TOTAL, "building features"
    if model is not None:
        model = _load_model(model)
        features = features_for_model(series, model)
        settings = features.settings
        n_states = int(model.n_states)
        fitted = False
    else:
        settings = settings or FeatureSettings()
        features = build_features(series, settings)
        n_states, selection, fit_start = yield from _states_to_fit(
            n_states, features.values, features.lengths, n_restarts, seed, hmm_options, check_stop
        )
        model, stability = yield from fit_with_stability(
            [features], series, n_states, stability_seeds, n_restarts=n_restarts, n_iter=n_iter, seed=seed,
            hmm_options=hmm_options, check_stop=check_stop, progress_start=fit_start,
        )
        fitted = True
    check_stop()
    yield _FIT_END, _TOTAL, "decoding states"
    result = summarize(series, features, model, n_states, fitted)
    add_stability(result, stability if fitted else model.metadata.get("stability"))
    if fitted:
        add_selection(result, selection)
    check_stop()
    if out_dir is not None:
        # closing(): a Cancelled raised here closes the writer at once, which
        # removes its temporary folder and leaves out_dir as it was.
        with contextlib.closing(write_outputs(result, out_dir, figures=figures)) as writer:
            for done, total, message in writer:
                yield 85 + int(15 * done / max(total, 1)), _TOTAL, message
                check_stop()
    yield _TOTAL, _TOTAL, "done"
    return result


def decode(model: Any, features: FeatureMatrix) -> tuple[np.ndarray, np.ndarray, float]:
    """States ``(T,)`` (-1 where a frame has no features), posteriors ``(T, n_states)`` (NaN rows there)
    and the log-likelihood of a feature matrix under a fitted :class:`FaceHMM`."""
    values, lengths = features.values, features.lengths
    states_valid = np.asarray(model.predict(values, lengths), dtype=np.int64)
    log_likelihood, posterior_valid = model.score_samples(values, lengths)
    states = features.to_frames(states_valid, fill=-1).astype(np.int64)
    posterior = features.to_frames(np.asarray(posterior_valid, dtype=np.float64), fill=np.nan)
    return states, posterior, float(log_likelihood)


def summarize(
    series: LandmarkSeries, features: FeatureMatrix, model: Any, n_states: int, fitted: bool = True
) -> AnalysisResult:
    """Decode states with ``model`` and compute every table of an analysis."""
    states, posterior, log_likelihood = decode(model, features)
    state_names = list(getattr(model, "state_names", None) or []) or None
    if state_names is not None and len(state_names) != n_states:
        state_names = None
    motion = features.kinematics
    frames = stats.frame_table(
        states, features.frame_indices, features.fps, posterior, getattr(features, "reasons", None)
    )
    state_stats = stats.state_table(
        states,
        n_states,
        features.fps,
        features.frame_indices,
        head_speed=motion.get("speed"),
        angular_speed=motion.get("angular_speed"),
        state_names=state_names,
    )
    unit = "mm" if series.n_dims == 3 else "px"
    state_stats = state_stats.rename(columns={"mean_head_speed": f"mean_head_speed_{unit}_s"})
    bouts = stats.bout_table(states, features.frame_indices, features.fps)
    transitions = stats.transition_table(states, n_states, features.frame_indices)
    mean_face, sd_face = stats.mean_faces(features.coords, states, n_states)
    return AnalysisResult(
        series=series,
        features=features,
        model=model,
        n_states=n_states,
        states=states,
        posterior=posterior,
        frames=frames,
        state_stats=state_stats,
        bouts=bouts,
        transitions=transitions,
        mean_face=mean_face,
        sd_face=sd_face,
        log_likelihood=log_likelihood,
        fitted=fitted,
        state_names=state_names,
        # How EM converged, per restart (hmm/convergence.py), for summary.json.
        info={"convergence": model.convergence_} if fitted and getattr(model, "convergence_", None) else {},
    )


def analyze(source, n_states: int | None = 9, out_dir=None, **kwargs) -> AnalysisResult:
    """:func:`run_analysis` without progress: returns the :class:`AnalysisResult`."""
    return run_to_end(run_analysis(source, n_states, out_dir, **kwargs))
