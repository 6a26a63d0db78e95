"""The label set: the labels of one ``labeled-data/<video>`` folder while they are edited.

:class:`LabelSet` holds positions, points marked not visible, progress
(:class:`LabelProgress`) and the current-keypoint logic, converts to and
from napari layer data by pure functions, and saves
``CollectedData_<scorer>.h5/.csv`` through
:func:`napari_facehmm.io.dlc.write_labels`; :func:`load_labels` opens a
folder's images and labels.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from collections.abc import Iterable, Sequence

import numpy as np

from ..errors import DataError
from .images import ImageStack, _image_files
from .project import LabelingProject, as_project


@dataclass(frozen=True)
class LabelProgress:
    """How far the labeling of one folder is.

    ``n_labeled`` points placed of ``n_total`` (images x keypoints);
    ``n_frames_done`` images where every keypoint is placed or marked not
    visible, of ``n_frames``.
    """

    n_labeled: int
    n_total: int
    n_frames_done: int
    n_frames: int

    def __str__(self) -> str:
        return (
            f"{self.n_labeled}/{self.n_total} points, "
            f"{self.n_frames_done}/{self.n_frames} frames done"
        )


@dataclass(eq=False)
class LabelSet:
    """The labels of one ``labeled-data/<video>`` folder while they are edited.

    Parameters
    ----------
    root
        Project folder (holds ``labeled-data``).
    scorer
        Scorer written in the labels file.
    keypoints
        ``K`` keypoint names in config order.
    images
        ``n_images`` image paths relative to ``root``
        (``labeled-data/<video>/img0042.png``).
    positions
        ``(n_images, K, 2)`` x, y in pixels; NaN = not labeled.
    skeleton
        Edges as pairs of keypoint names.
    not_visible
        ``(n_images, K)`` bool: the labeler decided the point is not
        visible (saved as NaN, as DeepLabCut does; kept so "next keypoint"
        skips it while the session lasts).
    index_style
        ``"multi"`` (3-level row index, DeepLabCut >= 2.2) or ``"single"``
        (one path string per row), kept as the file had it.
    missing_images
        Rows whose image file is absent from ``labeled-data`` (kept so no
        label is lost; the widget shows a blank frame and names them).
    machine
        ``(n_images, K)`` bool: the point comes from DeepLabCut predictions
        (refinement) and has not been touched by the labeler.
    """

    root: Path
    scorer: str
    keypoints: tuple[str, ...]
    images: list[str]
    positions: np.ndarray
    skeleton: tuple[tuple[str, str], ...] = ()
    not_visible: np.ndarray | None = None
    index_style: str = "multi"
    missing_images: list[str] = field(default_factory=list)
    machine: np.ndarray | None = None
    dirty: bool = False

    def __post_init__(self) -> None:
        self.root = Path(self.root)
        self.keypoints = tuple(str(k) for k in self.keypoints)
        self.images = [str(i) for i in self.images]
        shape = (len(self.images), len(self.keypoints))
        self.positions = np.asarray(self.positions, dtype=np.float64).reshape(*shape, 2)
        if self.not_visible is None:
            self.not_visible = np.zeros(shape, dtype=bool)
        if self.machine is None:
            self.machine = np.zeros(shape, dtype=bool)
        names = set(self.keypoints)
        self.skeleton = tuple((a, b) for a, b in self.skeleton if a in names and b in names)

    # ----------------------------------------------------------------- shape
    @property
    def n_images(self) -> int:
        return len(self.images)

    @property
    def n_keypoints(self) -> int:
        return len(self.keypoints)

    @property
    def video(self) -> str:
        """The ``labeled-data`` folder name."""
        return Path(self.images[0]).parent.name if self.images else ""

    @property
    def labels_path(self) -> Path:
        """``<root>/labeled-data/<video>/CollectedData_<scorer>.h5``."""
        return self.root / "labeled-data" / self.video / f"CollectedData_{self.scorer}.h5"

    def image_path(self, row: int) -> Path:
        return self.root / self.images[row]

    def keypoint_index(self, name: str) -> int:
        try:
            return self.keypoints.index(name)
        except ValueError:
            raise DataError(f"keypoint {name!r} is not in the landmark set {list(self.keypoints)}") from None

    # --------------------------------------------------------------- editing
    def set_point(self, row: int, keypoint: int | str, x: float, y: float) -> None:
        """Place (or move) ``keypoint`` on image ``row`` at pixel ``(x, y)``."""
        k = keypoint if isinstance(keypoint, (int, np.integer)) else self.keypoint_index(keypoint)
        self.positions[row, k] = (float(x), float(y))
        self.not_visible[row, k] = False
        self.machine[row, k] = False
        self.dirty = True

    def clear_point(self, row: int, keypoint: int | str) -> None:
        """Delete a point (it becomes unlabeled)."""
        k = keypoint if isinstance(keypoint, (int, np.integer)) else self.keypoint_index(keypoint)
        self.positions[row, k] = np.nan
        self.not_visible[row, k] = False
        self.machine[row, k] = False
        self.dirty = True

    def mark_not_visible(self, row: int, keypoint: int | str) -> None:
        """The point is not visible on this image: no position (NaN), but decided."""
        k = keypoint if isinstance(keypoint, (int, np.integer)) else self.keypoint_index(keypoint)
        self.positions[row, k] = np.nan
        self.not_visible[row, k] = True
        self.machine[row, k] = False
        self.dirty = True

    def is_decided(self, row: int) -> np.ndarray:
        """``(K,)`` bool: placed or marked not visible on image ``row``."""
        return ~np.isnan(self.positions[row, :, 0]) | self.not_visible[row]

    def next_keypoint(self, row: int, after: int = -1) -> int | None:
        """The first undecided keypoint of image ``row`` after index ``after``
        (wrapping around), or None when all are decided."""
        undecided = ~self.is_decided(row)
        for step in range(1, self.n_keypoints + 1):
            k = (after + step) % self.n_keypoints
            if undecided[k]:
                return k
        return None

    def first_unfinished_image(self, start: int = 0) -> int | None:
        """The first image at or after ``start`` (wrapping) with an undecided keypoint."""
        for step in range(self.n_images):
            row = (start + step) % self.n_images
            if not self.is_decided(row).all():
                return row
        return None

    def placed(self) -> np.ndarray:
        """``(n_images, K)`` bool: a label is placed there (what :meth:`progress` counts)."""
        return ~np.isnan(self.positions[:, :, 0])

    def progress(self) -> LabelProgress:
        labeled = self.placed()
        decided = labeled | self.not_visible
        return LabelProgress(
            n_labeled=int(labeled.sum()),
            n_total=int(labeled.size),
            n_frames_done=int(decided.all(axis=1).sum()) if self.n_keypoints else 0,
            n_frames=self.n_images,
        )

    # ------------------------------------------------- napari layer data (pure)
    def to_points(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Points-layer data of the labeled points.

        Returns
        -------
        data
            ``(N, 3)`` float ``(image row, y, x)`` of the N labeled points
            (napari's axis order; unlabeled points are left out, as napari
            points cannot hold NaN).
        labels
            ``(N,)`` keypoint names.
        machine
            ``(N,)`` bool, True for untouched DeepLabCut predictions.

        See Also
        --------
        update_from_points : the inverse.
        """
        rows, ks = np.nonzero(~np.isnan(self.positions[:, :, 0]))
        data = np.column_stack([rows, self.positions[rows, ks, 1], self.positions[rows, ks, 0]])
        labels = np.array([self.keypoints[k] for k in ks], dtype=object)
        return data.astype(np.float64).reshape(-1, 3), labels, self.machine[rows, ks].copy()

    def update_from_points(self, data: np.ndarray, labels: Sequence[str]) -> list[int]:
        """Take positions from points-layer data (the inverse of :meth:`to_points`).

        Parameters
        ----------
        data
            ``(N, 3)`` ``(image row, y, x)``.
        labels
            ``(N,)`` keypoint name of each point.

        Returns
        -------
        list of int
            Indices of points that duplicate a (row, keypoint) placed by a
            later point: the later one (the most recent click) wins; the
            caller removes these from the layer.

        Notes
        -----
        Points whose position did not change keep their "machine" flag;
        keypoints without a point become NaN; a placed point clears "not
        visible".
        """
        data = np.asarray(data, dtype=np.float64).reshape(-1, 3)
        if len(labels) != len(data):
            raise DataError(f"{len(labels)} labels for {len(data)} points")
        index = {k: i for i, k in enumerate(self.keypoints)}
        positions = np.full_like(self.positions, np.nan)
        owner = -np.ones(self.positions.shape[:2], dtype=np.int64)
        duplicates = []
        for i, (point, label) in enumerate(zip(data, labels)):
            if str(label) not in index:
                raise DataError(f"point {i} has keypoint {label!r}, not in {list(self.keypoints)}")
            row = int(round(point[0]))
            if not 0 <= row < self.n_images:
                duplicates.append(i)
                continue
            k = index[str(label)]
            if owner[row, k] >= 0:
                duplicates.append(int(owner[row, k]))
            owner[row, k] = i
            positions[row, k] = (point[2], point[1])
        same = np.isclose(positions, self.positions, rtol=0, atol=1e-9).all(axis=2) | (
            np.isnan(positions[:, :, 0]) & np.isnan(self.positions[:, :, 0])
        )
        if not same.all():
            self.dirty = True
        self.machine &= same & ~np.isnan(positions[:, :, 0])
        self.not_visible &= np.isnan(positions[:, :, 0])
        self.positions = positions
        return sorted(set(duplicates))

    def skeleton_vectors(self, rows: Iterable[int] | None = None) -> np.ndarray:
        """Vectors-layer data of the skeleton edges whose two ends are labeled.

        Returns
        -------
        numpy.ndarray
            ``(n_edges, 2, 3)``: for each edge its start ``(row, y, x)`` and
            its projection ``(0, dy, dx)``, napari's vectors format.
        """
        rows = np.arange(self.n_images) if rows is None else np.asarray(list(rows), dtype=np.int64)
        pieces = []
        for a, b in self.skeleton:
            ia, ib = self.keypoints.index(a), self.keypoints.index(b)
            start, end = self.positions[rows, ia], self.positions[rows, ib]
            ok = ~(np.isnan(start).any(axis=1) | np.isnan(end).any(axis=1))
            vectors = np.zeros((int(ok.sum()), 2, 3))
            vectors[:, 0, 0] = rows[ok]
            vectors[:, 0, 1:] = start[ok][:, ::-1]  # (y, x)
            vectors[:, 1, 1:] = (end[ok] - start[ok])[:, ::-1]
            pieces.append(vectors)
        return np.concatenate(pieces) if pieces else np.zeros((0, 2, 3))

    # ------------------------------------------------------------------- I/O
    def to_label_data(self):
        """The labels as :class:`napari_facehmm.io.dlc.LabelData` (not-visible points as NaN)."""
        from ..io.dlc import LabelData

        return LabelData(
            scorer=self.scorer,
            keypoints=tuple(self.keypoints),
            images=list(self.images),
            positions=self.positions.copy(),
            index_style=self.index_style,
        )

    def save(self, path: str | Path | None = None) -> Path:
        """Write ``CollectedData_<scorer>.h5`` and ``.csv`` as DeepLabCut does.

        Written atomically by :func:`napari_facehmm.io.dlc.write_labels` (a
        temporary file renamed over the old one, the old one kept as
        ``.bak``), so an interrupted save leaves the previous labels intact.
        """
        from ..io.dlc import write_labels

        path = Path(path) if path is not None else self.labels_path
        path.parent.mkdir(parents=True, exist_ok=True)
        write_labels(self.to_label_data(), path)
        self.dirty = False
        return path

    def image_stack(self) -> "ImageStack":
        """The images as a lazy stack (read on demand), for a napari image layer."""
        return ImageStack([self.image_path(row) for row in range(self.n_images)])

    def load_images(self) -> np.ndarray:
        """``(n_images, h, w, 3)`` uint8 RGB stack of all images, read now (see :meth:`image_stack`)."""
        stack = self.image_stack()
        return np.stack([stack[row] for row in range(len(stack))]) if len(stack) else np.zeros(
            (0, *stack.shape[1:]), np.uint8
        )


