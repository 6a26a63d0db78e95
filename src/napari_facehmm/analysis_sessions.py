"""Many sessions, one model: every input its own sequence of one HMM, then per-session results.

:func:`run_sessions` is the multi-session counterpart of
:func:`~napari_facehmm.analysis.run_analysis` (``facehmm analyze IN1 IN2 ...``):
a generator yielding ``(done, total, message)`` that returns a
:class:`SessionsResult`. Everything that can be wrong with the inputs is
checked before any fitting: sessions given twice, names that clash, different
landmark sets, dimensions or frame rates, a groups mapping that names unknown
sessions or misses some, and a number of states larger than a session allows.

What is computed differently from one session, and why:

* **Feature scaling over all sessions.** Each session's features are built
  with the same :class:`~napari_facehmm.features.FeatureSettings`; the z-score
  (mean, SD) is computed over the valid frames of all sessions together and
  stored in the model, so re-applying the model to any one session
  (``--model``) scales it exactly as the fit did and gives exactly its states.
* **One rigid template.** In rigid mode every session is aligned to one face
  template, the weighted Procrustes mean of the sessions' own templates
  (weights: valid frames), turned into the face frame. Each session's
  template alone would put the same expression at slightly different
  coordinates in different sessions.
* **Per-session sequences.** ``FaceHMM.fit(values, lengths)`` gets all
  sessions' segments; no transition is counted across two sessions.

Writing the results (:func:`write_sessions_outputs`, as a set) is in
:mod:`napari_facehmm.analysis_sessions_outputs`.
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Callable, Generator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .analysis import (
    MODEL_STEM,
    AnalysisResult,
    _load_model,
    _new_model,
    _scale_progress,
    features_for_model,
    load_series,
    model_metadata,
    summarize,
)
from .analysis_sessions_inputs import (
    check_names,
    check_same_landmarks,
    check_session_groups,
    for_session,
    session_names,
)
from .analysis_sessions_outputs import write_sessions_outputs
from .analysis_stability import add_stability, fit_share, stability_after_fit
from .data import LandmarkSeries
from .errors import Cancelled, DataError
from .features import FeatureMatrix, FeatureScaler, FeatureSettings, build_features
from .hmm.stability import check_n_seeds
from .progress import Progress

__all__ = [
    "SessionsResult",
    "check_session_groups",
    "check_same_landmarks",
    "run_sessions",
    "session_names",
    "sessions_table",
    "shared_features",
]

# progress units of each step, out of _TOTAL (as run_analysis)
_TOTAL = 100
_FEATURES_START, _FIT_START, _FIT_END, _WRITE_START = 5, 10, 75, 85


@dataclass(eq=False)
class SessionsResult:
    """One model fitted to (or applied to) several sessions, and each session's results.

    Attributes
    ----------
    names
        Session names, in input order (the folders ``<out>/<name>/``).
    results
        One :class:`~napari_facehmm.analysis.AnalysisResult` per session, same order.
    model
        The ``FaceHMM`` shared by all sessions.
    n_states
        Number of states of the model.
    fitted
        True if the model was fit here, False if a saved model was applied.
    sessions
        ``sessions.csv``: one row per (session, state): ``session``
        (``group``), ``state``, ``name``, ``n_frames``, ``fraction``,
        ``n_bouts``, ``bout_mean_s``.
    groups
        Group of each session (None without a groups mapping).
    group_summary, group_tests
        ``groups.csv`` and ``group_tests.csv`` (see :mod:`napari_facehmm.stats.groups`), or None.
    notes
        What the user should know (e.g. sessions named after their folders).
    files
        Files written, by role.
    """

    names: list[str]
    results: list[AnalysisResult]
    model: Any
    n_states: int
    fitted: bool
    sessions: pd.DataFrame
    groups: dict[str, str] | None = None
    group_summary: pd.DataFrame | None = None
    group_tests: pd.DataFrame | None = None
    notes: list[str] = field(default_factory=list)
    files: dict[str, Path] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def log_likelihood(self) -> float:
        """Log-likelihood of all sessions under the model (their sum: the sessions are independent)."""
        return float(sum(result.log_likelihood for result in self.results))


def _pooled_template(features: Sequence[FeatureMatrix], rigid_keypoints: Sequence[str]) -> np.ndarray:
    """The weighted Procrustes mean of the sessions' rigid templates, in the face frame."""
    from .features.geometry import face_frame_rotation, rigid_align

    templates = np.stack([f.scaler.template for f in features])
    weights = np.array([f.n_valid for f in features], dtype=np.float64)
    pooled = templates[int(np.argmax(weights))]
    for _ in range(2):  # the templates differ little: two Procrustes rounds converge
        aligned, _, _, _ = rigid_align(templates, list(range(templates.shape[1])), template=pooled)
        pooled = np.average(aligned, axis=0, weights=weights)
        pooled = pooled - pooled.mean(axis=0)
    rotation = face_frame_rotation(pooled, rigid_keypoints)
    return pooled @ rotation if rotation is not None else pooled


