"""The one child-process runner (tracking/dlc/runner.py) that labeling and DeepLabCut jobs share.

- Cancel stops a child that ignores SIGTERM with SIGKILL after the grace period;
- labeling's and DeepLabCut's children see the same environment (offline, MPLBACKEND=Agg);
- a child's failure maps to one error type with the child's message, the project's
  input errors coming back as themselves;
- DeepLabCut jobs report the project's ``(done, total, message)`` progress.
"""

from __future__ import annotations

import importlib.util
import math
import signal
import textwrap
import time

import pytest

from napari_facehmm import labeling
from napari_facehmm.errors import Cancelled, DataError, FileFormatError
from napari_facehmm.progress import run_to_end
from napari_facehmm.tracking.dlc.runner import (
    OFFLINE_ENVIRONMENT,
    ChildJob,
    DeepLabCutError,
    DLCJob,
    child_error,
)
from test_dlc_project import make_tiny_dlc_project
from test_labeling import _segment_video

needs_deeplabcut = pytest.mark.skipif(
    importlib.util.find_spec("deeplabcut") is None, reason="deeplabcut is not installed (DLCJob checks for it)"
)

#: a child module with tasks the tests need (served by the runner's own child side)
HELPER_CHILD = '''
import os
import signal
import time

from napari_facehmm.errors import DataError, FileFormatError
from napari_facehmm.tracking.dlc.runner import emit, serve


def stubborn():
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    emit("ready")
    while True:
        time.sleep(0.05)


def failing(kind, message):
    if kind == "DataError":
        raise DataError(message)
    if kind == "FileFormatError":
        raise FileFormatError("/data/cam1.mp4", message)
    raise RuntimeError(message)


def counting(n):
    for i in range(n):
        yield i + 1, n, f"step {i + 1}"
    return {"counted": n}


def main():
    return serve({"stubborn": stubborn, "failing": failing, "counting": counting})
'''


@pytest.fixture
def helper_child(tmp_path, monkeypatch):
    """``module:function`` of :data:`HELPER_CHILD`, importable by the child (PYTHONPATH)."""
    import os

    (tmp_path / "facehmm_test_child.py").write_text(textwrap.dedent(HELPER_CHILD))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(tmp_path), os.environ.get("PYTHONPATH")])))
    return "facehmm_test_child:main"


# ------------------------------------------------------------------ Cancel
def test_cancel_kills_a_child_that_ignores_sigterm_after_the_grace_period(helper_child):
    job = ChildJob(helper_child, "stubborn", {}, grace_s=0.5)
    messages = job.messages()
    assert next(m for m in messages if m["event"] != "line")["event"] == "ready"  # SIGTERM is ignored now
    started = time.monotonic()
    job.cancel()
    elapsed_s = time.monotonic() - started
    assert job.returncode == -signal.SIGKILL  # SIGTERM did nothing; SIGKILL ended it
    assert 0.5 <= elapsed_s < 3.0
    with pytest.raises(Cancelled):
        list(messages)


def test_closing_the_messages_stops_the_child(helper_child):
    job = ChildJob(helper_child, "stubborn", {}, grace_s=0.2)
    messages = job.messages()
    next(m for m in messages if m["event"] == "ready")
    messages.close()  # what closing in_subprocess or a job's progress() does
    assert job.cancelled and job.returncode == -signal.SIGKILL


# ------------------------------------------------------------------ environment
def _environment_of(pid: int) -> dict[str, str]:
    """The environment of child ``pid`` once it runs its own program (read between fork and exec, a
    child shows the parent's command line and environment, or during exec none: seen on a loaded machine)."""
    import psutil

    process, parent = psutil.Process(pid), psutil.Process().cmdline()
    deadline = time.monotonic() + 60
    while process.cmdline() in (parent, []) and time.monotonic() < deadline:
        time.sleep(0.05)
    environment = process.environ()
    return {name: environment.get(name) for name in [*OFFLINE_ENVIRONMENT, "PYTHONUNBUFFERED"]}


@needs_deeplabcut
def test_labeling_and_deeplabcut_children_see_the_same_offline_environment(tmp_path, monkeypatch):
    import psutil

    monkeypatch.setenv("MPLBACKEND", "QtAgg")  # what a viewer's process may have
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    expected = {**OFFLINE_ENVIRONMENT, "PYTHONUNBUFFERED": "1"}
    assert expected["MPLBACKEND"] == "Agg" and expected["HF_HUB_OFFLINE"] == "1"

    video = _segment_video(tmp_path / "long.mp4", n_segments=10, frames_per_segment=40)
    config = labeling.create_project("face", "tester", [video], tmp_path / "work", use_deeplabcut=False)
    extraction = labeling.in_subprocess("extract_frames", config_path=config, n_frames=5, algorithm="kmeans",
                                        use_deeplabcut=False)
    next(extraction)  # the child is running
    (child,) = [p for p in psutil.Process().children(recursive=True) if "_subprocess_main" in " ".join(p.cmdline())]
    labeling_environment = _environment_of(child.pid)
    extraction.close()

    job = DLCJob("models", {})
    job.start()
    try:
        deeplabcut_environment = _environment_of(job.pid)
    finally:
        job.cancel()
    assert labeling_environment == deeplabcut_environment == expected


