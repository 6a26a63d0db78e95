"""The Expression states dock shows which states come back in re-fits with other seeds.

A 4-state synthetic face fitted with 8 states: the legend's "comes back" column
flags the unstable states in red, as ``state_stats.csv`` does; a saved model keeps them. The PNG goes to
``$FACEHMM_SCREENSHOT_DIR`` when set (to look at it), else to the tmp folder.
Budget: about 20 s.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

pytestmark = pytest.mark.gui


def test_legend_flags_unstable_states(make_napari_viewer, tmp_path, qtbot):
    import imageio.v2 as imageio

    from napari_facehmm._napari.layers import add_layer_data
    from napari_facehmm._napari.readers import landmark_layers
    from napari_facehmm.hmm.stability import STABILITY_SEEDS
    from napari_facehmm.synthetic import simulate_face
    from napari_facehmm.widgets.app import add_docks, fit_now

    series = simulate_face(900, fps=30.0, seed=3, n_states=4).to_series()
    viewer = make_napari_viewer(show=True)
    viewer.window._qt_window.resize(1400, 900)
    add_layer_data(viewer, landmark_layers(series, "face"))
    docks = add_docks(viewer)
    states = docks["states"]
    states.set_tracks([states.tracks.item(0).text()])
    spin = states.stability_seeds  # the dock's field is the core's setting
    assert (spin.value(), spin.minimum(), spin.maximum()) == (
        STABILITY_SEEDS.default, STABILITY_SEEDS.minimum, STABILITY_SEEDS.maximum
    )
    spin.setValue(4)
    fit_now(states, n_states=8, n_restarts=1, show_progress=False)

    stability = states.stability
    assert stability is not None and stability["n_seeds"] == 4
    assert stability["unstable_states"], "8 states on 4 true ones: some must not come back"
    legend = states.legend
    for state in range(8):
        text = legend.item(state, 2).text()
        assert f"/{3} re-fits" in text
        assert text.startswith("unstable") == (state in stability["unstable_states"])
    assert "unstable:" in states.status.text()

    out = Path(os.environ.get("FACEHMM_SCREENSHOT_DIR", tmp_path))
    out.mkdir(parents=True, exist_ok=True)
    qtbot.wait(200)
    states.grab().toImage().save(str(out / "states-stability.png"))
    image = imageio.imread(out / "states-stability.png")
    red = (image[..., 0] > 200) & (image[..., 1] < 140) & (image[..., 2] < 140)
    assert red.sum() > 20, "the unstable flags are not drawn in red"

    # the State summary dock titles the unstable states' mean faces so
    summary = docks["summary"]
    titles = [ax.get_title() for ax in summary.figure.axes[:8]]
    assert [t.endswith("(unstable)") for t in titles] == [k in stability["unstable_states"] for k in range(8)]
    summary.resize(380, 700)
    summary.grab().toImage().save(str(out / "summary-stability.png"))

    # the check is saved with the model: loading it shows the same flags
    model_path = tmp_path / "model"
    assert states.save_model(model_path)
    texts = [legend.item(state, 2).text() for state in range(8)]
    assert states.load_model(str(model_path) + ".json")
    assert states.stability == stability
    assert [legend.item(state, 2).text() for state in range(8)] == texts
