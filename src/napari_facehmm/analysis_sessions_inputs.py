"""Naming and checking the inputs of a multi-session analysis, before any work.

Used by :func:`napari_facehmm.analysis_sessions.run_sessions` and by
``facehmm analyze`` (which checks the names and the groups file before it
reads any landmarks). Every check raises one
:class:`~napari_facehmm.errors.DataError` naming the files or sessions
concerned and what differs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .analysis_sessions_outputs import SESSIONS_OUTPUT_NAMES
from .data import LandmarkSeries
from .errors import DataError

__all__ = ["check_names", "check_same_landmarks", "check_session_groups", "for_session", "session_names"]


def _ancestor_names(path: Path, depth: int) -> list[str]:
    """The names of ``path``'s parent folders, nearest first, ``depth`` of them ('' beyond the root)."""
    parents = [p.name for p in path.resolve().parents]
    return (parents + [""] * depth)[:depth]


def session_names(paths: Sequence[str | Path]) -> tuple[list[str], list[str]]:
    """A session name for each input file: its stem, or its folders' names when stems clash.

    Inputs whose stems clash are named after the nearest level of parent
    folders whose names tell them apart (``day1/pose.csv``, ``day2/pose.csv``
    -> ``day1``, ``day2``), or, if no single level does, the folder names
    joined with ``_`` up to the level that does.

    Returns
    -------
    names, notes
        The names, in input order, and a sentence for every renaming (to show
        the user).

    Raises
    ------
    DataError
        The same file is given twice.
    """
    paths = [Path(p) for p in paths]
    resolved = [p.resolve() for p in paths]
    seen: dict[Path, int] = {}
    for number, path in enumerate(resolved, start=1):
        if path in seen:
            raise DataError(
                f"the same file is given twice (inputs {seen[path]} and {number}): {paths[number - 1]}; "
                "each session is one input"
            )
        seen[path] = number
    names = [p.stem for p in paths]
    notes = []
    for stem in sorted({n for n in names if names.count(n) > 1}):
        clashing = [i for i, n in enumerate(names) if n == stem]
        max_depth = max(len(resolved[i].parents) for i in clashing)
        for depth in range(1, max_depth + 1):
            levels = [_ancestor_names(paths[i], depth) for i in clashing]
            single = [level[-1] for level in levels]
            joined = ["_".join(reversed([n for n in level if n])) for level in levels]
            chosen = next((c for c in (single, joined) if len(set(c)) == len(c) and all(c)), None)
            if chosen is not None:
                break
        for i, name in zip(clashing, chosen):
            names[i] = name
        notes.append(
            f"{len(clashing)} inputs are named {stem!r}; their sessions are named after their folders: "
            + ", ".join(f"{names[i]} ({paths[i]})" for i in clashing)
        )
    return names, notes


def _where(name: str, series: LandmarkSeries) -> str:
    return f"{series.source} (session {name})" if series.source else f"session {name}"


def check_same_landmarks(series_list: Sequence[LandmarkSeries], names: Sequence[str]) -> None:
    """One model needs one landmark set: the same keypoints in the same order, dimensions and frame rate.

    Raises
    ------
    DataError
        Naming the files (sessions) that differ from the first and how.
    """
    first, first_name = series_list[0], names[0]
    problems = []
    for name, series in zip(names[1:], series_list[1:]):
        if series.n_dims != first.n_dims:
            problems.append(
                f"{_where(name, series)} is {series.n_dims}D, {_where(first_name, first)} is {first.n_dims}D"
            )
        elif list(series.keypoints) != list(first.keypoints):
            only_first = [k for k in first.keypoints if k not in series.keypoints]
            only_here = [k for k in series.keypoints if k not in first.keypoints]
            if only_first or only_here:
                differences = [f"only in {n}: {k}" for n, k in ((first_name, only_first), (name, only_here)) if k]
                problems.append(
                    f"{_where(name, series)} has keypoints that differ from {_where(first_name, first)}: "
                    + ", ".join(differences)
                )
            else:
                problems.append(
                    f"{_where(name, series)} has the keypoints of {_where(first_name, first)} in another "
                    "order; a model's features follow one order (write the files with one tracker setup)"
                )
        elif not np.isclose(series.fps, first.fps):
            problems.append(
                f"{_where(name, series)} has {series.fps:g} frames/s, {_where(first_name, first)} "
                f"{first.fps:g}; the HMM's transitions are per frame (set --fps if a file's rate is wrong)"
            )
    if problems:
        raise DataError("one model needs one landmark set in every session: " + "; ".join(problems))


def check_session_groups(groups: Mapping[str, str], names: Sequence[str], source: str | Path | None = None) -> None:
    """A group for every session and no group for a session that is not an input.

    Raises
    ------
    DataError
        Naming the groups file (``source``), the unknown and the missing
        sessions, and the sessions there are; or fewer than two groups.
    """
    where = f"groups file {source}" if source else "groups"
    unknown = [s for s in groups if s not in names]
    missing = [s for s in names if s not in groups]
    problems = []
    if unknown:
        problems.append(f"names sessions that are not among the inputs: {unknown}")
    if missing:
        problems.append(f"gives no group for sessions {missing}")
    if problems:
        raise DataError(f"{where} " + " and ".join(problems) + f"; the sessions are {list(names)}")
    if len(set(groups.values())) < 2:
        raise DataError(
            f"{where}: comparing groups needs at least two groups; all sessions are in "
            f"{sorted(set(groups.values()))}"
        )


def for_session(name: str, series: LandmarkSeries, make: Callable[[], Any]) -> Any:
    """``make()``, its DataError prefixed with the session it concerns."""
    try:
        return make()
    except DataError as error:
        raise DataError(f"{_where(name, series)}: {error}") from error


def check_names(names: Sequence[str], n_sources: int) -> None:
    """Session names are folder names inside the output: unique, plain, not an output file's name."""
    if len(names) != n_sources:
        raise DataError(f"{len(names)} session names for {n_sources} sessions")
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise DataError(f"sessions {duplicates} are given more than once; each session is one input")
    bad = [n for n in names if not n or n.startswith(".") or "/" in n or "\\" in n or n in SESSIONS_OUTPUT_NAMES]
    if bad:
        raise DataError(f"session names {bad} cannot be folder names of the results; rename these files")
