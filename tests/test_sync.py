"""Frame offsets of unsynchronized cameras from head motion (tracking.sync), known answers.

Truth: synthetic two-camera sessions (40 s at 30 fps, 320x240, the face
about 100 px from nose bridge to chin) made unsynchronized by cutting:
``camA = frames[n:]``, ``camB = frames[:T - n]``, so camB started ``n``
frames earlier and the expected offsets are ``{"camA": 0, "camB": n}``
(``n < 0``: the other way round). "Realistic" tracks have 1 px noise, 2 %
dropouts (misplaced points of likelihood < 0.1) and 2 % of the points
missing (NaN). Every lag must be exact. Budget: about 30 s.
"""

from __future__ import annotations

import numpy as np
import pytest

from napari_facehmm.cli import main
from napari_facehmm.data import LandmarkSeries
from napari_facehmm.errors import DataError
from napari_facehmm.face import FACE_KEYPOINTS, RIGID_KEYPOINTS
from napari_facehmm.synthetic import generate_session
from napari_facehmm.tracking import anipose as ta
from napari_facehmm.tracking.sync import SyncEstimate, estimate_offsets, masked_correlation

SECONDS = 40.0


def _realistic(truth, seed: int = 0) -> dict[str, LandmarkSeries]:
    """The session's tracks with 2 % of the points missing."""
    rng = np.random.default_rng(seed)
    out = {}
    for camera in truth.camera_names:
        series = truth.series_2d(camera)
        missing = rng.random(series.positions.shape[:2]) < 0.02
        series.positions[missing] = np.nan
        series.confidence[missing] = np.nan
        out[camera] = series
    return out


def _restart(series: LandmarkSeries, rows: slice) -> LandmarkSeries:
    """Rows of a series as a recording of their own (frame numbers from 0)."""
    part = series.select_frames(rows)
    return part.copy(frame_indices=np.arange(part.n_frames))


def _cut(series_by_camera: dict[str, LandmarkSeries], n: int) -> dict[str, LandmarkSeries]:
    """camB started ``n`` frames before camA (``n < 0``: after)."""
    n_frames = series_by_camera["camA"].n_frames
    if n >= 0:
        rows_a, rows_b = slice(n, None), slice(0, n_frames - n)
    else:
        rows_a, rows_b = slice(0, n_frames + n), slice(-n, None)
    return {"camA": _restart(series_by_camera["camA"], rows_a), "camB": _restart(series_by_camera["camB"], rows_b)}


@pytest.fixture(scope="module")
def session(tmp_path_factory):
    return generate_session(
        tmp_path_factory.mktemp("sync"), seconds=SECONDS, render_video=False, seed=0, noise_px=1.0, dropout_rate=0.02
    )


@pytest.fixture(scope="module")
def other_session(tmp_path_factory):
    return generate_session(
        tmp_path_factory.mktemp("sync_other"), seconds=SECONDS, render_video=False, seed=7, noise_px=1.0
    )


@pytest.fixture(scope="module")
def tracks(session):
    return _realistic(session)


@pytest.mark.parametrize("n", [0, 1, 7, 45, -7, -45])
def test_recovers_the_frame_offset_exactly(tracks, n):
    estimate = estimate_offsets(_cut(tracks, n))
    assert isinstance(estimate, SyncEstimate)
    assert estimate.reference == "camA"
    assert estimate.lag_frames == {"camA": 0, "camB": n}
    assert estimate.offsets == ({"camA": 0, "camB": n} if n >= 0 else {"camA": -n, "camB": 0})
    assert estimate.confident, estimate.describe()
    assert estimate.peak_correlation["camB"] > 1.5 * estimate.next_best_correlation["camB"]
    line = estimate.describe()
    assert len(line.splitlines()) == 1
    if n > 0:
        assert f"camB started {n} frame{'s' if n > 1 else ''} ({n / 30:.2f} s) before camA" in line
    elif n < 0:
        assert f"camB started {-n} frames ({-n / 30:.2f} s) after camA" in line
    else:
        assert "look synchronized" in line
    assert line.endswith("(sure)")


def test_other_seed_and_reference(tmp_path):
    """A second session, the lag read with camB as the reference (the sign flips)."""
    truth = generate_session(tmp_path, seconds=SECONDS, render_video=False, seed=3, noise_px=1.0, dropout_rate=0.02)
    cut = _cut(_realistic(truth, seed=3), 12)
    estimate = estimate_offsets(cut, reference="camB")
    assert estimate.lag_frames == {"camA": -12, "camB": 0}
    assert estimate.offsets == {"camA": 0, "camB": 12}
    assert estimate.confident
    assert estimate.describe().startswith("camA started 12 frames (0.40 s) after camB")


