"""Triangulation (aniposelib DLT / optim / camera subsets under tracking.anipose), known answers.

Truth: a face-sized cloud of the 21 landmarks moving smoothly 500 mm in front
of 640x480 cameras (focal 832 px) 35 degrees apart; 2D tracks =
``cv2.projectPoints`` of the truth (barrel distortion k1 = -0.05) + Gaussian
noise. Tolerances: median 3D error <= 1 mm at 0.5 px noise with DLT (task),
lower with ``optim``. At 320x240 (focal 416 px) the same geometry puts the
DLT median near 1.15 mm: 0.5 px is then 0.6 mm at 500 mm, and depth error
is that over sin(17.5 deg) -- a floor no triangulation method removes.
Budget for this file: about 60 s (``optim`` is the slow part: aniposelib's
least squares runs in numba object mode).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from test_anipose_support import face_motion, make_rig, project_tracks

from napari_facehmm.data import LandmarkSeries
from napari_facehmm.errors import DataError, FileFormatError
from napari_facehmm.face import FACE_KEYPOINTS
from napari_facehmm.tracking import anipose as ta


@pytest.fixture(scope="module")
def rig():
    return make_rig(2, size=(640, 480), k1=-0.05)


@pytest.fixture(scope="module")
def truth():
    return face_motion(120, seed=0)


def _median_error_mm(series: LandmarkSeries, truth: np.ndarray) -> float:
    return float(np.nanmedian(np.linalg.norm(series.positions - truth, axis=2)))


def test_dlt_recovers_3d_within_1mm_at_half_pixel_noise(rig, truth):
    tracks = project_tracks(rig, truth, noise_px=0.5)
    result = ta.run_to_end(ta.triangulate(tracks, rig))
    assert result.positions.shape == truth.shape
    assert result.keypoints == FACE_KEYPOINTS
    error = _median_error_mm(result, truth)
    assert error <= 1.0, f"median 3D error {error:.3f} mm"
    assert np.all(result.attrs["ncams"] == 2)
    assert np.allclose(result.attrs["score"], 0.95)
    # mean reprojection error of 0.5 px noise after a 2-view fit: about 0.5/sqrt(2)...0.5 px
    assert 0.1 < np.nanmedian(result.attrs["error"]) < 0.6
    assert set(result.attrs["camera_errors_px"]) == {"camA", "camB"}
    assert result.attrs["warnings"] == []
    np.testing.assert_array_equal(result.attrs["M"][0], np.eye(3))


def test_matches_anipose_procedure_exactly(rig, truth):
    """Same numbers as anipose's triangulate (threshold, DLT, reprojection error, ncams, score)."""
    from aniposelib.cameras import CameraGroup

    tracks = project_tracks(rig, truth, noise_px=0.5)
    rng = np.random.default_rng(3)
    for series in tracks.values():
        series.confidence[:] = rng.uniform(0.5, 1.0, series.confidence.shape)
    result = ta.run_to_end(ta.triangulate(tracks, rig, score_threshold=0.8))

    group = CameraGroup.from_dicts([c.to_dict() for c in rig.cameras])
    points = np.stack([tracks[n].positions for n in ("camA", "camB")])
    scores = np.stack([tracks[n].confidence for n in ("camA", "camB")])
    points[scores < 0.8] = np.nan
    flat = points.reshape(2, -1, 2)
    expected = group.triangulate(flat, undistort=True)
    expected_error = group.reprojection_error(expected, flat, mean=True)
    good = ~np.isnan(points[..., 0])
    ncams = good.sum(axis=0).astype(float)
    scores[~good] = 2
    expected_score = scores.min(axis=0)
    expected_score[ncams < 2] = np.nan
    ncams[ncams < 2] = np.nan

    np.testing.assert_allclose(result.positions.reshape(-1, 3), expected, equal_nan=True)
    np.testing.assert_allclose(result.attrs["error"].reshape(-1), expected_error, rtol=1e-9, equal_nan=True)
    np.testing.assert_array_equal(result.attrs["ncams"], ncams)
    np.testing.assert_array_equal(result.attrs["score"], expected_score)
    # points seen by one camera are NaN, not a guess
    one_camera = good.sum(axis=0) == 1
    assert one_camera.any()
    assert np.isnan(result.positions[one_camera]).all()


