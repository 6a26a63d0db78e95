"""A small analysed synthetic session for the export tests (imported by tests/test_export_*.py).

``make_analysed_session(root)``: a 12 s, two-camera session at 30 fps without
videos (``pose-2d/`` DeepLabCut tracks, ``calibration/``), its true 3D
landmarks copied to ``pose-3d/session1.csv`` (the layout ``facehmm
triangulate`` writes; truth keeps the test fast and deterministic), and an
analysis folder of the 3D track: 3 states, a few EM iterations, no figures.
Points the tracker lost are NaN in the files: camA frames 10-19 of
``nose2`` and 3D frames 30-34 of ``chin`` (so exports must keep NaN).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

N_STATES = 3
SECONDS = 12.0
FPS = 30.0
N_FRAMES = int(SECONDS * FPS)


@dataclass
class AnalysedSession:
    session: Path
    analysis: Path
    n_frames: int


def make_session(folder: Path, seconds: float = SECONDS, with_3d: bool = True, seed: int = 0) -> Path:
    from napari_facehmm.synthetic import generate_session

    generate_session(
        folder, n_cameras=2, seconds=seconds, fps=FPS, seed=seed, render_video=False, n_states=N_STATES, n_board_frames=4
    )
    from napari_facehmm.io.anipose import read_pose3d, write_pose3d
    from napari_facehmm.io.dlc import read_dlc_analysis, write_dlc_analysis

    track = folder / "pose-2d" / "session1-camA.h5"
    series = read_dlc_analysis(track)
    series.positions[10:20, series.keypoint_index("nose2")] = np.nan
    write_dlc_analysis(series, track)
    if with_3d:
        (folder / "pose-3d").mkdir()
        series = read_pose3d(folder / "truth" / "pose-3d.csv")
        series.positions[30:35, series.keypoint_index("chin")] = np.nan
        write_pose3d(series, folder / "pose-3d" / "session1.csv")
    return folder


def analyse(source: Path, out_dir: Path) -> Path:
    from napari_facehmm.analysis import run_analysis
    from napari_facehmm.progress import run_to_end

    run_to_end(run_analysis(source, N_STATES, out_dir, n_restarts=1, n_iter=5, seed=0, figures=False))
    return out_dir


def make_analysed_session(root: Path) -> AnalysedSession:
    session = make_session(root / "session")
    analysis = analyse(session / "pose-3d" / "session1.csv", root / "analysis")
    return AnalysedSession(session, analysis, N_FRAMES)
