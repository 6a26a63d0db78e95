"""The per-session work that runs on the Dask workers: tracking, triangulation, features, decoding.

Each function takes and returns plain objects (paths, a
:class:`~napari_facehmm.data.LandmarkSeries`, a
:class:`~napari_facehmm.features.FeatureMatrix`) so that Dask keeps the big
ones in the worker's memory as futures and recomputes them from their
inputs if a worker is lost. Every step is the one-session code path
(``facehmm run``'s trackers, :func:`triangulate_session`,
:func:`build_features`, :func:`summarize`, :func:`write_outputs`); errors
are raised with the session's name in front, so the client can report them.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np

from ..data import LandmarkSeries
from ..errors import DataError, FaceHMMError
from .discovery import SessionSpec

__all__ = [
    "build_session_features",
    "decode_and_write",
    "feature_header",
    "feature_part",
    "prepare_session",
    "scale_features",
    "unscaled_sums",
]

#: frame rate of 2D files that store none (DeepLabCut's), as ``facehmm triangulate``
DEFAULT_FPS = 30.0


class SessionError(FaceHMMError):
    """A session's step failed; the message names the session, the step and the cause."""

    def __init__(self, session: str, stage: str, cause: BaseException):
        self.session, self.stage = session, stage
        self.cause = f"{type(cause).__name__}: {cause}"
        super().__init__(f"session {session}: {stage} failed: {self.cause}")


def _step(spec_name: str, stage: str, make):
    try:
        return make()
    except (KeyboardInterrupt, SystemExit):
        raise
    except SessionError:
        raise
    except Exception as error:  # any failure of one session is that session's, reported by name
        raise SessionError(spec_name, stage, error) from error


def _track(spec: SessionSpec, dlc_config: Path | None) -> dict[str, Path]:
    """2D files of every camera, tracking the videos that have none yet."""
    from ..progress import run_to_end

    pose_dir = spec.folder / "pose-2d"
    files = dict(spec.pose_2d)
    missing = {camera: video for camera, video in spec.videos.items() if camera not in files}
    if not missing:
        return files
    pose_dir.mkdir(exist_ok=True)
    if dlc_config is not None:
        import shutil
        import tempfile

        from ..io.dlc import read_dlc_analysis, write_dlc_analysis
        from ..tracking.dlc import AnalysisJob

        with tempfile.TemporaryDirectory(dir=spec.folder, prefix=".dlc-") as work:
            outputs = run_to_end(AnalysisJob(dlc_config, list(missing.values()), destfolder=Path(work)).progress())
            if len(outputs) != len(missing):
                raise DataError(f"DeepLabCut analyzed {len(outputs)} of {len(missing)} videos")
            for (camera, video), output in zip(missing.items(), outputs):
                series = read_dlc_analysis(output)
                target = pose_dir / f"{video.stem}.h5"
                write_dlc_analysis(series, target, scorer=str(series.attrs.get("scorer", "DLC")))
                files[camera] = target
            shutil.rmtree(work, ignore_errors=True)
        return files
    from ..tracking.facemesh import track_to_files

    for camera, video in missing.items():
        target = pose_dir / f"{video.stem}.h5"
        run_to_end(track_to_files(video, paths={"landmarks": target}))
        files[camera] = target
    return files


def _newer(path: Path, than: list[Path]) -> bool:
    return path.is_file() and all(path.stat().st_mtime >= p.stat().st_mtime for p in than)