def _relative_image(folder: Path, image: str) -> str:
    # DLC writes POSIX-style relative paths; labels made on Windows have backslashes.
    parts = str(image).replace("\\", "/").split("/")
    return "/".join(["labeled-data", folder.name, parts[-1]])


def load_labels(project: LabelingProject | str | Path, video: str | Path) -> LabelSet:
    """Open the labels of ``labeled-data/<video>`` (its images plus any ``CollectedData``).

    Parameters
    ----------
    project
        A :class:`LabelingProject` or the path of its ``config.yaml``.
    video
        A video path or the ``labeled-data`` folder name.

    Raises
    ------
    DataError
        If the labels file's keypoints disagree with the config's bodyparts
        (nothing is written; the message lists both so the config can be fixed).
    FileFormatError
        If the labels file is unreadable.

    Notes
    -----
    Rows of the labels file whose image is absent stay in the set (they are
    saved again, so nothing is lost) and are listed in ``missing_images``.
    """
    project = as_project(project)
    folder = project.labeled_data(video)
    images = [f"labeled-data/{folder.name}/{p.name}" for p in _image_files(folder)]
    positions = {}
    index_style = "multi"
    scorer = project.scorer
    labels_path = project.labels_path(folder.name)
    if labels_path.is_file():
        from ..io.dlc import read_labels

        label_data = read_labels(labels_path)
        _check_keypoints(label_data.keypoints, project, labels_path)
        order = [label_data.keypoints.index(k) for k in project.bodyparts]
        index_style = label_data.index_style
        for image, xy in zip(label_data.images, np.asarray(label_data.positions)[:, order]):
            positions[_relative_image(folder, image)] = xy
    if not images and not positions:
        raise DataError(f"{folder}: no images to label (extract frames first)")
    present = set(images)
    missing = sorted(set(positions) - present)
    rows = sorted(present | set(positions))
    array = np.full((len(rows), len(project.bodyparts), 2), np.nan)
    for i, image in enumerate(rows):
        if image in positions:
            array[i] = positions[image]
    return LabelSet(
        root=project.root,
        scorer=scorer,
        keypoints=project.bodyparts,
        images=rows,
        positions=array,
        skeleton=project.skeleton,
        index_style=index_style,
        missing_images=missing,
    )


def _check_keypoints(keypoints: Sequence[str], project: LabelingProject, path: Path) -> None:
    in_file, in_config = list(keypoints), list(project.bodyparts)
    if set(in_file) == set(in_config):
        return
    only_file = [k for k in in_file if k not in in_config]
    only_config = [k for k in in_config if k not in in_file]
    problem = "its keypoints disagree with the bodyparts of " f"{project.config_path}"
    if only_file:
        problem += f"; only in the labels file: {only_file}"
    if only_config:
        problem += f"; only in the config: {only_config}"
    problem += ". Nothing was changed: edit the config's bodyparts to match, then reopen."
    raise DataError(f"{path}: {problem}")
