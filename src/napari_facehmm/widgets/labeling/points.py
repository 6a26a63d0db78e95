"""The labeling dock's points layer and the label set kept in step: clicks, drags, N, delete.

Also :func:`keypoint_colors`, the keypoints' colors (the project's one palette,
:func:`napari_facehmm.colors.keypoint_colors`, re-exported here).
"""

from __future__ import annotations

import numpy as np

from ...colors import keypoint_colors
from ...errors import FaceHMMError

__all__ = ["PointsEditing", "keypoint_colors"]


class PointsEditing:
    """Points-layer edits turned into label-set calls, and the layer redrawn from the set."""

    def _point_colors(self, names) -> np.ndarray:
        index = {k: i for i, k in enumerate(self.labels.keypoints)}
        return self._colors[[index[str(n)] for n in names]].reshape(-1, 4)

    def place(self, x: float, y: float, row: int | None = None) -> None:
        """Place the current keypoint at ``(x, y)`` on image ``row`` (default: the shown
        one), exactly as an add-mode click does."""
        if self.points_layer is None:
            return
        row = self.current_row if row is None else int(row)
        self.points_layer.add(np.array([[row, y, x]], dtype=np.float64))

    def _on_points_data(self, event) -> None:
        action = str(getattr(event, "action", "changed"))
        if self._syncing or self.labels is None or action.endswith("ing"):
            return
        layer = self.points_layer
        labels = [str(v) for v in layer.features["label"]]
        self._syncing = True
        try:
            try:
                duplicates = self.labels.update_from_points(layer.data, labels)
            except FaceHMMError as error:
                self._report(error)
                return
            if duplicates:
                keep = np.setdiff1d(np.arange(len(layer.data)), duplicates)
                self._set_layer_points(layer.data[keep], [labels[i] for i in keep],
                                       layer.features["machine"].to_numpy()[keep])
            elif len(labels):
                layer.face_color = self._point_colors(labels)
            self._style_points()
        finally:
            self._syncing = False
        if action.endswith("added"):
            # napari selects the new point after this event, which resets the layer's
            # feature defaults to that point's keypoint; advance once it has (features event).
            self._advance_pending = True
        self._update_skeleton()
        self._refresh_keypoint_list()

    def _style_points(self) -> None:
        """Labels: filled discs, white border. Untouched machine proposals: hollow rings, black border."""
        layer = self.points_layer
        if layer is None or len(layer.data) == 0:
            return
        rows = np.clip(np.round(layer.data[:, 0]).astype(int), 0, self.labels.n_images - 1)
        index = {k: i for i, k in enumerate(self.labels.keypoints)}
        ks = np.array([index[str(v)] for v in layer.features["label"]], dtype=np.int64)
        machine = self.labels.machine[rows, ks]
        colors = np.where(machine[:, None], [[0.0, 0.0, 0.0, 1.0]], [[1.0, 1.0, 1.0, 1.0]])
        layer.border_color = colors
        symbols = np.where(machine, "ring", "disc").astype(object)
        if not np.array_equal(np.asarray([str(v) for v in layer.symbol], dtype=object), symbols):
            layer.symbol = symbols

    def _after_features(self, event=None) -> None:
        if not self._advance_pending or self.labels is None:
            return
        self._advance_pending = False
        upcoming = self.labels.next_keypoint(self.current_row, after=self.current_keypoint)
        self.set_current_keypoint(upcoming if upcoming is not None else self.current_keypoint)

    def _set_layer_points(self, data, names, machine) -> None:
        layer = self.points_layer
        was = self._syncing
        self._syncing = True
        try:
            layer.data = np.asarray(data, dtype=np.float64).reshape(-1, 3)
            layer.features = {"label": np.asarray(names, dtype=object), "machine": np.asarray(machine, bool)}
            if len(names):
                layer.face_color = self._point_colors(names)
            layer.selected_data = set()
            self._style_points()
            self.set_current_keypoint(self.current_keypoint)
        finally:
            self._syncing = was

    def _reload_points_from_labels(self) -> None:
        data, names, machine = self.labels.to_points()
        self._set_layer_points(data, names, machine)
        self._update_skeleton()
        self._refresh_keypoint_list()

    def _update_skeleton(self) -> None:
        if self.skeleton_layer is not None and self.labels is not None:
            self.skeleton_layer.data = self.labels.skeleton_vectors()

    def mark_not_visible(self) -> None:
        """The current keypoint is not visible on this image: remove its point, move on (N)."""
        if self.labels is None:
            return
        row = self.current_row
        k = self.current_keypoint
        self.labels.mark_not_visible(row, k)
        self._reload_points_from_labels()
        upcoming = self.labels.next_keypoint(row, after=k)
        if upcoming is not None:
            self.set_current_keypoint(upcoming)

    def delete_current_point(self) -> None:
        """Delete the current keypoint's point on this image."""
        if self.labels is None:
            return
        self.labels.clear_point(self.current_row, self.current_keypoint)
        self._reload_points_from_labels()
