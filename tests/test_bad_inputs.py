"""Issue #18: bad inputs across the readers, the commands, the napari reader and
writer and labeling.

Every case asserts the same four things: the error (type, or exit status 2
for our errors and argparse's, 1 for OS errors), a message naming the file or
the option, no traceback, the inputs unchanged (sha256 before and after) and
no partial output. Repairs (rows out of order, exact duplicate rows) assert
the warning that says what was repaired and the repaired result.

Budget: a few seconds (one 4 s synthetic session without video, no fit).
"""

from __future__ import annotations

import hashlib
import re
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from napari_facehmm.cli import main
from napari_facehmm.errors import DataError, FaceHMMError, FileFormatError, UnsupportedFileError
from napari_facehmm.io import read_landmarks
from napari_facehmm.io._checks import RepairedInputWarning
from napari_facehmm.io.anipose import read_calibration, read_pose3d
from napari_facehmm.io.dlc import LabelData, read_dlc_analysis, read_dlc_config, read_labels, write_labels
from napari_facehmm.io.openface import read_openface


# ---------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def good(tmp_path_factory):
    """Small good files of every kind; the cases derive their bad files from them."""
    from napari_facehmm.io.dlc import write_dlc_analysis
    from napari_facehmm.synthetic import generate_session

    root = tmp_path_factory.mktemp("good")
    truth = generate_session(root / "session", n_cameras=2, seconds=4.0, fps=30.0, seed=0,
                             render_video=False, n_states=3)
    series = read_dlc_analysis(truth.pose2d_paths["camA"])
    labels = LabelData("me", series.keypoints[:3], [f"labeled-data/v/img{i:03d}.png" for i in range(4)],
                       series.positions[:4, :3])
    (root / "project" / "labeled-data" / "v").mkdir(parents=True)
    header = ["frame", "timestamp", "confidence", "success"] + [f"x_{i}" for i in range(3)] + [f"y_{i}" for i in range(3)]
    rows = [", ".join([str(t + 1), f"{t / 30:.3f}", "0.9", "1"] + [f"{10 * i + t}.5" for i in range(3)]
                      + [f"{20 * i + t}.25" for i in range(3)]) for t in range(6)]
    (root / "openface.csv").write_text("\n".join([", ".join(header), *rows]) + "\n")
    config = root / "project" / "config.yaml"
    config.write_text("Task: t\nscorer: me\ndate: d\nbodyparts: [lefteye1, lefteye2, righteye1]\n"
                      "video_sets: {}\nnumframes2pick: 5\n")
    return {
        "session": truth.out_dir,
        "pose3d": truth.pose3d_path,
        "calibration": truth.calibration_path,
        "dlc_h5": truth.pose2d_paths["camA"],
        "dlc_csv": write_dlc_analysis(series, root / "camA.csv"),
        "labels": write_labels(labels, root / "project" / "labeled-data" / "v" / "CollectedData_me.h5"),
        "openface": root / "openface.csv",
        "config": config,
    }


def sha256_tree(*roots: Path) -> dict[str, str]:
    """sha256 of every file under (or at) ``roots``."""
    out = {}
    for root in roots:
        files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
        for path in files:
            out[str(path)] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def no_traceback(text: str) -> None:
    assert "Traceback" not in text and 'File "' not in text, text


# --------------------------------------------------------- bad file makers
def lines_of(path: Path) -> list[str]:
    return path.read_text().splitlines(keepends=True)


def set_cell(lines: list[str], row: int, column: int, value: str) -> list[str]:
    cells = lines[row].rstrip("\n").split(",")
    cells[column] = value
    return lines[:row] + [",".join(cells) + "\n"] + lines[row + 1:]


def drop_column(lines: list[str], column: int) -> list[str]:
    return [",".join(c for i, c in enumerate(line.rstrip("\n").split(",")) if i != column) + "\n" for line in lines]


def dlc_csv(edit):
    """A DeepLabCut analysis CSV edited by ``edit(lines)``; 3 header rows, data from line 3."""
    return lambda good, folder: _write(folder / "bad_DLC.csv", "".join(edit(lines_of(good["dlc_csv"]))))


def pose3d_csv(edit):
    def make(good, folder):
        table = edit(pd.read_csv(good["pose3d"]))
        path = folder / "bad_pose3d.csv"
        table.to_csv(path, index=False)
        return path
    return make


