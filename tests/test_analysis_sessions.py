"""Many sessions in one model: ``facehmm analyze IN1 IN2 ... --out DIR`` (analysis_sessions.py).

Known answers: three short synthetic 3D sessions with 4 true states; the
shared model recovers each session's states, and the saved model applied to
each input gives exactly the fit's states. Budget: a few seconds a fit
(450 frames a session, one restart, 30 iterations).
"""

from __future__ import annotations

import contextlib
import io
import json

import numpy as np
import pandas as pd
import pytest

from napari_facehmm.analysis_outputs import FIGURE_NAMES
from napari_facehmm.analysis_sessions import run_sessions, session_names
from napari_facehmm.cli import main
from napari_facehmm.errors import Cancelled, DataError
from napari_facehmm.progress import run_to_end

N_STATES = 4
FIT = ["--states", str(N_STATES), "--restarts", "1", "--iterations", "30"]


def _ari(true_states, states) -> float:
    from sklearn.metrics import adjusted_rand_score

    return float(adjusted_rand_score(true_states, states))


@pytest.fixture(scope="module")
def sessions(tmp_path_factory):
    """Three 15 s sessions: ``day1/pose.csv``, ``day2/pose.csv`` (stems clash) and ``extra.csv``."""
    from napari_facehmm.io.anipose import write_pose3d
    from napari_facehmm.synthetic import simulate_face

    root = tmp_path_factory.mktemp("sessions")
    paths, truths = [], []
    for seed, relative in enumerate(["day1/pose.csv", "day2/pose.csv", "extra.csv"]):
        simulation = simulate_face(450, fps=30.0, seed=20 + seed, n_states=N_STATES)
        path = root / relative
        path.parent.mkdir(exist_ok=True)
        paths.append(write_pose3d(simulation.to_series(), path))
        truths.append(simulation.states)
    return paths, truths


@pytest.fixture(scope="module")
def fitted(sessions, tmp_path_factory):
    """``facehmm analyze`` over the three sessions with groups; its output folder and printed text."""
    from napari_facehmm.io.groups import write_groups

    paths, _ = sessions
    root = tmp_path_factory.mktemp("fit")
    groups = write_groups({"day1": "early", "day2": "early", "extra": "late"}, root / "groups.csv")
    out = root / "results"
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        code = main(["analyze", *map(str, paths), *FIT, "--groups", str(groups), "--out", str(out), "--no-figures"])
    assert code == 0
    return out, printed.getvalue()


def test_session_names_fall_back_to_folders_when_stems_clash(tmp_path):
    names, notes = session_names([tmp_path / "day1" / "pose.csv", tmp_path / "day2" / "pose.csv", tmp_path / "x.h5"])
    assert names == ["day1", "day2", "x"]
    assert len(notes) == 1 and "day1" in notes[0] and "'pose'" in notes[0]
    # one level does not tell them apart: folder names joined up to the level that does
    names, _ = session_names([tmp_path / "a" / "cam" / "p.csv", tmp_path / "b" / "cam" / "p.csv"])
    assert names == ["a", "b"]
    names, _ = session_names([tmp_path / "a/x/p.csv", tmp_path / "a/y/p.csv", tmp_path / "b/x/p.csv"])
    assert names == ["a_x", "a_y", "b_x"]
    with pytest.raises(DataError, match=r"the same file is given twice \(inputs 1 and 2\)"):
        session_names([tmp_path / "p.csv", tmp_path / "." / "p.csv"])


def test_one_model_writes_a_folder_per_session_and_recovers_the_states(sessions, fitted, capsys):
    paths, truths = sessions
    out, printed = fitted
    assert "note: 2 inputs are named 'pose'" in printed and "day1 (" in printed
    top = {p.name for p in out.iterdir()}
    assert top == {"model.json", "model.npz", "summary.json", "sessions.csv", "groups.csv", "group_tests.csv",
                   "report.html", "day1", "day2", "extra"}
    summary = json.loads((out / "summary.json").read_text())
    assert summary["n_sessions"] == 3 and [s["session"] for s in summary["sessions"]] == ["day1", "day2", "extra"]
    assert summary["notes"] and summary["fitted"] and summary["n_states"] == N_STATES
    model = json.loads((out / "model.json").read_text())
    assert [s["session"] for s in model["metadata"]["sessions"]] == ["day1", "day2", "extra"]
    table = pd.read_csv(out / "sessions.csv")
    assert list(table.columns) == ["session", "group", "state", "name", "n_frames", "fraction", "n_bouts",
                                   "bout_mean_s"]
    for name, truth in zip(["day1", "day2", "extra"], truths):
        folder = out / name
        assert {"states.csv", "state_stats.csv", "bouts.csv", "transitions.csv", "mean_faces.csv",
                "head_motion.csv", "summary.json", "report.html"} == {p.name for p in folder.iterdir()}
        assert not (folder / "model.json").exists()
        assert json.loads((folder / "summary.json").read_text())["model"] == "../model.json"
        states = pd.read_csv(folder / "states.csv")
        labelled = states["state"].notna().to_numpy()
        ari = _ari(truth[labelled], states["state"][labelled].astype(int))
        with capsys.disabled():
            print(f"\nsession {name}: ARI against the truth {ari:.3f}")
        assert ari >= 0.9
        stats = pd.read_csv(folder / "state_stats.csv")
        rows = table[table["session"] == name]
        np.testing.assert_array_equal(rows["n_frames"], stats["n_frames"])
        np.testing.assert_allclose(rows["fraction"], stats["fraction"])
        np.testing.assert_allclose(rows["bout_mean_s"], stats["bout_mean_s"])
    groups = pd.read_csv(out / "groups.csv")
    early = table[table["group"] == "early"].groupby("state")["fraction"].mean().to_numpy()
    np.testing.assert_allclose(groups[groups["group"] == "early"]["mean_fraction"], early)
    tests = pd.read_csv(out / "group_tests.csv")
    assert len(tests) == N_STATES and tests["exact"].all() and (tests["n_permutations"] == 3).all()


