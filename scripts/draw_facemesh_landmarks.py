"""Draw docs/facemesh-landmarks.png: how the 21 landmarks come from MediaPipe's face mesh.

A rendered synthetic face (not a real person: the real test videos' license
forbids copying their frames into the repository), drawn without the discs the
synthetic videos put on their true landmarks, is tracked by
:class:`~napari_facehmm.tracking.facemesh.FaceMeshTracker`; the picture shows
all 468 mesh vertices as small grey dots, the vertices that
:data:`napari_facehmm.face.FACEMESH_VERTICES` averages ringed in their
landmark's colour, and the 21 resulting landmarks as coloured dots labelled
with their names (labels in two columns beside the face, joined by thin lines).

Run: ``python scripts/draw_facemesh_landmarks.py [output.png]`` (a few seconds).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ.setdefault("GLOG_minloglevel", "2")

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
OUTPUT = ROOT / "docs" / "facemesh-landmarks.png"
#: rendered frame size: large enough that the face is sharp after cropping
RENDER_SIZE = (1280, 960)
#: width of the picture in pixels
WIDTH_PX = 900

#: colour of each group of landmarks (matplotlib's tab10)
GROUP_COLORS = {
    "eye": "tab:blue",
    "brow": "tab:green",
    "nose": "tab:orange",
    "lip": "tab:red",
    "ear": "tab:purple",
    "chin": "tab:brown",
}


def landmark_color(name: str) -> str:
    for group, color in GROUP_COLORS.items():
        if group in name:
            return color
    return "tab:gray"


def render_face() -> np.ndarray:
    """A rendered synthetic face, ``(height, width, 3)`` uint8 RGB.

    Drawn without the coloured discs the synthetic videos put on their true
    landmarks, so that the only landmarks in the picture are the tracker's.
    """
    from napari_facehmm.synthetic.cameras import make_cameras
    from napari_facehmm.synthetic.face import simulate_face
    from napari_facehmm.synthetic.render import render_face_frames

    simulation = simulate_face(1, seed=0)
    (camera,) = make_cameras(1, RENDER_SIZE, np.random.default_rng(0))
    return next(iter(render_face_frames(simulation, camera, marker_radius=0)))


def spread(targets: np.ndarray, low: float, high: float, gap: float) -> np.ndarray:
    """Label heights as close to ``targets`` (sorted) as a ``gap`` between labels allows, within [low, high]."""
    heights = np.clip(np.asarray(targets, dtype=float), low, high)
    for i in range(1, len(heights)):  # push down what overlaps the label above
        heights[i] = max(heights[i], heights[i - 1] + gap)
    overflow = heights[-1] - high if len(heights) else 0.0
    if overflow > 0:  # then up again from the bottom
        heights[-1] = high
        for i in range(len(heights) - 2, -1, -1):
            heights[i] = min(heights[i], heights[i + 1] - gap)
    return heights


def track_face(image: np.ndarray) -> np.ndarray:
    """The ``(468, 2)`` mesh vertices (px) of the largest face in ``image``."""
    from napari_facehmm.errors import DataError
    from napari_facehmm.tracking.facemesh import FaceMeshTracker

    with FaceMeshTracker(max_faces=1, static=True) as tracker:
        faces = tracker.process(image)
    if faces.n_faces == 0:
        raise DataError("no face was found in the rendered frame")
    return faces.vertices_px[faces.largest()]


def draw(image: np.ndarray, vertices: np.ndarray, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from napari_facehmm.face import FACE_KEYPOINTS, FACEMESH_VERTICES
    from napari_facehmm.tracking.facemesh import mesh_to_landmarks

    landmarks = mesh_to_landmarks(vertices)
    # crop to the mesh with a margin, and leave room at both sides for the labels
    low, high = vertices.min(axis=0), vertices.max(axis=0)
    margin = 0.08 * (high - low)
    left, top = np.floor(low - margin).astype(int)
    right, bottom = np.ceil(high + margin).astype(int)
    left, top = max(left, 0), max(top, 0)
    right, bottom = min(right, image.shape[1]), min(bottom, image.shape[0])
    crop_width, crop_height = right - left, bottom - top
    label_room = 0.45 * crop_width

    dpi = 100
    figure_width = WIDTH_PX / dpi
    figure_height = figure_width * crop_height / (crop_width + 2 * label_room)
    figure = plt.figure(figsize=(figure_width, figure_height), dpi=dpi)
    axes = figure.add_axes((0, 0, 1, 1))
    axes.imshow(image[top:bottom, left:right], extent=(left, right, bottom, top))
    axes.set_xlim(left - label_room, right + label_room)
    axes.set_ylim(bottom, top)
    axes.axis("off")

    axes.scatter(vertices[:, 0], vertices[:, 1], s=4, c="0.35", linewidths=0, zorder=2)
    for name in FACE_KEYPOINTS:
        used = vertices[list(FACEMESH_VERTICES[name])]
        axes.scatter(used[:, 0], used[:, 1], s=30, facecolors="none", edgecolors=landmark_color(name),
                     linewidths=1.2, zorder=3)
    axes.scatter(landmarks[:, 0], landmarks[:, 1], s=60, c=[landmark_color(n) for n in FACE_KEYPOINTS],
                 edgecolors="white", linewidths=0.8, zorder=4)

    # labels: a column on each side, each at its landmark's height where the spacing allows
    centre_x = landmarks[FACE_KEYPOINTS.index("nose1"), 0]
    gap = 0.055 * crop_height
    for side, x_label, align in ((-1, left - 0.04 * crop_width, "right"), (1, right + 0.04 * crop_width, "left")):
        rows = [k for k in range(len(FACE_KEYPOINTS)) if (landmarks[k, 0] < centre_x) == (side < 0)]
        rows.sort(key=lambda k: landmarks[k, 1])
        y_labels = spread(landmarks[rows, 1], top + 0.03 * crop_height, bottom - 0.03 * crop_height, gap)
        for k, y_label in zip(rows, y_labels):
            name = FACE_KEYPOINTS[k]
            axes.annotate(
                name, xy=landmarks[k], xytext=(x_label, y_label), ha=align, va="center", fontsize=12,
                color=landmark_color(name), fontweight="bold",
                arrowprops={"arrowstyle": "-", "color": landmark_color(name), "linewidth": 0.8, "alpha": 0.9,
                            "shrinkA": 2, "shrinkB": 3},
                zorder=5,
            )
    axes.text(left - label_room + 8, bottom - 8,
              "grey: the 468 mesh vertices   rings: vertices averaged   dots: the 21 landmarks",
              fontsize=9, color="0.25", va="bottom")
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=dpi, facecolor="white")
    plt.close(figure)


def main() -> None:
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else OUTPUT
    image = render_face()
    draw(image, track_face(image), path)
    print(path)


if __name__ == "__main__":
    main()