def test_optim_is_better_than_dlt(rig, truth):
    short = truth[:60]
    tracks = project_tracks(rig, short, noise_px=0.5)
    dlt = ta.run_to_end(ta.triangulate(tracks, rig))
    progress = []
    job = ta.triangulate(tracks, rig, optim=True, optim_chunk_frames=1000)
    while True:
        try:
            progress.append(next(job))
        except StopIteration as stop:
            optim = stop.value
            break
    assert any("optimizing" in p[2] for p in progress)
    assert optim.attrs["method"] == "dlt+optim"
    error_dlt, error_optim = _median_error_mm(dlt, short), _median_error_mm(optim, short)
    assert error_optim < 0.9 * error_dlt, f"optim {error_optim:.3f} mm vs DLT {error_dlt:.3f} mm"


def test_optim_rejects_weak_constraints_on_untracked_bodyparts(rig, truth):
    # with the default skeleton (constraints=None) the weak pairs, which the
    # user gave (config.toml constraints_weak), must still name tracked landmarks
    tracks = project_tracks(rig, truth[:10], noise_px=0.5)
    with pytest.raises(DataError, match="not a tracked bodypart"):
        ta.run_to_end(ta.triangulate(tracks, rig, optim=True, constraints_weak=[("nose1", "tail")]))


def test_optim_keeps_single_camera_points_nan(rig, truth):
    short = truth[:40]
    tracks = project_tracks(rig, short, noise_px=0.5)
    tracks["camB"].confidence[10:15, 3] = 0.1  # below threshold in one camera only
    result = ta.run_to_end(ta.triangulate(tracks, rig, optim=True))
    assert np.isnan(result.positions[10:15, 3]).all()
    assert np.isnan(result.attrs["ncams"][10:15, 3]).all()
    assert np.isfinite(result.positions[16:, 3]).all()


def test_three_cameras_subset_selection_rejects_a_wrong_camera(truth):
    rig3 = make_rig(3, size=(640, 480), separation_deg=60)
    short = truth[:30]
    tracks = project_tracks(rig3, short, noise_px=0.3)
    tracks["camC"].positions[:, :5] += 25.0  # gross tracking errors in one camera
    dlt = ta.run_to_end(ta.triangulate(tracks, rig3))
    ransac = ta.run_to_end(ta.triangulate(tracks, rig3, ransac=True, ransac_threshold_px=2.0))
    bad_dlt = np.linalg.norm(dlt.positions[:, :5] - short[:, :5], axis=2)
    bad_ransac = np.linalg.norm(ransac.positions[:, :5] - short[:, :5], axis=2)
    assert np.median(bad_dlt) > 3.0
    assert np.median(bad_ransac) < 1.0
    assert np.all(ransac.attrs["ncams"][:, :5] == 2)  # camC left out of those points
    assert np.all(ransac.attrs["ncams"][:, 5:] == 3)  # and kept where it agrees
    assert ransac.attrs["method"] == "ransac"


def test_warns_about_a_camera_far_above_the_others_and_excludes_it(truth):
    rig3 = make_rig(3, size=(640, 480), separation_deg=60)
    short = truth[:30]
    tracks = project_tracks(rig3, short, noise_px=0.3)
    tracks["camC"].positions += np.random.default_rng(5).normal(0, 6.0, tracks["camC"].positions.shape)
    result = ta.run_to_end(ta.triangulate(tracks, rig3, keep_all_cameras=True))
    errors = result.attrs["camera_errors_px"]
    assert errors["camC"] > max(errors["camA"], errors["camB"])
    best_pair = result.attrs["camera_pair_errors_px"]
    assert best_pair["camC"] > 3 * max(best_pair["camA"], best_pair["camB"])
    assert any("'camC'" in w and "--exclude-camera camC" in w for w in result.attrs["warnings"])
    assert result.attrs["dropped_cameras"] == {}
    excluded = ta.run_to_end(ta.triangulate(tracks, rig3, exclude_cameras=["camC"]))
    assert excluded.attrs["cameras"] == ("camA", "camB")
    assert _median_error_mm(excluded, short) < _median_error_mm(result, short)
    # by default the badly tracked camera is left out, as by hand, and the output says so
    default = ta.run_to_end(ta.triangulate(tracks, rig3))
    assert default.attrs["cameras"] == ("camA", "camB")
    np.testing.assert_allclose(default.positions, excluded.positions)
    assert set(default.attrs["dropped_cameras"]) == {"camC"}
    assert any("'camC'" in w and "left out" in w for w in default.attrs["warnings"])


