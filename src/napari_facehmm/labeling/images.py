"""The extracted images of a ``labeled-data`` folder.

DeepLabCut's image names (:func:`frame_image_name`), reading and writing
the PNG files, the folder's image list, and :class:`ImageStack`: a folder's
images as a lazy stack for a napari image layer.
"""

from __future__ import annotations

import math
from pathlib import Path
from collections.abc import Sequence

import numpy as np

from ..errors import FileFormatError


_IMAGE_SUFFIXES = (".png",)


def frame_image_name(frame_index: int, n_frames: int) -> str:
    """DeepLabCut's image name for frame ``frame_index`` of a video of ``n_frames`` frames.

    DeepLabCut zero-pads the index to ``ceil(log10(n_frames))`` digits
    (``img0042.png`` in a video of 1,000 to 10,000 frames), both in
    ``extract_frames`` and ``extract_outlier_frames``.
    """
    width = int(math.ceil(math.log10(n_frames))) if n_frames > 1 else 0
    return f"img{str(int(frame_index)).zfill(width)}.png"


def _write_png(rgb: np.ndarray, path: Path) -> None:
    import cv2

    image = np.asarray(rgb)
    if image.ndim == 3:
        image = cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
    if not cv2.imwrite(str(path), image):
        raise FileFormatError(path, "could not write the image")


def _read_image(path: Path) -> np.ndarray:
    import cv2

    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise FileFormatError(path, "not a readable image")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def _image_files(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in _IMAGE_SUFFIXES and p.is_file())


def _png_size(path: Path) -> tuple[int, int] | None:
    """``(height, width)`` from a PNG header (24 bytes), or None if not a PNG."""
    with open(path, "rb") as handle:
        header = handle.read(24)
    if len(header) < 24 or header[:8] != b"\x89PNG\r\n\x1a\n":
        return None
    width, height = int.from_bytes(header[16:20], "big"), int.from_bytes(header[20:24], "big")
    return height, width


class ImageStack:
    """A folder's images as a lazy ``(n_images, height, width, 3)`` uint8 stack.

    Only image sizes are read up front (PNG headers); pixels are read when
    an image is asked for, with a small cache, so a project of thousands of
    extracted frames opens at once and uses little memory. Missing images
    are blank; smaller images are padded at the bottom/right to the largest
    size (so pixel coordinates stay those of the file).

    Parameters
    ----------
    paths
        ``n_images`` image files.
    cache_size
        Images kept in memory.
    """

    def __init__(self, paths: Sequence[Path], cache_size: int = 32):
        from collections import OrderedDict

        self.paths = [Path(p) for p in paths]
        sizes = []
        for path in self.paths:
            if not path.is_file():
                continue
            size = _png_size(path)
            sizes.append(size if size is not None else _read_image(path).shape[:2])
        height = max((h for h, _ in sizes), default=1)
        width = max((w for _, w in sizes), default=1)
        self.shape = (len(self.paths), height, width, 3)
        self.dtype = np.dtype(np.uint8)
        self._cache: OrderedDict[int, np.ndarray] = OrderedDict()
        self._cache_size = int(cache_size)

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, index: int) -> np.ndarray:
        """``(height, width, 3)`` uint8 RGB image ``index``."""
        index = int(index)
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError(f"image {index} out of range 0..{len(self) - 1}")
        if index in self._cache:
            self._cache.move_to_end(index)
            return self._cache[index]
        image = np.zeros(self.shape[1:], dtype=np.uint8)
        path = self.paths[index]
        if path.is_file():
            pixels = _read_image(path)
            image[: pixels.shape[0], : pixels.shape[1]] = pixels
        self._cache[index] = image
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return image
