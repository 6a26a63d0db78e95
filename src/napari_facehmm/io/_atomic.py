"""Atomic file replacement with a backup of the previous version.

Files the user made (labels, calibrations, configs) must never be left half
written: a crash or a full disk during a save would otherwise destroy hours
of labeling. We write to a temporary file in the same folder (so the final
``os.replace`` is a rename on one file system, which is atomic) and only then
move it over the target.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path
from typing import Iterator

__all__ = ["atomic_write_path", "backup_path"]


def backup_path(path: str | Path) -> Path:
    """Where :func:`atomic_write_path` keeps the previous version of ``path``: ``<name>.bak``."""
    path = Path(path)
    return path.with_name(path.name + ".bak")


@contextlib.contextmanager
def atomic_write_path(path: str | Path, backup: bool = True) -> Iterator[Path]:
    """Yield a temporary path to write; on success it replaces ``path``.

    Parameters
    ----------
    path
        The file to (over)write. Its folder must exist.
    backup
        If True and ``path`` already exists, its previous content is kept as
        ``<name>.bak`` beside it (one generation; an older backup is replaced).

    Yields
    ------
    Path
        A not-yet-existing file in the same folder with the same suffix as
        ``path`` (libraries such as pandas pick the format by suffix). Write
        the whole content there.

    Notes
    -----
    If the ``with`` body raises, the temporary file is removed, ``path`` is
    left untouched and the exception propagates. The backup is a copy, so
    ``path`` exists at every moment: readers never see it missing.
    """
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    descriptor, temp_name = tempfile.mkstemp(
        prefix=f".{path.stem}.", suffix=f".tmp{path.suffix}", dir=folder
    )
    os.close(descriptor)
    temp_path = Path(temp_name)
    # mkstemp creates the file; remove it so writers that refuse to overwrite
    # (or append to) an existing file behave as on a fresh path.
    temp_path.unlink()
    try:
        yield temp_path
        if not temp_path.exists():
            raise FileNotFoundError(f"nothing was written to the temporary file for {path}")
        if backup and path.exists():
            bak = backup_path(path)
            # Copy to a temporary name first so an interrupted copy never
            # leaves a truncated .bak in place of a good one.
            bak_descriptor, bak_temp = tempfile.mkstemp(
                prefix=f".{path.stem}.", suffix=".bak.tmp", dir=folder
            )
            os.close(bak_descriptor)
            try:
                shutil.copy2(path, bak_temp)
                os.replace(bak_temp, bak)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(bak_temp)
                raise
        os.replace(temp_path, path)
    except BaseException:
        with contextlib.suppress(OSError):
            temp_path.unlink()
        raise