def test_ransac_with_two_cameras_falls_back_to_dlt_with_a_warning(rig, truth):
    tracks = project_tracks(rig, truth[:20], noise_px=0.5)
    result = ta.run_to_end(ta.triangulate(tracks, rig, ransac=True))
    assert result.attrs["method"] == "dlt"
    assert any("RANSAC needs three" in w for w in result.attrs["warnings"])


def test_no_point_above_threshold_gives_nan_and_a_warning(rig, truth):
    tracks = project_tracks(rig, truth[:10], noise_px=0.5, likelihood=0.2)
    result = ta.run_to_end(ta.triangulate(tracks, rig))
    assert np.isnan(result.positions).all()
    assert any("all NaN" in w for w in result.attrs["warnings"])


# ------------------------------------------------------------------ bad input
def test_camera_absent_from_calibration_is_named(rig, truth):
    tracks = project_tracks(rig, truth[:10], noise_px=0.5)
    tracks["camZ"] = tracks.pop("camB")
    with pytest.raises(DataError, match=r"camZ.*not in the calibration"):
        ta.run_to_end(ta.triangulate(tracks, rig))


def test_different_frame_counts_name_cameras_and_counts(rig, truth):
    tracks = project_tracks(rig, truth[:20], noise_px=0.5)
    tracks["camB"] = tracks["camB"].select_frames(slice(0, 17))
    with pytest.raises(DataError, match=r"not synchronized.*'camA'.*20.*'camB'.*17"):
        ta.run_to_end(ta.triangulate(tracks, rig))


def test_offsets_align_cameras(rig, truth):
    tracks = project_tracks(rig, truth[:30], noise_px=0.0)
    late = tracks["camB"]
    # camB started 3 frames early: 3 extra frames at its start
    early = LandmarkSeries(
        positions=np.concatenate([np.full((3, 21, 2), 5.0), late.positions]),
        keypoints=late.keypoints,
        confidence=np.concatenate([np.full((3, 21), 0.9), late.confidence]),
    )
    tracks["camB"] = early
    result = ta.run_to_end(ta.triangulate(tracks, rig, offsets={"camB": 3}))
    assert result.n_frames == 30
    assert _median_error_mm(result, truth[:30]) < 0.01
    with pytest.raises(DataError, match="no 2D file"):
        ta.run_to_end(ta.triangulate(tracks, rig, offsets={"camQ": 1}))


def test_different_bodyparts_are_named(rig, truth):
    tracks = project_tracks(rig, truth[:10], noise_px=0.5)
    tracks["camB"] = tracks["camB"].select_keypoints(FACE_KEYPOINTS[:-1])
    with pytest.raises(DataError, match=r"different bodyparts.*lear"):
        ta.run_to_end(ta.triangulate(tracks, rig, sources={"camA": "s-camA.h5", "camB": "s-camB.h5"}))


def test_keypoint_order_may_differ_between_cameras(rig, truth):
    tracks = project_tracks(rig, truth[:10], noise_px=0.0)
    tracks["camB"] = tracks["camB"].select_keypoints(FACE_KEYPOINTS[::-1])
    result = ta.run_to_end(ta.triangulate(tracks, rig))
    assert result.keypoints == FACE_KEYPOINTS
    assert _median_error_mm(result, truth[:10]) < 0.01


def test_calibration_missing_a_field_names_the_file(rig, truth, tmp_path):
    from napari_facehmm.io.anipose import write_calibration

    path = write_calibration(rig, tmp_path / "calibration.toml")
    text = path.read_text().replace("distortions =", "distortion_typo =", 1)
    path.write_text(text)
    tracks = project_tracks(rig, truth[:10], noise_px=0.5)
    with pytest.raises(FileFormatError, match=r"calibration\.toml.*distortions"):
        ta.run_to_end(ta.triangulate(tracks, path))


