"""The stability check inside an analysis: the fit, the re-fits with other seeds, the columns they add.

:func:`fit_with_stability` is the fit step of
:func:`~napari_facehmm.analysis.run_analysis` and
:func:`~napari_facehmm.analysis_tracks.run_track_analysis` with the seed
stability check of :mod:`napari_facehmm.hmm.stability` after it (when
``stability_seeds >= 2``); :func:`stability_after_fit` is the check alone,
for a fit done elsewhere (:func:`~napari_facehmm.analysis_sessions.run_sessions`).
:func:`add_stability` writes the report into an
:class:`~napari_facehmm.analysis.AnalysisResult`: ``recurrence`` and
``unstable`` columns in its state table (so in ``state_stats.csv``) and a
``stability`` block in its ``info`` (so in ``summary.json``).
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import TYPE_CHECKING, Any

import numpy as np

from .progress import Progress, relay

if TYPE_CHECKING:
    from .analysis import AnalysisResult
    from .hmm.stability import StabilityReport

__all__ = [
    "add_stability",
    "fit_share",
    "fit_with_stability",
    "stability_after_fit",
    "stability_sentence",
    "state_stability_label",
]


def fit_share(start: int, end: int, stability_seeds: int) -> int:
    """Where the fit's progress ends in ``[start, end]`` when ``stability_seeds`` fits are made in all."""
    return start + (end - start) // max(int(stability_seeds), 1)


def _rescale(item: Progress, start: int, end: int, new_start: int, new_end: int) -> Progress:
    done, total, message = item[0], item[1], item[2]
    fraction = (done - start) / max(end - start, 1)
    return new_start + int(round((new_end - new_start) * fraction)), total, message


def stability_after_fit(
    model: Any,
    values: np.ndarray,
    lengths: np.ndarray,
    stability_seeds: int,
    start: int,
    end: int,
    total: int,
    check_stop: Callable[[], None] = lambda: None,
) -> Generator[Progress, None, StabilityReport | None]:
    """Re-fit ``model`` with other seeds (progress in ``[start, end]`` of ``total``); None when off (< 2 seeds)."""
    from .hmm.stability import check_n_seeds, seed_stability_progress

    if check_n_seeds(stability_seeds) < 2:
        return None
    job = seed_stability_progress(model, values, lengths, stability_seeds)
    try:
        while True:
            try:
                done, steps, message = next(job)
            except StopIteration as stop:
                return stop.value
            check_stop()
            yield start + int(round((end - start) * min(done / max(steps, 1), 1.0))), total, message
    finally:
        job.close()


def fit_with_stability(
    feature_matrices: list,
    series: Any,
    n_states: int,
    stability_seeds: int = 0,
    *,
    check_stop: Callable[[], None] = lambda: None,
    progress_start: int | None = None,
    **fit_options: Any,
) -> Generator[Progress, None, tuple[Any, StabilityReport | None]]:
    """:func:`~napari_facehmm.analysis.fit_model`, then the stability check; returns ``(model, report)``.

    The progress of both shares the fit's range of the analysis (from
    ``progress_start``, default its ``_FIT_START``, to ``_FIT_END``), in
    proportion to the number of fits.
    """
    from .analysis import _FIT_END, _FIT_START, _TOTAL, fit_model
    from .hmm.stability import check_n_seeds

    stability_seeds = check_n_seeds(stability_seeds)
    start = _FIT_START if progress_start is None else int(progress_start)
    split = fit_share(start, _FIT_END, stability_seeds)
    job = fit_model(feature_matrices, series, n_states, check_stop=check_stop, **fit_options)
    model = yield from relay(job, lambda item: _rescale(item, _FIT_START, _FIT_END, start, split))
    values = np.concatenate([matrix.values for matrix in feature_matrices])
    lengths = np.concatenate([matrix.lengths for matrix in feature_matrices])
    report = yield from stability_after_fit(
        model, values, lengths, stability_seeds, split, _FIT_END, _TOTAL, check_stop
    )
    return model, report


def add_stability(result: AnalysisResult, report: StabilityReport | dict | None) -> None:
    """Add a stability check to ``result``: ``recurrence`` and ``unstable`` columns, ``info["stability"]``.

    ``report`` is the check of the fit (also kept in the model's metadata, so
    a saved model carries it), or the ``stability`` block a saved model's
    metadata holds (applying it keeps its states' flags). Nothing when it is
    None (no check was made) or is for another number of states.
    """
    block = report.to_dict() if hasattr(report, "to_dict") else report
    if not block or len(block.get("recurrence", [])) != result.n_states:
        return
    table = result.state_stats
    states = table["state"].to_numpy().astype(int)
    table["recurrence"] = np.asarray(block["recurrence"], dtype=float)[states]
    table["unstable"] = np.isin(states, block["unstable_states"])
    result.info["stability"] = block
    metadata = getattr(result.model, "metadata", None)
    if isinstance(metadata, dict) and result.fitted:
        metadata["stability"] = block


def state_stability_label(stability: dict | None, state: int) -> tuple[str, bool]:
    """How a state list shows ``state``: ``("unstable: back in 1/4 re-fits", True)``.

    ``stability`` is the ``stability`` block of ``summary.json``
    (:meth:`~napari_facehmm.hmm.stability.StabilityReport.to_dict`); ``("", False)``
    when there is none (no check, or a saved model was applied).
    """
    if not stability or not 0 <= state < len(stability.get("n_back", [])):
        return "", False
    unstable = state in stability["unstable_states"]
    back = f"back in {stability['n_back'][state]}/{stability['n_seeds'] - 1} re-fits"
    return (f"unstable: {back}" if unstable else back), unstable


def stability_sentence(stability: dict | None, state_names: list[str] | None = None) -> str:
    """One line on the check: ARI over the seeds and the unstable states (by name); "" without a check."""
    if not stability:
        return ""
    unstable = stability["unstable_states"]
    names = [state_names[k] if state_names and k < len(state_names) else f"state {k}" for k in unstable]
    return (
        f"stability over {stability['n_seeds']} seeds: adjusted Rand index vs this fit mean "
        f"{stability['ari_mean']:.3f}, min {stability['ari_min']:.3f}; "
        + (f"unstable: {', '.join(names)}" if unstable else "every state comes back")
    )
