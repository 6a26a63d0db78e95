"""The feature layout, z-score and rigid template a fitted session fixes for later sessions."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import DataError

__all__ = ["FeatureScaler"]


@dataclass
class FeatureScaler:
    """What a fitted session fixes for later sessions: feature layout, z-score, template.

    Parameters
    ----------
    names
        ``D`` feature names, in column order.
    mean, std
        ``(D,)`` per-feature mean and SD of the fitting session (zeros and
        ones when not standardizing).
    n_dims
        2 or 3: coordinates per point.
    template
        ``(n_rigid, n_dims)`` rigid template (rigid mode) or None.
    template_keypoints
        Names of the template points.
    """

    names: list[str]
    mean: np.ndarray
    std: np.ndarray
    n_dims: int
    template: np.ndarray | None = None
    template_keypoints: list[str] = field(default_factory=list)

    def transform(self, values: np.ndarray) -> np.ndarray:
        """``(values - mean) / std``; ``values`` is ``(n, D)``."""
        return (values - self.mean) / self.std

    def to_dict(self) -> dict[str, Any]:
        """JSON-able dict."""
        return {
            "names": list(self.names),
            "mean": [float(v) for v in self.mean],
            "std": [float(v) for v in self.std],
            "n_dims": int(self.n_dims),
            "template": None if self.template is None else np.asarray(self.template).tolist(),
            "template_keypoints": list(self.template_keypoints),
        }

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "FeatureScaler":
        """Inverse of :meth:`to_dict`."""
        try:
            return cls(
                names=[str(n) for n in values["names"]],
                mean=np.asarray(values["mean"], dtype=np.float64),
                std=np.asarray(values["std"], dtype=np.float64),
                n_dims=int(values["n_dims"]),
                template=None
                if values.get("template") is None
                else np.asarray(values["template"], dtype=np.float64),
                template_keypoints=[str(k) for k in values.get("template_keypoints", [])],
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise DataError(f"stored feature scaler is incomplete or malformed: {exc}") from None
