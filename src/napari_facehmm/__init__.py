"""napari-facehmm: from face videos to facial-expression states, in napari."""

from .data import LandmarkSeries
from .errors import DataError, FaceHMMError, FileFormatError

__version__ = "0.1.0"
__all__ = ["LandmarkSeries", "FaceHMMError", "FileFormatError", "DataError", "__version__"]
