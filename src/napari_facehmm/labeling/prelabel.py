"""Pre-labeling: the built-in face model's proposals for a folder's extracted frames.

:func:`prelabel_folder` writes them as DeepLabCut's machine labels;
:func:`load_prelabels` opens them in a :class:`PrelabelSet`, where a
proposal becomes a label only once a person confirms its frame
(:data:`PRELABEL_RULE`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from collections.abc import Generator, Sequence

import numpy as np

from ..errors import DataError
from ..face import FACE_KEYPOINTS
from ..progress import Progress
from .images import _image_files, _read_image
from .label_set import LabelSet
from .project import LabelingProject, as_project
from .refinement import find_machine_labels, load_for_refinement, write_machine_labels


#: The rule that decides what of the face model's proposals is saved, in the
#: words the dock shows (and the README uses).
PRELABEL_RULE = (
    "Proposals (hollow rings) become labels only when you confirm their frame: move, place or "
    "delete a point on it, or press C. Unconfirmed frames are not saved to CollectedData."
)


def face_model_keypoints(bodyparts: Sequence[str]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Split a project's bodyparts into those the face model proposes and the others.

    Returns
    -------
    proposed, empty
        Bodyparts that are among the 21 face landmarks
        (:data:`~napari_facehmm.face.FACE_KEYPOINTS`, the built-in tracker's
        set), and the rest, each in the project's order.
    """
    names = [str(b) for b in bodyparts]
    return (
        tuple(b for b in names if b in FACE_KEYPOINTS),
        tuple(b for b in names if b not in FACE_KEYPOINTS),
    )


@dataclass(frozen=True)
class Prelabels:
    """What :func:`prelabel_folder` wrote.

    Attributes
    ----------
    path
        The ``machinelabels-iter<N>.h5`` (``machinelabels.csv`` beside it).
    images
        Image names (``img042.png``) in row order.
    proposed_keypoints
        Bodyparts that got proposals (face landmarks).
    empty_keypoints
        Bodyparts the face model cannot propose (left empty).
    n_frames_with_face
        Images where a face was found (the others have no proposals).
    n_frames_several_faces
        Images with more than one face (the largest one was used).
    messages
        What the user should be told.
    """

    path: Path
    images: tuple[str, ...]
    proposed_keypoints: tuple[str, ...]
    empty_keypoints: tuple[str, ...]
    n_frames_with_face: int
    n_frames_several_faces: int
    messages: tuple[str, ...] = ()


def prelabel_folder(
    project: LabelingProject | str | Path,
    video: str | Path,
    min_detection_confidence: float = 0.5,
    min_presence: float = 0.5,
) -> Generator[Progress, None, Prelabels]:
    """Propose landmarks on a folder's extracted frames with the built-in face model.

    Each ``labeled-data/<video>/*.png`` image goes through MediaPipe's face
    mesh in static mode (extracted frames are far apart in time: every image
    is a fresh detection); the largest face is kept. The project's bodyparts
    that are face landmarks get the model's position and, as likelihood, the
    face presence score; other bodyparts stay empty (NaN). The proposals are
    written as DeepLabCut writes machine predictions for outlier frames:
    ``machinelabels-iter<N>.h5`` (N the config's ``iteration``, scorer
    ``FaceMesh``) and ``machinelabels.csv``, replacing an earlier file
    atomically (kept as ``.bak``). ``CollectedData_<scorer>`` is never
    touched. Open the result with :func:`load_prelabels`.

    Parameters
    ----------
    project
        A :class:`LabelingProject` or its ``config.yaml``.
    video
        A video path or the ``labeled-data`` folder name.
    min_detection_confidence, min_presence
        See :class:`~napari_facehmm.tracking.facemesh.FaceMeshTracker`.

    Yields
    ------
    tuple
        ``(images_done, n_images, message)``; close the generator to cancel
        (nothing is written then).

    Returns
    -------
    Prelabels

    Raises
    ------
    DataError
        No bodypart of the project is a face landmark, or the folder has no
        images (nothing is written).
    NoFaceError
        No image shows a face (nothing is written).
    FileFormatError
        An image cannot be read (naming it).
    MissingDependencyError
        MediaPipe is not installed.
    """
    from ..progress import relay
    from ..tracking.facemesh import SCORER, FaceMeshTracker, count_faces, mesh_to_landmarks, track_frames

    project = as_project(project)
    folder = project.labeled_data(video)
    proposed, empty = face_model_keypoints(project.bodyparts)
    if not proposed:
        raise DataError(
            f"{project.config_path}: none of the project's bodyparts {list(project.bodyparts)} is one of the "
            f"face model's landmarks {list(FACE_KEYPOINTS)}, so it has nothing to propose; nothing was written. "
            "Pre-labeling works for face projects that use these landmark names."
        )
    paths = _image_files(folder)
    if not paths:
        raise DataError(f"{folder}: no images to pre-label (extract frames first)")
    n_images = len(paths)

    def step(progress: Progress) -> Progress:
        done, _, _ = progress
        return done, n_images, f"face model: {done} of {n_images} images of {folder.name}"

    with FaceMeshTracker(
        max_faces=2, min_detection_confidence=min_detection_confidence, min_presence=min_presence, static=True
    ) as tracker:
        vertices, presence, n_several = yield from relay(
            track_frames((_read_image(p) for p in paths), n_images, tracker, label=folder.name), step
        )
    landmarks = mesh_to_landmarks(vertices)  # (n_images, 21, 2), NaN where no face
    _, n_found = count_faces(landmarks, folder, "images", "; nothing was written")
    positions = np.full((n_images, len(project.bodyparts), 2), np.nan)
    likelihood = np.full((n_images, len(project.bodyparts)), np.nan)
    for k, name in enumerate(project.bodyparts):
        if name in proposed:
            positions[:, k] = landmarks[:, FACE_KEYPOINTS.index(name)]
            likelihood[:, k] = presence
    path = folder / f"machinelabels-iter{project.iteration}.h5"
    names = [p.name for p in paths]
    write_machine_labels(path, folder.name, names, project.bodyparts, positions, likelihood, scorer=SCORER)
    messages = [f"{folder.name}: face-model proposals for {len(proposed)} landmarks on {n_found} of {n_images} images"]
    if n_found < n_images:
        messages.append(f"no face was found on {n_images - n_found} image(s); label those by hand")
    if empty:
        messages.append(f"not face landmarks, left empty: {', '.join(empty)}")
    if n_several:
        messages.append(f"{int(n_several)} image(s) show several faces; the largest one was used")
    return Prelabels(
        path=path,
        images=tuple(names),
        proposed_keypoints=proposed,
        empty_keypoints=empty,
        n_frames_with_face=n_found,
        n_frames_several_faces=int(n_several),
        messages=tuple(messages),
    )


