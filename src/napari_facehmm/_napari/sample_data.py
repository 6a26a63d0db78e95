"""npe2 sample data: a synthetic two-camera face session with known states.

The session is generated once into a cache folder (``$FACEHMM_CACHE`` or
``~/.cache/napari-facehmm``) and then opened like any session folder.
"""

from __future__ import annotations

import os
from pathlib import Path

#: a short session keeps the first open fast (rendering dominates)
SAMPLE_SECONDS = 20.0
SAMPLE_CAMERAS = 2
#: bumped whenever generate_session writes different files, so a cache
#: written by an older version is not reused (2: ChArUco videos as long as the session)
SAMPLE_LAYOUT_VERSION = 2


def cache_dir() -> Path:
    root = os.environ.get("FACEHMM_CACHE")
    return Path(root) if root else Path.home() / ".cache" / "napari-facehmm"


def synthetic_session_folder(seconds: float = SAMPLE_SECONDS, n_cameras: int = SAMPLE_CAMERAS) -> Path:
    """The cached synthetic session, generated on first use."""
    from .. import synthetic

    folder = cache_dir() / f"synthetic-{n_cameras}cam-{seconds:g}s-v{SAMPLE_LAYOUT_VERSION}"
    done = folder / ".complete"
    if not done.is_file():
        folder.mkdir(parents=True, exist_ok=True)
        synthetic.generate_session(folder, n_cameras=n_cameras, seconds=seconds, seed=0)
        done.write_text("ok\n")
    return folder


def synthetic_face_session() -> list:
    """Layer data of the synthetic session (videos, points, skeletons per camera)."""
    from .session import read_session

    return read_session(synthetic_session_folder())
