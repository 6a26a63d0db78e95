"""Issue #18, first part: results written as a set, labels saved as a pair,
unusable output folders found before any work, OSErrors as one line, HMM
states that lose all their frames.

Budget: about a minute (two tiny HMM fits shared by the module, two
``facehmm analyze`` child processes interrupted while writing).
"""

from __future__ import annotations

import errno
import json
import os
import signal
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from napari_facehmm import analysis
from napari_facehmm.cli import main
from napari_facehmm.errors import Cancelled, FaceHMMError
from napari_facehmm.io import _atomic
from napari_facehmm.io._atomic import check_output_dir, results_folder
from napari_facehmm.io.dlc import LabelData, read_labels, write_labels

ROOT = Path(__file__).resolve().parents[1]
SLOW_WRITER = Path(__file__).with_name("slow_writer_cli.py")
IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


# ---------------------------------------------------------------- helpers
def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` (hidden ones too) and its bytes."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def hidden_leftovers(parent: Path) -> list[str]:
    return sorted(p.name for p in parent.iterdir() if p.name.startswith("."))


@pytest.fixture(scope="module")
def pose3d(tmp_path_factory):
    """A 10 s synthetic session's true 3D landmarks (300 frames)."""
    from napari_facehmm.synthetic import generate_session

    out = tmp_path_factory.mktemp("session10")
    truth = generate_session(out, n_cameras=2, seconds=10.0, fps=30.0, seed=0, render_video=False, n_states=3)
    return truth.pose3d_path


@pytest.fixture(scope="module")
def results(pose3d, one_thread):
    """Two different analyses of the same landmarks (2 and 3 states), nothing written."""
    fits = {}
    for n_states in (2, 3):
        fits[n_states] = analysis.analyze(pose3d, n_states, None, n_restarts=1, n_iter=5)
    return fits


@pytest.fixture
def earlier(results, tmp_path):
    """An output folder holding a complete 2-state result; its snapshot."""
    out = tmp_path / "out"
    analysis.run_to_end(analysis.write_outputs(results[2], out, figures=True))
    return out, snapshot(out)


# ------------------------------------------- 1. results written as a set
def _interrupt_nth_call(monkeypatch, owner, name, n, exception, write_half=True):
    """Make the n-th call of ``owner.name`` write half a file, then raise."""
    real = getattr(owner, name)
    calls = []

    def patched(self, path, *args, **kwargs):
        calls.append(path)
        if len(calls) == n:
            if write_half:
                Path(path).parent.mkdir(parents=True, exist_ok=True)
                Path(str(path) if Path(path).suffix else f"{path}.json").write_text("half")
            raise exception
        return real(self, path, *args, **kwargs)

    monkeypatch.setattr(owner, name, patched)
    return calls


@pytest.mark.parametrize(
    "stage",
    ["first table", "third table", "model", "second figure", "full disk at a figure"],
)
def test_interrupted_write_leaves_the_earlier_result_intact(stage, results, earlier, monkeypatch):
    from matplotlib.figure import Figure

    from napari_facehmm.hmm import FaceHMM

    out, before = earlier
    if stage == "first table":
        calls = _interrupt_nth_call(monkeypatch, pd.DataFrame, "to_csv", 1, KeyboardInterrupt())
    elif stage == "third table":
        calls = _interrupt_nth_call(monkeypatch, pd.DataFrame, "to_csv", 3, KeyboardInterrupt())
    elif stage == "model":
        calls = _interrupt_nth_call(monkeypatch, FaceHMM, "save", 1, KeyboardInterrupt())
    elif stage == "second figure":
        calls = _interrupt_nth_call(monkeypatch, Figure, "savefig", 2, KeyboardInterrupt())
    else:
        calls = _interrupt_nth_call(
            monkeypatch, Figure, "savefig", 4, OSError(errno.ENOSPC, "No space left on device")
        )
    with pytest.raises((KeyboardInterrupt, OSError)):
        analysis.run_to_end(analysis.write_outputs(results[3], out, figures=True))
    assert calls, "the patched writer was never called"
    assert snapshot(out) == before
    assert hidden_leftovers(out.parent) == []


def test_a_complete_write_replaces_the_earlier_result_whole(results, earlier):
    out, before = earlier
    (out / "my notes.txt").write_text("mine")
    files = analysis.run_to_end(analysis.write_outputs(results[3], out, figures=False))
    assert json.loads((out / "summary.json").read_text())["n_states"] == 3
    # the earlier run's figures are not left beside a model they do not show
    assert not list(out.glob("*.png"))
    assert (out / "my notes.txt").read_text() == "mine"  # the user's file is carried over
    assert all(path.parent == out and path.is_file() for path in files.values())
    assert hidden_leftovers(out.parent) == []


def test_cancel_while_writing_leaves_the_earlier_result_intact(pose3d, earlier):
    out, before = earlier
    steps = []

    def should_stop():
        return any(message == "saving model" for *_, message in steps)

    job = analysis.run_analysis(pose3d, 3, out, n_restarts=1, n_iter=3, should_stop=should_stop)
    with pytest.raises(Cancelled):
        for step in job:
            steps.append(step)
    assert snapshot(out) == before
    assert hidden_leftovers(out.parent) == []


def test_a_folder_that_is_no_result_is_refused_before_writing(results, tmp_path):
    folder = tmp_path / "documents"
    folder.mkdir()
    (folder / "thesis.docx").write_text("years of work")
    with pytest.raises(FaceHMMError, match="not empty.*thesis.docx"):
        analysis.run_to_end(analysis.write_outputs(results[2], folder, figures=False))
    assert snapshot(folder) == {"thesis.docx": b"years of work"}
    assert hidden_leftovers(tmp_path) == []
    a_file = tmp_path / "a_file"
    a_file.write_text("x")
    with pytest.raises(FaceHMMError, match="is a file"):
        analysis.run_to_end(analysis.write_outputs(results[2], a_file, figures=False))


def test_leftovers_of_a_killed_run_are_cleaned_or_restored(tmp_path):
    dead_pid = _a_dead_pid()
    target = tmp_path / "out"
    target.mkdir()
    (target / "summary.json").write_text("{}")
    stale = tmp_path / f".out.tmp-{dead_pid}-abcdef"
    stale.mkdir()
    (stale / "states.csv").write_text("half")
    with results_folder(target, owned_names={"summary.json"}) as folder:
        (folder / "summary.json").write_text('{"new": 1}')
    assert not stale.exists()
    assert json.loads((target / "summary.json").read_text()) == {"new": 1}
    # killed between the two renames of the swap: the earlier result is put back
    aside = tmp_path / f".out.old-{dead_pid}-abcdef"
    target.rename(aside)
    with pytest.raises(RuntimeError):
        with results_folder(target):
            raise RuntimeError("stop before the swap")
    assert json.loads((target / "summary.json").read_text()) == {"new": 1}
    assert hidden_leftovers(tmp_path) == []


def _a_dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def _run_slow_analyze(args, send=None, marker="WRITING ethogram.png"):
    """Run ``facehmm`` with slow figure writing; send ``send`` when ``marker`` is printed."""
    environment = dict(os.environ, PYTHONPATH=str(ROOT / "src"), OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    child = subprocess.Popen(
        [sys.executable, str(SLOW_WRITER), *map(str, args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=environment,
        # A background job of a non-interactive shell starts with SIGINT ignored
        # (then Python never raises KeyboardInterrupt): restore the default.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    seen = []
    deadline = time.monotonic() + 300
    for line in child.stdout:
        seen.append(line.strip())
        if send is not None and line.strip() == marker:
            child.send_signal(send)
            break
        assert time.monotonic() < deadline
    stdout, stderr = child.communicate(timeout=300)
    return child.returncode, seen + stdout.splitlines(), stderr


@pytest.mark.parametrize("send, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_ctrl_c_or_sigterm_of_facehmm_analyze_while_writing(pose3d, earlier, send, code):
    out, before = earlier
    returncode, stdout, stderr = _run_slow_analyze(
        ["analyze", pose3d, "--states", "3", "--restarts", "1", "--iterations", "3", "--out", out], send=send
    )
    assert "WRITING ethogram.png" in stdout, stderr
    assert returncode == code, stderr
    assert "interrupted" in stderr or "terminated" in stderr
    assert "Traceback" not in stderr
    assert snapshot(out) == before
    assert hidden_leftovers(out.parent) == []


# ------------------------------------------------ 2. labels saved as a pair
def _labels(value: float) -> LabelData:
    images = [f"labeled-data/v/img{i:03d}.png" for i in range(4)]
    labels = LabelData.empty("me", ("nose", "chin"), images)
    labels.positions[:] = value
    return labels


@pytest.fixture
def saved_labels(tmp_path):
    """Labels of value 1 saved as CollectedData_me.h5/.csv (twice, so .bak files exist)."""
    folder = tmp_path / "labeled-data" / "v"
    folder.mkdir(parents=True)
    path = folder / "CollectedData_me.h5"
    write_labels(_labels(0.0), path)
    write_labels(_labels(1.0), path)
    return path


def _values(path: Path) -> float:
    return float(np.unique(read_labels(path).positions)[0])


def test_second_file_failing_puts_the_first_back(saved_labels, monkeypatch):
    csv_path = saved_labels.with_suffix(".csv")
    before = snapshot(saved_labels.parent)
    real_replace = os.replace

    def replace(source, destination):
        if str(destination) == str(csv_path):
            raise PermissionError(errno.EACCES, "Permission denied", str(source))
        return real_replace(source, destination)

    monkeypatch.setattr(_atomic.os, "replace", replace)
    with pytest.raises(FaceHMMError) as caught:
        write_labels(_labels(2.0), saved_labels)
    message = str(caught.value)
    assert str(csv_path) in message and "Permission denied" in message
    monkeypatch.undo()
    assert _values(saved_labels) == 1.0 and _values(csv_path) == 1.0
    assert snapshot(saved_labels.parent) == before  # backups and all: nothing changed, nothing left


def test_ctrl_c_between_the_two_files_changes_neither(saved_labels, monkeypatch):
    before = snapshot(saved_labels.parent)
    _interrupt_nth_call(monkeypatch, pd.DataFrame, "to_csv", 1, KeyboardInterrupt())
    with pytest.raises(KeyboardInterrupt):
        write_labels(_labels(2.0), saved_labels)
    assert snapshot(saved_labels.parent) == before


def test_a_file_we_may_not_write_is_refused_and_nothing_changes(saved_labels, monkeypatch):
    csv_path = saved_labels.with_suffix(".csv")
    before = snapshot(saved_labels.parent)
    real_access = os.access
    monkeypatch.setattr(
        _atomic.os, "access", lambda path, mode, **kw: str(path) != str(csv_path) and real_access(path, mode, **kw)
    )
    with pytest.raises(FaceHMMError, match=f"{csv_path}: could not save the labels: you may not write"):
        write_labels(_labels(2.0), saved_labels)
    assert snapshot(saved_labels.parent) == before


@pytest.mark.skipif(IS_ROOT, reason="running as root: permission bits do not stop root's writes")
def test_a_read_only_csv_is_refused_for_a_user(saved_labels):
    csv_path = saved_labels.with_suffix(".csv")
    csv_path.chmod(0o444)
    with pytest.raises(FaceHMMError, match=str(csv_path)):
        write_labels(_labels(2.0), saved_labels)
    assert _values(saved_labels) == 1.0 and _values(csv_path) == 1.0


def test_each_file_keeps_its_permissions(saved_labels):
    csv_path = saved_labels.with_suffix(".csv")
    saved_labels.chmod(0o640)
    csv_path.chmod(0o444 if IS_ROOT else 0o604)
    write_labels(_labels(2.0), saved_labels)
    assert _values(saved_labels) == 2.0 and _values(csv_path) == 2.0
    assert saved_labels.stat().st_mode & 0o777 == 0o640
    assert csv_path.stat().st_mode & 0o777 == (0o444 if IS_ROOT else 0o604)
    backup = pd.read_hdf(saved_labels.with_name(saved_labels.name + ".bak"), "df_with_missing")
    assert np.unique(backup.to_numpy()).tolist() == [1.0]


def test_stale_temporaries_are_removed_at_the_next_save_and_open(saved_labels):
    folder = saved_labels.parent
    names = [
        ".CollectedData_me.h5.0a1b2c3d.tmp.h5",  # this version's temporaries
        ".CollectedData_me.csv.0a1b2c3d.tmp.csv",
        ".CollectedData_me.h5.0a1b2c3d.old",
        ".CollectedData_me.k2j3h4.tmp.h5",  # earlier versions' names
        ".CollectedData_me.k2j3h4.bak.tmp",
    ]
    for name in names:
        (folder / name).write_text("half")
    write_labels(_labels(2.0), saved_labels)
    assert hidden_leftovers(folder) == []
    # at open: only temporaries old enough not to be another save's, right now
    old, fresh = folder / names[0], folder / names[1]
    for path in (old, fresh):
        path.write_text("half")
    an_hour_ago = time.time() - 3600
    os.utime(old, (an_hour_ago, an_hour_ago))
    assert _values(saved_labels) == 2.0
    assert hidden_leftovers(folder) == [fresh.name]


# --------------------------------- 3. output folders checked before any work
@pytest.fixture
def a_file(tmp_path):
    path = tmp_path / "a_file.txt"
    path.write_text("not a folder")
    return path


def _forbid(monkeypatch, module, name):
    def fail(*args, **kwargs):
        raise AssertionError(f"{name} ran although the output folder is unusable")

    monkeypatch.setattr(module, name, fail)


def test_analyze_checks_out_before_reading_or_fitting(pose3d, a_file, monkeypatch, capsys):
    _forbid(monkeypatch, analysis, "load_series")
    for out, cause in ((a_file / "sub", "is a file, not a folder"), (a_file, "is a file, not a folder")):
        assert main(["analyze", str(pose3d), "--out", str(out)]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "Traceback" not in err
        assert f"--out {out}" in err and cause in err


@pytest.mark.skipif(IS_ROOT, reason="running as root: permission bits do not stop root's writes")
def test_analyze_refuses_an_unwritable_folder(pose3d, tmp_path, monkeypatch, capsys):
    _forbid(monkeypatch, analysis, "load_series")
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    assert main(["analyze", str(pose3d), "--out", str(locked / "out")]) == 2
    assert "Permission denied" in capsys.readouterr().err


def test_demo_triangulate_calibrate_check_their_outputs_first(tmp_path, a_file, monkeypatch, capsys):
    import napari_facehmm.synthetic as synthetic
    import napari_facehmm.tracking.anipose as anipose

    _forbid(monkeypatch, synthetic, "generate_session")
    _forbid(monkeypatch, anipose, "triangulate_project")
    _forbid(monkeypatch, anipose, "calibrate_project")
    cases = [
        (["demo", "--out", str(a_file / "demo")], "--out"),
        (["triangulate", str(tmp_path), "--output-dir", str(a_file)], "--output-dir"),
        (["triangulate", str(a_file)], "PROJECT/pose-3d"),
        (["calibrate", str(tmp_path), "--output", str(a_file / "calibration.toml")], "--output"),
    ]
    for argv, option in cases:
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and option in err and "is a file" in err, err


def test_check_output_dir_accepts_new_and_earlier_result_folders(tmp_path):
    assert check_output_dir(tmp_path / "new" / "deeper", "--out", result_set=True) == tmp_path / "new" / "deeper"
    earlier = tmp_path / "earlier"
    earlier.mkdir()
    (earlier / "summary.json").write_text("{}")
    check_output_dir(earlier, "--out", result_set=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["earlier"]  # the check creates nothing


def test_an_oserror_is_one_line_exit_1_and_debug_shows_the_traceback(monkeypatch, capsys):
    import napari_facehmm.commands.analyze as analyze_command

    def run(args):
        raise OSError(errno.ENOSPC, "No space left on device", "/data/out/states.csv")

    monkeypatch.setattr(analyze_command, "run", run)
    assert main(["analyze", "in.csv", "--out", "x"]) == 1
    err = capsys.readouterr().err
    assert err == "facehmm analyze: error: /data/out/states.csv: No space left on device\n"
    for argv in (["--debug", "analyze", "in.csv", "--out", "x"], ["analyze", "in.csv", "--out", "x", "--debug"]):
        assert main(argv) == 1
        err = capsys.readouterr().err
        assert "Traceback" in err and err.endswith("/data/out/states.csv: No space left on device\n")


# ------------------------------------------------- 5. an HMM state emptied
def _few_distinct_frames(seed: int):
    """Frames drawn from a handful of distinct rows (as a briefly trained tracker gives)."""
    rng = np.random.default_rng(seed)
    n_distinct = int(rng.integers(3, 6))
    n_features = int(rng.integers(2, 8))
    distinct = rng.normal(size=(n_distinct, n_features))
    X = distinct[rng.integers(0, n_distinct, size=180)]
    X = X + rng.normal(scale=float(rng.choice([0, 1e-6, 1e-3])), size=X.shape)
    return X, n_distinct


@pytest.mark.parametrize("seed, covariance_type, n_states", [(13, "full", 5), (14, "full", 3), (32, "full", 5)])
def test_a_state_that_loses_all_its_frames_is_reseeded(seed, covariance_type, n_states, one_thread):
    from napari_facehmm.hmm import FaceHMM

    X, n_distinct = _few_distinct_frames(seed)
    model = FaceHMM(n_states=n_states, covariance_type=covariance_type, n_restarts=2, n_iter=50, random_state=seed)
    messages = [step.message for step in model.fit_progress(X)]
    assert any("lost all its frames, re-seeded at frame" in m for m in messages)
    assert sum(r["n_reseeded"] for r in model.restarts_) >= 1
    hmm = model.model_
    for array in (hmm.startprob_, hmm.transmat_, hmm.means_, hmm.covars_):
        assert np.isfinite(array).all()
    np.testing.assert_allclose(hmm.transmat_.sum(axis=1), 1.0)
    states = model.predict(X)
    assert states.shape == (180,) and len(np.unique(states)) <= n_states
    assert np.isfinite(model.score(X))


def test_data_without_emptied_states_fits_as_before(one_thread):
    """Well separated clusters: no re-seed, the known states are found."""
    from napari_facehmm.hmm import FaceHMM

    rng = np.random.default_rng(0)
    truth = np.repeat(np.arange(3), 60)
    X = rng.normal(size=(180, 2)) * 0.1 + np.array([[0, 0], [3, 0], [0, 3]])[truth]
    model = FaceHMM(n_states=3, n_restarts=1, random_state=0).fit(X)
    assert all(r["n_reseeded"] == 0 for r in model.restarts_)
    from sklearn.metrics import adjusted_rand_score

    assert adjusted_rand_score(truth, model.predict(X)) == 1.0


def test_a_saved_model_is_replaced_as_a_pair(tmp_path, monkeypatch):
    """model.json and model.npz are one model: a failure while replacing them leaves the earlier pair."""
    import os

    from napari_facehmm.hmm import FaceHMM

    rng = np.random.default_rng(0)
    values = np.concatenate([rng.normal(0, 1, (60, 2)), rng.normal(5, 1, (60, 2))])
    first = FaceHMM(n_states=2, n_restarts=1, random_state=0).fit(values)
    first.save(tmp_path / "model")
    before = {name: (tmp_path / name).read_bytes() for name in ("model.json", "model.npz")}
    second = FaceHMM(n_states=2, n_restarts=1, random_state=1, n_iter=3).fit(values[::-1].copy())
    real_replace = os.replace
    calls = []

    def failing_replace(source, target):
        calls.append(str(target))
        if str(target).endswith("model.json"):
            raise OSError(28, "No space left on device", str(target))
        return real_replace(source, target)

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(OSError):
        second.save(tmp_path / "model")
    monkeypatch.setattr(os, "replace", real_replace)
    assert any(c.endswith("model.npz") for c in calls), "the npz was not replaced first: the test tests nothing"
    assert {name: (tmp_path / name).read_bytes() for name in ("model.json", "model.npz")} == before
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_triangulating_a_project_writes_all_sessions_or_none(synthetic_session, tmp_path):
    """A session that fails after another succeeded leaves no new pose-3d table (and the earlier ones intact)."""
    from napari_facehmm.errors import FaceHMMError
    from napari_facehmm.io.dlc import read_dlc_analysis, write_dlc_analysis
    from napari_facehmm.progress import run_to_end
    from napari_facehmm.tracking.anipose import triangulate_project

    project = tmp_path / "project"
    (project / "pose-2d").mkdir(parents=True)
    (project / "calibration").mkdir()
    shutil.copy(synthetic_session.calibration_path, project / "calibration" / "calibration.toml")
    for camera, path in synthetic_session.pose2d_paths.items():
        shutil.copy(path, project / "pose-2d" / f"a-{camera}.h5")
        series = read_dlc_analysis(path)
        if camera == "camB":  # session b's camB is shorter: it cannot be triangulated
            series = series.select_frames(slice(0, series.n_frames // 2))
        write_dlc_analysis(series, project / "pose-2d" / f"b-{camera}.h5")
    earlier = project / "pose-3d" / "a.csv"
    earlier.parent.mkdir()
    earlier.write_text("an earlier result\n")
    with pytest.raises(FaceHMMError):
        run_to_end(triangulate_project(project))
    assert earlier.read_text() == "an earlier result\n"
    assert sorted(p.name for p in (project / "pose-3d").iterdir()) == ["a.csv"]


def test_calibrating_a_project_replaces_calibration_and_detections_together(synthetic_session, tmp_path, monkeypatch):
    import os

    from napari_facehmm.progress import run_to_end
    from napari_facehmm.tracking.anipose import calibrate_project

    project = tmp_path / "project"
    (project / "calibration").mkdir(parents=True)
    for path in synthetic_session.charuco_video_paths.values():
        shutil.copy(path, project / "calibration" / path.name)
    shutil.copy(synthetic_session.config_path, project / "config.toml")
    toml, detections = project / "calibration" / "calibration.toml", project / "calibration" / "board-detections.csv"
    toml.write_text("# earlier\n")
    detections.write_text("earlier\n")
    real_replace = os.replace

    def failing_replace(source, target):
        if str(target).endswith("board-detections.csv"):
            raise OSError(28, "No space left on device", str(target))
        return real_replace(source, target)

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(OSError):
        run_to_end(calibrate_project(project))
    assert toml.read_text() == "# earlier\n" and detections.read_text() == "earlier\n"


KILL_BETWEEN_RENAMES = """
import os, signal, sys
import numpy as np
from napari_facehmm.io.dlc import LabelData, write_labels
real_replace = os.replace
def replace(source, target):
    if str(target).endswith("CollectedData_me.csv"):
        os.kill(os.getpid(), signal.SIGKILL)  # the .h5 is in place, the .csv not yet
    return real_replace(source, target)
os.replace = replace
images = [f"labeled-data/v/img{i:03d}.png" for i in range(3)]
positions = np.full((3, 2, 2), float(sys.argv[2]))
write_labels(LabelData(scorer="me", keypoints=("nose1", "chin"), images=images, positions=positions), sys.argv[1])
"""


def test_a_labels_save_killed_between_its_two_files_is_completed_at_the_next_open(tmp_path):
    """SIGKILL after the .h5 was replaced and before the .csv: the next open makes them agree (newest save)."""
    from napari_facehmm.io.dlc import LabelData, read_labels

    folder = tmp_path / "labeled-data" / "v"
    folder.mkdir(parents=True)
    path = folder / "CollectedData_me.h5"
    images = [f"labeled-data/v/img{i:03d}.png" for i in range(3)]
    write_labels(LabelData(scorer="me", keypoints=("nose1", "chin"), images=images,
                           positions=np.full((3, 2, 2), 1.0)), path)
    child = subprocess.run([sys.executable, "-c", KILL_BETWEEN_RENAMES, str(path), "2.0"], capture_output=True)
    assert child.returncode == -signal.SIGKILL, child.stderr.decode()
    # killed half way: the .h5 holds the new labels, the .csv the old ones
    assert np.all(read_dlc_positions(path.with_suffix(".csv")) == 1.0)
    labels = read_labels(path)
    assert np.all(labels.positions == 2.0)
    assert np.all(read_labels(path.with_suffix(".csv")).positions == 2.0)
    assert not [p.name for p in folder.iterdir() if p.name.startswith(".")]


def read_dlc_positions(path_csv):
    """The label positions of a .csv read without the open-time completion."""
    import pandas as pd

    table = pd.read_csv(path_csv, header=[0, 1, 2], index_col=[0, 1, 2])
    return table.to_numpy(dtype=float)
