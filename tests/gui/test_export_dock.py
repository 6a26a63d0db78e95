"""The Export dock (widgets/export.py) and the napari reader of exported files (.nwb, .nc)."""

from __future__ import annotations

import numpy as np
import pytest

from _export_session import make_analysed_session
from napari_facehmm.io import read_landmarks
from napari_facehmm.io.anipose import read_pose3d

pytestmark = pytest.mark.gui


@pytest.fixture(scope="module")
def analysed(tmp_path_factory):
    return make_analysed_session(tmp_path_factory.mktemp("export_dock"))


def test_dock_exports_nwb_in_a_worker_with_progress(make_napari_viewer, qtbot, analysed, tmp_path, notifications):
    from napari_facehmm.widgets.export import ExportWidget

    viewer = make_napari_viewer()
    viewer.open(str(analysed.session), plugin="napari-facehmm")
    dock = ExportWidget(viewer)
    assert dock.session_edit.text() == str(analysed.session)  # taken from the session the viewer shows
    dock.analysis_edit.setText(str(analysed.analysis))
    dock.set_format("nwb")
    assert dock.out_edit.text().endswith("session.nwb") and not dock.track_edit.isEnabled()
    out = tmp_path / "dock.nwb"
    dock.out_edit.setText(str(out))
    steps = []
    worker = dock.export()
    assert worker is not None
    worker.yielded.connect(steps.append)
    qtbot.waitUntil(lambda: dock.written is not None, timeout=60_000)
    qtbot.waitUntil(lambda: not dock.job.running, timeout=10_000)
    assert dock.written == out and dock.progress.value() == dock.progress.maximum() == 3
    assert "wrote" in dock.status.text() and notifications == []
    truth = read_pose3d(analysed.session / "pose-3d" / "session1.csv")
    np.testing.assert_array_equal(read_landmarks(out).positions, truth.positions)
    assert dock.export_button.isEnabled() and not dock.cancel_button.isEnabled()


def test_dock_refuses_an_existing_file_before_starting(make_napari_viewer, analysed, tmp_path, notifications):
    from napari_facehmm.widgets.export import ExportWidget

    dock = ExportWidget(make_napari_viewer())
    existing = tmp_path / "exists.nc"
    existing.write_bytes(b"keep")
    dock.session_edit.setText(str(analysed.session))
    dock.analysis_edit.setText(str(analysed.analysis))
    dock.set_format("movement")
    assert dock.track_edit.isEnabled()
    dock.out_edit.setText(str(existing))
    assert dock.export() is None and not dock.job.running
    assert any("exists" in message for message in notifications)
    assert existing.read_bytes() == b"keep"
    dock.analysis_edit.setText(str(tmp_path / "nowhere"))
    dock.out_edit.setText(str(tmp_path / "new.nc"))
    assert dock.export() is None
    assert any("no such analysis folder" in message for message in notifications)


def test_napari_opens_exported_nwb_and_netcdf(make_napari_viewer, analysed, tmp_path):
    from napari_facehmm.export.movement_netcdf import write_movement
    from napari_facehmm.export.nwb import write_nwb
    from napari_facehmm.progress import run_to_end

    nwb = run_to_end(write_nwb(analysed.session, analysed.analysis, tmp_path / "s.nwb"))
    netcdf = run_to_end(write_movement(analysed.session, analysed.analysis, tmp_path / "s.nc", track="camA"))
    viewer = make_napari_viewer()
    for path in (nwb, netcdf):
        layers = viewer.open(str(path), plugin="napari-facehmm")
        points = [layer for layer in layers if layer._type_string == "points"]
        assert len(points) == 1
        assert points[0].data.shape[1] == 3  # time, y, x (a 3D track is shown from the front)
        assert len(points[0].data) > 0.9 * analysed.n_frames * 21
