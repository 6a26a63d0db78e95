"""One entry for every export of an analysed session: ``facehmm export`` and the napari Export dock call it.

:func:`export_session` checks what every format needs (the session and
analysis folders, ``states.csv``, the output's folder and suffix, an output
that exists) and runs the format's writer, a progress generator:

=========  ======  =====================================================
format     suffix  writer
=========  ======  =====================================================
nwb        .nwb    :func:`napari_facehmm.export.nwb.write_nwb`
movement   .nc     :func:`napari_facehmm.export.movement_netcdf.write_movement`
video      .mp4    :func:`napari_facehmm.export.video.write_states_video`
=========  ======  =====================================================

Each writer refuses an analysis of another session (frame counts differ)
before writing, and writes its file whole or not at all.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Generator

from ..errors import DataError
from ..progress import Progress

__all__ = ["EXPORT_FORMATS", "export_session", "default_output_name"]

#: format -> suffix of its file
EXPORT_FORMATS = {"nwb": ".nwb", "movement": ".nc", "video": ".mp4"}


def default_output_name(session_dir: str | Path, to: str) -> str:
    """``<session folder name>.<suffix>`` (e.g. ``session.nwb``)."""
    return f"{Path(session_dir).resolve().name}{EXPORT_FORMATS[to]}"


def _check(session_dir: Path, analysis_dir: Path, to: str, out_path: Path, overwrite: bool) -> None:
    if to not in EXPORT_FORMATS:
        raise DataError(f"no export to {to!r}; choose one of {', '.join(EXPORT_FORMATS)}")
    if not session_dir.is_dir():
        raise DataError(f"{session_dir}: no such session folder")
    if not analysis_dir.is_dir():
        raise DataError(f"{analysis_dir}: no such analysis folder (run facehmm analyze first)")
    if not (analysis_dir / "states.csv").is_file():
        raise DataError(f"{analysis_dir}: no analysis here (states.csv is missing); run facehmm analyze first")
    from .session_inputs import check_output_file

    check_output_file(out_path, EXPORT_FORMATS[to], f"a {to} export", overwrite)


def export_session(
    session_dir: str | Path,
    analysis_dir: str | Path,
    to: str,
    out_path: str | Path,
    *,
    overwrite: bool = False,
    track: str | None = None,
    cameras: list[str] | None = None,
    **options: Any,
) -> Generator[Progress, None, Path]:
    """Check the inputs now, then return the job exporting a session and its analysis as ``to``.

    The checks run when this function is called (an error before any
    progress bar or worker starts); the job is a progress generator of
    ``(done, total, message)`` that returns the file written.

    Parameters
    ----------
    session_dir, analysis_dir
        The session folder and its analysis folder.
    to
        The format (:data:`EXPORT_FORMATS`).
    out_path
        The output file, with the format's suffix; refused when it exists
        unless ``overwrite``.
    track
        ``movement``: the track (``"3d"`` or a camera; the 3D one when the
        session has it, else the first camera's).
    cameras
        ``video``: the cameras to show side by side (all by default).
    **options
        Passed to the writer (``session_start_time`` for NWB; ``window_s``,
        ``crf``... for the video).

    Returns
    -------
    generator
        The writer's progress generator (its value: the file written).

    Raises
    ------
    DataError
        Bad input, checked before any work: see :func:`_check` and each writer.
    """
    session_dir, analysis_dir, out_path = Path(session_dir), Path(analysis_dir), Path(out_path)
    _check(session_dir, analysis_dir, to, out_path, overwrite)
    if track is not None and to != "movement":
        raise DataError(f"a track is chosen for movement exports only (the {to} export holds every track)")
    if cameras is not None and to != "video":
        raise DataError(f"cameras are chosen for video exports only (the {to} export holds every camera)")
    if to == "nwb":
        from .nwb import write_nwb

        return write_nwb(session_dir, analysis_dir, out_path, overwrite=overwrite, **options)
    if to == "movement":
        from .movement_netcdf import write_movement

        return write_movement(session_dir, analysis_dir, out_path, track=track, overwrite=overwrite, **options)
    from .video import write_states_video

    return write_states_video(session_dir, analysis_dir, out_path, cameras=cameras, overwrite=overwrite, **options)