# -------------------------------------------------------------------- filters
def test_median_filter_replaces_a_jump_by_interpolation(rig, truth):
    tracks = project_tracks(rig, truth[:60], noise_px=0.2)
    series = tracks["camA"]
    clean = series.positions.copy()
    series.positions[30, 4] += 80.0
    filtered = ta.filter_2d_median(series)
    assert np.linalg.norm(filtered.positions[30, 4] - clean[30, 4]) < 2.0
    np.testing.assert_allclose(filtered.positions[:29], series.positions[:29], atol=1e-9)


def test_viterbi_filter_skips_an_outlier(rig, truth):
    tracks = project_tracks(rig, truth[:60], noise_px=0.2)
    series = tracks["camA"]
    clean = series.positions.copy()
    series.positions[30, 4] += 150.0
    filtered = ta.filter_2d_viterbi(series)
    # the outlier frame takes a recent good detection (a frame or two old)
    assert np.linalg.norm(filtered.positions[30, 4] - clean[30, 4]) < 5.0
    np.testing.assert_allclose(filtered.positions[40:, 4], series.positions[40:, 4])


def test_filtered_triangulation_runs_end_to_end(rig, truth):
    tracks = project_tracks(rig, truth[:40], noise_px=0.5)
    tracks["camB"].positions[20, 2] += 100.0
    raw = ta.run_to_end(ta.triangulate(tracks, rig))
    filtered = ta.run_to_end(ta.triangulate(tracks, rig, filter_2d="medfilt"))
    assert np.linalg.norm(filtered.positions[20, 2] - truth[20, 2]) < np.linalg.norm(
        raw.positions[20, 2] - truth[20, 2]
    )
    with pytest.raises(DataError, match="filter_2d"):
        ta.run_to_end(ta.triangulate(tracks, rig, filter_2d="kalman"))


# --------------------------------------------------------------- CLI and files
def test_session_grouping_uses_cam_regex(tmp_path):
    files = [tmp_path / f"{s}-{c}.h5" for s in ("mouse1", "mouse2") for c in ("camA", "camB")]
    sessions = ta.group_by_session(files)
    assert sessions == {
        s: {c: tmp_path / f"{s}-{c}.h5" for c in ("camA", "camB")} for s in ("mouse1", "mouse2")
    }
    assert ta.camera_name_from_path("run_B.h5", r"_([A-Z])$") == "B"
    with pytest.raises(DataError, match="no camera name"):
        ta.group_by_session([tmp_path / "session.h5"])


