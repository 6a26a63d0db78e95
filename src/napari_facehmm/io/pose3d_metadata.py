"""What a triangulation did, beside its Anipose ``pose-3d`` table: ``<session>.meta.json``.

Anipose's ``pose-3d/<session>.csv`` has a fixed column set (per keypoint
``_x _y _z _error _ncams _score``, then ``M_*``, ``center_*``, ``fnum``),
which other tools read; what the run decided (the cameras used, a camera it
left out and why, each camera's reprojection error, its warnings) goes in a
JSON file of the same stem, ``pose-3d/<session>.meta.json``, which Anipose
and the project's readers of ``*.csv`` ignore.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from ..data import LandmarkSeries
from ..errors import FileFormatError
from ._atomic import atomic_write_path

#: the ``attrs`` of a triangulated series that are written (absent ones are skipped)
METADATA_ATTRS = (
    "cameras",
    "method",
    "bad_camera",
    "dropped_cameras",
    "camera_errors_px",
    "camera_pair_errors_px",
    "camera_check_px",
    "warnings",
)


def pose3d_metadata_path(table: str | Path) -> Path:
    """``pose-3d/<session>.meta.json`` of the table ``pose-3d/<session>.csv``."""
    table = Path(table)
    return table.with_name(table.stem + ".meta.json")


def _plain(value: Any) -> Any:
    """JSON-able copy: tuples as lists, numpy numbers as floats, NaN as None."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, str) or value is None or isinstance(value, bool):
        return value
    number = float(value)
    return None if math.isnan(number) else number


def pose3d_metadata_text(series: LandmarkSeries) -> str:
    """The JSON text of the :data:`METADATA_ATTRS` of ``series``."""
    content = {name: _plain(series.attrs[name]) for name in METADATA_ATTRS if name in series.attrs}
    return json.dumps(content, indent=2) + "\n"


def write_pose3d_metadata(series: LandmarkSeries, table: str | Path) -> Path:
    """Write the :data:`METADATA_ATTRS` of ``series`` beside ``table`` (atomically); returns the JSON path."""
    path = pose3d_metadata_path(table)
    with atomic_write_path(path, backup=False) as temp:
        Path(temp).write_text(pose3d_metadata_text(series), encoding="utf-8")
    return path


def read_pose3d_metadata(table: str | Path) -> dict[str, Any]:
    """The metadata written beside ``table`` (``{}`` when there is none).

    Raises
    ------
    FileFormatError
        The JSON file exists but is not a JSON object.
    """
    path = pose3d_metadata_path(table)
    if not path.is_file():
        return {}
    try:
        content = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as error:
        raise FileFormatError(path, f"not valid JSON ({error})") from None
    if not isinstance(content, dict):
        raise FileFormatError(path, "must hold a JSON object")
    return content
