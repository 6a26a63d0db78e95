"""The number of states from the data, inside an analysis (``--states auto`` or ``--states 4-12``).

:func:`select_states` fits every candidate state count with restarts on the
frames outside held-out time blocks (every fifth block of about 2% of the
frames, in time order, so the held-out frames come from the whole recording,
not one end of it),
scores the held-out blocks, and chooses by the one-standard-error rule of
:func:`~napari_facehmm.hmm.selection.choose_n_states`, with BIC and the
agreement of restarts beside it. :func:`add_selection` puts the result in an
:class:`~napari_facehmm.analysis.AnalysisResult` (``model_selection.csv``,
``model_selection.png`` and a ``model_selection`` block in ``summary.json``).

Selection fits are cheaper than the final fit (a tolerance per frame and an
iteration cap): they only have to rank the candidates.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from .errors import DataError
from .progress import Progress

__all__ = [
    "Selection",
    "select_states",
    "add_selection",
    "heldout_blocks",
    "selection_progress_end",
    "SELECTION_N_ITER",
    "SELECTION_TOL",
]

#: EM iterations and tolerance of each candidate's fit: EM stops when the training log-likelihood gains
#: less than ``SELECTION_TOL`` per training frame (candidates differ by hundredths of a unit per frame and more)
SELECTION_N_ITER = 40
SELECTION_TOL = 1e-4
#: every ``HELDOUT_PERIOD``-th time block is held out; a sequence gives about ``BLOCKS`` blocks
HELDOUT_PERIOD = 5
BLOCKS = 50
MIN_BLOCK_FRAMES = 30


@dataclass
class Selection:
    """Which state count the data support.

    Attributes
    ----------
    table
        One row per candidate (see :func:`~napari_facehmm.hmm.select_n_states`).
    n_states
        The chosen count.
    reason
        Why, in words.
    """

    table: pd.DataFrame
    n_states: int
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "candidates": [int(k) for k in self.table["n_states"]],
            "chosen": int(self.n_states),
            "reason": self.reason,
            "rule": "the fewest states whose held-out log-likelihood per frame is within one standard error "
            "of the best (held-out: every 5th time block of each session's frames in order)",
        }


def selection_progress_end(n_candidates: int, start: int, end: int) -> int:
    """Where the selection's share of a progress bar ends, in ``[start, end]`` (the selection and the fit after it).

    A candidate's fit costs about a third of the final fit (40 EM iterations
    at most instead of 100, on four fifths of the frames), so ``n``
    candidates take ``n / (n + 3)`` of the range: 11 candidates (``auto``)
    about four fifths, 3 candidates half. Measured on an hour of frames
    (``bench/model_selection.py``): the selection over 2-12 took 223 s.
    """
    n_candidates = max(int(n_candidates), 0)
    return start + (end - start) * n_candidates // (n_candidates + 3)


def _block_frames(lengths: np.ndarray) -> int:
    """About ``1 / BLOCKS`` of the frames, at least ``MIN_BLOCK_FRAMES``, and small enough for a held-out block."""
    n_frames = int(np.sum(lengths))
    return max(1, min(max(MIN_BLOCK_FRAMES, n_frames // BLOCKS), n_frames // HELDOUT_PERIOD))


def heldout_blocks(lengths: np.ndarray, sessions: Sequence[np.ndarray] | None = None) -> np.ndarray:
    """Which frames are held out: every ``HELDOUT_PERIOD``-th time block, blocks counted within each session.

    ``sessions``: each session's sequence lengths (concatenated they are
    ``lengths``); None is one session. A session's blocks are about
    ``1 / BLOCKS`` of its frames (at least ``MIN_BLOCK_FRAMES``), so every
    session, long or short, gives held-out frames from its whole recording.
    """
    from .hmm.selection import split_heldout

    lengths = np.asarray(lengths, dtype=np.int64)
    sessions = [lengths] if sessions is None else [np.asarray(s, dtype=np.int64) for s in sessions]
    if not np.array_equal(np.concatenate(sessions) if sessions else lengths[:0], lengths):
        raise DataError("the sessions' sequence lengths do not add up to the sequences fitted")
    masks = [
        split_heldout(session, 1 / HELDOUT_PERIOD, "blocks", _block_frames(session))[3] for session in sessions
    ]
    return np.concatenate(masks)


def select_states(
    values: np.ndarray,
    lengths: np.ndarray,
    candidates: Sequence[int],
    *,
    n_restarts: int = 3,
    seed: int = 0,
    hmm_options: dict | None = None,
    start: int = 0,
    end: int = 100,
    total: int = 100,
    check_stop: Callable[[], None] = lambda: None,
    sessions: Sequence[np.ndarray] | None = None,
) -> Generator[Progress, None, Selection]:
    """Fit each of ``candidates`` on the training blocks; progress in ``[start, end]`` of ``total``.

    ``sessions``: each session's sequence lengths when ``values`` are several
    sessions (:func:`heldout_blocks`: blocks are held out within each).
    ``check_stop`` is called between EM iterations and raises
    :class:`~napari_facehmm.errors.Cancelled` to stop.

    Raises
    ------
    DataError
        A candidate that the frames cannot support (not more training frames
        than parameters' worth of states), before any fitting.
    """
    from .hmm.selection import choose_n_states, select_n_states_progress

    candidates = sorted({int(k) for k in candidates})
    n_frames = int(np.sum(lengths))
    largest = candidates[-1]
    if n_frames * (1 - 1 / HELDOUT_PERIOD) <= 10 * largest:
        raise DataError(
            f"{largest} states cannot be chosen among with {n_frames} frames of features "
            f"(the training part needs more than {10 * largest}); give a smaller range"
        )
    options = {k: v for k, v in (hmm_options or {}).items() if k not in ("n_iter", "tol")}
    heldout_mask = heldout_blocks(lengths, sessions)
    job = select_n_states_progress(
        values, lengths, candidates, heldout_mask=heldout_mask, n_restarts=max(2, n_restarts),
        n_iter=SELECTION_N_ITER, tol=SELECTION_TOL * max(1, int(np.sum(~heldout_mask))), random_state=seed,
        **options,
    )
    while True:
        check_stop()
        try:
            done, steps, message = next(job)
        except StopIteration as stop:
            table = stop.value
            break
        yield start + int((end - start) * done / max(steps, 1)), total, f"choosing the number of states: {message}"
    k, reason = choose_n_states(table)
    table["chosen"] = table["n_states"] == k
    return Selection(table.reset_index(drop=True), k, reason)


def add_selection(result: Any, selection: Selection | None) -> None:
    """Keep the selection in ``result.info``: the table for ``model_selection.csv``, the rest for the summary."""
    if selection is None:
        return
    result.info["model_selection"] = selection.to_dict()
    result.info["model_selection_table"] = selection.table
