"""``facehmm export``: every format from the command line, and bad input refused before any work.

Also ``facehmm analyze`` on what the export wrote (NWB, netCDF): the
landmark sources the readers take.
"""

from __future__ import annotations

import contextlib
import io

import numpy as np
import pandas as pd
import pytest

from _export_session import N_STATES, make_analysed_session, make_session
from napari_facehmm.cli import main
from napari_facehmm.io import read_landmarks
from napari_facehmm.io.anipose import read_pose3d


def run_cli(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main(argv)
    return status, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def analysed(tmp_path_factory):
    return make_analysed_session(tmp_path_factory.mktemp("cli_export"))


def _export(data, to, out, *extra):
    return run_cli(["export", str(data.session), "--analysis", str(data.analysis), "--to", to, "--out", str(out), *extra])


def test_export_nwb_and_movement_then_analyze_them(analysed, tmp_path):
    status, out, err = _export(analysed, "nwb", tmp_path / "s.nwb")
    assert status == 0, err
    assert "wrote" in out and (tmp_path / "s.nwb").is_file()
    status, _, err = _export(analysed, "movement", tmp_path / "s.nc", "--track", "camB")
    assert status == 0, err
    truth = read_pose3d(analysed.session / "pose-3d" / "session1.csv")
    np.testing.assert_array_equal(read_landmarks(tmp_path / "s.nwb").positions, truth.positions)
    assert read_landmarks(tmp_path / "s.nc").camera == "camB"
    status, _, err = run_cli(
        ["analyze", str(tmp_path / "s.nwb"), "--states", str(N_STATES), "--iterations", "3", "--restarts", "1",
         "--no-figures", "--out", str(tmp_path / "again")]
    )
    assert status == 0, err
    again = pd.read_csv(tmp_path / "again" / "states.csv")
    assert len(again) == analysed.n_frames and again["state"].notna().all()
    status, _, err = run_cli(
        ["analyze", str(tmp_path / "s.nc"), "--states", "2", "--iterations", "3", "--restarts", "1",
         "--no-figures", "--out", str(tmp_path / "again_nc")]
    )
    assert status == 0, err
    assert len(pd.read_csv(tmp_path / "again_nc" / "states.csv")) == analysed.n_frames


def test_refuses_existing_output_unless_overwrite(analysed, tmp_path):
    out = tmp_path / "s.nwb"
    out.write_bytes(b"keep")
    status, _, err = _export(analysed, "nwb", out)
    assert status == 2 and "exists" in err and "--overwrite" in err
    assert out.read_bytes() == b"keep"
    status, _, err = _export(analysed, "nwb", out, "--overwrite")
    assert status == 0, err
    assert out.read_bytes()[:8] == b"\x89HDF\r\n\x1a\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.nwb"]  # no backup, no temporary left


def test_refuses_another_sessions_analysis(analysed, tmp_path):
    other = make_session(tmp_path / "other", seconds=5.0, with_3d=False, seed=2)
    for to, name in (("nwb", "x.nwb"), ("movement", "x.nc")):
        status, _, err = run_cli(
            ["export", str(other), "--analysis", str(analysed.analysis), "--to", to, "--out", str(tmp_path / name)]
        )
        assert status == 2
        assert "another session" in err and "states.csv" in err and "360 frames" in err and "150" in err
        assert not (tmp_path / name).exists()


def test_refuses_a_missing_analysis_naming_it(analysed, tmp_path):
    status, _, err = _export(type(analysed)(analysed.session, tmp_path / "nowhere", 0), "nwb", tmp_path / "x.nwb")
    assert status == 2 and "nowhere" in err and "no such analysis folder" in err
    empty = tmp_path / "empty"
    empty.mkdir()
    status, _, err = _export(type(analysed)(analysed.session, empty, 0), "movement", tmp_path / "x.nc")
    assert status == 2 and "states.csv is missing" in err and str(empty) in err
    status, _, err = _export(analysed, "nwb", tmp_path / "x.nc")
    assert status == 2 and "ends in .nwb" in err
    status, _, err = _export(analysed, "nwb", tmp_path / "x.nwb", "--track", "camA")
    assert status == 2 and "movement exports only" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty"]


def test_export_video_has_the_sessions_frame_count(tmp_path):
    from napari_facehmm.io.video import VideoReader
    from napari_facehmm.synthetic import generate_session

    session = tmp_path / "video_session"
    generate_session(session, n_cameras=1, seconds=1.0, fps=30.0, seed=1, size=(96, 72), n_states=2, n_board_frames=4)
    analysis = tmp_path / "analysis"
    analysis.mkdir()
    pd.DataFrame({"frame": np.arange(30), "state": np.arange(30) // 15}).to_csv(analysis / "states.csv", index=False)
    status, out, err = run_cli(
        ["export", str(session), "--analysis", str(analysis), "--to", "video", "--out", str(tmp_path / "v.mp4")]
    )
    assert status == 0, err
    with VideoReader(tmp_path / "v.mp4") as video:
        assert len(video) == 30
