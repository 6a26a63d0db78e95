"""Export dock: a session and its analysis as NWB, movement's netCDF dataset or a video, with progress.

The napari face of ``facehmm export``: it calls the same core function,
:func:`napari_facehmm.export.formats.export_session`, whose checks run when
Export is pressed (an error is a notification, nothing starts) and whose
writing runs in a worker thread (:class:`~._worker.DockJob`: progress bar,
Cancel, which leaves no file behind). The session folder is taken from the
session the viewer shows, and the analysis folder from ``analysis/`` beside
it (the layout ``facehmm run`` writes), when they exist.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from qtpy.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from ..errors import FaceHMMError
from ..export.formats import EXPORT_FORMATS, default_output_name, export_session
from ._session import facehmm_meta, show_error
from ._worker import DockJob, job_controls, status_label

__all__ = ["ExportWidget"]

FORMAT_LABELS = {
    "nwb": "NWB (ndx-pose): every track, states, settings",
    "movement": "movement dataset (netCDF): one track, states",
    "video": "video: landmarks coloured by state, ethogram",
}


def _path_row(edit: QLineEdit, button: QPushButton) -> QHBoxLayout:
    row = QHBoxLayout()
    row.addWidget(edit)
    row.addWidget(button)
    return row


class ExportWidget(QWidget):
    """Session folder, analysis folder, format, output file; Export and Cancel with a progress bar."""

    def __init__(self, napari_viewer: Any, parent: QWidget | None = None):
        super().__init__(parent)
        self.viewer = napari_viewer
        self.session_edit = QLineEdit()
        self.analysis_edit = QLineEdit()
        self.out_edit = QLineEdit()
        self.format_combo = QComboBox()
        for key, label in FORMAT_LABELS.items():
            self.format_combo.addItem(label, key)
        self.track_edit = QLineEdit()
        self.track_edit.setPlaceholderText("3d or a camera (default: 3d, else the first camera)")
        self.overwrite_check = QCheckBox("overwrite the file if it exists")
        self.export_button = QPushButton("Export")
        self.cancel_button, self.progress = job_controls(lambda: self.job.cancel("cancelled: no file written"))
        self.status = status_label()
        browse = {name: QPushButton("...") for name in ("session", "analysis", "out")}
        form = QFormLayout()
        form.addRow("session folder", _path_row(self.session_edit, browse["session"]))
        form.addRow("analysis folder", _path_row(self.analysis_edit, browse["analysis"]))
        form.addRow("format", self.format_combo)
        form.addRow("track (movement)", self.track_edit)
        form.addRow("output file", _path_row(self.out_edit, browse["out"]))
        buttons = QHBoxLayout()
        buttons.addWidget(self.export_button)
        buttons.addWidget(self.cancel_button)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.overwrite_check)
        layout.addLayout(buttons)
        layout.addWidget(self.progress)
        layout.addWidget(self.status)
        layout.addStretch(1)
        self.job = DockJob(
            buttons=[self.export_button], cancel_button=self.cancel_button, progress_bar=self.progress, status=self.status
        )
        #: the file the last export wrote (None until one finished)
        self.written: Path | None = None
        browse["session"].clicked.connect(lambda: self._browse_folder(self.session_edit, "Session folder"))
        browse["analysis"].clicked.connect(lambda: self._browse_folder(self.analysis_edit, "Analysis folder"))
        browse["out"].clicked.connect(self._browse_output)
        self.format_combo.currentIndexChanged.connect(self._format_changed)
        self.export_button.clicked.connect(self.export)
        self.viewer.layers.events.inserted.connect(self._guess_folders)
        self._guess_folders()
        self._format_changed()

    @property
    def to(self) -> str:
        return str(self.format_combo.currentData())

    def set_format(self, to: str) -> None:
        self.format_combo.setCurrentIndex(list(FORMAT_LABELS).index(to))

    def _guess_folders(self, *_: Any) -> None:
        """Fill in the session shown in the viewer, and ``analysis/`` beside it, when the fields are empty."""
        if self.session_edit.text():
            return
        for layer in self.viewer.layers:
            session_dir = facehmm_meta(layer).get("session_dir")
            if session_dir:
                self.session_edit.setText(str(session_dir))
                beside = Path(session_dir).parent / "analysis"
                if not self.analysis_edit.text() and (beside / "states.csv").is_file():
                    self.analysis_edit.setText(str(beside))
                self._format_changed()
                return

    def _format_changed(self, *_: Any) -> None:
        self.track_edit.setEnabled(self.to == "movement")
        session = self.session_edit.text()
        current = Path(self.out_edit.text()) if self.out_edit.text() else None
        if session and (current is None or current.suffix.lower() in EXPORT_FORMATS.values()):
            folder = current.parent if current is not None else Path(session).parent
            self.out_edit.setText(str(folder / default_output_name(session, self.to)))

    def _browse_folder(self, edit: QLineEdit, title: str) -> None:
        folder = QFileDialog.getExistingDirectory(self, title, edit.text())
        if folder:
            edit.setText(folder)
            self._format_changed()

    def _browse_output(self) -> None:
        suffix = EXPORT_FORMATS[self.to]
        path, _ = QFileDialog.getSaveFileName(self, "Export to", self.out_edit.text(), f"{self.to} (*{suffix})")
        if path:
            self.out_edit.setText(path if path.lower().endswith(suffix) else path + suffix)

    def export(self) -> Any:
        """Check the inputs (errors shown now), then write in a worker; returns the worker or None."""
        fields = {"session folder": self.session_edit, "analysis folder": self.analysis_edit, "output file": self.out_edit}
        empty = [name for name, edit in fields.items() if not edit.text().strip()]
        if empty:
            show_error(f"Export: give the {', '.join(empty)}")
            return None
        track = self.track_edit.text().strip() or None if self.to == "movement" else None
        try:
            job = export_session(
                self.session_edit.text().strip(),
                self.analysis_edit.text().strip(),
                self.to,
                self.out_edit.text().strip(),
                overwrite=self.overwrite_check.isChecked(),
                track=track,
            )
        except FaceHMMError as error:
            show_error(str(error))
            return None

        def run():
            return (yield from job)

        def done(path: Path) -> None:
            self.written = Path(path)
            self.status.setText(f"wrote {path}")

        return self.job.start(run, message=f"exporting {self.to}...", on_return=done, on_abort=job.close)