def is_face_model_proposals(path: str | Path) -> bool:
    """Whether a ``machinelabels`` file holds the face model's proposals only (scorer ``FaceMesh``)."""
    import pandas as pd

    from ..tracking.facemesh import SCORER

    try:
        columns = pd.read_hdf(Path(path)).columns
    except Exception:  # unreadable files are reported by read_machine_labels when opened
        return False
    if not isinstance(columns, pd.MultiIndex) or "scorer" not in columns.names:
        return False
    return set(columns.get_level_values("scorer")) == {SCORER}


@dataclass(frozen=True)
class ConfirmationCounts:
    """Frames of a :class:`PrelabelSet` by what saving does with them.

    ``n_confirmed`` frames are saved with no proposal left on them;
    ``n_to_check`` show proposals nobody has confirmed (their proposals are
    not saved); ``n_without_proposals`` have neither (no face found, nothing
    labeled yet), of ``n_frames``.
    """

    n_confirmed: int
    n_to_check: int
    n_without_proposals: int
    n_frames: int

    def __str__(self) -> str:
        text = f"{self.n_confirmed} frame(s) confirmed, {self.n_to_check} with proposals to check"
        if self.n_without_proposals:
            text += f", {self.n_without_proposals} without proposals"
        return text


@dataclass(eq=False)
class PrelabelSet(LabelSet):
    """A :class:`LabelSet` whose untouched points are the face model's proposals.

    The rule: a proposal becomes a label only when a person confirms its
    frame, by changing a point on it (move, place, delete, not visible) or
    with :meth:`confirm`; confirming turns every proposal of the frame into a
    label. Saving writes the confirmed frames and the frames the labels file
    already had, with their unconfirmed proposals left out, so no proposal
    reaches ``CollectedData`` unseen and no earlier label is lost.

    Parameters
    ----------
    confirmed
        ``(n_images,)`` bool: frames confirmed in this session.
    in_labels_file
        ``(n_images,)`` bool: frames that have a row in ``CollectedData``
        already (kept when saving).
    """

    confirmed: np.ndarray | None = None
    in_labels_file: np.ndarray | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in ("confirmed", "in_labels_file"):
            value = getattr(self, name)
            value = np.zeros(self.n_images, dtype=bool) if value is None else np.asarray(value, dtype=bool)
            if value.shape != (self.n_images,):
                raise DataError(f"{name} must have one entry per image ({self.n_images}); got {value.shape}")
            setattr(self, name, value.copy())

    def confirm(self, row: int) -> None:
        """A person has checked image ``row``: its proposals become labels."""
        self.confirmed[row] = True
        self.machine[row] = False
        self.dirty = True

    def set_point(self, row: int, keypoint: int | str, x: float, y: float) -> None:
        super().set_point(row, keypoint, x, y)
        self.confirm(row)

    def clear_point(self, row: int, keypoint: int | str) -> None:
        super().clear_point(row, keypoint)
        self.confirm(row)

    def mark_not_visible(self, row: int, keypoint: int | str) -> None:
        super().mark_not_visible(row, keypoint)
        self.confirm(row)

    def update_from_points(self, data: np.ndarray, labels: Sequence[str]) -> list[int]:
        """:meth:`LabelSet.update_from_points`; every image whose points changed is confirmed."""
        before = self.positions.copy()
        duplicates = super().update_from_points(data, labels)
        for row in changed_rows(before, self.positions):
            self.confirm(int(row))
        return duplicates

    def saved_rows(self) -> np.ndarray:
        """``(n_images,)`` bool: the frames saving writes (confirmed, or already in the labels file)."""
        return self.confirmed | self.in_labels_file

    def counts(self) -> ConfirmationCounts:
        with_proposals = self.machine.any(axis=1)
        saved = self.saved_rows()
        return ConfirmationCounts(
            n_confirmed=int((saved & ~with_proposals).sum()),
            n_to_check=int(with_proposals.sum()),
            n_without_proposals=int((~saved & ~with_proposals).sum()),
            n_frames=self.n_images,
        )

    def placed(self) -> np.ndarray:
        """As :meth:`LabelSet.placed`, counting only labels: a proposal is not a placed point
        (so :meth:`~LabelSet.progress` does not count proposals)."""
        return super().placed() & ~self.machine

    def first_unfinished_image(self, start: int = 0) -> int | None:
        """The first image at or after ``start`` (wrapping) with proposals to check or an undecided keypoint."""
        for step in range(self.n_images):
            row = (start + step) % self.n_images
            if self.machine[row].any() or not self.is_decided(row).all():
                return row
        return None

    def to_label_data(self):
        """The saved frames (:meth:`saved_rows`) as labels; unconfirmed proposals are left out (NaN)."""
        from ..io.dlc import LabelData

        rows = np.flatnonzero(self.saved_rows())
        positions = self.positions[rows].copy()
        positions[self.machine[rows]] = np.nan
        return LabelData(
            scorer=self.scorer,
            keypoints=tuple(self.keypoints),
            images=[self.images[r] for r in rows],
            positions=positions,
            index_style=self.index_style,
        )

    def save(self, path: str | Path | None = None) -> Path:
        """Write the saved frames to ``CollectedData_<scorer>.h5/.csv`` (see :meth:`to_label_data`).

        Raises
        ------
        DataError
            If no frame is confirmed and the labels file has none (nothing to write).
        """
        if not self.saved_rows().any():
            raise DataError(
                "No frame is confirmed yet, so there is nothing to save: check a frame's proposals, "
                "move the wrong ones (or press C to accept them), then save."
            )
        return super().save(path)


