"""``facehmm batch``: sessions of a project on a Dask LocalCluster (2 process workers), one HMM by distributed EM.

Known answers: the distributed EM gives the one-process fit (same
initialization, log-likelihood equal to 1e-8 relative, same parameters);
a project of 3 short synthetic sessions plus a broken one gives the results
``facehmm analyze`` gives for the 3 (same states, same log-likelihood, same
``sessions.csv``) and names the broken one in ``failures.csv``; a rerun skips
the complete sessions and retries the failed one; a worker killed in the
middle of the fit changes nothing; Ctrl+C of the command leaves no
half-written session folder.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

distributed = pytest.importorskip("distributed", reason="facehmm batch needs dask[distributed]")

from napari_facehmm.analysis_sessions import run_sessions  # noqa: E402
from napari_facehmm.batch import DistributedFaceHMM, WorkerFeatures, run_batch  # noqa: E402
from napari_facehmm.cli import main  # noqa: E402
from napari_facehmm.features import FeatureSettings  # noqa: E402
from napari_facehmm.hmm import FaceHMM  # noqa: E402
from napari_facehmm.progress import run_to_end  # noqa: E402

SRC = Path(__file__).resolve().parents[1] / "src"
FIT = {"n_states": 3, "n_restarts": 2, "n_iter": 15, "seed": 0}


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
        env={"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"},
    )
    with distributed.Client(cluster) as dask_client:
        yield dask_client
    cluster.close()


def _synth(folder: Path, name: str, seed: int, seconds: float = 5) -> None:
    status = main(["synth", "--out", str(folder), "--seconds", str(seconds), "--no-video", "--session", name,
                   "--seed", str(seed), "--states", "3"])
    assert status == 0


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    """3 synthetic two-camera sessions and s4, whose 2D files are not HDF5."""
    root = tmp_path_factory.mktemp("batch") / "project"
    for number, name in enumerate(("s1", "s2", "s3"), start=1):
        _synth(root / name, name, seed=number)
    broken = root / "s4" / "pose-2d"
    broken.mkdir(parents=True)
    for camera in ("camA", "camB"):
        (broken / f"s4-{camera}.h5").write_bytes(b"not an HDF5 file")
    shutil.copytree(root / "s1" / "calibration", root / "s4" / "calibration")
    return root


def _batch(project: Path, out: Path, client, **options):
    return run_to_end(run_batch(project, out, client, n_states=FIT["n_states"], n_restarts=FIT["n_restarts"],
                                n_iter=FIT["n_iter"], seed=FIT["seed"], figures=False, **options))


@pytest.fixture(scope="module")
def first_run(project, client, tmp_path_factory):
    out = tmp_path_factory.mktemp("batch_out") / "result"
    result = _batch(project, out, client)
    return out, result


@pytest.mark.parametrize("missing", [0, 5], ids=["complete", "nan-rows"])
def test_distributed_em_equals_the_one_process_fit(client, missing):
    rng = np.random.default_rng(3)
    centers = rng.normal(size=(3, 4)) * 3
    parts, lengths = [], []
    for n_frames in (300, 420, 250, 180):
        states = np.repeat(rng.integers(0, 3, n_frames // 15 + 1), 15)[:n_frames]
        parts.append(centers[states] + rng.normal(size=(n_frames, 4)))
        # features missing in some frames (as a hidden keypoint gives): the fit starts on the complete rows
        parts[-1][rng.choice(n_frames, missing, replace=False), rng.integers(0, 4)] = np.nan
        lengths.append(np.array([n_frames - 40, 40]))
    settings = {"n_states": 3, "n_restarts": 2, "n_iter": 25, "random_state": 0}
    one = FaceHMM(**settings).fit(np.concatenate(parts), np.concatenate(lengths))
    futures = [client.submit(lambda X, L: (X, L), X, L) for X, L in zip(parts, lengths)]
    data = WorkerFeatures(client, futures, [len(X) for X in parts], 4)
    estimator = DistributedFaceHMM(**settings)
    for _ in estimator.fit_progress(data):
        pass
    distributed_fit = estimator.as_face_hmm()
    assert distributed_fit.log_likelihood_ == pytest.approx(one.log_likelihood_, rel=1e-8)
    assert [r["n_iter"] for r in distributed_fit.restarts_] == [r["n_iter"] for r in one.restarts_]
    for name in ("startprob_", "transmat_", "means_", "covars_"):
        np.testing.assert_allclose(getattr(distributed_fit.model_, name), getattr(one.model_, name), atol=1e-9)


def test_batch_equals_the_one_process_analysis_and_names_the_broken_session(project, first_run, tmp_path):
    out, result = first_run
    assert result.names == ["s1", "s2", "s3"] and result.fitted
    assert [(f["session"], f["stage"]) for f in result.failures] == [("s4", "triangulation")]
    failures = pd.read_csv(out / "failures.csv")
    assert failures.session.tolist() == ["s4"] and "not a readable HDF5 file" in failures.error[0]
    assert not (out / "s4").exists()
    report = (out / "report.html").read_text(encoding="utf-8")  # the page of the whole, linking each session's
    for name in ("s1", "s2", "s3"):
        assert f'<a href="{name}/report.html">{name}</a>' in report and (out / name / "report.html").is_file()
    assert "Failed sessions (failures.csv)" in report and "<td>s4</td><td>triangulation</td>" in report

    sources = [project / name / "pose-3d" / f"{name}.csv" for name in ("s1", "s2", "s3")]
    one = run_to_end(run_sessions(sources, FIT["n_states"], tmp_path / "one", settings=FeatureSettings(),
                                  n_restarts=FIT["n_restarts"], n_iter=FIT["n_iter"], seed=FIT["seed"],
                                  fps=30.0, figures=False))
    assert result.log_likelihood == pytest.approx(one.log_likelihood, rel=1e-8)
    assert result.model.log_likelihood_ == pytest.approx(one.model.log_likelihood_, rel=1e-8)
    np.testing.assert_allclose(result.model.model_.means_, one.model.model_.means_, atol=1e-7)
    for name in ("s1", "s2", "s3"):
        ours = pd.read_csv(out / name / "states.csv")
        theirs = pd.read_csv(tmp_path / "one" / name / "states.csv")
        assert ours.state.fillna(-1).tolist() == theirs.state.fillna(-1).tolist()
        summary = json.loads((out / name / "summary.json").read_text())
        assert summary["model"] == "../model.json"
    pd.testing.assert_frame_equal(pd.read_csv(out / "sessions.csv"), pd.read_csv(tmp_path / "one" / "sessions.csv"))
    saved = FaceHMM.load(out / "model.json")
    np.testing.assert_allclose(saved.model_.transmat_, one.model.model_.transmat_, atol=1e-7)


def test_rerun_skips_complete_sessions_and_retries_the_failed_one(project, client, tmp_path):
    fixed = tmp_path / "project"
    shutil.copytree(project, fixed)
    out = tmp_path / "result"
    first = _batch(fixed, out, client)
    assert [f["session"] for f in first.failures] == ["s4"]
    before = {name: (out / name / "states.csv").stat().st_mtime_ns for name in first.names}
    shutil.rmtree(fixed / "s4")
    _synth(fixed / "s4", "s4", seed=4)

    second = _batch(fixed, out, client)
    assert second.skipped == ["s1", "s2", "s3"] and not second.fitted
    assert second.names == ["s1", "s2", "s3", "s4"] and second.failures == []
    assert {name: (out / name / "states.csv").stat().st_mtime_ns for name in first.names} == before
    assert (out / "s4" / "states.csv").is_file() and not (out / "failures.csv").exists()
    assert pd.read_csv(out / "sessions.csv").session.unique().tolist() == ["s1", "s2", "s3", "s4"]


def test_a_worker_killed_during_the_fit_gives_the_same_result(project, client, first_run, tmp_path, caplog):
    _, expected = first_run
    caplog.set_level(logging.WARNING, logger="napari_facehmm.batch.distributed_em")
    job = run_batch(project, tmp_path / "result", client, n_states=FIT["n_states"], n_restarts=FIT["n_restarts"],
                    n_iter=FIT["n_iter"], seed=FIT["seed"], figures=False)
    killed = []
    try:
        while True:
            _, _, message = next(job)
            if "iteration 3:" in message and not killed:
                # the worker holding some sessions' features: Dask recomputes them elsewhere
                pid = next(iter(client.run(os.getpid).values()))
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
    except StopIteration as stop:
        result = stop.value
    assert killed
    # the EM calls had gone to the groups' actors: the lost one sent them back to tasks, which Dask recovers
    assert "a worker was lost" in caplog.text
    assert result.log_likelihood == pytest.approx(expected.log_likelihood, rel=1e-8)
    assert result.names == expected.names


def test_ctrl_c_stops_the_batch_and_leaves_no_half_written_session(project, tmp_path):
    out = tmp_path / "result"
    command = [sys.executable, "-m", "napari_facehmm.cli", "batch", str(project), "--out", str(out), "--workers", "2", "--states", "3", "--restarts", "3",
               "--iterations", "200", "--no-figures"]
    env = {**os.environ, "PYTHONPATH": str(SRC) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    # SIGINT restored before exec (a background job of a non-interactive shell starts with it
    # ignored), so that Python installs its KeyboardInterrupt handler as in a terminal
    child = subprocess.Popen(command, stderr=subprocess.PIPE, stdout=subprocess.PIPE, env=env,
                             preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    seen = b""
    deadline = time.monotonic() + 120
    while b"fitting" not in seen and time.monotonic() < deadline and child.poll() is None:
        seen += child.stderr.read1(4096)
    assert b"fitting" in seen, seen.decode(errors="replace")[-2000:]
    child.send_signal(signal.SIGINT)
    _, err = child.communicate(timeout=90)
    assert child.returncode == 130, err.decode(errors="replace")[-2000:]
    entries = list(out.iterdir()) if out.exists() else []
    assert not [p for p in entries if p.is_dir() and not (p / "summary.json").is_file()]
    assert not [p for p in entries if p.name.startswith(".")]


def test_the_command_exits_non_zero_and_names_the_failed_session(project, tmp_path, capsys):
    out = tmp_path / "result"
    status = main(["batch", str(project), "--out", str(out), "--workers", "2", "--states", "3", "--restarts", "1",
                   "--iterations", "10", "--no-figures", "--quiet"])
    captured = capsys.readouterr()
    assert status == 1
    assert "s4: triangulation: FileFormatError" in captured.err and "3 sessions in" in captured.out
    assert pd.read_csv(out / "failures.csv").session.tolist() == ["s4"]
    assert sorted(p.name for p in out.iterdir() if p.is_dir()) == ["s1", "s2", "s3"]


def test_adjusted_rand_index_from_summed_contingency_tables_is_scikit_learns():
    from sklearn.metrics import adjusted_rand_score

    from napari_facehmm.batch.state_selection import adjusted_rand_from_contingency

    rng = np.random.default_rng(0)
    a, b = rng.integers(0, 4, 500), rng.integers(0, 4, 500)
    b[:300] = a[:300]  # partly agreeing
    tables = [np.bincount(a[s] * 4 + b[s], minlength=16).reshape(4, 4) for s in (slice(0, 200), slice(200, 500))]
    assert adjusted_rand_from_contingency(sum(tables)) == pytest.approx(adjusted_rand_score(a, b), rel=1e-12)
    assert adjusted_rand_from_contingency(np.diag([5, 7, 0, 3])) == 1.0


def test_states_auto_chooses_as_the_one_process_selection(project, client, tmp_path):
    from napari_facehmm.analysis import load_series
    from napari_facehmm.analysis_selection import select_states
    from napari_facehmm.analysis_sessions import shared_features

    out = tmp_path / "result"
    result = run_to_end(run_batch(project, out, client, n_states=(2, 3), n_restarts=2, n_iter=10, seed=0,
                                  figures=False))
    names = ["s1", "s2", "s3"]
    series = [load_series(project / n / "pose-3d" / f"{n}.csv", fps=30.0) for n in names]
    features = shared_features(series, names, FeatureSettings(), 3)
    values = np.concatenate([f.values for f in features])
    lengths = np.concatenate([f.lengths for f in features])
    expected = run_to_end(select_states(values, lengths, [2, 3], n_restarts=2, seed=0,
                                        sessions=[f.lengths for f in features]))

    table = pd.read_csv(out / "model_selection.csv")
    assert not table.isna().any().any()  # every column computed (NaN would compare equal below)
    columns = ["n_states", "log_likelihood", "bic", "heldout_log_likelihood", "restart_ari_mean",
               "heldout_gap_per_frame", "n_train_frames", "n_heldout_frames", "n_features"]
    np.testing.assert_allclose(table[columns].to_numpy(float), expected.table[columns].to_numpy(float),
                               rtol=1e-6, atol=1e-9)
    assert table.chosen.tolist() == expected.table.chosen.tolist()
    assert result.model.n_states == expected.n_states
    summary = json.loads((out / "summary.json").read_text())
    assert summary["model_selection"]["chosen"] == expected.n_states
    assert [f["session"] for f in result.failures] == ["s4"]


def test_sessions_are_grouped_one_group_per_worker_with_about_equal_frames():
    from napari_facehmm.batch.distributed_em import balanced_groups

    # 8 equal sessions, 5 held by worker a: one moves to b; groups list their parts in order
    groups = balanced_groups([100] * 8, ["a", "a", "b", "a", "b", "a", "b", "a"], ["a", "b"])
    assert groups == [("a", [0, 1, 3, 5]), ("b", [2, 4, 6, 7])]
    # unequal sessions: the largest first to the least loaded worker; no empty group
    groups = balanced_groups([500, 100, 100, 100, 100, 100], [None] * 6, ["a", "b"])
    assert sorted(sum(sizes) for sizes in ([[500, 100, 100, 100, 100, 100][i] for i in g] for _, g in groups)) == [
        500, 500]
    assert balanced_groups([10], ["a"], ["a", "b"]) == [("a", [0])]
