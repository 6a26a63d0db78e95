"""Assemble the face viewer: a session's layers plus every dock, fitted or loaded.

Used by ``facehmm view`` and the GUI tests; the napari menu offers the same
docks one by one through the manifest.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .anipose import AniposeWidget
from .ethogram import EthogramWidget
from .face3d import Face3DWidget
from .qc import TrackingQCWidget
from .states import ExpressionStatesWidget, track_analysis
from .summary import StateSummaryWidget


def add_docks(viewer: Any) -> dict[str, Any]:
    """Add the six docks to ``viewer``'s window; returns them by name."""
    docks = {
        "states": ExpressionStatesWidget(viewer),
        "ethogram": EthogramWidget(viewer),
        "face3d": Face3DWidget(viewer),
        "summary": StateSummaryWidget(viewer),
        "qc": TrackingQCWidget(viewer),
        "anipose": AniposeWidget(viewer),
    }
    window = viewer.window
    window.add_dock_widget(docks["ethogram"], area="bottom", name="Ethogram")
    window.add_dock_widget(docks["states"], area="right", name="Expression states")
    window.add_dock_widget(docks["face3d"], area="right", name="3D face")
    window.add_dock_widget(docks["qc"], area="left", name="Tracking QC")
    window.add_dock_widget(docks["anipose"], area="left", name="3D (Anipose)", tabify=True)
    summary = window.add_dock_widget(docks["summary"], area="left", name="State summary", tabify=True)
    summary.raise_()  # the summary tab in front
    return docks


def fit_now(
    states_widget: ExpressionStatesWidget,
    n_states: int,
    n_restarts: int,
    show_progress: bool = True,
    stability_seeds: int | None = None,
) -> None:
    """Fit synchronously (no worker thread), with a progress bar on stderr.

    ``stability_seeds`` None: the dock's own setting.
    """
    from ..progress import run_with_progress

    if stability_seeds is not None:
        states_widget.stability_seeds.setValue(stability_seeds)
    states_widget.form.set_fixed_states(n_states)
    states_widget.n_restarts.setValue(n_restarts)
    job = track_analysis(*states_widget.job_arguments())
    result = run_with_progress(job, "fitting", quiet=not show_progress)
    states_widget._on_fitted(result)


def open_face_viewer(
    folder: str | Path,
    viewer: Any = None,
    model: str | Path | None = None,
    n_states: int = 9,
    n_restarts: int = 1,
    frame: int | None = None,
    fit: bool = True,
    stability_seeds: int | None = None,
) -> tuple[Any, dict[str, Any]]:
    """Open ``folder`` (a session) with all docks, then fit or load states.

    Parameters
    ----------
    folder
        Session folder (the layout ``facehmm synth`` writes).
    viewer
        A napari viewer; a new one when None.
    model
        A saved FaceHMM (``.json``/``.npz`` stem) to load instead of fitting;
        the session's own ``model`` file is used when present.
    n_states, n_restarts
        Fit settings when fitting.
    frame
        Video frame to show.
    fit
        Fit (or load) at all.
    stability_seeds
        Seeds of the stability check when fitting (None: the dock's default).

    Raises the project's errors (a bad folder, a model that does not fit the data).
    """
    import napari

    from ..errors import DataError
    from .._napari.layers import open_session

    if viewer is None:
        viewer = napari.Viewer(title=f"napari-facehmm: {Path(folder).name}")
    open_session(viewer, folder)
    docks = add_docks(viewer)
    # the 3D dock starts from the session's Anipose files (config, calibration, pose-2d)
    docks["anipose"].set_project(folder)
    states = docks["states"]
    if model is None:
        from .._napari.session import find_session_files

        model = find_session_files(Path(folder))["model"]
    if model is not None:
        if not states.load_model(model):
            raise DataError(f"model {model} could not be used with {folder}")
    elif fit:
        fit_now(states, n_states, n_restarts, stability_seeds=stability_seeds)
    if frame is not None:
        docks["states"].session.seek(frame)
    return viewer, docks
