"""Known answers for the group table and the permutation test of state fractions (stats/groups.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from napari_facehmm.errors import DataError, FileFormatError
from napari_facehmm.stats.groups import group_table, n_relabelings, permutation_test


def _fractions(per_session: dict[str, list[float]]) -> pd.DataFrame:
    """A sessions.csv-like table from ``{session: [fraction of state 0, state 1, ...]}``."""
    rows = [
        {"session": session, "state": state, "fraction": fraction}
        for session, fractions in per_session.items()
        for state, fraction in enumerate(fractions)
    ]
    return pd.DataFrame(rows)


def _two_groups(rng, n_per_group=5):
    """State 0 takes ~20% of control sessions and ~60% of treated ones; state 1 the same in both."""
    per_session, groups = {}, {}
    for group, level in (("control", 0.2), ("treated", 0.6)):
        for i in range(n_per_group):
            first = level + rng.uniform(-0.05, 0.05)
            second = 0.2 + rng.uniform(-0.05, 0.05)
            per_session[f"{group}{i}"] = [first, second, 1 - first - second]
            groups[f"{group}{i}"] = group
    return per_session, groups


def test_two_groups_that_differ_get_the_smallest_exact_p_value():
    per_session, groups = _two_groups(np.random.default_rng(0))
    table = permutation_test(_fractions(per_session), groups, n_permutations=10_000)
    assert list(table.columns) == ["state", "test", "statistic", "p_value", "n_permutations", "exact"]
    assert table["exact"].all() and (table["n_permutations"] == 252).all()  # C(10, 5)
    state0 = table.iloc[0]
    expected = np.mean([per_session[f"treated{i}"][0] - per_session[f"control{i}"][0] for i in range(5)])
    assert state0["test"] == "mean difference treated - control"
    assert state0["statistic"] == pytest.approx(expected)
    # the groups separate completely: only the observed labelling and its mirror reach |difference|
    assert state0["p_value"] == pytest.approx(2 / 252)
    # state 1 does not differ between the groups
    assert table.iloc[1]["p_value"] > 0.1


def test_shuffled_labels_give_no_small_p_value():
    per_session, groups = _two_groups(np.random.default_rng(1))
    sessions = list(groups)
    shuffled = dict(zip(sessions, ["control", "treated"] * 5))  # each group half control, half treated
    table = permutation_test(_fractions(per_session), shuffled)
    assert table.iloc[0]["p_value"] > 0.2


def test_three_groups_use_the_f_ratio_and_random_relabelings_are_seeded():
    from scipy.stats import f_oneway

    rng = np.random.default_rng(2)
    per_session, groups = {}, {}
    for group, level in (("a", 0.1), ("b", 0.3), ("c", 0.5)):
        for i in range(6):
            first = level + rng.normal(0, 0.03)
            per_session[f"{group}{i}"] = [first, 1 - first]
            groups[f"{group}{i}"] = group
    fractions = _fractions(per_session)
    assert n_relabelings([6, 6, 6]) == 17_153_136  # 18! / (6!)^3: too many to enumerate
    table = permutation_test(fractions, groups, n_permutations=2000, seed=5)
    expected = f_oneway(*[[per_session[f"{g}{i}"][0] for i in range(6)] for g in "abc"]).statistic
    assert table.iloc[0]["test"] == "F"
    assert table.iloc[0]["statistic"] == pytest.approx(expected)
    assert not table["exact"].any() and (table["n_permutations"] == 2000).all()
    # no random relabeling separates the groups as well: p = 1 / (1 + n_permutations)
    assert table.iloc[0]["p_value"] == pytest.approx(1 / 2001)
    again = permutation_test(fractions, groups, n_permutations=2000, seed=5)
    pd.testing.assert_frame_equal(table, again)
    shuffled = dict(zip(groups, list("abc") * 6))
    assert permutation_test(fractions, shuffled, n_permutations=2000, seed=5).iloc[0]["p_value"] > 0.05


def test_group_table_means_and_sds():
    fractions = _fractions({"s1": [0.2, 0.8], "s2": [0.4, 0.6], "s3": [0.9, 0.1]})
    table = group_table(fractions, {"s1": "x", "s2": "x", "s3": "y"})
    assert list(table.columns) == ["group", "state", "mean_fraction", "sd_fraction", "n_sessions"]
    row = table[(table["group"] == "x") & (table["state"] == 0)].iloc[0]
    assert row["mean_fraction"] == pytest.approx(0.3)
    assert row["sd_fraction"] == pytest.approx(np.std([0.2, 0.4], ddof=1))
    assert row["n_sessions"] == 2
    assert np.isnan(table[(table["group"] == "y") & (table["state"] == 0)].iloc[0]["sd_fraction"])


def test_bad_groups_are_refused():
    fractions = _fractions({"s1": [0.2, 0.8], "s2": [0.4, 0.6]})
    with pytest.raises(DataError, match="at least two groups"):
        permutation_test(fractions, {"s1": "x", "s2": "x"})
    with pytest.raises(DataError, match=r"sessions \['s2'\] have no group"):
        permutation_test(fractions, {"s1": "x"})


def test_read_groups_validates_the_file(tmp_path):
    from napari_facehmm.io.groups import read_groups, write_groups

    path = write_groups({"a": "control", "b": "treated"}, tmp_path / "groups.csv")
    assert read_groups(path) == {"a": "control", "b": "treated"}
    (tmp_path / "twice.csv").write_text("session,group\na,x\na,y\n")
    with pytest.raises(FileFormatError, match="'a' is listed twice"):
        read_groups(tmp_path / "twice.csv")
    (tmp_path / "columns.csv").write_text("name,group\na,x\n")
    with pytest.raises(FileFormatError, match="no column 'session'"):
        read_groups(tmp_path / "columns.csv")
    (tmp_path / "empty_cell.csv").write_text("session,group\n\na,\n")
    with pytest.raises(FileFormatError, match="line 3 has an empty session or group"):
        read_groups(tmp_path / "empty_cell.csv")
    with pytest.raises(FileFormatError, match="does not exist"):
        read_groups(tmp_path / "missing.csv")