def test_synced_cameras_of_different_lengths_give_zero(tracks):
    """camB kept recording 2 s longer: no offset, and align_cameras cuts it to camA."""
    cut = {"camA": _restart(tracks["camA"], slice(0, 1000)), "camB": tracks["camB"]}
    estimate = estimate_offsets(cut)
    assert estimate.offsets == {"camA": 0, "camB": 0}
    assert estimate.confident
    _, _, points, _, _ = ta.align_cameras(cut, estimate.offsets)
    assert points.shape[1] == 1000


def test_unrelated_recordings_are_not_confident(tracks, other_session):
    unrelated = {"camA": tracks["camA"], "camB": other_session.series_2d("camB")}
    estimate = estimate_offsets(unrelated)
    assert not estimate.confident
    assert estimate.peak_correlation["camB"] < 0.3
    assert "(unsure: " in estimate.describe()
    # the same face, but recordings that do not overlap in time
    half = tracks["camA"].n_frames // 2
    apart = {"camA": _restart(tracks["camA"], slice(0, half)), "camB": _restart(tracks["camB"], slice(half, None))}
    assert not estimate_offsets(apart).confident


def test_offset_beyond_the_search_range_is_unsure(tracks):
    estimate = estimate_offsets(_cut(tracks, 45), max_offset_frames=30)
    assert estimate.max_offset_frames == 30
    assert abs(estimate.lag_frames["camB"]) <= 30
    assert not estimate.confident
    assert "edge of the lags searched" in estimate.describe()


def test_three_cameras(tmp_path):
    truth = generate_session(tmp_path, n_cameras=3, seconds=SECONDS, render_video=False, seed=1, noise_px=1.0)
    tracks = _realistic(truth, seed=1)
    # camA starts at true frame 5, camB at 0, camC at 12: camB is 5 frames early
    # and camC 7 frames late relative to camA
    starts = {"camA": 5, "camB": 0, "camC": 12}
    cut = {camera: _restart(tracks[camera], slice(start, None)) for camera, start in starts.items()}
    estimate = estimate_offsets(cut)
    assert estimate.lag_frames == {"camA": 0, "camB": 5, "camC": -7}
    assert estimate.offsets == {"camA": 7, "camB": 12, "camC": 0}
    assert estimate.confident
    assert len(estimate.describe().splitlines()) == 2
    _, _, points, _, _ = ta.align_cameras(cut, estimate.offsets)
    for c, camera in enumerate(starts):  # every camera's first kept frame is true frame 12
        np.testing.assert_array_equal(points[c, 0], truth.points_2d[camera][12])


def test_degrades_gracefully_with_fewer_landmarks(tracks):
    """Only the rigid landmarks and the chin: head motion and size alone."""
    subset = list(RIGID_KEYPOINTS) + ["chin"]
    cut = {camera: series.select_keypoints(subset) for camera, series in _cut(tracks, 7).items()}
    estimate = estimate_offsets(cut)
    assert set(estimate.signals["camB"]) == {"x", "y", "scale"}
    assert estimate.lag_frames["camB"] == 7
    # no nose bridge nor chin (no face length): the landmarks' spread normalises
    subset = ["lefteye1", "righteye1", "nose2", "uplip", "lowlip", "llip", "rlip", "rear", "lear"]
    cut = {camera: series.select_keypoints(subset) for camera, series in _cut(tracks, 7).items()}
    assert estimate_offsets(cut).lag_frames["camB"] == 7


def test_estimate_then_align_triangulates_close_to_the_truth(session, tracks):
    n = 7
    cut = _cut(tracks, n)
    estimate = estimate_offsets(cut)
    result = ta.run_to_end(ta.triangulate_files(cut, session.calibration, offsets=estimate.offsets))
    truth = session.points_3d[n : session.n_frames - n]
    assert result.positions.shape == truth.shape
    error_mm = float(np.nanmedian(np.linalg.norm(result.positions - truth, axis=2)))
    # unaligned (equal frame counts, so triangulate accepts them): 7 frames apart
    unaligned = ta.run_to_end(ta.triangulate_files(cut, session.calibration))
    error_unaligned_mm = float(np.nanmedian(np.linalg.norm(unaligned.positions - session.points_3d[n:], axis=2)))
    assert error_mm < 3.0, f"median 3D error {error_mm:.2f} mm after alignment"
    assert error_mm < 0.5 * error_unaligned_mm, (error_mm, error_unaligned_mm)


