"""Viewer gaps: skeleton edges follow the QC likelihood threshold; several tracks decoded.

Real napari windows under Xvfb (pytest-xvfb), on the shared short synthetic
session (20 s, 2 cameras). Budget: about 30 s.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.gui


def _open(make_napari_viewer, synthetic_session):
    from napari_facehmm.widgets.app import open_face_viewer

    viewer = make_napari_viewer()
    return open_face_viewer(Path(synthetic_session.out_dir), viewer=viewer, fit=False)


def test_qc_threshold_hides_skeleton_edges_of_hidden_points(make_napari_viewer, synthetic_session):
    viewer, docks = _open(make_napari_viewer, synthetic_session)
    points = viewer.layers["session1-camA points"]
    skeleton = viewer.layers["session1-camA skeleton"]
    assert np.all(skeleton.edge_color[:, 3] > 0)
    threshold = 0.95
    docks["qc"].set_threshold(threshold)

    # every edge, read back from the vectors' own coordinates: hidden exactly
    # when a point at one of its ends is hidden
    shown_points = points.data[points.shown]
    shown_keys = {tuple(np.round(row, 6)) for row in shown_points}
    start = skeleton.data[:, 0, :]
    end = start + skeleton.data[:, 1, :]  # the offset's frame component is 0
    ends_shown = np.array(
        [tuple(np.round(a, 6)) in shown_keys and tuple(np.round(b, 6)) in shown_keys for a, b in zip(start, end)]
    )
    visible = skeleton.edge_color[:, 3] > 0
    assert (~ends_shown).sum() > 10 and ends_shown.sum() > 10  # both kinds occur
    np.testing.assert_array_equal(visible, ends_shown)

    # lowering the threshold brings every edge back with its color
    docks["qc"].set_threshold(0.0)
    assert np.all(skeleton.edge_color[:, 3] > 0)
    assert points.shown.all()