def openface_csv(edit):
    return lambda good, folder: _write(folder / "bad_openface.csv", "".join(edit(lines_of(good["openface"]))))


def calibration_toml(pattern, replacement):
    return lambda good, folder: _write(
        folder / "bad_calibration.toml", re.sub(pattern, replacement, good["calibration"].read_text(), count=1)
    )


def text(name, content):
    return lambda good, folder: _write(folder / name, content)


def binary(name, content):
    def make(good, folder):
        path = folder / name
        path.write_bytes(content)
        return path
    return make


def good_file(key):
    return lambda good, folder: good[key]


def _write(path: Path, content: str) -> Path:
    path.write_text(content)
    return path


GARBAGE = bytes(range(256)) * 4


# ------------------------------------------------------------ the readers
#: (id, reader, make(good, folder) -> path, error type, message pattern)
READER_CASES = [
    ("landmarks-wrong-extension", read_landmarks, text("points.txt", "1,2\n"), UnsupportedFileError, r"\.txt"),
    ("landmarks-empty-csv", read_landmarks, text("empty.csv", ""), FileFormatError, "empty"),
    ("landmarks-binary-csv", read_landmarks, binary("garbage.csv", GARBAGE), FileFormatError, "not a readable CSV"),
    ("landmarks-binary-h5", read_landmarks, binary("garbage.h5", b"\x89HDF\r\n" + GARBAGE), FileFormatError,
     "not a readable HDF5"),
    ("landmarks-folder", read_landmarks, lambda good, folder: folder, FileFormatError, "is a folder"),
    ("landmarks-missing", read_landmarks, lambda good, folder: folder / "gone.csv", FileFormatError, "does not exist"),
    ("landmarks-unknown-csv", read_landmarks, text("table.csv", "a,b\n1,2\n"), UnsupportedFileError,
     "matches no landmark format"),
    ("dlc-truncated-last-row", read_dlc_analysis, dlc_csv(lambda l: l[:-1] + [l[-1][: len(l[-1]) // 2]]),
     FileFormatError, "last row has .* fields: the file was cut off"),
    ("dlc-inf-coordinate", read_dlc_analysis, dlc_csv(lambda l: set_cell(l, 5, 1, "inf")), FileFormatError,
     "non-finite value inf in column .*lefteye1/x"),
    ("dlc-minus-inf-likelihood", read_dlc_analysis, dlc_csv(lambda l: set_cell(l, 5, 3, "-inf")), FileFormatError,
     "non-finite value -inf in column .*likelihood"),
    ("dlc-repeated-frame-differs", read_dlc_analysis, dlc_csv(lambda l: set_cell(l, 5, 0, "1")), FileFormatError,
     "frame 1 appears in several rows with different values"),
    ("dlc-negative-frame", read_dlc_analysis, dlc_csv(lambda l: set_cell(l, 3, 0, "-4")), FileFormatError,
     "must be at least 0; row 1 has -4"),
    ("dlc-fractional-frame", read_dlc_analysis, dlc_csv(lambda l: set_cell(l, 3, 0, "0.5")), FileFormatError,
     "whole frame numbers; row 1 has 0.5"),
    ("dlc-empty-frame", read_dlc_analysis, dlc_csv(lambda l: set_cell(l, 3, 0, "")), FileFormatError,
     "whole frame numbers; row 1 has nan"),
    ("dlc-missing-y-column", read_dlc_analysis, dlc_csv(lambda l: drop_column(l, 2)), FileFormatError,
     "'lefteye1' has 0 'y' columns"),
    ("dlc-non-numeric", read_dlc_analysis, dlc_csv(lambda l: set_cell(l, 4, 2, "abc")), FileFormatError,
     "non-numeric value 'abc'"),
    ("dlc-header-only", read_dlc_analysis, dlc_csv(lambda l: l[:3]), FileFormatError, "too few lines|no data rows"),
    ("labels-h5-as-tracking", read_landmarks, good_file("labels"), FileFormatError,
     "labels file, not the tracking output of a video"),
    ("labels-csv-as-tracking", read_dlc_analysis, lambda good, folder: good["labels"].with_suffix(".csv"),
     FileFormatError, "labels file, not the tracking output of a video"),
    ("tracking-as-labels", read_labels, good_file("dlc_h5"), FileFormatError,
     "frame numbers: this is the tracking output of a video, not a labels file"),
    ("labels-binary", read_labels, binary("CollectedData_x.h5", GARBAGE), FileFormatError, "not a readable HDF5"),
    ("labels-missing", read_labels, lambda good, folder: folder / "CollectedData_y.h5", FileFormatError,
     "does not exist"),
    ("labels-inf", read_labels, lambda good, folder: _write(
        folder / "CollectedData_me.csv",
        "".join(set_cell(lines_of(good["labels"].with_suffix(".csv")), 4, 3, "inf"))), FileFormatError,
     "non-finite value inf"),
    ("pose3d-missing-z", read_pose3d, pose3d_csv(lambda t: t.drop(columns=["lefteye1_z"])), FileFormatError,
     r"missing coordinate columns \['lefteye1_z'\]"),
    ("pose3d-inf", read_pose3d, pose3d_csv(lambda t: t.assign(nose1_y=np.where(t.index == 3, np.inf, t["nose1_y"]))),
     FileFormatError, "non-finite value inf in column nose1_y"),
    ("pose3d-repeated-fnum-differs", read_pose3d, pose3d_csv(lambda t: t.assign(fnum=np.r_[0, 0, t["fnum"][2:]])),
     FileFormatError, "frame 0 appears in several rows with different values"),
    ("pose3d-negative-fnum", read_pose3d, pose3d_csv(lambda t: t.assign(fnum=t["fnum"] - 3)), FileFormatError,
     "fnum must be at least 0"),
    ("pose3d-truncated", read_pose3d, lambda good, folder: _write(
        folder / "cut.csv", good["pose3d"].read_text()[:-200]), FileFormatError, "the file was cut off"),
    ("pose3d-empty-rotation", read_pose3d, pose3d_csv(lambda t: t.assign(M_00=np.nan)), FileFormatError,
     "M_00 must be a number on every row"),
    ("pose3d-given-dlc", read_pose3d, good_file("dlc_csv"), FileFormatError, "not an Anipose pose-3d table"),
    ("pose3d-header-only", read_pose3d, text("head.csv", "a_x,a_y,a_z\n"), FileFormatError, "no rows"),
    ("openface-no-landmarks", read_openface, openface_csv(lambda l: [",".join(x.split(",")[:4]) + "\n" for x in l]),
     FileFormatError, "no OpenFace 2D landmark columns"),
    ("openface-x-without-y", read_openface, openface_csv(lambda l: [x.replace("y_2", "q_2") for x in l]),
     FileFormatError, "landmark 2 lacks column"),
    ("openface-inf", read_openface, openface_csv(lambda l: l[:2] + [re.sub(r"1\.5", "inf", l[2], count=1)] + l[3:]),
     FileFormatError, "non-finite value inf in column x_0"),
    ("openface-truncated", read_openface, openface_csv(lambda l: l[:-1] + [l[-1][:20]]), FileFormatError,
     "the file was cut off"),
    ("openface-frame-zero", read_openface, openface_csv(lambda l: [l[0], "0" + l[1][1:]] + l[2:]), FileFormatError,
     "frame must be at least 1"),
    ("openface-given-pose3d", read_openface, good_file("pose3d"), FileFormatError, "no OpenFace 2D landmark columns"),
    ("config-missing-keys", read_dlc_config, text("config.yaml", "Task: t\n"), FileFormatError,
     "missing required settings: scorer, bodyparts"),
    ("config-binary", read_dlc_config, binary("config.yaml", GARBAGE), FileFormatError, "not valid YAML"),
    ("config-empty", read_dlc_config, text("config.yaml", ""), FileFormatError, "empty, or not a mapping"),
    ("config-folder", read_dlc_config, lambda good, folder: folder, FileFormatError, "is a folder"),
    ("config-repeated-bodyparts", read_dlc_config, text("config.yaml", "Task: t\nscorer: s\nbodyparts: [a, a]\n"),
     FileFormatError, "bodyparts repeat"),
    ("calibration-binary", read_calibration, binary("calibration.toml", GARBAGE), FileFormatError,
     "not a valid TOML"),
    ("calibration-no-cameras", read_calibration, text("calibration.toml", ""), FileFormatError, "no camera tables"),
    ("calibration-missing-matrix", read_calibration, calibration_toml("matrix", "matrox"), FileFormatError,
     r"\[cam_0\] lacks matrix"),
    ("calibration-inf", read_calibration, calibration_toml(r"translation = \[ [^,]+,", "translation = [ inf,"),
     FileFormatError, r"\[cam_0\] translation has non-finite values"),
    ("calibration-zero-focal", read_calibration, calibration_toml(r"matrix = \[ \[ [^,]+,", "matrix = [ [ 0.0,"),
     FileFormatError, "focal lengths fx, fy > 0"),
]


@pytest.mark.parametrize("reader, make, error, pattern", [c[1:] for c in READER_CASES],
                         ids=[c[0] for c in READER_CASES])
def test_reader_refuses(good, tmp_path, reader, make, error, pattern):
    path = make(good, tmp_path)
    inputs = [p for p in (path, *good.values()) if p.exists()]
    before = sha256_tree(*inputs)
    with pytest.raises(error, match=pattern) as info:
        reader(path)
    assert str(path) in str(info.value)
    assert sha256_tree(*inputs) == before


#: (id, reader, make, repair pattern, frames expected)
REPAIR_CASES = [
    ("dlc-rows-out-of-order", read_dlc_analysis, dlc_csv(lambda l: l[:3] + [l[4], l[3]] + l[5:]),
     r"sorted the rows by the frame column \(row 2, frame 0, came after frame 1\)", None),
    ("dlc-exact-duplicate-row", read_dlc_analysis, dlc_csv(lambda l: l[:5] + [l[4]] + l[5:]),
     "dropped 1 repeated row", None),
    ("pose3d-fnum-out-of-order", read_pose3d, pose3d_csv(lambda t: t.iloc[[1, 0, *range(2, len(t))]]),
     "sorted the rows by fnum", None),
    ("pose3d-exact-duplicate-row", read_pose3d, pose3d_csv(lambda t: pd.concat([t.iloc[:3], t.iloc[2:]])),
     "dropped 1 repeated row.*first frame 2", None),
    ("openface-rows-out-of-order", read_openface, openface_csv(lambda l: l[:2] + [l[3], l[2]] + l[4:]),
     "sorted the rows by frame", [0, 1, 2, 3, 4, 5]),
    ("openface-exact-duplicate-row", read_openface, openface_csv(lambda l: l[:3] + [l[2]] + l[3:]),
     "dropped 1 repeated row.*first frame 2", [0, 1, 2, 3, 4, 5]),
]


@pytest.mark.parametrize("reader, make, pattern, frames", [c[1:] for c in REPAIR_CASES],
                         ids=[c[0] for c in REPAIR_CASES])
def test_reader_repairs_and_says_so(good, tmp_path, reader, make, pattern, frames):
    path = make(good, tmp_path)
    before = sha256_tree(path)
    with pytest.warns(RepairedInputWarning, match=pattern) as caught:
        series = reader(path)
    assert str(path) in str(caught[0].message)
    assert np.all(np.diff(series.frame_indices) > 0)
    if frames is not None:
        np.testing.assert_array_equal(series.frame_indices, frames)
    else:  # the good file's series, whatever the file's row order
        original = read_pose3d(good["pose3d"]) if reader is read_pose3d else read_dlc_analysis(good["dlc_csv"])
        np.testing.assert_array_equal(series.frame_indices, original.frame_indices)
        np.testing.assert_allclose(series.positions, original.positions)
    assert sha256_tree(path) == before  # repaired in memory; the file is the user's


def test_good_files_read_without_warnings(good):
    with warnings.catch_warnings():
        warnings.simplefilter("error", RepairedInputWarning)
        for key in ("dlc_csv", "dlc_h5", "pose3d", "openface"):
            read_landmarks(good[key])
        read_labels(good["labels"])
        read_calibration(good["calibration"])


# ------------------------------------------------------------ the commands
def _argv(good, out, *argv):
    replace = {"POSE3D": str(good["pose3d"]), "LABELS": str(good["labels"]), "CONFIG": str(good["config"]),
               "SESSION": str(good["session"]), "OUT": str(out), "FILE": str(good["pose3d"])}
    return [replace.get(a, a) for a in argv]


#: (id, argv, exit status, pattern in stderr); "OUT" must not appear afterwards
CLI_CASES = [
    ("analyze-states-0", ["analyze", "POSE3D", "--out", "OUT", "--states", "0"], 2,
     r"argument --states: must be a whole number \(from 1 to 100\); got 0"),
    ("analyze-states-huge", ["analyze", "POSE3D", "--out", "OUT", "--states", "100000"], 2, "argument --states"),
    ("analyze-states-text", ["analyze", "POSE3D", "--out", "OUT", "--states", "many"], 2,
     "argument --states: must be a whole number"),
    ("analyze-fps-negative", ["analyze", "POSE3D", "--out", "OUT", "--fps", "-1"], 2,
     r"argument --fps: must be a number \(greater than 0"),
    ("analyze-fps-nan", ["analyze", "POSE3D", "--out", "OUT", "--fps", "nan"], 2, "argument --fps"),
    ("analyze-max-gap-negative", ["analyze", "POSE3D", "--out", "OUT", "--max-gap", "-3"], 2,
     r"argument --max-gap: must be a whole number \(from 0 to 100000\); got -3"),
    ("analyze-min-confidence-2", ["analyze", "POSE3D", "--out", "OUT", "--min-confidence", "2"], 2,
     r"argument --min-confidence: must be a number \(from 0 to 1\); got 2"),
    ("analyze-restarts-0", ["analyze", "POSE3D", "--out", "OUT", "--restarts", "0"], 2, "argument --restarts"),
    ("analyze-iterations-0", ["analyze", "POSE3D", "--out", "OUT", "--iterations", "0"], 2, "argument --iterations"),
    ("analyze-seed-negative", ["analyze", "POSE3D", "--out", "OUT", "--seed", "-1"], 2,
     r"argument --seed: must be a whole number \(from 0 to 4294967295\)"),
    ("analyze-labels-file", ["analyze", "LABELS", "--out", "OUT"], 2,
     "CollectedData_me.h5: its rows are labeled images"),
    ("analyze-missing-input", ["analyze", "OUT/../nope.csv", "--out", "OUT"], 2, "nope.csv: file does not exist"),
    ("analyze-unknown-reference", ["analyze", "POSE3D", "--out", "OUT", "--reference", "nosuch"], 2,
     "--reference: no keypoint 'nosuch'"),
    ("analyze-unknown-rigid", ["analyze", "POSE3D", "--out", "OUT", "--rigid-keypoints", "nose1,nosuch"], 2,
     "--rigid-keypoints: no keypoint 'nosuch'"),
    ("analyze-out-is-file", ["analyze", "POSE3D", "--out", "FILE"], 2, "--out .*pose-3d.csv: is a file"),
    ("demo-seconds-0", ["demo", "--out", "OUT", "--seconds", "0"], 2, r"argument --seconds: .*greater than 0"),
    ("demo-seconds-huge", ["demo", "--out", "OUT", "--seconds", "1e9"], 2, r"argument --seconds: .*at most 3600"),
    ("demo-fps-negative", ["demo", "--out", "OUT", "--fps", "-1"], 2, "argument --fps"),
    ("demo-cameras-0", ["demo", "--out", "OUT", "--cameras", "0"], 2, r"argument --cameras: .*from 1 to 8"),
    ("demo-true-states-99", ["demo", "--out", "OUT", "--true-states", "99"], 2,
     r"argument --true-states: .*from 2 to 10"),
    ("synth-size-1x1", ["synth", "--out", "OUT", "--size", "1x1"], 2,
     "argument --size: must be from 64x48 to 4096x4096; got 1x1"),
    ("synth-size-text", ["synth", "--out", "OUT", "--size", "big"], 2, "argument --size: size must be WIDTHxHEIGHT"),
    ("synth-seconds-negative", ["synth", "--out", "OUT", "--seconds", "-5"], 2, "argument --seconds"),
    ("synth-noise-negative", ["synth", "--out", "OUT", "--noise-px", "-1"], 2,
     r"argument --noise-px: must be a number \(from 0 to 100\); got -1"),
    ("synth-dropout-2", ["synth", "--out", "OUT", "--dropout-rate", "2"], 2,
     r"argument --dropout-rate: .*at least 0 and less than 1"),
    ("synth-head-motion-negative", ["synth", "--out", "OUT", "--head-motion", "-1"], 2, "argument --head-motion"),
    ("synth-states-1", ["synth", "--out", "OUT", "--states", "1"], 2, r"argument --states: .*from 2 to 10"),
    ("synth-cameras-99", ["synth", "--out", "OUT", "--cameras", "99"], 2, "argument --cameras"),
    ("synth-out-is-file", ["synth", "--out", "FILE", "--no-video"], 2, "--out .*pose-3d.csv: is a file"),
    ("calibrate-skip-0", ["calibrate", "SESSION", "--skip", "0"], 2, r"argument --skip: must be a whole number \(from 1 to 10000\); got 0"),
    ("calibrate-board-0", ["calibrate", "SESSION", "--board-size", "0", "7"], 2, "argument --board-size"),
    ("calibrate-square-negative", ["calibrate", "SESSION", "--square-length", "-1"], 2, "argument --square-length"),
    ("calibrate-marker-too-big", ["calibrate", "SESSION", "--square-length", "10", "--marker-length", "20"], 2,
     "--marker-length 20 must be less than --square-length 10"),
    ("calibrate-marker-bits-0", ["calibrate", "SESSION", "--marker-bits", "0"], 2,
     r"argument --marker-bits: .*from 4 to 7"),
    ("calibrate-dict-7", ["calibrate", "SESSION", "--dict-number", "7"], 2, "argument --dict-number: invalid choice"),
    ("calibrate-missing-project", ["calibrate", "OUT"], 2, "project folder does not exist"),
    ("dlc-shuffle-0", ["dlc", "create-dataset", "CONFIG", "--shuffle", "0"], 2, "argument --shuffle"),
    ("dlc-train-fraction-1.5", ["dlc", "create-dataset", "CONFIG", "--train-fraction", "1.5"], 2,
     r"argument --train-fraction: .*greater than 0 and less than 1"),
    ("dlc-epochs-0", ["dlc", "train", "CONFIG", "--epochs", "0"], 2, "argument --epochs"),
    ("dlc-batch-size-0", ["dlc", "train", "CONFIG", "--epochs", "1", "--batch-size", "0"], 2, "argument --batch-size"),
    ("dlc-max-snapshots-0", ["dlc", "train", "CONFIG", "--epochs", "1", "--max-snapshots", "0"], 2,
     "argument --max-snapshots"),
    ("dlc-trainingsetindex-negative", ["dlc", "evaluate", "CONFIG", "--trainingsetindex", "-1"], 2,
     "argument --trainingsetindex"),
    ("dlc-epsilon-negative", ["dlc", "outliers", "CONFIG", "v.mp4", "--epsilon", "-1"], 2, "argument --epsilon"),
    ("dlc-p-bound-2", ["dlc", "outliers", "CONFIG", "v.mp4", "--p-bound", "2"], 2, "argument --p-bound"),
    ("dlc-negative-frame", ["dlc", "add-frames", "CONFIG", "v.mp4", "-3"], 2, "argument frames: .*at least 0"),
    ("dlc-probability-2", ["dlc", "add-frames", "CONFIG", "v.mp4", "--probability", "2"], 2,
     "argument --probability"),
    ("dlc-max-frames-0", ["dlc", "add-frames", "CONFIG", "v.mp4", "--max-frames", "0"], 2, "argument --max-frames"),
    ("track-missing-video", ["track", "OUT/../nope.mp4"], 2, "nope.mp4: video file does not exist"),
    ("track-out-is-file", ["track", "POSE3D", "--out", "FILE"], 2, "--out .*pose-3d.csv: is a file"),
]


@pytest.mark.parametrize("argv, status, pattern", [c[1:] for c in CLI_CASES], ids=[c[0] for c in CLI_CASES])
def test_command_refuses_before_work(good, tmp_path, capsys, argv, status, pattern):
    out = tmp_path / "out"
    before = sha256_tree(*good.values())
    try:
        code = main(_argv(good, out, *argv))
    except SystemExit as exit_:  # argparse: the option and its range
        code = exit_.code
    captured = capsys.readouterr()
    assert code == status
    assert re.search(pattern, captured.err), captured.err
    no_traceback(captured.err)
    assert not out.exists()
    assert sha256_tree(*good.values()) == before


def test_command_prints_repairs_as_one_line(good, tmp_path, capsys):
    """A repaired input is said once, on stderr, and the run goes on (here: to the option check after it)."""
    lines = lines_of(good["dlc_csv"])
    shuffled = _write(tmp_path / "shuffled_DLC.csv", "".join(lines[:3] + [lines[4], lines[3]] + lines[5:]))
    code = main(["analyze", str(shuffled), "--out", str(tmp_path / "out"), "--reference", "nosuch"])
    err = capsys.readouterr().err
    assert code == 2 and "--reference: no keypoint 'nosuch'" in err
    assert f"facehmm: warning: {shuffled}: repaired: sorted the rows" in err
    no_traceback(err)


def test_subprocess_bad_option_no_traceback(good, tmp_path):
    out = tmp_path / "out"
    done = subprocess.run([sys.executable, "-m", "napari_facehmm.cli", "analyze", str(good["pose3d"]),
                           "--out", str(out), "--restarts", "0"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert "argument --restarts: must be a whole number (from 1 to 1000); got 0" in done.stderr
    no_traceback(done.stderr)
    assert not out.exists()


# --------------------------------------------------- napari reader / writer
@pytest.fixture
def notifications(monkeypatch):
    """Errors the napari reader and writer show, instead of napari's notification manager."""
    import napari.utils.notifications

    shown: list[str] = []
    # the readers' guard lives in _napari.readers now (_reader only re-exports)
    monkeypatch.setattr("napari_facehmm._napari.readers._notify_error", shown.append)
    monkeypatch.setattr(napari.utils.notifications, "show_error", shown.append)
    return shown


NAPARI_READER_CASES = [
    ("landmarks-h5-binary", binary("garbage.h5", GARBAGE), "not a readable HDF5"),
    ("landmarks-labels-renamed", lambda good, folder: _write_bytes(folder / "labels_copy.h5", good["labels"]),
     "labels file, not the tracking output"),
    ("landmarks-dlc-inf", dlc_csv(lambda l: set_cell(l, 5, 1, "inf")), "non-finite value inf"),
    ("landmarks-pose3d-cut", lambda good, folder: _write(folder / "cut.csv", good["pose3d"].read_text()[:-200]),
     "the file was cut off"),
    ("landmarks-pose3d-no-z", pose3d_csv(lambda t: t.drop(columns=["nose1_z"])), "missing coordinate columns"),
]


def _write_bytes(path: Path, source: Path) -> Path:
    path.write_bytes(source.read_bytes())
    return path


@pytest.mark.parametrize("make, pattern", [c[1:] for c in NAPARI_READER_CASES],
                         ids=[c[0] for c in NAPARI_READER_CASES])
def test_napari_landmarks_reader_notifies(good, tmp_path, notifications, make, pattern):
    from napari_facehmm._reader import NULL_LAYER, get_landmarks_reader

    path = make(good, tmp_path)
    before = sha256_tree(path)
    reader = get_landmarks_reader(str(path))
    assert reader is not None
    assert reader(str(path)) == NULL_LAYER
    assert len(notifications) == 1 and path.name in notifications[0]
    assert re.search(pattern, notifications[0]), notifications[0]
    assert sha256_tree(path) == before


def test_napari_session_reader_notifies_a_bad_pose3d(good, tmp_path, notifications):
    import shutil

    from napari_facehmm._reader import NULL_LAYER, get_session_reader

    session = tmp_path / "session"
    shutil.copytree(good["session"], session)
    pose3d = session / "truth" / "pose-3d.csv"
    pose3d.write_text(pose3d.read_text()[:-200])
    before = sha256_tree(session)
    layers = get_session_reader(str(session))(str(session))
    # The session reader is being changed to show what can be shown (the
    # cameras' 2D points) beside the notification; either way the bad file is
    # named once, with the cause, and nothing is raised.
    assert layers == NULL_LAYER or {layer.name for layer in layers} >= {"session1-camA points", "session1-camB points"}
    assert len(notifications) == 1 and "pose-3d.csv" in notifications[0] and "cut off" in notifications[0]
    assert sha256_tree(session) == before


def _layer_meta(keypoints=("a", "b"), images=None):
    meta = {"features": pd.DataFrame({"keypoint": list(keypoints)})}
    if images is not None:
        meta["metadata"] = {"facehmm": {"images": images, "keypoints": ["a", "b"], "scorer": "me"}}
    return meta


NAPARI_WRITER_CASES = [
    ("writer-points-2d", lambda folder: (folder / "CollectedData_me.h5", np.zeros((2, 2)), _layer_meta()),
     "must be \\(N, 3\\)"),
    ("writer-no-keypoint-feature", lambda folder: (folder / "CollectedData_me.h5", np.zeros((2, 3)), {}),
     "no 'keypoint' feature"),
    ("writer-unknown-keypoint", lambda folder: (
        folder / "CollectedData_me.h5", np.zeros((2, 3)),
        _layer_meta(("a", "zzz"), images=["labeled-data/v/img0.png"])), "zzz"),
    ("writer-image-out-of-range", lambda folder: (
        folder / "CollectedData_me.h5", np.array([[5.0, 1, 1], [0, 1, 1]]),
        _layer_meta(images=["labeled-data/v/img0.png"])), "lie on image 5"),
    ("writer-folder-under-a-file", lambda folder: (
        _write(folder / "plain.txt", "x") / "CollectedData_me.h5", np.array([[0.0, 1, 1], [0, 2, 2]]),
        _layer_meta(images=["labeled-data/v/img0.png"])), "plain.txt"),
]


@pytest.mark.parametrize("make, pattern", [c[1:] for c in NAPARI_WRITER_CASES],
                         ids=[c[0] for c in NAPARI_WRITER_CASES])
def test_napari_writer_notifies_and_writes_nothing(tmp_path, notifications, make, pattern):
    from napari_facehmm._writer import write_dlc_labels

    target, data, meta = make(tmp_path)
    before = sha256_tree(tmp_path)
    assert write_dlc_labels(str(target), data, meta) == []
    assert len(notifications) == 1 and target.name in notifications[0]
    assert re.search(pattern, notifications[0]), notifications[0]
    assert sha256_tree(tmp_path) == before
    assert not [p for p in tmp_path.rglob("*") if p.name.startswith(".")]


# ---------------------------------------------------------------- labeling
def _project_with_labels(good, folder, labels_text=None):
    import shutil

    project = folder / "project"
    shutil.copytree(good["config"].parent, project)
    if labels_text is not None:
        (project / "labeled-data" / "v" / "CollectedData_me.h5").unlink()
        _write(project / "labeled-data" / "v" / "CollectedData_me.h5", labels_text)
    return project


LABELING_CASES = [
    ("open-project-missing", lambda good, folder: ("open", folder / "none" / "config.yaml"), FileFormatError,
     "config.yaml"),
    ("open-project-no-bodyparts", lambda good, folder: ("open", _write(folder / "config.yaml", "Task: t\nscorer: s\n")),
     FileFormatError, "missing required settings: bodyparts"),
    ("open-project-multi-animal", lambda good, folder: ("open", _write(
        folder / "config.yaml", "Task: t\nscorer: s\nbodyparts: [a]\nmultianimalproject: true\n"
        "multianimalbodyparts: [a]\n")), FileFormatError, "multi-animal"),
    ("load-labels-garbage", lambda good, folder: ("load", _project_with_labels(good, folder, "garbage")),
     FileFormatError, "CollectedData_me.h5: not a readable HDF5"),
    ("load-labels-other-keypoints", lambda good, folder: ("load", _project_with_labels(good, folder)), DataError,
     "CollectedData_me.h5"),
    ("machine-labels-garbage", lambda good, folder: ("machine", _write(folder / "machinelabels-iter0.h5", "x")),
     FileFormatError, "machinelabels-iter0.h5"),
]


@pytest.mark.parametrize("make, error, pattern", [c[1:] for c in LABELING_CASES], ids=[c[0] for c in LABELING_CASES])
def test_labeling_refuses(good, tmp_path, make, error, pattern):
    from napari_facehmm import labeling

    action, path = make(good, tmp_path)
    before = sha256_tree(tmp_path)
    with pytest.raises(error, match=pattern):
        if action == "open":
            labeling.open_project(path)
        elif action == "load":
            config = path / "config.yaml"
            config.write_text(config.read_text().replace("[lefteye1, lefteye2, righteye1]", "[p, q]"))
            before = sha256_tree(tmp_path)
            labeling.load_labels(labeling.open_project(config), "v")
        else:
            labeling.read_machine_labels(path)
    assert sha256_tree(tmp_path) == before


def test_labels_save_under_a_file_is_refused_and_nothing_is_written(good, tmp_path):
    blocker = _write(tmp_path / "blocker", "x")
    labels = read_labels(good["labels"])
    with pytest.raises(FaceHMMError, match="blocker"):
        write_labels(labels, blocker / "CollectedData_me.h5")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["blocker"]