def test_masked_correlation_matches_direct_sums():
    rng = np.random.default_rng(1)
    reference, other = rng.standard_normal(500), rng.standard_normal(380)
    reference[rng.random(500) < 0.1] = np.nan
    other[rng.random(380) < 0.1] = np.nan
    curve = masked_correlation(reference, other, 60, 10)
    for lag in (-60, -3, 0, 7, 60):
        t = np.arange(reference.size)
        t = t[(t + lag >= 0) & (t + lag < other.size)]
        x, y = reference[t], other[t + lag]
        valid = np.isfinite(x) & np.isfinite(y)
        expected = np.sum(x[valid] * y[valid]) / np.sqrt(np.sum(x[valid] ** 2) * np.sum(y[valid] ** 2))
        assert curve[60 + lag] == pytest.approx(expected, rel=1e-9)
    assert np.isnan(masked_correlation(reference, other, 60, 400)).all()


def test_errors(tracks):
    with pytest.raises(DataError, match="at least two cameras"):
        estimate_offsets({"camA": tracks["camA"]})
    points_3d = LandmarkSeries(np.zeros((100, len(FACE_KEYPOINTS), 3)), FACE_KEYPOINTS)
    with pytest.raises(DataError, match="2D tracks; got a 3D series"):
        estimate_offsets({"camA": tracks["camA"], "camB": points_3d})
    with pytest.raises(DataError, match="20 frames is too few"):
        estimate_offsets({"camA": tracks["camA"], "camB": _restart(tracks["camB"], slice(0, 20))})
    empty = tracks["camB"].copy()
    empty.positions[:] = np.nan
    with pytest.raises(DataError, match="camera 'camB'.*no usable motion signal"):
        estimate_offsets({"camA": tracks["camA"], "camB": empty})
    with pytest.raises(DataError, match="reference camera 'camZ'"):
        estimate_offsets(tracks, reference="camZ")
    with pytest.raises(DataError, match="max_offset_frames must be 0 or more"):
        estimate_offsets(tracks, max_offset_frames=-1)


# ------------------------------------------------------------------ command
def _write_cut_session(truth, n: int, camb_from=None) -> None:
    """Overwrite the session's pose-2d files with tracks cut as if camB started n frames early."""
    from napari_facehmm.io.dlc import write_dlc_analysis

    cut = _cut(_realistic(truth), n)
    if camb_from is not None:
        cut["camB"] = _restart(camb_from.series_2d("camB"), slice(0, cut["camB"].n_frames))
    for camera, series in cut.items():
        write_dlc_analysis(series, truth.pose2d_paths[camera], scorer="DLC_synthetic")


@pytest.fixture
def cli_session(tmp_path):
    return generate_session(tmp_path / "project", seconds=SECONDS, render_video=False, seed=0, noise_px=1.0)


def test_command_offset_auto(cli_session, tmp_path, capsys):
    from napari_facehmm.io.anipose import read_pose3d

    n = 9
    _write_cut_session(cli_session, n)
    out_auto, out_manual = tmp_path / "auto", tmp_path / "manual"
    status = main(["triangulate", str(cli_session.out_dir), "--offset", "auto", "--output-dir", str(out_auto), "--quiet"])
    captured = capsys.readouterr()
    assert status == 0, captured.err
    assert f"session1: camB started {n} frames (0.30 s) before camA" in captured.out
    assert "(sure)" in captured.out
    assert f"session1: offsets camA=0, camB={n}" in captured.out
    result = read_pose3d(out_auto / "session1.csv")
    truth = cli_session.points_3d[n : cli_session.n_frames - n]
    error_mm = float(np.nanmedian(np.linalg.norm(result.positions - truth, axis=2)))
    assert error_mm < 3.0

    # the manual offset gives the same table
    status = main(
        ["triangulate", str(cli_session.out_dir), "--offset", f"camB={n}", "--output-dir", str(out_manual), "--quiet"]
    )
    assert status == 0
    manual = read_pose3d(out_manual / "session1.csv")
    np.testing.assert_allclose(manual.positions, result.positions, equal_nan=True)


def test_command_offset_auto_stops_when_unsure(cli_session, other_session, tmp_path, capsys):
    _write_cut_session(cli_session, 5, camb_from=other_session)
    out_dir = tmp_path / "pose-3d"
    status = main(["triangulate", str(cli_session.out_dir), "--offset", "auto", "--output-dir", str(out_dir), "--quiet"])
    captured = capsys.readouterr()
    assert status == 2
    assert "(unsure: " in captured.out
    assert "--offset CAMERA=FRAMES" in captured.err
    assert not (out_dir / "session1.csv").exists()


def test_command_offset_auto_alone(cli_session, capsys):
    status = main(["triangulate", str(cli_session.out_dir), "--offset", "auto", "--offset", "camB=3", "--quiet"])
    assert status == 2
    assert "give it alone" in capsys.readouterr().err