def test_cli_writes_anipose_pose3d_tables(rig, truth, tmp_path, capsys):
    from napari_facehmm.cli import main
    from napari_facehmm.io.anipose import read_pose3d, write_calibration
    from napari_facehmm.io.dlc import write_dlc_analysis

    project = tmp_path / "project"
    (project / "pose-2d").mkdir(parents=True)
    (project / "calibration").mkdir()
    write_calibration(rig, project / "calibration" / "calibration.toml")
    short = truth[:40]
    for name, series in project_tracks(rig, short, noise_px=0.5).items():
        write_dlc_analysis(series, project / "pose-2d" / f"session1-{name}.h5")
    (project / "config.toml").write_text(
        '[triangulation]\ncam_regex = "-(cam[A-Z])$"\nscore_threshold = 0.5\n'
    )

    assert main(["triangulate", str(project), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "camA: median reprojection error" in out and "camB" in out
    table = pd.read_csv(project / "pose-3d" / "session1.csv")
    expected = [f"{bp}_{f}" for bp in FACE_KEYPOINTS for f in ("x", "y", "z", "error", "ncams", "score")]
    expected += (
        [f"M_{i}{j}" for i in range(3) for j in range(3)] + [f"center_{i}" for i in range(3)] + ["fnum"]
    )
    assert list(table.columns) == expected
    np.testing.assert_array_equal(table["fnum"], np.arange(40))
    series = read_pose3d(project / "pose-3d" / "session1.csv")
    assert _median_error_mm(series, short) <= 1.0

    # unsynchronized cameras: a clear error naming both files' cameras and counts
    cut = project_tracks(rig, short[:35], noise_px=0.5)["camB"]
    write_dlc_analysis(cut, project / "pose-2d" / "session1-camB.h5")
    assert main(["triangulate", str(project), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "camB" in err and "35" in err and "40" in err
    assert main(["triangulate", str(project), "--quiet", "--offset", "camA=5"]) == 0
    assert len(pd.read_csv(project / "pose-3d" / "session1.csv")) == 35


def test_output_frame_from_anipose_axes_and_reference_point(rig, truth):
    tracks = project_tracks(rig, truth[:20], noise_px=0.0)
    axes = [["x", "rear", "lear"], ["z", "chin", "nose1"]]
    result = ta.run_to_end(ta.triangulate(tracks, rig, axes=axes, reference_point="nose1"))
    rotation, center = result.attrs["M"][0], result.attrs["center"][0]
    np.testing.assert_allclose(rotation @ rotation.T, np.eye(3), atol=1e-12)
    assert np.linalg.det(rotation) == pytest.approx(1.0)
    index = {k: i for i, k in enumerate(FACE_KEYPOINTS)}
    ear_to_ear = np.median(truth[:20, index["lear"]], axis=0) - np.median(truth[:20, index["rear"]], axis=0)
    np.testing.assert_allclose(rotation[0], ear_to_ear / np.linalg.norm(ear_to_ear), atol=1e-6)
    # the reference point sits at the origin; positions = world @ M.T - center
    assert np.abs(np.median(result.positions[:, index["nose1"]], axis=0)).max() < 1e-6
    np.testing.assert_allclose(result.positions, truth[:20] @ rotation.T - center, atol=1e-3)
    with pytest.raises(DataError, match="'nose9'"):
        ta.run_to_end(ta.triangulate(tracks, rig, reference_point="nose9"))
    with pytest.raises(DataError, match="two different axes"):
        ta.run_to_end(ta.triangulate(tracks, rig, axes=[["x", "rear", "lear"]]))


def test_triangulation_options_follow_anipose_config():
    config = {
        "triangulation": {"score_threshold": 0.3, "optim": True, "constraints": [["nose1", "nose2"]]},
        "filter": {"enabled": True, "type": "viterbi", "n_back": 3},
    }
    options = ta.triangulation_options(config, optim=False, ransac=None)
    assert options["score_threshold"] == 0.3
    assert options["optim"] is False  # override wins, None overrides are ignored
    assert options["ransac"] is False
    assert options["constraints"] == [("nose1", "nose2")]
    assert options["filter_2d"] == "viterbi"
    assert options["filter_params"] == {"n_back": 3, "offset_threshold_px": 25.0, "score_threshold": 0.05}
    defaults = ta.triangulation_options({})
    assert defaults["score_threshold"] == 0.8  # Anipose's default
    assert defaults["filter_2d"] is None and defaults["n_deriv_smooth"] == 3
    with pytest.raises(DataError, match="only 'medfilt' and 'viterbi'"):
        ta.triangulation_options({"filter": {"enabled": True, "type": "autoencoder"}})
    with pytest.raises(DataError, match="malformed"):
        ta.triangulation_options({"triangulation": {"score_threshold": "high"}})


def test_triangulate_project_generator_for_widgets(rig, truth, tmp_path):
    from napari_facehmm.io.anipose import write_calibration
    from napari_facehmm.io.dlc import write_dlc_analysis

    (tmp_path / "pose-2d").mkdir()
    (tmp_path / "calibration").mkdir()
    write_calibration(rig, tmp_path / "calibration" / "calibration.toml")
    for session in ("s1", "s2"):
        for name, series in project_tracks(rig, truth[:15], noise_px=0.5).items():
            write_dlc_analysis(series, tmp_path / "pose-2d" / f"{session}-{name}.h5")
    progress = []
    job = ta.triangulate_project(tmp_path, score_threshold=0.5)
    while True:
        try:
            progress.append(next(job))
        except StopIteration as stop:
            results = stop.value
            break
    assert sorted(results) == ["s1", "s2"]
    assert results["s2"].source == tmp_path / "pose-3d" / "s2.csv"
    assert (tmp_path / "pose-3d" / "s1.csv").is_file()
    assert any(p[2].startswith("s2 (2/2)") for p in progress)


def test_triangulate_session_is_the_projects_job_with_the_docks_qc(rig, truth, tmp_path):
    """The 3D dock's job: one session's files -> pose-3d CSV, the 2D tracks read once and the reprojection QC;
    ``triangulate_project`` gives the same 3D points for that session."""
    from napari_facehmm.io.anipose import read_pose3d, write_calibration
    from napari_facehmm.io.dlc import write_dlc_analysis
    from napari_facehmm.tracking.anipose_qc import reprojection_errors

    (tmp_path / "pose-2d").mkdir()
    (tmp_path / "calibration").mkdir()
    calibration = write_calibration(rig, tmp_path / "calibration" / "calibration.toml")
    files = {}
    for name, series in project_tracks(rig, truth[:15], noise_px=0.5).items():
        files[name] = tmp_path / "pose-2d" / f"s1-{name}.h5"
        write_dlc_analysis(series, files[name])
    output = tmp_path / "out" / "s1-3d.csv"
    progress = []
    outcome = ta.run_to_end(
        ta.triangulate_session(files, calibration, output, fps=30.0, score_threshold=0.5), progress.append
    )
    assert [p[2] for p in progress[:2]] == [f"reading {files[c].name}" for c in files]
    assert outcome.series.source == output and output.is_file()
    np.testing.assert_allclose(read_pose3d(output).positions, outcome.series.positions, atol=1e-3)
    assert _median_error_mm(outcome.series, truth[:15]) < 1.0
    assert sorted(outcome.tracks_2d) == ["camA", "camB"] and outcome.qc_failure is None
    expected = reprojection_errors(outcome.series, outcome.tracks_2d, outcome.calibration)
    for camera, errors in outcome.reprojection_errors.items():
        np.testing.assert_allclose(errors, expected[camera])
        assert np.nanmedian(errors) < 1.5  # px, at 0.5 px noise
    by_project = ta.run_to_end(ta.triangulate_project(tmp_path, score_threshold=0.5))
    np.testing.assert_allclose(by_project["s1"].positions, outcome.series.positions)
    # without the QC nothing is reprojected
    quiet = ta.run_to_end(ta.triangulate_session(files, calibration, None, score_threshold=0.5, reprojection_qc=False))
    assert quiet.reprojection_errors == {} and quiet.series.source != output


def test_disagreeing_cameras_are_the_ones_warned_about():
    errors = {"camA": 0.4, "camB": 0.5, "camC": 2.0, "camD": 0.45}
    assert ta.disagreeing_cameras(errors) == ["camC"]
    warnings = ta.camera_error_warnings(errors)
    assert len(warnings) == 1 and "'camC'" in warnings[0] and "(0.45 px)" in warnings[0]
    assert ta.disagreeing_cameras({"camA": 0.4, "camB": 4.0}) == []  # two cameras share every error
    assert ta.disagreeing_cameras({"camA": 0.4, "camB": 0.5, "camC": 1.3}) == []  # under 3x the others median (1.35)


def test_dlt_in_fixed_blocks_equals_one_call_and_calls_aniposelib_with_one_point_count(rig, truth, monkeypatch):
    """Blocks of a fixed size (the last padded) so jax compiles once: the same points as one aniposelib call."""
    from aniposelib.cameras import CameraGroup

    from napari_facehmm.tracking.anipose import dlt

    tracks = project_tracks(rig, truth, noise_px=0.5)
    points = np.stack([tracks[n].positions for n in ("camA", "camB")])
    points[0, 5, 3] = np.nan  # a point one camera misses, and the last point of all: NaN stays NaN
    points[1, -1, -1] = np.nan
    flat = points.reshape(2, -1, 2)  # 2,520 points
    group = CameraGroup.from_dicts([c.to_dict() for c in rig.cameras])
    expected = group.triangulate(flat, undistort=True)
    sizes = []
    original = CameraGroup.triangulate

    def counting(self, points_2d, *args, **kwargs):
        sizes.append(points_2d.shape[1])
        return original(self, points_2d, *args, **kwargs)

    monkeypatch.setattr(CameraGroup, "triangulate", counting)
    monkeypatch.setattr(dlt, "_DLT_BLOCK_POINTS", 1000)
    # chunks of 1,700 and 820 points: blocks of 1,000, 700 (padded), 820 (padded)
    blocked = ta.run_to_end(dlt._triangulate_dlt(group, flat, chunk=1700))
    assert sizes == [1000, 1000, 1000]
    np.testing.assert_array_equal(blocked, expected)
    assert np.isnan(blocked[-1]).all() and np.isfinite(blocked[0]).all()
