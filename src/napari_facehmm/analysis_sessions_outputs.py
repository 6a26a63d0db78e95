"""Writing a multi-session analysis as one set: the shared model, a folder per session, the tables.

Layout of ``out_dir`` (``facehmm analyze IN1 IN2 ... --out DIR``):

- ``model.json`` / ``model.npz``: the one model of all sessions;
- ``<session>/``: everything a single analysis writes for that session
  (:func:`~napari_facehmm.analysis_outputs.write_outputs`) except the model,
  which its ``summary.json`` points to (``"model": "../model.json"``);
- ``sessions.csv``: per session and state, frames, fraction, bouts and mean
  bout length; ``groups.csv`` and ``group_tests.csv`` with groups;
- ``model_selection.csv`` and ``.png`` with ``--states auto`` or a range;
- ``summary.json``: the fit as a whole and one entry per session;
- ``report.html``: the page of the whole (:mod:`napari_facehmm.export.report`),
  linking each session's own ``<session>/report.html``.

All of it is written into a hidden folder and swapped in whole
(:func:`napari_facehmm.io._atomic.results_folder`): an interrupted run leaves
``out_dir`` as it was. Session folders of an earlier result (listed in its
``summary.json``) are replaced with it; the user's own files are carried over.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generator

from .analysis_outputs import FIGURE_NAMES, MODEL_STEM, OUTPUT_NAMES, _is_jsonable, write_outputs, write_selection
from .progress import Progress, relay

if TYPE_CHECKING:
    from .analysis_sessions import SessionsResult

__all__ = ["SESSIONS_OUTPUT_NAMES", "SESSIONS_TABLE_NAMES", "write_sessions_outputs"]

#: the tables a multi-session analysis writes beside the session folders, as ``<name>.csv``
SESSIONS_TABLE_NAMES = ("sessions", "groups", "group_tests")

#: the files a multi-session result holds beside its session folders
SESSIONS_OUTPUT_NAMES = (
    f"{MODEL_STEM}.json",
    f"{MODEL_STEM}.npz",
    "summary.json",
    *(f"{name}.csv" for name in SESSIONS_TABLE_NAMES),
    "report.html",
)


def earlier_session_names(out_dir: str | Path) -> list[str]:
    """Session folders of an earlier multi-session result in ``out_dir`` (from its ``summary.json``)."""
    try:
        summary = json.loads((Path(out_dir) / "summary.json").read_text(encoding="utf-8"))
        entries = summary.get("sessions", []) if isinstance(summary, dict) else []
        names = [entry.get("folder") for entry in entries if isinstance(entry, dict)]
    except (OSError, ValueError):
        return []
    return [n for n in names if isinstance(n, str) and n and not n.startswith(".") and "/" not in n and "\\" not in n]


def _summary(result: SessionsResult) -> dict[str, Any]:
    first = result.results[0]
    sessions = []
    for name, session in zip(result.names, result.results):
        sessions.append(
            {
                "session": name,
                "folder": name,
                "source": str(session.series.source) if session.series.source else None,
                "group": result.groups[name] if result.groups else None,
                "n_frames": int(session.features.n_frames),
                "n_frames_with_state": int((session.states >= 0).sum()),
                "n_segments": int(len(session.features.lengths)),
                "log_likelihood": session.log_likelihood,
            }
        )
    model = result.model
    fit = None
    if result.fitted:
        fit = {
            "log_likelihood": float(model.log_likelihood_),
            "converged": bool(model.converged_),
            "best_restart": int(model.best_restart_),
            "n_restarts": int(model.n_restarts),
        }
    return {
        "n_sessions": len(result.names),
        "sessions": sessions,
        "n_states": int(result.n_states),
        "n_features": int(first.features.values.shape[1]),
        "feature_names": list(first.features.names),
        "settings": first.features.settings.to_dict(),
        "fps": float(first.features.fps),
        "log_likelihood": result.log_likelihood,
        "fitted": bool(result.fitted),
        "fit": fit,
        "model": f"{MODEL_STEM}.json",
        "notes": list(result.notes),
        **{k: v for k, v in result.info.items() if _is_jsonable(v)},
    }


def write_sessions_outputs(
    result: SessionsResult, out_dir: str | Path, figures: bool = True
) -> Generator[Progress, None, dict[str, Path]]:
    """Write the model, every session's folder, the tables and the summary into ``out_dir``, as a set.

    Returns
    -------
    dict of Path
        The files written outside the session folders, by role (each
        session's own files are in ``result.results[i].files``); also stored
        in ``result.files``.
    """
    from .export.report import write_report
    from .io._atomic import results_folder

    out_dir = Path(out_dir)
    owned = {*OUTPUT_NAMES, *SESSIONS_OUTPUT_NAMES, *result.names, *earlier_session_names(out_dir)}
    per_session = 4 + (len(FIGURE_NAMES) if figures else 0)
    total = 2 + per_session * len(result.names)
    written: dict[str, str] = {}
    session_files: dict[str, dict[str, Path]] = {}
    with results_folder(out_dir, owned_names=owned) as folder:
        yield 0, total, "saving model"
        json_path, npz_path = result.model.save(folder / MODEL_STEM)
        written["model"], written["model_arrays"] = Path(json_path).name, Path(npz_path).name
        for number, (name, session) in enumerate(zip(result.names, result.results)):
            offset = 1 + number * per_session

            def step(item: Progress, offset=offset, name=name) -> Progress:
                return offset + item[0], total, f"{name}: {item[2]}"

            session_files[name] = yield from relay(
                write_outputs(session, folder / name, figures=figures, save_model=False, final_dir=out_dir / name), step
            )
        yield total - 1, total, "writing tables"
        tables = {"sessions": result.sessions, "groups": result.group_summary, "group_tests": result.group_tests}
        for name, table in tables.items():
            if table is not None:
                table.to_csv(folder / f"{name}.csv", index=False)
                written[f"{name}_csv"] = f"{name}.csv"
        selection = result.info.get("model_selection_table")
        if selection is not None:
            written.update(write_selection(selection, folder, figures))
        (folder / "summary.json").write_text(json.dumps(_summary(result), indent=2))
        written["summary"] = "summary.json"
        written["report"] = write_report(folder, shown_dir=out_dir).name
    # the session writers reported paths inside the temporary folder
    for name, session in zip(result.names, result.results):
        session.files = {role: out_dir / name / path.name for role, path in session_files[name].items()}
    files = {role: out_dir / file_name for role, file_name in written.items()}
    result.files.update(files)
    yield total, total, "outputs written"
    return files
