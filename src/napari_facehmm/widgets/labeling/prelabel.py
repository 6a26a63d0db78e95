"""The labeling dock's pre-labeling: run the face model on a folder, confirm its proposals."""

from __future__ import annotations

from ... import labeling
from ...errors import FaceHMMError


class Prelabeling:
    """Pre-label with the face model, its progress, the proposal counts, Confirm frame (C)."""

    def prelabel(self, video: str | None = None):
        """Run the face model on ``labeled-data/<video>`` in a worker thread; returns the worker.

        The proposals are written as ``machinelabels-iter<N>.h5`` and shown
        for checking (:class:`~napari_facehmm.labeling.PrelabelSet`).
        """
        if self.project is None:
            self._report(FaceHMMError("Open or create a project first."))
            return None
        video = video or self.folder_choice.currentText()
        if not video:
            self._report(FaceHMMError("No labeled-data folder: extract frames first."))
            return None
        self.save_if_dirty()
        job = labeling.prelabel_folder(self.project, video)

        def on_done(result):
            self.save_if_dirty()  # edits made on the shown folder while the model ran
            try:
                labels = labeling.load_prelabels(self.project, video, result.path)
            except FaceHMMError as error:
                self._report(error)
                return
            if self._show_labels(labels) is None:
                return
            text = "; ".join(result.messages)
            self.status.setText(f"{text}. {self.status.text()}")
            from napari.utils.notifications import show_info

            show_info(text)

        def on_abort():
            job.close()  # nothing is written when the job stops before its end
            self.status.setText("Pre-labeling cancelled; nothing was written.")

        self.prelabel_progress.setVisible(True)
        return self.prelabel_job.start(
            lambda: (yield from job),
            message=f"Pre-labeling {video} with the face model…",
            on_return=on_done,
            on_finish=lambda: self.prelabel_progress.setVisible(False),
            on_abort=on_abort,
            _progress={"desc": "Pre-labeling"},
        )

    def confirm_frame(self) -> None:
        """Accept the shown frame's proposals as labels (C)."""
        if not isinstance(self.labels, labeling.PrelabelSet):
            return
        self.labels.confirm(self.current_row)
        self._reload_points_from_labels()

    def _refresh_counts(self) -> None:
        if isinstance(self.labels, labeling.PrelabelSet):
            self.prelabel_counts.setText(f"Proposals: {self.labels.counts()}")
        else:
            self.prelabel_counts.setText("")