# ------------------------------------------------------------------ errors
def test_error_mapping_known_answers():
    error = child_error({"type": "KeyError", "message": "'bodyparts'"}, "train")
    assert type(error) is DeepLabCutError
    assert str(error) == "DeepLabCut train failed (KeyError): 'bodyparts'"
    assert (error.error_type, error.step) == ("KeyError", "train")
    error = child_error({"type": "DataError", "message": "too few frames"}, "extract_frames")
    assert type(error) is DataError and str(error) == "too few frames"
    error = child_error({"type": "FileFormatError", "message": "x", "path": "/a/config.yaml", "problem": "not YAML"},
                       "create_project")
    assert type(error) is FileFormatError
    assert str(error.path) == "/a/config.yaml" and error.problem == "not YAML"


def test_a_childs_failure_is_raised_in_the_parent_with_its_message(helper_child):
    with pytest.raises(DeepLabCutError, match=r"DeepLabCut failing failed \(RuntimeError\): the child's own words"):
        ChildJob(helper_child, "failing", {"kind": "RuntimeError", "message": "the child's own words"}).run()
    with pytest.raises(DataError, match="^no frames in cam1$"):
        ChildJob(helper_child, "failing", {"kind": "DataError", "message": "no frames in cam1"}).run()
    with pytest.raises(FileFormatError) as info:
        ChildJob(helper_child, "failing", {"kind": "FileFormatError", "message": "cannot decode"}).run()
    assert str(info.value.path) == "/data/cam1.mp4" and info.value.problem == "cannot decode"


def test_labeling_childs_other_failures_are_the_same_error_type(tmp_path):
    video = _segment_video(tmp_path / "v.mp4", n_segments=2, frames_per_segment=2)
    config = labeling.create_project("face", "tester", [video], tmp_path / "work", use_deeplabcut=False)
    job = labeling.in_subprocess("extract_frames", config_path=config, no_such_option=1)
    with pytest.raises(DeepLabCutError, match="no_such_option") as info:
        labeling.run_to_end(job)
    assert info.value.error_type == "TypeError" and info.value.step == "extract_frames"


def test_a_progress_generator_task_reports_its_steps_and_result(helper_child):
    job = ChildJob(helper_child, "counting", {"n": 3})
    steps = [(m["done"], m["total"], m["message"]) for m in job.messages() if m["event"] == "progress"]
    assert steps == [(1, 3, "step 1"), (2, 3, "step 2"), (3, 3, "step 3")]
    assert job.result == {"event": "result", "counted": 3} and job.returncode == 0


# ------------------------------------------------------------------ DeepLabCut progress
@needs_deeplabcut
def test_training_reports_the_projects_progress(tmp_path, monkeypatch):
    from napari_facehmm.tracking import dlc

    project = make_tiny_dlc_project(tmp_path / "p", n_labeled=4, n_video_frames=3)
    job = dlc.TrainingJob(project["config"], epochs=2)
    lines = [
        "Epoch 1/2 (lr=0.0005), train loss 0.5, valid loss 0.6",
        "some other line DeepLabCut prints",
        "Epoch 2/2 (lr=0.0005), train loss 0.25",
    ]
    monkeypatch.setattr(job, "messages", lambda: iter({"event": "line", "text": t} for t in lines))
    steps = []
    snapshots = run_to_end(job.progress(), steps.append)
    assert steps[:3] == [(0, 2, "starting DeepLabCut"), (1, 2, lines[0]), (2, 2, lines[2])]
    assert steps[3][:2] == (2, 2) and steps[3][2].startswith("training done: 0 snapshot(s)")
    assert snapshots == [] and job.history[0] == (1, 0.5, 0.6)
    assert job.history[1][:2] == (2, 0.25) and math.isnan(job.history[1][2])  # no valid loss that epoch


@needs_deeplabcut
def test_analysis_reports_the_projects_progress_and_returns_the_outputs(tmp_path, monkeypatch):
    from napari_facehmm.tracking import dlc

    project = make_tiny_dlc_project(tmp_path / "p", n_labeled=4, n_video_frames=3)
    video = project["video"]
    output = tmp_path / "vDLC.h5"
    job = dlc.AnalysisJob(project["config"], [video])
    messages = [
        {"event": "video_start", "done": 0, "total": 1, "video": str(video)},
        {"event": "line", "text": " 40%|####      | 16/40 [00:00<00:00, 35.2it/s]"},
        {"event": "video_done", "done": 1, "total": 1, "video": str(video), "output": str(output)},
    ]
    monkeypatch.setattr(job, "messages", lambda: iter(messages))
    steps = []
    outputs = run_to_end(job.progress(), steps.append)
    assert steps == [
        (0, 1, "starting DeepLabCut"),
        (0, 1, f"analyzing {video.name}"),
        (0, 1, f"{video.name}: frame 16/40"),
        (1, 1, f"{video.name} -> vDLC.h5"),
    ]
    assert outputs == [output]