def test_the_saved_model_gives_every_session_exactly_its_states(sessions, fitted, tmp_path):
    paths, _ = sessions
    out, _ = fitted
    for name, path in zip(["day1", "day2", "extra"], paths):
        again = tmp_path / name
        assert main(["analyze", str(path), "--model", str(out / "model.json"), "--out", str(again),
                     "--no-figures"]) == 0
        first = pd.read_csv(out / name / "states.csv")
        applied = pd.read_csv(again / "states.csv")
        pd.testing.assert_series_equal(first["state"], applied["state"])
        np.testing.assert_array_equal(first["state_probability"], applied["state_probability"])
    # all inputs at once with the saved model: the same states again, in the same layout
    together = tmp_path / "together"
    assert main(["analyze", *map(str, paths), "--model", str(out / "model.json"), "--out", str(together),
                 "--no-figures"]) == 0
    for name in ("day1", "day2", "extra"):
        pd.testing.assert_frame_equal(pd.read_csv(out / name / "states.csv"),
                                      pd.read_csv(together / name / "states.csv"))
    assert not json.loads((together / "summary.json").read_text())["fitted"]


def test_a_cancelled_or_repeated_run_leaves_whole_results(sessions, fitted, tmp_path):
    import shutil

    paths, _ = sessions
    out = tmp_path / "results"
    shutil.copytree(fitted[0], out)
    before = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    messages = []

    def stop_while_writing():
        return any("extra:" in m for m in messages)

    job = run_sessions(paths, N_STATES, out, n_restarts=1, n_iter=5, figures=False,
                       should_stop=stop_while_writing)
    with pytest.raises(Cancelled):
        for item in job:
            messages.append(item[2])
    assert any("day1:" in m for m in messages)  # cancelled after a session folder was written
    after = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert after == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results"]  # no temporary left

    # another set of sessions into the same folder: the earlier session folders go with the
    # old result, the user's own file stays; a session folder gets a single analysis' figures
    (out / "notes.txt").write_text("mine")
    progress = []
    run_to_end(run_sessions(paths[:1], N_STATES, out, n_restarts=1, n_iter=5), progress.append)
    done = [p[0] for p in progress]
    assert done == sorted(done) and progress[-1][:2] == (100, 100)
    assert sorted(p.name for p in out.iterdir() if p.is_dir()) == ["pose"]
    assert not (out / "groups.csv").exists() and (out / "notes.txt").read_text() == "mine"
    for figure in FIGURE_NAMES:
        assert (out / "pose" / f"{figure}.png").stat().st_size > 10_000


def test_bad_inputs_are_refused_before_any_fitting(sessions, fitted, tmp_path, capsys):
    from napari_facehmm.io.anipose import read_pose3d, write_pose3d
    from napari_facehmm.io.groups import write_groups

    paths, _ = sessions
    capsys.readouterr()
    out = tmp_path / "out"

    def refused(*arguments) -> str:
        assert main(["analyze", *map(str, arguments), "--out", str(out)]) == 2
        assert not out.exists()
        return capsys.readouterr().err

    # a session with another landmark set: the files and the keypoints named
    series = read_pose3d(paths[2])
    fewer = write_pose3d(series.select_keypoints([k for k in series.keypoints if k != "chin"]), tmp_path / "nochin.csv")
    error = refused(paths[0], fewer, *FIT)
    assert "one landmark set" in error and "nochin.csv" in error and "only in pose: ['chin']" in error

    # a keypoint never tracked in one session only, dropped there: the feature layouts differ
    positions = series.positions.copy()
    positions[:, series.keypoint_index("chin")] = np.nan
    no_chin = write_pose3d(series.copy(positions=positions), tmp_path / "chin_lost.csv")
    error = refused(paths[0], no_chin, *FIT, "--drop-empty-keypoints")
    assert "different feature layouts" in error and "pose: 65 features (also ['chin_x'" in error

    # the same file twice
    error = refused(paths[0], paths[0], *FIT)
    assert "the same file is given twice" in error

    # a groups file naming an unknown session, or missing one
    unknown = write_groups({"day1": "a", "day2": "b", "extra": "b", "day9": "a"}, tmp_path / "g1.csv")
    error = refused(*paths, *FIT, "--groups", unknown)
    assert "not among the inputs: ['day9']" in error and "['day1', 'day2', 'extra']" in error
    missing = write_groups({"day1": "a", "day2": "b"}, tmp_path / "g2.csv")
    error = refused(*paths, *FIT, "--groups", missing)
    assert "gives no group for sessions ['extra']" in error

    # more states than a short session has frames
    short = write_pose3d(series.select_frames(slice(0, 8)), tmp_path / "short.csv")
    error = refused(paths[0], short, "--states", "9", "--restarts", "1")
    assert "9 states cannot be fit" in error and "short (8 of 8)" in error

    # frame rates that differ (API: pose-3d CSVs carry none)
    with pytest.raises(DataError, match="60 frames/s"):
        run_to_end(run_sessions([series, series.copy(fps=60.0)], N_STATES, None, names=["a", "b"]))
