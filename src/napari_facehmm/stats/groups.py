"""State fractions compared between groups of sessions: a summary table and a permutation test.

Each session contributes one number per state: the fraction of its labelled
frames in that state. :func:`group_table` summarizes them per group;
:func:`permutation_test` asks, per state, whether the groups differ more than
random relabelings of the sessions would make them differ.

The test relabels sessions, not frames: frames of one session are not
independent (states last seconds), so the session is the unit of
replication. With two groups the statistic is the difference of the group
means (second group minus first, groups in sorted order; two-sided p-value
from its absolute value); with more, the one-way ANOVA F ratio (between-group
over within-group mean square). When the distinct relabelings that keep the
group sizes are no more than ``n_permutations`` they are all enumerated and
the p-value is exact; otherwise ``n_permutations`` seeded random relabelings
are drawn and ``p = (1 + #{stat >= observed}) / (1 + n_permutations)``, which
is never 0.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator, Mapping, Sequence

import numpy as np
import pandas as pd

from ..errors import DataError

__all__ = ["group_table", "permutation_test", "n_relabelings"]

# Statistics closer than this (relative) count as ties, so that the observed
# labelling is always counted despite rounding in a different summation order.
_TIE_TOLERANCE = 1e-9


def group_table(fractions: pd.DataFrame, groups: Mapping[str, str]) -> pd.DataFrame:
    """Mean and SD of each state's fraction per group.

    Parameters
    ----------
    fractions
        One row per (session, state) with columns ``session``, ``state`` and
        ``fraction`` (e.g. ``sessions.csv``).
    groups
        Group of every session, by session name.

    Returns
    -------
    pandas.DataFrame
        Columns ``group, state, mean_fraction, sd_fraction`` (sample SD,
        NaN for a group of one session) and ``n_sessions``; groups in sorted
        order, states ascending.
    """
    _check_groups(fractions["session"].unique(), groups)
    table = fractions.assign(group=fractions["session"].map(groups))
    summary = (
        table.groupby(["group", "state"], sort=True)["fraction"]
        .agg(mean_fraction="mean", sd_fraction="std", n_sessions="count")
        .reset_index()
    )
    return summary[["group", "state", "mean_fraction", "sd_fraction", "n_sessions"]]


def n_relabelings(group_sizes: Sequence[int]) -> int:
    """Distinct ways to give ``sum(group_sizes)`` sessions labels with these group sizes (multinomial)."""
    count = math.factorial(int(sum(group_sizes)))
    for size in group_sizes:
        count //= math.factorial(int(size))
    return count


def _relabelings(labels: np.ndarray, n_groups: int) -> Iterator[np.ndarray]:
    """Every labelling of ``len(labels)`` sessions with the same group sizes as ``labels``."""
    sizes = np.bincount(labels, minlength=n_groups)

    def assign(free: tuple[int, ...], group: int, out: np.ndarray) -> Iterator[np.ndarray]:
        if group == n_groups - 1:
            out[list(free)] = group
            yield out.copy()
            return
        for chosen in itertools.combinations(free, int(sizes[group])):
            out[list(chosen)] = group
            rest = tuple(i for i in free if i not in chosen)
            yield from assign(rest, group + 1, out)

    yield from assign(tuple(range(len(labels))), 0, np.empty(len(labels), dtype=np.int64))


def _statistics(values: np.ndarray, labellings: np.ndarray, n_groups: int) -> np.ndarray:
    """The test statistic of every state for every labelling.

    ``values`` is ``(n_sessions, n_states)``; ``labellings`` ``(n_labellings,
    n_sessions)`` group numbers. Returns ``(n_labellings, n_states)``.
    """
    one_hot = (labellings[:, :, None] == np.arange(n_groups)).astype(np.float64)  # (L, S, G)
    sizes = one_hot.sum(axis=1)  # (L, G)
    sums = np.einsum("lsg,sk->lgk", one_hot, values)
    means = sums / sizes[:, :, None]  # (L, G, K)
    if n_groups == 2:
        return means[:, 1, :] - means[:, 0, :]
    grand = values.mean(axis=0)  # (K,)
    n_sessions = values.shape[0]
    between = np.einsum("lg,lgk->lk", sizes, (means - grand) ** 2) / (n_groups - 1)
    squares = np.einsum("lsg,sk->lgk", one_hot, values**2)
    within_sum = (squares - sizes[:, :, None] * means**2).sum(axis=1)
    within = np.maximum(within_sum, 0.0) / (n_sessions - n_groups)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = between / within
    # no spread within the groups: groups that differ are infinitely apart, equal ones not at all
    return np.where(within > 0, ratio, np.where(between > 0, np.inf, 0.0))


def permutation_test(
    fractions: pd.DataFrame,
    groups: Mapping[str, str],
    n_permutations: int = 10_000,
    seed: int = 0,
) -> pd.DataFrame:
    """Permutation test of each state's fraction between groups of sessions.

    Parameters
    ----------
    fractions
        One row per (session, state): columns ``session``, ``state``, ``fraction``.
    groups
        Group of every session, by session name (at least two groups).
    n_permutations
        Random relabelings drawn when there are more distinct ones than this;
        otherwise every relabeling is enumerated (an exact test).
    seed
        Seed of the random relabelings; the same seed gives the same p-values.

    Returns
    -------
    pandas.DataFrame
        One row per state: ``state``, ``test`` (``"mean difference <b> - <a>"``
        or ``"F"``), ``statistic``, ``p_value``, ``n_permutations`` (relabelings
        compared, the observed one included when exact) and ``exact``.

    Raises
    ------
    DataError
        Fewer than two groups, a session without a group, a session with no
        fraction, or (with more than two groups) no more sessions than groups.
        Groups given for sessions not in ``fractions`` are ignored.
    """
    if n_permutations < 1:
        raise DataError(f"n_permutations must be at least 1; got {n_permutations}")
    sessions = list(dict.fromkeys(fractions["session"]))
    _check_groups(sessions, groups)
    group_names = sorted(set(groups[s] for s in sessions))
    if len(group_names) < 2:
        raise DataError(f"comparing groups needs at least two groups; all sessions are in {group_names}")
    wide = fractions.pivot(index="session", columns="state", values="fraction").loc[sessions]
    if wide.isna().to_numpy().any():
        missing = sorted(wide.index[wide.isna().any(axis=1)])
        raise DataError(f"sessions {missing} have no state fraction (no frame with a state)")
    values = wide.to_numpy(dtype=np.float64)
    labels = np.array([group_names.index(groups[s]) for s in sessions], dtype=np.int64)
    n_groups = len(group_names)
    if n_groups > 2 and len(sessions) <= n_groups:
        raise DataError(
            f"an F test of {n_groups} groups needs more sessions than groups; got {len(sessions)}"
        )

    exact = n_relabelings(np.bincount(labels, minlength=n_groups)) <= n_permutations
    if exact:
        labellings = np.array(list(_relabelings(labels, n_groups)))
    else:
        rng = np.random.default_rng(seed)
        labellings = np.array([rng.permutation(labels) for _ in range(n_permutations)])
    observed = _statistics(values, labels[None, :], n_groups)[0]
    permuted = _statistics(values, labellings, n_groups)
    if n_groups == 2:
        observed_size, permuted_size = np.abs(observed), np.abs(permuted)
    else:
        observed_size, permuted_size = observed, permuted
    with np.errstate(invalid="ignore"):
        tolerance = _TIE_TOLERANCE * np.maximum(np.abs(observed_size), 1e-12)
        at_least = (permuted_size >= observed_size - tolerance).sum(axis=0)
    if exact:
        p_values = at_least / len(labellings)
    else:
        p_values = (1 + at_least) / (1 + len(labellings))
    test = f"mean difference {group_names[1]} - {group_names[0]}" if n_groups == 2 else "F"
    return pd.DataFrame(
        {
            "state": wide.columns.to_numpy(),
            "test": test,
            "statistic": observed,
            "p_value": p_values,
            "n_permutations": len(labellings),
            "exact": exact,
        }
    )


def _check_groups(sessions: Sequence[str], groups: Mapping[str, str]) -> None:
    without = [s for s in sessions if s not in groups]
    if without:
        raise DataError(f"sessions {without} have no group")
