"""Writing an analysis' outputs: the tables, the model, the summary and the figures, as a set.

:func:`write_outputs` writes an :class:`~napari_facehmm.analysis.AnalysisResult`
into a results folder (swapped in whole when complete); the tables it builds
(:func:`mean_faces_table`, :func:`head_motion_table`) and the figures
(:func:`make_figures`) are here too. :data:`OUTPUT_NAMES` lists every file such a
folder may hold. All are re-exported from :mod:`napari_facehmm.analysis`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generator

import numpy as np
import pandas as pd

from .errors import DataError
from .features import FeatureMatrix
from .progress import Progress

if TYPE_CHECKING:
    from .analysis import AnalysisResult


#: the figures :func:`write_outputs` draws, by file name
FIGURE_NAMES = ("ethogram", "mean_faces", "frequencies", "transitions", "kinematics")

#: model file name inside the output folder (FaceHMM.save chooses the format)
MODEL_STEM = "model"

#: the tables :func:`write_outputs` writes, as ``<name>.csv``
TABLE_NAMES = ("states", "state_stats", "bouts", "transitions", "mean_faces", "head_motion")

#: every file an analysis output folder of ours may hold: a new result replaces
#: these as a set; anything else in an earlier result folder is the user's and
#: is carried over (``truth_confusion.csv`` is added by ``facehmm demo``; the
#: ``.bak`` files by versions that saved the model over an earlier one)
OUTPUT_NAMES = (
    *(f"{name}.csv" for name in TABLE_NAMES),
    f"{MODEL_STEM}.json",
    f"{MODEL_STEM}.npz",
    f"{MODEL_STEM}.json.bak",
    f"{MODEL_STEM}.npz.bak",
    "summary.json",
    "truth_confusion.csv",
    *(f"{name}.png" for name in FIGURE_NAMES),
    # --states auto / a range (analysis_selection)
    "model_selection.csv",
    "model_selection.png",
    # the one page that shows all of the above (export/report.py)
    "report.html",
)


def mean_faces_table(result: AnalysisResult) -> pd.DataFrame:
    """One row per (state, keypoint): mean and SD of the head-centred coordinates."""
    n_states, n_keypoints, n_dims = result.mean_face.shape
    coords = "xyz"[:n_dims]
    table = {
        "state": np.repeat(np.arange(n_states), n_keypoints),
        "keypoint": np.tile(np.array(result.features.keypoints, dtype=object), n_states),
    }
    for d, name in enumerate(coords):
        table[f"{name}_mean"] = result.mean_face[:, :, d].ravel()
        table[f"{name}_sd"] = result.sd_face[:, :, d].ravel()
    return pd.DataFrame(table)


def head_motion_table(result: AnalysisResult) -> pd.DataFrame:
    """One row per frame: the head pose removed from the features and its kinematics.

    Columns ``frame, time_s, state``, head position ``head_x..`` (the
    reference keypoint, or the rigid template's origin), ``velocity_x..`` per
    second, ``acceleration_x..`` per second², ``speed``; in rigid mode also
    the rotation angles (degrees, around the session's mean head pose),
    ``angular_speed_deg_s`` and the rotation matrix ``r00..`` (face frame ->
    data frame). Units: mm for 3D, px for 2D.
    """
    features = result.features
    motion = features.kinematics
    n_dims = result.series.n_dims
    axes = "xyz"[:n_dims]
    table = {
        "frame": features.frame_indices,
        "time_s": features.frame_indices / features.fps,
        "state": pd.array(np.where(result.states >= 0, result.states, 0), dtype="Int64"),
    }
    for d, axis in enumerate(axes):
        table[f"head_{axis}"] = motion["position"][:, d]
    for d, axis in enumerate(axes):
        table[f"velocity_{axis}"] = motion["velocity"][:, d]
    for d, axis in enumerate(axes):
        table[f"acceleration_{axis}"] = motion["acceleration"][:, d]
    table["speed"] = motion["speed"]
    if "angles" in motion:
        for column, name in enumerate(features.head_pose["angle_names"]):
            table[name] = motion["angles"][:, column]
        table["angular_speed_deg_s"] = motion["angular_speed"]
        rotations = features.head_pose["rotations"]
        for i in range(n_dims):
            for j in range(n_dims):
                table[f"r{i}{j}"] = rotations[:, i, j]
    out = pd.DataFrame(table)
    out.loc[result.states < 0, "state"] = pd.NA
    return out


def skeleton_for(features: FeatureMatrix) -> tuple[tuple[str, str], ...]:
    """The series' skeleton, or the known one of its landmark set (DLC files store none)."""
    if features.skeleton:
        return tuple(features.skeleton)
    from . import face

    names = set(features.keypoints)
    known = [face.FACE_SKELETON]
    try:
        from .io.openface import OPENFACE_SKELETON

        known.append(OPENFACE_SKELETON)
    except ImportError:
        pass
    for skeleton in known:
        edges = tuple((a, b) for a, b in skeleton if a in names and b in names)
        if edges:
            return edges
    return ()


def make_figures(result: AnalysisResult) -> dict[str, Any]:
    """The analysis figures (matplotlib ``Figure`` objects, Agg canvas), by name."""
    from .stats import figures

    features = result.features
    times_s = features.frame_indices / features.fps
    unit = result.unit
    motion = features.kinematics
    traces = {f"head speed ({unit}/s)": motion["speed"]}
    if "angular_speed" in motion:
        traces["angular speed (deg/s)"] = motion["angular_speed"]
    if "angles" in motion:
        for column, name in enumerate(features.head_pose.get("angle_names", [])):
            traces[name.replace("_deg", " (deg)")] = motion["angles"][:, column]
    full_features = features.to_frames(features.values)
    state_names = result.state_names
    counts = result.transitions["count"].to_numpy().reshape(result.n_states, result.n_states)
    probability = result.transitions["probability"].to_numpy().reshape(result.n_states, result.n_states)
    switch_probability = (
        result.transitions["switch_probability"].to_numpy().reshape(result.n_states, result.n_states)
    )
    overall = figures.overall_mean_face(features.coords, result.states)
    return {
        "ethogram": figures.ethogram_figure(
            result.states,
            result.n_states,
            times_s,
            features=full_features,
            feature_names=features.names,
            traces={k: v for k, v in list(traces.items())[:2]},
            state_names=state_names,
        ),
        "mean_faces": figures.mean_faces_figure(
            result.mean_face,
            result.sd_face,
            features.keypoints,
            skeleton_for(features),
            state_names=state_names,
            overall_mean=overall,
            image_coordinates=result.series.n_dims == 2,
        ),
        "frequencies": figures.frequencies_figure(result.state_stats, state_names),
        "transitions": figures.transitions_figure(
            probability, counts, state_names, switch_probability=switch_probability
        ),
        "kinematics": figures.kinematics_figure(
            result.states, result.n_states, times_s, traces, state_names
        ),
    }


def write_outputs(
    result: AnalysisResult,
    out_dir: str | Path,
    figures: bool = True,
    extra_tables: dict[str, pd.DataFrame] | None = None,
    save_model: bool = True,
    final_dir: str | Path | None = None,
) -> Generator[Progress, None, dict[str, Path]]:
    """Write the tables, the model, a summary JSON and the figures into ``out_dir``, as a set.

    Files: ``states.csv`` (one row per frame: ``frame, time_s, state,
    state_probability, reason``; empty state where none, and the reason), ``state_stats.csv``,
    ``bouts.csv``, ``transitions.csv``, ``mean_faces.csv``, ``head_motion.csv``
    (head pose and kinematics per frame), ``model.json``/``model.npz``,
    ``summary.json`` (with the tracking QC numbers of the input under ``qc``),
    ``<figure>.png`` for :data:`FIGURE_NAMES` and ``report.html`` (all of it
    on one page, :mod:`napari_facehmm.export.report`); also
    ``<name>.csv`` for each of ``extra_tables`` (names from
    :data:`OUTPUT_NAMES`, such as ``facehmm demo``'s ``truth_confusion``),
    in the same set. ``save_model=False`` leaves the model out (the sessions
    of a multi-session fit share one model, saved beside their folders).
    ``final_dir`` is where ``out_dir`` will be once a caller's own result set
    is swapped in (a session folder of a multi-session result), named on the
    report page; default ``out_dir``.

    Everything is written into a hidden folder beside ``out_dir`` and swapped
    in when complete (:func:`napari_facehmm.io._atomic.results_folder`): an
    interruption (Ctrl+C, a full disk, closing this generator early) leaves
    ``out_dir`` exactly as it was. An earlier result in ``out_dir`` is
    replaced whole (also figures this run does not draw); files the user
    added to it (names not in :data:`OUTPUT_NAMES`) are carried over. A
    non-empty ``out_dir`` that is no earlier result (no ``summary.json`` or
    ``model.json``) is refused with a FaceHMMError before anything is written.

    Returns
    -------
    dict of Path
        The files written (their final paths in ``out_dir``), by role; also
        stored in ``result.files``.
    """
    from .export.report import write_report
    from .io._atomic import results_folder
    from .tracking.frame_quality import quality_summary

    out_dir = Path(out_dir)
    n_steps = 4 + (len(FIGURE_NAMES) if figures else 0)
    written: dict[str, str] = {}  # role -> file name
    with results_folder(out_dir, owned_names=OUTPUT_NAMES) as folder:
        yield 0, n_steps, "writing tables"
        tables = {
            "states": result.frames,
            "state_stats": result.state_stats,
            "bouts": result.bouts,
            "transitions": result.transitions,
            "mean_faces": mean_faces_table(result),
            "head_motion": head_motion_table(result),
            **(extra_tables or {}),
        }
        unknown = sorted(f"{name}.csv" for name in tables if f"{name}.csv" not in OUTPUT_NAMES)
        if unknown:
            raise DataError(f"tables {unknown} are not among the analysis outputs {OUTPUT_NAMES}")
        for name, table in tables.items():
            table.to_csv(folder / f"{name}.csv", index=False)
            written[f"{name}_csv"] = f"{name}.csv"
        if save_model:
            yield 1, n_steps, "saving model"
            json_path, npz_path = result.model.save(folder / MODEL_STEM)
            written["model"] = Path(json_path).name
            written["model_arrays"] = Path(npz_path).name
        summary = {
            "source": str(result.series.source) if result.series.source else None,
            "n_frames": int(result.features.n_frames),
            "n_frames_with_state": int((result.states >= 0).sum()),
            "n_segments": int(len(result.features.lengths)),
            "n_states": int(result.n_states),
            "n_features": int(result.features.values.shape[1]),
            "feature_names": list(result.features.names),
            "settings": result.features.settings.to_dict(),
            "fps": float(result.features.fps),
            "log_likelihood": result.log_likelihood,
            "fitted": bool(result.fitted),
            "qc": quality_summary(result.series),
            **{k: v for k, v in result.info.items() if _is_jsonable(v)},
        }
        (folder / "summary.json").write_text(json.dumps(summary, indent=2))
        written["summary"] = "summary.json"
        selection = result.info.get("model_selection_table")
        if selection is not None:
            written.update(write_selection(selection, folder, figures))
        if figures:
            for step, (name, figure) in enumerate(make_figures(result).items()):
                yield 2 + step, n_steps, f"drawing {name}"
                figure.savefig(folder / f"{name}.png", dpi=110)
                written[f"{name}_png"] = f"{name}.png"
        yield n_steps - 1, n_steps, "writing report.html"
        written["report"] = write_report(folder, shown_dir=final_dir or out_dir).name
    files = {role: out_dir / name for role, name in written.items()}
    result.files.update(files)
    yield n_steps, n_steps, "outputs written"
    return files


def write_selection(table: Any, folder: Path, figures: bool = True) -> dict[str, str]:
    """``model_selection.csv`` (and ``.png``) of a ``--states auto`` / ``A-B`` choice into ``folder``; names by role."""
    table.to_csv(folder / "model_selection.csv", index=False)
    written = {"model_selection_csv": "model_selection.csv"}
    if figures:
        from .stats.model_selection_figure import model_selection_figure

        model_selection_figure(table).savefig(folder / "model_selection.png", dpi=110)
        written["model_selection_png"] = "model_selection.png"
    return written


def _is_jsonable(value: Any) -> bool:
    """Whether ``json.dumps`` takes ``value`` as it is."""
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return False
    return True
