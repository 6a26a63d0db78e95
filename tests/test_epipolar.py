"""Epipolar help while labeling (labeling/epipolar.py, issue #16), known answers.

Truth: the synthetic 3-camera rig of ``generate_session(seed=0)`` (320x240,
focal 1.3 x width, barrel distortion k1 -0.04..-0.12) and 21 face-sized points 500 mm
away. Exact geometry, so tolerances are numerical (1e-6 px) except where a
polyline stands for a curve.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from napari_facehmm.labeling import epipolar as ep
from napari_facehmm.synthetic import generate_session


@pytest.fixture(scope="module")
def cameras(tmp_path_factory):
    # the rig of the synthetic session with seed 0 (k1 -0.085, -0.056, -0.048), whose lenses fold
    # points far outside the view back into the image: the curve must not follow them
    # (without the pinhole bound, camB->camA and camC->camA zig-zag back: measured)
    truth = generate_session(tmp_path_factory.mktemp("rig3"), n_cameras=3, seconds=0.5, seed=0, render_video=False)
    return {c.name: c for c in truth.calibration.cameras}


@pytest.fixture(scope="module")
def points_3d():
    return np.random.default_rng(1).normal(0.0, 30.0, (21, 3)) + np.array([0.0, 0.0, 40.0])


def _pinhole(camera):
    return dataclasses.replace(camera, distortions=np.zeros(5))


def _distance_to_polyline(point: np.ndarray, curve: np.ndarray) -> float:
    start, step = curve[:-1], np.diff(curve, axis=0)
    t = np.clip(np.sum((point - start) * step, axis=1) / np.sum(step * step, axis=1), 0.0, 1.0)
    return float(np.min(np.linalg.norm(start + t[:, None] * step - point, axis=1)))


def test_fundamental_matrix_holds_for_true_projections(cameras, points_3d):
    a, b = _pinhole(cameras["camA"]), _pinhole(cameras["camB"])
    f = ep.fundamental_matrix(a, b)
    x_a = np.column_stack([a.project(points_3d), np.ones(21)])
    x_b = np.column_stack([b.project(points_3d), np.ones(21)])
    lines = x_a @ f.T
    distance = np.abs(np.sum(lines * x_b, axis=1)) / np.hypot(lines[:, 0], lines[:, 1])
    assert distance.max() < 1e-6
    assert np.linalg.matrix_rank(f, tol=1e-9) == 2
    # against OpenCV's eight-point estimate from the same correspondences
    import cv2

    f_cv, _ = cv2.findFundamentalMat(x_a[:, :2], x_b[:, :2], cv2.FM_8POINT)
    f_cv /= np.linalg.norm(f_cv)
    assert min(np.abs(f - f_cv).max(), np.abs(f + f_cv).max()) < 1e-4


@pytest.mark.parametrize("pair", [("camA", "camB"), ("camB", "camA"), ("camB", "camC"), ("camC", "camA")])
def test_epipolar_curve_passes_through_the_true_point_with_distortion(cameras, points_3d, pair):
    a, b = cameras[pair[0]], cameras[pair[1]]
    assert abs(b.distortions[0]) > 0.03  # the lens really bends the line
    for k in range(5):
        point_a = a.project(points_3d[k : k + 1])[0]
        truth_b = b.project(points_3d[k : k + 1])[0]
        curve = ep.epipolar_curve(a, b, point_a, n_points=2000)
        assert len(curve) > 100
        # distance from the true point to the polyline's segments
        assert _distance_to_polyline(truth_b, curve) < 0.05
        # one stroke, no fold-back: successive vertices move one way along the line
        steps = np.diff(curve, axis=0)
        assert np.all(steps @ steps[len(steps) // 2] > 0)
        # and in undistorted pixels the straight line from F holds exactly
        line = ep.epipolar_line(a, b, point_a)
        truth_undistorted = ep.undistort_pixels(b, truth_b[None])[0]
        assert abs(line @ np.append(truth_undistorted, 1.0)) < 1e-6


def test_two_labels_give_the_hint_in_the_third_camera(cameras, points_3d):
    labels = {n: c.project(points_3d) for n, c in cameras.items() if n != "camC"}
    hints = ep.reproject(cameras, ep.triangulate_labels(cameras, labels))
    np.testing.assert_allclose(hints["camC"], cameras["camC"].project(points_3d), atol=1e-6)


def test_a_wrong_label_shows_in_the_reprojection_errors(cameras, points_3d):
    labels = {n: c.project(points_3d) for n, c in cameras.items()}
    labels["camC"] = labels["camC"].copy()
    labels["camC"][4] += [12.0, 0.0]
    labels["camA"] = labels["camA"].copy()
    labels["camA"][7] = np.nan  # not labeled there
    errors = ep.label_errors(cameras, labels)
    assert np.isnan(errors["camA"][7]) and np.isfinite(errors["camB"][7])
    others = np.delete(np.arange(21), 4)
    for name in cameras:
        assert np.nanmax(errors[name][others]) < 1e-6
    # a 12 px error spread by the least-squares fit: about 4.6 px left in camC, less in the others
    assert errors["camC"][4] > 3.0 and errors["camC"][4] > max(errors["camA"][4], errors["camB"][4])
    only_one = {"camA": labels["camA"], "camB": np.full((21, 2), np.nan)}
    assert np.isnan(ep.label_errors(cameras, only_one)["camA"]).all()
