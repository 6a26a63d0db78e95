"""Epipolar help in the labeling dock: the other cameras' frames of the same instant, lines and hints.

Computes nothing itself: :mod:`napari_facehmm.labeling.epipolar` gives the
curves, hints and errors; this mixin shows them. The other cameras'
``labeled-data`` folders (same recording, same extracted frame names) are
shown beside the labeled one, to its right; every landmark placed on the
current image draws its epipolar curve (in its keypoint's colour) in each
other camera's image, a landmark labeled in two cameras or more draws its
reprojection (a ring) where it is not labeled yet, and the label shows each
labeled point's reprojection error.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ... import labeling
from ...errors import FaceHMMError
from ...labeling import epipolar as ep

#: gap between the images shown side by side (pixels)
GAP_PX = 10


class EpipolarHelp:
    """Epipolar help: the other cameras' frames beside the labeled one, with lines, hints and errors."""

    epipolar = None

    def show_epipolar(self, calibration) -> dict[str, str]:
        """Show the other cameras of the open folder with epipolar help; returns ``{camera: folder}`` shown.

        ``calibration`` is a ``calibration.toml`` path or a
        :class:`~napari_facehmm.io.anipose.Calibration`. Errors (no camera of
        the calibration in the folder's name, no other camera's folder) are
        reported in the dock.
        """
        from ...io.anipose import read_calibration

        try:
            if self.labels is None:
                raise FaceHMMError("Open a labeled-data folder first.")
            if isinstance(calibration, (str, Path)):
                calibration = read_calibration(calibration)
            names = calibration.camera_names
            own = ep.camera_of_folder(self.labels.video, names)
            if own is None:
                raise FaceHMMError(f"folder {self.labels.video!r} names none of the calibration's cameras {names}")
            folders = ep.sibling_folders(self.labels.video, names, labeling.labeled_data_folders(self.project))
            if not folders:
                raise FaceHMMError(f"no labeled-data folder of another camera ({names}) for {self.labels.video!r}")
            others = {camera: labeling.load_labels(self.project, video) for camera, video in folders.items()}
        except FaceHMMError as error:
            self._report(error)
            return {}
        self._remove_epipolar_layers()
        from ..._napari.video_frames import VideoFrames

        cameras = {name: calibration.camera(name) for name in [own, *others]}
        offsets, x = {}, float(self.image_layer.data.shape[2] + GAP_PX)
        layers = []
        for camera, labels in others.items():
            stack = VideoFrames(labels.image_stack())
            offsets[camera] = x
            layers.append(
                self.viewer.add_image(
                    stack, name=f"{labels.video} frames", rgb=True, contrast_limits=(0, 255), translate=(0, 0, x)
                )
            )
            x += stack.shape[2] + GAP_PX
        lines = self.viewer.add_shapes(ndim=3, name="epipolar lines", edge_width=1.5, opacity=0.9)
        hints = self.viewer.add_points(
            np.empty((0, 3)), ndim=3, name="reprojection hints", size=max(5.0, self.image_layer.data.shape[1] / 40),
            face_color="transparent", border_color="yellow", border_width=0.2,
        )
        layers += [lines, hints]
        self.epipolar = dict(own=own, cameras=cameras, others=others, offsets=offsets, layers=layers,
                             lines=lines, hints=hints, errors={})
        self.viewer.layers.selection.active = self.points_layer
        self.points_layer.events.data.connect(self.update_epipolar)
        self.viewer.dims.events.current_step.connect(self.update_epipolar)
        self.update_epipolar()
        return folders

    def _remove_epipolar_layers(self) -> None:
        if self.epipolar is None:
            return
        for layer in self.epipolar["layers"]:
            if layer in self.viewer.layers:
                self.viewer.layers.remove(layer)
        try:
            self.points_layer.events.data.disconnect(self.update_epipolar)
            self.viewer.dims.events.current_step.disconnect(self.update_epipolar)
        except (TypeError, ValueError, RuntimeError):
            pass
        self.epipolar = None

    def update_epipolar(self, event=None) -> None:
        """Redraw the curves, hints and errors for the current image."""
        state = self.epipolar
        if state is None or self.labels is None:
            return
        row = min(self.current_row, self.labels.n_images - 1)
        # the same instant: the same extracted image name (DeepLabCut's imgNNNN.png) in every folder
        image = Path(self.labels.images[row]).name
        points = {state["own"]: self.labels.positions[row]}
        for camera, labels in state["others"].items():
            names = [Path(name).name for name in labels.images]
            if image in names:
                points[camera] = labels.positions[names.index(image)]
            else:
                points[camera] = np.full((self.labels.n_keypoints, 2), np.nan)
        own_camera = state["cameras"][state["own"]]
        paths, colors = [], []
        for k, position in enumerate(points[state["own"]]):
            if not np.isfinite(position).all():
                continue
            for camera, offset in state["offsets"].items():
                curve = ep.epipolar_curve(own_camera, state["cameras"][camera], position)
                if len(curve) >= 2:
                    paths.append(np.column_stack([np.full(len(curve), row), curve[:, 1], curve[:, 0] + offset]))
                    colors.append(self._colors[k])
        state["lines"].data = []
        if paths:
            state["lines"].add_paths(paths, edge_color=np.asarray(colors), edge_width=1.5)
        cameras = state["cameras"]
        points_3d = ep.triangulate_labels(cameras, points)
        hints = []
        for camera, offset in state["offsets"].items():
            projected = cameras[camera].project(points_3d)
            missing = ~np.isfinite(points[camera]).all(axis=1) & np.isfinite(projected).all(axis=1)
            for k in np.flatnonzero(missing):
                hints.append((row, projected[k, 1], projected[k, 0] + offset))
        state["hints"].data = np.asarray(hints, dtype=float).reshape(-1, 3)
        state["errors"] = ep.label_errors(cameras, points)
        self.epipolar_label.setText(self._describe_errors(state["errors"]))

    def _describe_errors(self, errors: dict[str, np.ndarray]) -> str:
        parts = []
        for camera, values in errors.items():
            finite = np.isfinite(values)
            if finite.any():
                worst = int(np.nanargmax(values))
                parts.append(
                    f"{camera}: median {np.nanmedian(values):.1f} px, worst {self.labels.keypoints[worst]} "
                    f"{values[worst]:.1f} px"
                )
        return "Reprojection error of the labels: " + "; ".join(parts) if parts else (
            "Epipolar help: place a landmark in two cameras to see its reprojection error."
        )
