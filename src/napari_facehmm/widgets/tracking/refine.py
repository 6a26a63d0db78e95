"""The "Refine" tab: outlier frames or chosen frames into the project, the labeling widget, merging."""

from __future__ import annotations

from pathlib import Path

from magicgui.widgets import LineEdit, PushButton
from qtpy.QtWidgets import QFileDialog, QLabel, QPushButton, QVBoxLayout, QWidget

from ...errors import FaceHMMError
from ...text_input import parse_frame_list
from ...tracking import dlc
from ...tracking.dlc import settings as S
from ..forms import field, form, qt


class RefineTabMixin:
    """The Refine tab: :meth:`extract_outliers`, :meth:`frames_from_file`, :meth:`add_extra_frames`, :meth:`merge`."""

    def _build_refine_tab(self) -> QWidget:
        tab = QWidget()
        layout = QVBoxLayout(tab)
        # DeepLabCut's outlier frames (facehmm dlc outliers), then frames chosen by number or
        # from a 3D / HMM result (facehmm dlc add-frames)
        outliers = PushButton(text="Extract outlier frames of the listed videos")
        outliers.changed.connect(self.extract_outliers)
        self.refine_form = form(
            field(S.OUTLIER_ALGORITHM, "Outliers by", command="dlc outliers"),
            field(S.EPSILON, "Jump threshold (px)", command="dlc outliers"),
            outliers,
            LineEdit(name="frames", label="Extra frames",
                     tooltip="Frame numbers (0-based), separated by commas.\nfacehmm dlc add-frames FRAME..."),
            field(S.ERROR_PX, "3D: reprojection error above (px)", command="dlc add-frames"),
            field(S.PROBABILITY, "HMM: state probability below", command="dlc add-frames", step=0.05),
        )
        layout.addWidget(self.refine_form.native)
        self.outliers_button = qt(outliers)
        self.outlier_combo = qt(self.refine_form.algorithm)
        self.epsilon_spin = qt(self.refine_form.epsilon)
        self.extra_frames_edit = qt(self.refine_form.frames)
        self.extra_frames_edit.setPlaceholderText("e.g. 120, 348, 1002 (HMM / 3D disagreement)")
        self.reprojection_spin = qt(self.refine_form.error_px)
        self.probability_spin = qt(self.refine_form.probability)
        self.frames_from_file_button = QPushButton("Fill from a pose-3d CSV or an analysis states.csv...")
        self.frames_from_file_button.clicked.connect(lambda: self.frames_from_file())
        layout.addWidget(self.frames_from_file_button)
        self.add_frames_button = QPushButton("Add these frames of the first listed video")
        self.add_frames_button.clicked.connect(self.add_extra_frames)
        layout.addWidget(self.add_frames_button)
        self.labeling_button = QPushButton("Open extracted frames in the labeling widget")
        self.labeling_button.clicked.connect(lambda: self.open_in_labeling())
        layout.addWidget(self.labeling_button)
        self.merge_button = QPushButton("Merge refined labels (next iteration)")
        self.merge_button.clicked.connect(self.merge)
        layout.addWidget(self.merge_button)
        layout.addWidget(QLabel("Then create a training dataset and train again (Train tab)."))
        layout.addStretch(1)
        return tab

    # ------------------------------------------------------------ refinement
    def extract_outliers(self) -> None:
        """DeepLabCut's outlier extraction (automatic) on the listed, analyzed videos."""
        try:
            config = self._require_project()
            dlc.require_deeplabcut("Extracting outlier frames with DeepLabCut")
            videos = self.listed_videos()
            if not videos:
                raise FaceHMMError("List the analyzed videos in the Analyze tab first.")
        except FaceHMMError as error:
            self._report(error)
            return
        algorithm = self.refine_form.algorithm.value
        epsilon = self.refine_form.epsilon.value
        snapshot = self.selected_snapshot()
        shuffle = self.shuffle_spin.value()

        def _done(added: dict) -> None:
            counts = ", ".join(f"{name}: {len(images)}" for name, images in added.items())
            self._info(f"Outlier frames added to labeled-data ({counts}).")
            self._last_refine_folder = next((n for n, images in added.items() if images), None)

        self._start_worker(
            lambda: dlc.extract_outlier_frames(
                config, videos, shuffle=shuffle, algorithm=algorithm, epsilon_px=epsilon, snapshot=snapshot
            ),
            on_return=_done,
            busy=[self.outliers_button],
        )

    def frames_from_file(self, path: str | Path | None = None, max_frames: int | None = None) -> list[int]:
        """Fill the extra frames with the 3D or HMM disagreements found in ``path``.

        ``max_frames`` defaults to the project's ``numframes2pick``.
        """
        if path is None:
            path, _ = QFileDialog.getOpenFileName(self, "pose-3d CSV or states.csv", "", "CSV (*.csv)")
            if not path:
                return []
        try:
            if max_frames is None and self.config_path is not None:
                from ...io.dlc import read_dlc_config

                max_frames = read_dlc_config(self.config_path).numframes2pick
            frames = dlc.refinement_frames(
                path,
                reprojection_threshold_px=self.refine_form.error_px.value,
                probability_threshold=self.refine_form.probability.value,
                max_frames=max_frames,
            )
        except FaceHMMError as error:
            self._report(error)
            return []
        self.extra_frames_edit.setText(", ".join(str(int(f)) for f in frames))
        self.status.setText(f"{len(frames)} frame(s) from {Path(path).name}")
        return [int(f) for f in frames]

    def add_extra_frames(self) -> None:
        """Add the typed frame numbers of the first listed video (with its latest analysis as machine labels)."""
        try:
            config = self._require_project()
            videos = self.listed_videos()
            if not videos:
                raise FaceHMMError("List the video in the Analyze tab first.")
            frames = parse_frame_list(self.extra_frames_edit.text())
            if not frames:
                raise FaceHMMError("Type the frame numbers to add.")
            video = videos[0]
            predictions = next((o for o in reversed(self.analysis_outputs) if o.name.startswith(video.stem)), None)
            written = dlc.add_frames_to_labeled_data(config, video, frames, predictions=predictions)
        except FaceHMMError as error:
            self._report(error)
            return
        self._last_refine_folder = video.stem
        self._info(f"{len(written)} frame(s) of {video.name} added to labeled-data/{video.stem}.")

    def open_in_labeling(self, folder: str | None = None):
        """Open ``labeled-data/<folder>`` in the labeling widget, with machine labels to refine."""
        try:
            config = self._require_project()
            folder = folder or getattr(self, "_last_refine_folder", None)
            if not folder:
                raise FaceHMMError("Extract outlier frames (or add frames) first.")
            from ..labeling import LabelingWidget
        except (FaceHMMError, ImportError) as error:
            self._report(error)
            return None
        widget = getattr(self, "_labeling_widget", None)
        if widget is None:
            widget = LabelingWidget(self.viewer)
            self.viewer.window.add_dock_widget(widget, name="Labeling (refine)", area="right")
            self._labeling_widget = widget
        if widget.open_project(config) is None:
            return None
        widget.open_folder(folder, refine=True)
        return widget

    def merge(self) -> None:
        """DeepLabCut's merge_datasets: the next iteration starts; then create a dataset and train."""
        try:
            config = self._require_project()
            dlc.require_deeplabcut("Merging DeepLabCut datasets")
        except FaceHMMError as error:
            self._report(error)
            return
        self._start_worker(
            lambda: dlc.merge_datasets(config),
            on_return=lambda iteration: self._info(
                f"Merged: iteration {iteration}. Create a training dataset and train again."
            ),
        )