def changed_rows(before: np.ndarray, after: np.ndarray) -> np.ndarray:
    """Rows (images) where any point of ``(n_images, K, 2)`` positions differs (NaN equals NaN)."""
    same = np.isclose(before, after, rtol=0, atol=1e-9) | (np.isnan(before) & np.isnan(after))
    return np.flatnonzero(~same.all(axis=(1, 2)))


def load_prelabels(
    project: LabelingProject | str | Path, video: str | Path, machine_path: str | Path | None = None
) -> PrelabelSet:
    """A folder's labels with the face model's proposals, for checking them (see :class:`PrelabelSet`).

    The parameters are those of :func:`load_for_refinement`, which reads the
    files: proposals fill only the points with no label, as predictions do
    in refinement. The default ``machine_path`` is the proposals of the
    config's iteration (``machinelabels-iter<N>.h5``), else the folder's
    highest N.
    """
    import dataclasses

    project = as_project(project)
    folder = project.labeled_data(video)
    if machine_path is None:
        machine_path = find_machine_labels(folder, project.iteration) or find_machine_labels(folder)
        if machine_path is None:
            raise DataError(f"{folder}: no machinelabels-iter<N>.h5 (pre-label the folder with the face model first)")
    merged = load_for_refinement(project, folder.name, machine_path)
    in_file = np.zeros(merged.n_images, dtype=bool)
    labels_path = project.labels_path(folder.name)
    if labels_path.is_file():
        from ..io.dlc import read_labels

        names = {Path(image).name for image in read_labels(labels_path).images}
        in_file = np.array([Path(image).name in names for image in merged.images], dtype=bool)
    values = {f.name: getattr(merged, f.name) for f in dataclasses.fields(LabelSet)}
    return PrelabelSet(**values, in_labels_file=in_file)
