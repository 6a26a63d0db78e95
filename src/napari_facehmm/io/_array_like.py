"""The array attributes a lazy video (frames decoded on demand) shows to napari and numpy code.

A lazy video says its ``shape`` and ``dtype``; :class:`ArrayLike` derives the
rest of what array consumers ask for (``ndim``, ``size``, ``len``) from them.
"""

from __future__ import annotations

import numpy as np

__all__ = ["ArrayLike"]


class ArrayLike:
    """Mixin: ``ndim``, ``size`` and ``len()`` of an object with a ``shape``."""

    shape: tuple[int, ...]

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int:
        return int(np.prod(self.shape))

    def __len__(self) -> int:
        return self.shape[0]