def prepare_session(spec: SessionSpec, dlc_config: str | Path | None = None) -> LandmarkSeries:
    """The session's landmarks: tracked if needed, triangulated with two or more cameras and a calibration.

    2D files are written into the session's ``pose-2d/``, the 3D table into
    ``pose-3d/<session>.csv`` (kept and reused while newer than the 2D
    files). The series is read back from the file, as ``facehmm analyze``
    reads it, so both give the same numbers.
    """
    from ..analysis import load_series
    from ..progress import run_to_end

    files = _step(spec.name, "tracking", lambda: _track(spec, Path(dlc_config) if dlc_config else None))
    if not files:
        raise SessionError(spec.name, "tracking", DataError(f"{spec.folder}: no video and no 2D file"))
    cameras = sorted(files)
    if len(cameras) >= 2 and spec.calibration is not None:
        output = spec.folder / "pose-3d" / f"{spec.name}.csv"
        if not _newer(output, [*files.values(), spec.calibration]):
            from ..tracking.anipose.project_jobs import triangulate_session

            def triangulate():
                output.parent.mkdir(exist_ok=True)
                run_to_end(triangulate_session({c: files[c] for c in cameras}, spec.calibration, output,
                                               fps=DEFAULT_FPS, reprojection_qc=False))

            _step(spec.name, "triangulation", triangulate)
        return _step(spec.name, "reading pose-3d", lambda: load_series(output, fps=DEFAULT_FPS))
    return _step(spec.name, "reading pose-2d", lambda: load_series(files[cameras[0]], fps=DEFAULT_FPS))


def build_session_features(name: str, series: LandmarkSeries, settings, scaler=None):
    """``build_features`` of one session (with ``scaler``: aligned to its template, unscaled values used)."""
    import warnings

    from ..features import build_features

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return _step(name, "features", lambda: build_features(series, settings, scaler=scaler))


def feature_header(series: LandmarkSeries, matrix) -> dict[str, Any]:
    """What the client needs to check and pool the sessions (small)."""
    return {
        "n_dims": series.n_dims,
        "keypoints": list(series.keypoints),
        "fps": float(series.fps),
        "source": str(series.source) if series.source else None,
        "names": list(matrix.names),
        "n_valid": int(matrix.n_valid),
        "n_frames": int(matrix.n_frames),
        "template": None if matrix.scaler.template is None else np.array(matrix.scaler.template),
        "template_keypoints": list(matrix.scaler.template_keypoints),
        "n_dims_features": matrix.scaler.n_dims,
    }


def unscaled_sums(matrix, mean: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Valid counts and sums of the unscaled features per column (of squared deviations from ``mean`` if given)."""
    values = matrix.unscaled if mean is None else (matrix.unscaled - mean) ** 2
    return np.sum(~np.isnan(values), axis=0), np.nansum(values, axis=0)


def scale_features(matrix, scaler):
    """The session's features z-scored with the scaler of all sessions (as ``shared_features``)."""
    return dataclasses.replace(matrix, values=np.ascontiguousarray(scaler.transform(matrix.unscaled)), scaler=scaler)


def feature_part(matrix) -> tuple[np.ndarray, np.ndarray]:
    """``(values, lengths)``: the session's part of the distributed EM."""
    return matrix.values, matrix.lengths


def features_with_model(name: str, series: LandmarkSeries, model):
    """Features of a session for a saved model (a rerun decoding new sessions with the model it fitted)."""
    from ..analysis import features_for_model

    return _step(name, "features", lambda: features_for_model(series, model))


def decode_and_write(
    name: str, series: LandmarkSeries, matrix, model, out_dir: str | Path, n_sessions: int, figures: bool = True
) -> dict[str, Any]:
    """Decode one session with the shared model and write ``out_dir/<name>/`` as a set (hidden folder, renamed).

    Returns what the client's tables need: ``state_stats`` and the
    session's entry of ``summary.json``.
    """
    from ..analysis import MODEL_STEM, summarize
    from ..analysis_outputs import write_outputs
    from ..progress import run_to_end

    def work():
        result = summarize(series, matrix, model, int(model.n_states), True)
        result.info.update(session=name, model=f"../{MODEL_STEM}.json", n_sessions_in_model=n_sessions)
        run_to_end(write_outputs(result, Path(out_dir) / name, figures=figures, save_model=False))
        return {
            "state_stats": result.state_stats,
            "session": name,
            "folder": name,
            "source": str(series.source) if series.source else None,
            "n_frames": int(matrix.n_frames),
            "n_frames_with_state": int((result.states >= 0).sum()),
            "n_segments": int(len(matrix.lengths)),
            "log_likelihood": float(result.log_likelihood),
        }

    return _step(name, "decoding", work)
