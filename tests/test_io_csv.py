"""The fast numeric CSV writer writes exactly what pandas' to_csv writes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from napari_facehmm.io._csv import write_numeric_csv


def _awkward_values(n_rows, n_cols, seed=0):
    values = np.random.default_rng(seed).normal(size=(n_rows, n_cols)) * 1000
    values[1, :6] = [1e-5, 1e16, -0.0, np.inf, -np.inf, 123456789.0]
    values[3, :2] = [5e-324, 0.30000000000000004]
    values[2, 3] = np.nan
    values[:, -1] = np.nan
    return values


def test_plain_columns_without_index(tmp_path):
    table = pd.DataFrame(_awkward_values(50, 9), columns=[f"a_{c}" for c in "xyzuvwpqr"])
    table["fnum"] = np.arange(50, dtype=np.int64) + 7
    table.to_csv(tmp_path / "pandas.csv", index=False)
    write_numeric_csv(table, tmp_path / "ours.csv", index=False)
    assert (tmp_path / "ours.csv").read_bytes() == (tmp_path / "pandas.csv").read_bytes()


def test_multiindex_columns_with_integer_index(tmp_path):
    columns = pd.MultiIndex.from_product(
        [["DLC_net"], ["nose, tip", "chin"], ["x", "y", "likelihood"]], names=["scorer", "bodyparts", "coords"]
    )
    table = pd.DataFrame(_awkward_values(40, 6), columns=columns, index=pd.Index(np.arange(40) * 2))
    table.to_csv(tmp_path / "pandas.csv")
    write_numeric_csv(table, tmp_path / "ours.csv", index=True)
    assert (tmp_path / "ours.csv").read_bytes() == (tmp_path / "pandas.csv").read_bytes()


@pytest.mark.parametrize("index", [True, False])
def test_other_tables_go_through_pandas(tmp_path, index):
    table = pd.DataFrame({"name": ["a", "b"], "value": [1.5, np.nan]}, index=["r1", "r2"])
    table.to_csv(tmp_path / "pandas.csv", index=index)
    write_numeric_csv(table, tmp_path / "ours.csv", index=index)
    assert (tmp_path / "ours.csv").read_bytes() == (tmp_path / "pandas.csv").read_bytes()
