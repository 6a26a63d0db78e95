"""The "Triangulate" tab: 2D tracks per camera, a calibration and Anipose's options -> the ``pose-3d`` CSV."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from magicgui.widgets import LineEdit, PushButton
from qtpy.QtWidgets import QComboBox, QFileDialog, QHBoxLayout, QLabel, QListWidget, QPushButton, QVBoxLayout, QWidget

from ...errors import FaceHMMError
from ...tracking import anipose as ta
from ...tracking.anipose import options as A
from ..forms import embed, field, form, qt, row
from .._lists import checkable_item, checked_texts, set_checked
from .._session import facehmm_meta, show_error
from ._tables import _rows, _set_rows, _table
from .qc import MEAN_OF_KEYPOINTS

FILTER_CHOICES = (A.NO_FILTER, *A.FILTER.choices)


class TriangulateTabMixin:
    """The Triangulate tab: :meth:`set_tracks`, :meth:`set_excluded`, :meth:`run_triangulation`.

    A mixin of :class:`~napari_facehmm.widgets.anipose.AniposeWidget`: its widgets
    are attributes of the dock, which provides ``viewer``, ``session``, ``config``,
    ``project_dir``, ``cam_regex``, ``_sessions``, ``status``, ``progress`` and
    ``_start``; the QC tab's :meth:`refresh_qc` and :meth:`show_reprojections`
    show the result.
    """

    def _build_triangulate_tab(self) -> QWidget:
        tab = QWidget()
        layout = QVBoxLayout(tab)
        session_row = QHBoxLayout()
        self.session_combo = QComboBox()
        self.session_combo.currentTextChanged.connect(self._session_chosen)
        session_row.addWidget(QLabel("Session"))
        session_row.addWidget(self.session_combo, 1)
        layout.addLayout(session_row)
        self.tracks_table = _table(["camera", "2D tracks (DeepLabCut .h5/.csv)"])
        self.tracks_table.itemChanged.connect(lambda *_: self._update_camera_list())
        layout.addWidget(self.tracks_table)
        buttons = QHBoxLayout()
        add = QPushButton("Add 2D files...")
        add.clicked.connect(self._browse_tracks)
        clear = QPushButton("Clear")
        clear.clicked.connect(lambda: (self.tracks_table.setRowCount(0), self._update_camera_list()))
        buttons.addWidget(add)
        buttons.addWidget(clear)
        layout.addLayout(buttons)

        command = "triangulate"
        calibration = LineEdit(name="calibration", tooltip="Anipose calibration file.\nfacehmm triangulate --calibration")
        pick = PushButton(text="...", tooltip="Choose a calibration file")
        pick.native.setMaximumWidth(30)
        pick.changed.connect(self._browse_calibration)
        self.camera_list = QListWidget()
        self.camera_list.setMaximumHeight(70)
        self.camera_list.setToolTip("Unchecked cameras are left out.\nfacehmm triangulate --exclude-camera")
        filter_choice = field(A.FILTER, "2D filter", A.NO_FILTER, command, choices=list(FILTER_CHOICES))
        self.triangulate_form = form(
            row("Calibration", calibration, pick),
            field(A.OPTIM, "optimize (triangulate_optim)", False, command),
            field(A.SCORE_THRESHOLD, "Score threshold", ta.ANIPOSE_TRIANGULATION_DEFAULTS["score_threshold"],
                  command, step=0.05),
            filter_choice,
            field(A.RANSAC, "RANSAC (3+ cameras)", False, command),
            embed(self.camera_list, "Cameras used", "cameras"),
            LineEdit(name="output", label="Write to", tooltip="pose-3d CSV to write"),
            field(A.TRUST_CALIBRATION, "trust the calibration", command=command),
            field(A.KEEP_ALL_CAMERAS, "keep a disagreeing camera", command=command),
        )
        layout.addWidget(self.triangulate_form.native)
        # the names the rest of the dock (and its tests) use for the fields
        self.calibration_edit = qt(calibration)
        self.calibration_edit.setPlaceholderText("calibration.toml")
        self.optim = qt(self.triangulate_form.optim)
        self.score_threshold = qt(self.triangulate_form.score_threshold)
        self.filter_combo = qt(filter_choice)
        self.ransac = qt(self.triangulate_form.ransac)
        self.ransac.setEnabled(False)
        self.pose3d_output = qt(self.triangulate_form.output)
        self.pose3d_output.setPlaceholderText("pose-3d CSV to write")
        self.trust_calibration = qt(self.triangulate_form.trust_calibration)
        self.keep_all_cameras = qt(self.triangulate_form.keep_all_cameras)

        self.triangulate_button = QPushButton("Run triangulation")
        self.triangulate_button.clicked.connect(self.run_triangulation)
        layout.addWidget(self.triangulate_button)
        self.triangulation_errors = _table(["camera", "error (px)"])
        layout.addWidget(self.triangulation_errors)
        self.warnings_label = QLabel("")
        self.warnings_label.setWordWrap(True)
        self.warnings_label.setStyleSheet("color: #ffb347")
        layout.addWidget(self.warnings_label)
        self.exclude_button = QPushButton("Exclude camera and re-run")
        self.exclude_button.setVisible(False)
        self.exclude_button.clicked.connect(self.exclude_flagged_and_rerun)
        layout.addWidget(self.exclude_button)
        layout.addStretch(1)
        return tab

    def _browse_tracks(self) -> None:
        paths, _ = QFileDialog.getOpenFileNames(
            self, "2D tracks (one per camera)", "", "DeepLabCut (*.h5 *.csv)"
        )
        if not paths:
            return
        grouped = self.group_by_camera(paths)
        several = [c for c, files in grouped.items() if len(files) > 1]
        if several:
            show_error(f"3D (Anipose): choose one 2D file per camera; several for {several}")
            return
        self.set_tracks({camera: files[0] for camera, files in grouped.items()})

    def _browse_calibration(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Calibration", "", "Anipose calibration (*.toml)")
        if path:
            self.calibration_edit.setText(path)

    def _session_chosen(self, session: str) -> None:
        files = self._sessions.get(session)
        if not files or self.project_dir is None:
            return
        self.set_tracks({c: str(p) for c, p in files.items()})
        pose_3d_dir = ta.project_layout(self.project_dir, self.config).pose_3d
        self.pose3d_output.setText(str(pose_3d_dir / f"{session}.csv"))

    def set_tracks(self, files: dict[str, str | Path]) -> None:
        """2D tracking file of each camera (replaces the list)."""
        self.tracks_table.blockSignals(True)
        _set_rows(self.tracks_table, sorted((c, str(p)) for c, p in files.items()), editable_paths=True)
        self.tracks_table.blockSignals(False)
        self._update_camera_list()

    def _update_camera_list(self) -> None:
        cameras = list(_rows(self.tracks_table))
        excluded = set(self.excluded_cameras())
        self.camera_list.clear()
        for camera in cameras:
            self.camera_list.addItem(checkable_item(camera, camera not in excluded))
        self.ransac.setEnabled(len(cameras) >= 3)
        if len(cameras) < 3:
            self.ransac.setChecked(False)

    def excluded_cameras(self) -> list[str]:
        return checked_texts(self.camera_list, checked=False)

    def set_excluded(self, cameras: list[str]) -> None:
        set_checked(self.camera_list, cameras, checked=False)

    def _fps(self) -> float:
        for layer in self.viewer.layers:
            fps = facehmm_meta(layer).get("fps")
            if fps:
                return float(fps)
        return 30.0

    def triangulation_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of :func:`~napari_facehmm.tracking.anipose.triangulate` from the form."""
        choice = self.filter_combo.currentText()
        options = ta.triangulation_options(
            self.config,
            score_threshold=self.score_threshold.value(),
            optim=self.optim.isChecked(),
            ransac=self.ransac.isChecked() and self.ransac.isEnabled(),
            # parameters of the chosen filter come from the project's [filter]
            filter_2d=None if choice == A.NO_FILTER else choice,
        )
        if choice == A.NO_FILTER:  # None above means "as the config says"
            options.update(filter_2d=None, filter_params=None)
        options["exclude_cameras"] = self.excluded_cameras()
        options["check_calibration"] = not self.trust_calibration.isChecked()
        options["keep_all_cameras"] = self.keep_all_cameras.isChecked()
        return options

    def triangulation_settings(self) -> ta.TriangulationSettings:
        """The form as :class:`~napari_facehmm.tracking.anipose.TriangulationSettings` (DataError if out of range)."""
        return ta.TriangulationSettings(**self.triangulation_kwargs())

    def run_triangulation(self) -> Any:
        """Triangulate in a worker thread; returns the worker (None if the input is wrong)."""
        files = _rows(self.tracks_table)
        calibration = self.calibration_edit.text().strip()
        output = self.pose3d_output.text().strip()
        try:
            if len(files) < 2:
                raise FaceHMMError("triangulation needs the 2D tracks of at least two cameras")
            if not calibration:
                raise FaceHMMError("choose a calibration.toml (or run the calibration)")
            options = {"settings": self.triangulation_settings()}
        except FaceHMMError as exc:
            show_error(f"3D (Anipose): {exc}")
            return None
        if not output:
            first = Path(next(iter(files.values())))
            output = str(first.with_name(ta.session_name_from_path(first, self.cam_regex) + "-3d.csv"))
            self.pose3d_output.setText(output)
        return self._start(
            ta.triangulate_session,
            (files, calibration, Path(output)),
            self._on_triangulated,
            "triangulating...",
            fps=self._fps(),
            **options,
        )

    def _on_triangulated(self, outcome: ta.SessionTriangulation | None) -> None:
        if outcome is None:
            return
        result, qc_failure = outcome.series, outcome.qc_failure
        self.tracks_2d, self.calibration, self.errors = outcome.tracks_2d, outcome.calibration, outcome.reprojection_errors
        self.pose3d = result
        attrs = result.attrs
        pair_errors = attrs.get("camera_pair_errors_px", {}) or {}
        rows = []
        for camera, error in (attrs.get("camera_errors_px") or {}).items():
            pair = pair_errors.get(camera, np.nan)
            rows.append((camera, f"{error:.3f}" + (f"  (best pair {pair:.3f})" if np.isfinite(pair) else "")))
        _set_rows(self.triangulation_errors, rows)
        notes = list(attrs.get("warnings") or [])
        self.warnings_label.setText("\n".join(notes))
        # the camera the engine warned about and kept (left out already: nothing to offer)
        dropped = attrs.get("dropped_cameras") or {}
        flagged = attrs.get("bad_camera") or next(iter(ta.disagreeing_cameras(pair_errors)), None)
        self.flagged_camera = None if flagged in dropped else flagged
        self.exclude_button.setVisible(self.flagged_camera is not None)
        if self.flagged_camera:
            self.exclude_button.setText(f"Exclude {self.flagged_camera} and re-run")
        self.progress.setValue(self.progress.maximum())
        if qc_failure is not None:
            show_error(f"3D (Anipose): QC of the result failed: {qc_failure}")
        self.keypoint_combo.blockSignals(True)
        self.keypoint_combo.clear()
        self.keypoint_combo.addItems([MEAN_OF_KEYPOINTS, *result.keypoints])
        self.keypoint_combo.blockSignals(False)
        self.refresh_qc()
        left_out = "".join(
            f"; {name} left out: error {figures['error_px']:.2f} px without it, "
            f"{figures['error_all_cameras_px']:.2f} px with it"
            for name, figures in dropped.items()
        )
        self.status.setText(f"wrote {result.source} ({attrs.get('method', '')}){left_out}")
        if self.session.points_layers() or self._camera_translate(next(iter(self.tracks_2d), "")) is not None:
            self.show_reprojections()

    def exclude_flagged_and_rerun(self) -> Any:
        """Leave out the camera the engine flagged, and triangulate again."""
        if self.flagged_camera is None:
            return None
        self.set_excluded(sorted({*self.excluded_cameras(), self.flagged_camera}))
        return self.run_triangulation()