def shared_features(
    series_list: Sequence[LandmarkSeries],
    names: Sequence[str],
    settings: FeatureSettings,
    n_states: int | None = None,
) -> list[FeatureMatrix]:
    """Features of every session, built alike and scaled with one scaler fitted over all of them.

    Each session's features are first built alone (which checks it); in
    rigid mode they are rebuilt aligned to one template
    (:func:`_pooled_template`). Then the z-score is computed over the valid
    frames of all sessions together. Every returned matrix carries that
    scaler, so ``build_features(series, settings, scaler=matrix.scaler)``
    gives the same values (what applying the saved model does).

    Raises
    ------
    DataError
        A session's features cannot be built, sessions give different
        feature layouts, or (with ``n_states``) a session has no more
        frames with valid features than states.
    """
    alone = [for_session(n, s, lambda s=s: build_features(s, settings)) for n, s in zip(names, series_list)]
    if len({tuple(f.names) for f in alone}) > 1:
        common = set.intersection(*(set(f.names) for f in alone))
        described = "; ".join(
            f"{n}: {len(f.names)} features{f' (also {sorted(set(f.names) - common)})' if set(f.names) - common else ''}"
            for n, f in zip(names, alone)
        )
        raise DataError(
            f"the sessions give different feature layouts ({described}): a keypoint is dropped in some "
            "sessions only (drop_empty_keypoints); track it in every session or leave it out of all"
        )
    if n_states is not None:
        too_short = [f"{n} ({f.n_valid} of {f.n_frames})" for n, f in zip(names, alone) if f.n_valid <= n_states]
        if too_short:
            raise DataError(
                f"{n_states} states cannot be fit: sessions {', '.join(too_short)} have no more frames with "
                "valid features than states; use fewer states or leave these sessions out"
            )
    first = alone[0]
    template, template_keypoints = None, []
    matrices = alone
    if settings.mode == "rigid":
        template_keypoints = list(first.scaler.template_keypoints)
        template = _pooled_template(alone, template_keypoints)
        n_features = len(first.names)
        aligning = FeatureScaler(
            list(first.names), np.zeros(n_features), np.ones(n_features), first.scaler.n_dims,
            template, template_keypoints,
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the first pass already warned (e.g. dropped keypoints)
            matrices = [build_features(s, settings, scaler=aligning) for s in series_list]
    unscaled = np.concatenate([f.unscaled for f in matrices])
    if settings.standardize:
        mean, std = np.nanmean(unscaled, axis=0), np.nanstd(unscaled, axis=0)
    else:
        mean, std = np.zeros(unscaled.shape[1]), np.ones(unscaled.shape[1])
    scaler = FeatureScaler(list(first.names), mean, std, first.scaler.n_dims, template, template_keypoints)
    return [
        dataclasses.replace(f, values=np.ascontiguousarray(scaler.transform(f.unscaled)), scaler=scaler)
        for f in matrices
    ]


def sessions_table(
    names: Sequence[str], results: Sequence[AnalysisResult], groups: Mapping[str, str] | None = None
) -> pd.DataFrame:
    """``sessions.csv``: per session and state, ``n_frames``, ``fraction``, ``n_bouts``, ``bout_mean_s``."""
    columns = ["state", "name", "n_frames", "fraction", "n_bouts", "bout_mean_s"]
    parts = []
    for name, result in zip(names, results):
        part = result.state_stats[columns].copy()
        part.insert(0, "session", name)
        if groups is not None:
            part.insert(1, "group", groups[name])
        parts.append(part)
    return pd.concat(parts, ignore_index=True)


def run_sessions(
    sources: Sequence[str | Path | LandmarkSeries],
    n_states: int | None = 9,
    out_dir: str | Path | None = None,
    *,
    names: Sequence[str] | None = None,
    notes: Sequence[str] = (),
    groups: Mapping[str, str] | None = None,
    groups_source: str | Path | None = None,
    settings: FeatureSettings | None = None,
    model: Any = None,
    n_restarts: int = 3,
    n_iter: int = 100,
    seed: int = 0,
    n_permutations: int = 10_000,
    fps: float | None = None,
    figures: bool = True,
    hmm_options: dict[str, Any] | None = None,
    should_stop: Callable[[], bool] | None = None,
    stability_seeds: int = 0,
) -> Generator[Progress, None, SessionsResult]:
    """Fit one HMM to several sessions (or apply a saved one to each) and summarize every session.

    Parameters
    ----------
    sources
        Landmark series or files (as :func:`~napari_facehmm.analysis.run_analysis` reads).
    n_states, settings, model, n_restarts, n_iter, seed, fps, hmm_options, should_stop, stability_seeds
        As for :func:`~napari_facehmm.analysis.run_analysis`; ``settings``
        apply to every session.
    out_dir
        Folder for the results (:func:`write_sessions_outputs`); None writes nothing.
    names, notes
        Session names; default from the files (:func:`session_names`, whose
        notes are kept), or ``session1``, ... for series without a file; and
        the notes about given names (kept in ``summary.json``).
    groups, groups_source
        Group of each session by name (every session, no other), and where
        it was read (for messages); adds ``groups.csv`` and ``group_tests.csv``.
    n_permutations
        Relabelings of the permutation test (seeded with ``seed``).
    figures
        Draw each session's PNG figures.

    Returns
    -------
    SessionsResult
    """

    def check_stop():
        if should_stop is not None and should_stop():
            raise Cancelled("analysis cancelled")

    selection = None
    notes = list(notes)
    if not sources:
        raise DataError("no session to analyze")
    if names is None:
        if all(not isinstance(s, LandmarkSeries) or s.source for s in sources):
            names, notes = session_names([s.source if isinstance(s, LandmarkSeries) else s for s in sources])
        else:
            names = [f"session{i}" for i in range(1, len(sources) + 1)]
    names = list(names)
    check_names(names, len(sources))
    if groups is not None:
        check_session_groups(groups, names, groups_source)
    series_list = []
    for number, source in enumerate(sources):
        yield int(_FEATURES_START * number / len(sources)), _TOTAL, f"reading {names[number]}"
        series_list.append(load_series(source, fps=fps))
        check_stop()
    check_same_landmarks(series_list, names)
    yield _FEATURES_START, _TOTAL, f"building features of {len(names)} sessions"
    if model is not None:
        model = _load_model(model)
        features = [for_session(n, s, lambda s=s: features_for_model(s, model)) for n, s in zip(names, series_list)]
        n_states, fitted = int(model.n_states), False
    else:
        candidates = None
        if n_states is not None and not isinstance(n_states, (int, np.integer)):
            candidates = sorted({int(k) for k in n_states})  # --states auto / A-B: chosen below
            if not candidates:
                raise DataError("no number of states to choose among")
        n_states = 9 if n_states is None else candidates[-1] if candidates else int(n_states)
        if n_states < 1 or (candidates and candidates[0] < 1):
            raise DataError(f"the number of states must be at least 1; got {candidates or n_states}")
        settings = settings or FeatureSettings()
        stability_seeds = check_n_seeds(stability_seeds)
        features = shared_features(series_list, names, settings, n_states)
        check_stop()
        values = np.concatenate([f.values for f in features])
        lengths = np.concatenate([f.lengths for f in features])
        fit_start = _FIT_START
        if candidates:
            from .analysis_selection import select_states, selection_progress_end

            fit_start = selection_progress_end(len(candidates), _FEATURES_START, _FIT_END)
            selection = yield from select_states(
                values, lengths, candidates, n_restarts=n_restarts, seed=seed, hmm_options=hmm_options,
                start=_FEATURES_START, end=fit_start, total=_TOTAL, check_stop=check_stop,
                sessions=[f.lengths for f in features],
            )
            n_states = selection.n_states
        model = _new_model(n_states, n_restarts, n_iter, seed, list(features[0].names), **(hmm_options or {}))
        model.metadata.update(model_metadata(settings, features[0], series_list[0]))
        model.metadata["source"] = None
        model.metadata["sessions"] = [
            {"session": n, "source": str(s.source) if s.source else None} for n, s in zip(names, series_list)
        ]
        yield fit_start, _TOTAL, f"fitting a {n_states}-state HMM on {len(names)} sessions {values.shape}"
        split = fit_share(fit_start, _FIT_END, stability_seeds)
        for item in model.fit_progress(values, lengths):
            check_stop()
            yield _scale_progress(item, fit_start, split)
        stability = yield from stability_after_fit(
            model, values, lengths, stability_seeds, split, _FIT_END, _TOTAL, check_stop
        )
        fitted = True
    check_stop()
    results = []
    for number, (name, series, matrix) in enumerate(zip(names, series_list, features)):
        yield _FIT_END + (_WRITE_START - _FIT_END) * number // len(names), _TOTAL, f"decoding {name}"
        result = summarize(series, matrix, model, n_states, fitted)
        result.info.update(session=name, model=f"../{MODEL_STEM}.json", n_sessions_in_model=len(names))
        add_stability(result, stability if fitted else model.metadata.get("stability"))
        results.append(result)
        check_stop()
    result = SessionsResult(
        names=names, results=results, model=model, n_states=n_states, fitted=fitted,
        sessions=sessions_table(names, results, groups), groups=dict(groups) if groups else None, notes=notes,
    )
    if "stability" in results[0].info:
        result.info["stability"] = results[0].info["stability"]
    if selection is not None:
        from .analysis_selection import add_selection

        add_selection(result, selection)
    if groups:
        from .stats.groups import group_table, permutation_test

        result.group_summary = group_table(result.sessions, groups)
        result.group_tests = permutation_test(result.sessions, groups, n_permutations=n_permutations, seed=seed)
        result.info.update(groups_file=str(groups_source) if groups_source else None, permutation_seed=seed)
    if out_dir is not None:
        writer = write_sessions_outputs(result, out_dir, figures=figures)
        try:
            for done, total, message in writer:
                yield _WRITE_START + int((_TOTAL - _WRITE_START) * done / max(total, 1)), _TOTAL, message
                check_stop()
        finally:
            # a Cancelled raised here closes the writer at once, which removes its
            # temporary folder and leaves out_dir as it was
            writer.close()
    yield _TOTAL, _TOTAL, "done"
    return result
