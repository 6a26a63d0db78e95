"""Expression states dock: fit or load a FaceHMM, color the points by state.

The form is ``facehmm analyze``'s options (:mod:`.states_form`). The fit is
the core's :func:`~napari_facehmm.analysis_tracks.run_track_analysis` (one
track: exactly ``facehmm analyze``'s :func:`~napari_facehmm.analysis.run_analysis`;
several: one model for all, each decoded on its own features), run in a
worker thread (:class:`~napari_facehmm.widgets._worker.DockJob`) with a
progress bar; Cancel stops it at the next progress step. With ``auto`` or a
range of states the core chooses K first; the dock then shows its curve
(:mod:`.selection_curve`), from which another K can be picked and fitted.
The legend lists the state colors and names (editable, saved with the model)
and which states come back in re-fits with other seeds. After Load model the
form shows the model's own options. Errors from the core are shown as
notifications and leave the viewer usable.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from qtpy.QtWidgets import (
    QAbstractItemView,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from ..data import LandmarkSeries
from ..errors import Cancelled, DataError, FaceHMMError
from ..hmm.stability import STABILITY_SEEDS
from ._session import facehmm_meta, get_session, show_error, show_failure
from ._lists import checkable_item, checked_texts, set_checked
from ._worker import DockJob, job_controls, status_label
from .selection_curve import SelectionCurve
from .states_form import AnalysisForm
from .states_legend import StateLegend

#: label of the track that is the session's 3D series
POSE3D_TRACK = "3D pose (session)"


def decode(model: Any, features: Any) -> tuple[np.ndarray, np.ndarray]:
    """States ``(T,)`` (-1 = none) and posteriors ``(T, n_states)`` of a feature matrix (:func:`analysis.decode`)."""
    from ..analysis import decode as decode_with_likelihood

    states, posterior, _ = decode_with_likelihood(model, features)
    return states, posterior


def track_analysis(series_list: list[LandmarkSeries], n_states: Any, settings: Any, fit_arguments: dict):
    """The dock's fit: :func:`run_track_analysis` with the form's options (a progress generator)."""
    from ..analysis_tracks import run_track_analysis

    return (yield from run_track_analysis(series_list, n_states, settings=settings, **fit_arguments))


class ExpressionStatesWidget(QWidget):
    """Fit/load a FaceHMM on landmark tracks and color the points by state."""

    def __init__(self, napari_viewer: Any, parent: QWidget | None = None):
        super().__init__(parent)
        self.viewer = napari_viewer
        self.session = get_session(napari_viewer)
        self.model_path: Path | None = None
        self._fit_names: list[str] | None = None
        #: the last fit's seed stability block (``summary.json``'s ``stability``); None without a check
        self.stability: dict | None = None

        self.tracks = QListWidget()
        self.tracks.setMaximumHeight(90)
        self.tracks.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        #: the analysis options (``facehmm analyze``'s); some fields' Qt widgets are kept as attributes
        self.form = AnalysisForm(STABILITY_SEEDS)
        self.n_states = self.form.qt("n_states")
        self.n_restarts = self.form.qt("restarts")
        self.stability_seeds = self.form.qt("stability_seeds")
        self.features = self.form.qt("features")
        self.align = self.form.qt("align")
        #: the curve of the last choice of K (``auto`` / a range), hidden without one
        self.curve = SelectionCurve()
        #: the K picked on the curve while its refit runs
        self._picked: int | None = None
        self.fit_button = QPushButton("Fit")
        self.cancel_button, self.progress = job_controls(self.cancel)
        self.load_button = QPushButton("Load model...")
        self.save_button = QPushButton("Save model...")
        self.save_button.setEnabled(False)
        self.status = status_label()
        self.legend = StateLegend()
        self.job = DockJob(
            buttons=[self.fit_button], cancel_button=self.cancel_button, progress_bar=self.progress, status=self.status
        )

        buttons = QHBoxLayout()
        for button in (self.fit_button, self.cancel_button):
            buttons.addWidget(button)
        files = QHBoxLayout()
        for button in (self.load_button, self.save_button):
            files.addWidget(button)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("tracks"))
        layout.addWidget(self.tracks)
        layout.addWidget(self.form)
        layout.addLayout(buttons)
        layout.addLayout(files)
        layout.addWidget(self.progress)
        layout.addWidget(self.status)
        layout.addWidget(self.curve)
        layout.addWidget(self.legend)

        self.fit_button.clicked.connect(self.fit)
        self.load_button.clicked.connect(self._ask_load)
        self.save_button.clicked.connect(self._ask_save)
        self.legend.renamed.connect(self.rename_state)
        self.curve.refit_requested.connect(self.refit)
        self.viewer.layers.events.inserted.connect(self.refresh_tracks)
        self.viewer.layers.events.removed.connect(self.refresh_tracks)
        self.session.states_changed.connect(self._fill_legend)
        self.refresh_tracks()

    # ------------------------------------------------------------- tracks
    def refresh_tracks(self, *_: Any) -> None:
        checked = set(self.selected_track_names()) if self.tracks.count() else None
        self.tracks.clear()
        names = ([POSE3D_TRACK] if self.session.pose3d() is not None else []) + [
            layer.name for layer in self.session.points_layers()
        ]
        for i, name in enumerate(names):
            self.tracks.addItem(checkable_item(name, (name in checked) if checked else i == 0))

    def selected_track_names(self) -> list[str]:
        return checked_texts(self.tracks)

    def set_tracks(self, names: list[str]) -> None:
        set_checked(self.tracks, names)

    def selected_tracks(self) -> list[tuple[str, LandmarkSeries]]:
        """``(name, series)`` of each checked track that is still loaded, in list order."""
        tracks = []
        for name in self.selected_track_names():
            if name == POSE3D_TRACK:
                series = self.session.pose3d()
                if series is not None:
                    tracks.append((name, series))
            elif name in self.viewer.layers:
                tracks.append((name, facehmm_meta(self.viewer.layers[name])["series"]))
        if not tracks:
            raise DataError("select at least one track (a landmark points layer or the 3D pose)")
        return tracks

    def selected_series(self) -> list[LandmarkSeries]:
        return [series for _, series in self.selected_tracks()]

    def job_arguments(self, n_states: int | None = None) -> tuple:
        """``track_analysis``'s arguments from the checked tracks and the form (``n_states``: this K instead).

        Raises
        ------
        FaceHMMError
            No track checked, or an option that does not fit the data (a
            keypoint name the tracks do not have), before any work.
        """
        series_list = self.selected_series()
        settings = self.form.feature_settings(series_list[0].keypoints)
        states = self.form.n_states() if n_states is None else int(n_states)
        return series_list, states, settings, self.form.fit_arguments()

    # ---------------------------------------------------------------- fit
    @property
    def worker(self) -> Any:
        """The running fit's worker; None when idle."""
        return self.job.worker

    def fit(self, n_states: int | None = None) -> Any:
        """Start fitting in a worker thread (``n_states``: this K, not the form's); returns the worker."""
        try:
            tracks = self.selected_tracks()
            arguments = self.job_arguments(n_states)
        except FaceHMMError as exc:
            show_error(str(exc))
            return None
        # the names of the fitted tracks, should the selection change during the fit
        self._fit_names = [name for name, _ in tracks]
        self._picked = n_states
        return self.job.start(
            track_analysis,
            *arguments,
            message="fitting...",
            on_return=self._on_fitted,
            on_error=self._on_error,
            on_finish=self._on_finished,
        )

    def refit(self, n_states: int) -> Any:
        """Fit ``n_states`` picked on the selection curve, with the form's other options."""
        return self.fit(n_states=n_states)

    def cancel(self) -> None:
        """Stop the running fit at its next progress step."""
        self.job.cancel("cancelling...")

    def _on_fitted(self, results: list | None) -> None:
        """Show the states of a fit (:func:`run_track_analysis`'s results, one per fitted track)."""
        if not results:
            return
        names = self._fit_names or [name for name, _ in self.selected_tracks()]
        self.model_path = None
        self.stability = results[0].info.get("stability")
        decoded = [(result.features, result.states, result.posterior) for result in results]
        self._apply(results[0].model, list(zip(names, decoded, strict=False)))
        n_frames = sum(result.features.n_valid for result in results)
        self.status.setText(
            self._selection_note(results[0])
            + f"fitted {self.session.n_states} states on {n_frames} frames of {len(results)} track(s)"
            + self._stability_note()
            + self._tracks_note(names[: len(results)])
        )

    def _selection_note(self, result: Any) -> str:
        """Show the choice of K on the curve (or mark the picked K on it); the choice in words."""
        selection = result.info.get("model_selection")
        if selection:
            self.curve.show_selection(result.info["model_selection_table"], selection["chosen"], selection["reason"])
            return f"chose {selection['reason']}; "
        if self._picked is not None and self.curve.table is not None:
            self.curve.set_shown(self._picked)
            return f"picked {self._picked} states on the curve (the data chose {self.curve.chosen}); "
        self.curve.clear()  # a fit with a fixed K: the old curve is not about these states
        return ""

    def _stability_note(self) -> str:
        from ..analysis_stability import stability_sentence

        sentence = stability_sentence(self.stability, self.session.state_names)
        return f"; {sentence}" if sentence else ""

    def _on_error(self, exc: BaseException) -> None:
        if isinstance(exc, Cancelled):
            self.status.setText("cancelled")
            return
        show_failure("Fit failed", exc, self.status)

    def _on_finished(self) -> None:
        if self.job.cancel_requested:
            self.status.setText("cancelled; the previous states are kept")
        self._fit_names = None
        self._picked = None

    @staticmethod
    def _tracks_note(names: list[str]) -> str:
        if len(names) < 2:
            return ""
        return (
            f"; each track is colored by its own states and has its own ethogram row; click a row "
            f"(or pick the track in the 3D face) to show it in the 3D face and summary (now {names[0]})"
        )

    def _apply(self, model: Any, decoded: list[tuple[str, tuple]]) -> None:
        """Hand the states to the session; ``decoded`` is ``[(track name, (features, states, posterior))]``."""
        from ._session import DecodedTrack

        tracks = [
            DecodedTrack(name, track_states, track_features.frame_indices, track_posterior, track_features)
            for name, (track_features, track_states, track_posterior) in decoded
        ]
        names = list(getattr(model, "state_names", None) or [])
        n_states = int(getattr(model, "n_states", tracks[0].posterior.shape[1]))
        self.session.set_states(tracks, n_states, state_names=names, model=model)
        self.save_button.setEnabled(True)

    # ------------------------------------------------------- load / save
    def _ask_load(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Load a FaceHMM model")
        if path:
            self.load_model(path)

    def load_model(self, path: str | Path) -> bool:
        """Load a saved model and decode every selected track with it."""
        from ..analysis import features_for_model
        from ..hmm import FaceHMM

        try:
            model = FaceHMM.load(path)
            decoded = []
            for name, series in self.selected_tracks():
                # the settings, z-score and template stored with the model, as facehmm analyze --model;
                # another feature layout raises DataError
                track_features = features_for_model(series, model)
                decoded.append((name, (track_features, *decode(model, track_features))))
        except FaceHMMError as exc:
            show_error(f"Could not use model {Path(path).name}: {exc}")
            return False
        except (OSError, ValueError, KeyError) as exc:
            show_error(f"Could not load model {Path(path).name}: {type(exc).__name__}: {exc}")
            return False
        self.model_path = Path(path)
        # the check made when the model was fitted (facehmm analyze or this dock), if any
        stability = (getattr(model, "metadata", None) or {}).get("stability")
        self.stability = stability if stability and len(stability.get("n_back", [])) == model.n_states else None
        self._apply(model, decoded)
        self._show_model_settings(model)
        self.curve.clear()
        self.status.setText(f"loaded {Path(path).name}" + self._tracks_note([name for name, _ in decoded]))
        return True

    def _show_model_settings(self, model: Any) -> None:
        """The form shows the options the loaded model was fitted with, not the dock's defaults."""
        from ..analysis_settings import model_values

        try:
            values = model_values(model)
        except FaceHMMError:
            return
        self.form.set_values(values)

    def _ask_save(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Save the FaceHMM model", str(self.model_path or ""))
        if path:
            self.save_model(path)

    def save_model(self, path: str | Path) -> bool:
        model = self.session.model
        if model is None:
            show_error("no model to save: fit or load one first")
            return False
        try:
            model.state_names = list(self.session.state_names)
            model.save(path)
        except (FaceHMMError, OSError) as exc:
            show_error(f"Could not save the model: {exc}")
            return False
        self.model_path = Path(path)
        self.status.setText(f"saved {Path(path).name} (with state names)")
        return True

    # ------------------------------------------------------------- legend
    def _fill_legend(self) -> None:
        self.legend.fill(self.session.palette(), list(self.session.state_names), self.stability)

    def rename_state(self, state: int, name: str) -> None:
        name = name.strip() or f"state {state}"
        self.session.rename_state(state, name)
        self.legend.set_name(state, name)
