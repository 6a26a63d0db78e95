"""The labeling dock's Project tab: create a DeepLabCut project or open a ``config.yaml``."""

from __future__ import annotations

from pathlib import Path

from magicgui.widgets import FileEdit, LineEdit, PushButton, TextEdit
from qtpy.QtWidgets import QFileDialog, QHBoxLayout, QListWidget, QPushButton, QVBoxLayout, QWidget

from ... import labeling
from ...errors import FaceHMMError
from ...face import FACE_KEYPOINTS, FACE_SKELETON
from ..forms import check_box, embed, form, qt
from ...text_input import parse_keypoint_list, parse_skeleton


class ProjectTab:
    """The Project tab: a new project from videos and a landmark set, or an existing one."""

    def _build_project_tab(self) -> QWidget:
        tab = QWidget()
        layout = QVBoxLayout(tab)
        self.video_list = QListWidget()
        self.video_list.setMaximumHeight(70)
        add_videos = PushButton(text="Add videos…")
        add_videos.changed.connect(self._choose_videos)
        # the arguments of labeling.create_project
        self.project_form = form(
            LineEdit(name="project", label="Name", value="face", tooltip="The project's name (DeepLabCut's Task)"),
            LineEdit(name="experimenter", label="Experimenter", tooltip="Your name: the scorer of your labels"),
            embed(self.video_list, "Videos", "videos"),
            add_videos,
            FileEdit(name="working_directory", label="Folder", mode="d", value=Path.cwd(),
                     tooltip="The project folder is made in this folder"),
            TextEdit(name="bodyparts", label="Landmarks", value="\n".join(FACE_KEYPOINTS),
                     tooltip="One landmark name per line (DeepLabCut bodyparts)."),
            TextEdit(name="skeleton", label="Skeleton", value="\n".join(f"{a}-{b}" for a, b in FACE_SKELETON),
                     tooltip="One skeleton edge per line: name-name."),
            check_box("use_deeplabcut", "use DeepLabCut's create_new_project",
                     value=labeling.deeplabcut_available(), enabled=labeling.deeplabcut_available()),
        )
        layout.addWidget(self.project_form.native)
        self.project_name = qt(self.project_form.project)
        self.experimenter = qt(self.project_form.experimenter)
        self.experimenter.setPlaceholderText("your name (the scorer)")
        self.working_directory = qt(self.project_form.working_directory)
        self.keypoints_edit = qt(self.project_form.bodyparts)
        self.skeleton_edit = qt(self.project_form.skeleton)
        for edit in (self.keypoints_edit, self.skeleton_edit):
            edit.setAcceptRichText(False)
            edit.setMaximumHeight(90)
        self.use_deeplabcut = qt(self.project_form.use_deeplabcut)
        create = QPushButton("Create project")
        create.clicked.connect(self._create_clicked)
        open_button = QPushButton("Open config.yaml…")
        open_button.clicked.connect(self._open_clicked)
        buttons = QHBoxLayout()
        buttons.addWidget(create)
        buttons.addWidget(open_button)
        layout.addLayout(buttons)
        layout.addStretch(1)
        return tab

    def _choose_videos(self) -> None:
        paths, _ = QFileDialog.getOpenFileNames(
            self, "Videos", "", "Videos (*.mp4 *.avi *.mov *.mkv);;All files (*)"
        )
        for path in paths:
            self.video_list.addItem(path)

    def _open_clicked(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "DeepLabCut config.yaml", "", "config.yaml (*.yaml)")
        if path:
            self.open_project(path)

    def _create_clicked(self) -> None:
        videos = [self.video_list.item(i).text() for i in range(self.video_list.count())]
        try:
            keypoints = parse_keypoint_list(self.project_form.bodyparts.value)
            skeleton = parse_skeleton(self.project_form.skeleton.value)
        except FaceHMMError as error:
            self._report(error)
            return
        fields = self.project_form
        self.create_project(
            fields.project.value.strip(),
            fields.experimenter.value.strip(),
            videos,
            self.working_directory.text().strip(),
            keypoints,
            skeleton,
            use_deeplabcut=fields.use_deeplabcut.value,
        )

    def create_project(self, name, experimenter, videos, working_directory, keypoints=FACE_KEYPOINTS,
                       skeleton=FACE_SKELETON, use_deeplabcut: bool | None = None):
        """Create a project in a worker thread; returns the worker.

        With DeepLabCut the work runs in a child process
        (:func:`~napari_facehmm.labeling.in_subprocess`): importing DeepLabCut
        into a process that shows a napari viewer crashes.
        """
        arguments = dict(
            project=name,
            experimenter=experimenter,
            videos=[str(v) for v in videos],
            working_directory=str(working_directory),
            bodyparts=list(keypoints),
            skeleton=[list(edge) for edge in skeleton],
        )
        if use_deeplabcut is None:
            use_deeplabcut = labeling.deeplabcut_available()
        if use_deeplabcut:
            job = labeling.in_subprocess("create_project", use_deeplabcut=True, **arguments)
            function = lambda: (yield from job)  # noqa: E731
        else:
            function = lambda: labeling.create_project(use_deeplabcut=False, **arguments)  # noqa: E731
        return self.project_job.start(function, message="Creating the project…", on_return=self.open_project)

    def open_project(self, config_path: str | Path) -> labeling.LabelingProject | None:
        """Open a ``config.yaml``; lists its ``labeled-data`` folders."""
        try:
            self.project = labeling.open_project(config_path)
        except FaceHMMError as error:
            self._report(error)
            return None
        self._refresh_folders()
        self._fill_frame_counts()
        self.status.setText(
            f"Project {self.project.root.name}: {len(self.project.bodyparts)} landmarks, "
            f"{len(self.project.video_sets)} video(s)."
        )
        return self.project

    def _refresh_folders(self) -> None:
        self.folder_choice.clear()
        if self.project is not None:
            self.folder_choice.addItems(labeling.labeled_data_folders(self.project))
