"""Features of all sessions built alike and scaled with one scaler, without moving them off the workers.

The distributed form of :func:`napari_facehmm.analysis_sessions.shared_features`
(same numbers): each worker builds its sessions' features alone and sends a
small header; the client checks that the sessions agree (a session that
differs from the first is a failure of that session, the others go on),
pools the rigid templates (:func:`~napari_facehmm.analysis_sessions._pooled_template`)
and computes the z-score from the workers' column sums in two passes
(mean, then squared deviations), as ``np.nanmean`` / ``np.nanstd`` over the
concatenated sessions.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import numpy as np

from ..analysis_sessions import _pooled_template
from ..analysis_sessions_inputs import check_same_landmarks
from ..errors import DataError
from ..features import FeatureScaler
from . import session_tasks as tasks

__all__ = ["shared_worker_features"]


def _header_series(header: dict[str, Any]):
    """A stand-in with what ``check_same_landmarks`` reads."""
    return SimpleNamespace(
        n_dims=header["n_dims"], keypoints=header["keypoints"], fps=header["fps"], source=header["source"]
    )


def _check_against_first(names, headers, n_states) -> dict[str, str]:
    """``{session: problem}`` for sessions that cannot join the first one's model."""
    problems: dict[str, str] = {}
    first_name, first = names[0], headers[0]
    for name, header in zip(names, headers):
        try:
            if name != first_name:
                check_same_landmarks([_header_series(first), _header_series(header)], [first_name, name])
                if header["names"] != first["names"]:
                    raise DataError(
                        f"session {name} gives other features than {first_name} "
                        f"({len(header['names'])} vs {len(first['names'])}): a keypoint is empty in one of them"
                    )
            if n_states is not None and header["n_valid"] <= n_states:
                raise DataError(
                    f"session {name} has {header['n_valid']} frames with valid features of {header['n_frames']}: "
                    f"no more than {n_states} states"
                )
        except DataError as error:
            problems[name] = str(error)
    return problems


def shared_worker_features(client, names, series_futures, settings, n_states, gather_each):
    """Scaled feature futures of the sessions that can be fitted together.

    Parameters
    ----------
    gather_each
        ``gather_each(futures_by_name, stage) -> {name: result}``: gathers and
        records the sessions whose future failed (the caller's bookkeeping).

    Returns
    -------
    names, matrices, headers, problems
        Sessions kept, futures of their scaled ``FeatureMatrix``, their
        headers, and ``{session: problem}`` of those left out here.
    """
    alone = {n: client.submit(tasks.build_session_features, n, series_futures[n], settings) for n in names}
    header_futures = {n: client.submit(tasks.feature_header, series_futures[n], alone[n]) for n in names}
    headers = gather_each(header_futures, "features")
    kept = [n for n in names if n in headers]
    if not kept:
        return [], {}, {}, {}
    problems = _check_against_first(kept, [headers[n] for n in kept], n_states)
    kept = [n for n in kept if n not in problems]
    if not kept:
        return [], {}, headers, problems
    first = headers[kept[0]]
    matrices = {n: alone[n] for n in kept}
    template, template_keypoints = None, []
    if settings.mode == "rigid":
        template_keypoints = list(first["template_keypoints"])
        stand_ins = [
            SimpleNamespace(scaler=SimpleNamespace(template=headers[n]["template"]), n_valid=headers[n]["n_valid"])
            for n in kept
        ]
        template = _pooled_template(stand_ins, template_keypoints)
        n_features = len(first["names"])
        aligning = FeatureScaler(
            list(first["names"]), np.zeros(n_features), np.ones(n_features), first["n_dims_features"],
            template, template_keypoints,
        )
        matrices = {n: client.submit(tasks.build_session_features, n, series_futures[n], settings, aligning)
                    for n in kept}
    if settings.standardize:
        sums = client.gather([client.submit(tasks.unscaled_sums, matrices[n]) for n in kept])
        mean = np.sum([s[1] for s in sums], axis=0) / np.sum([s[0] for s in sums], axis=0)
        deviations = client.gather([client.submit(tasks.unscaled_sums, matrices[n], mean) for n in kept])
        std = np.sqrt(np.sum([d[1] for d in deviations], axis=0) / np.sum([d[0] for d in deviations], axis=0))
    else:
        mean, std = np.zeros(len(first["names"])), np.ones(len(first["names"]))
    scaler = FeatureScaler(list(first["names"]), mean, std, first["n_dims_features"], template, template_keypoints)
    scaled = {n: client.submit(tasks.scale_features, matrices[n], scaler) for n in kept}
    return kept, scaled, headers, problems
