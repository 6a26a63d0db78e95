"""``report.html``: one self-contained page that holds a whole analysis (Qt-free, no network).

:func:`render_report` reads an analysis folder as ``facehmm analyze`` writes it
(``summary.json``, the tables, the figures) and renders one HTML page: the
input, the settings, the QC numbers (frames with a state and the tracking QC
that :func:`~napari_facehmm.tracking.frame_quality.quality_summary` stored in
``summary.json``: likelihood and, for 3D, reprojection error), the model
selection (``--states auto``) and the stability check when the analysis has
them, every figure of the folder embedded as a ``data:`` URI, and the tables.
A folder of several sessions (``facehmm analyze`` with several inputs,
``facehmm batch``) gets a per-session table linking each session's own
report, whose page links back. :func:`write_report` writes it atomically;
the analysis writers call it inside their result set, so the report appears
and is replaced together with the files it shows.

The page reads from nothing but itself: no script, inline style, and a
Content-Security-Policy that forbids every fetch (HTML pieces in
:mod:`.report_html`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from ..errors import DataError
from . import report_html as h

__all__ = ["REPORT_NAME", "render_report", "write_report"]

#: file name of the report inside an analysis folder
REPORT_NAME = "report.html"

#: figures in the order a reader wants them; any other PNG of the folder follows, by name
_FIGURE_ORDER = ("ethogram", "mean_faces", "frequencies", "transitions", "kinematics")

#: tables shown (per-frame tables, states and head_motion, are only named); model_selection has its section
_TABLES = (
    ("sessions", "Sessions and states"),
    ("failures", "Failed sessions"),
    ("state_stats", "States"),
    ("transitions", "Transitions"),
    ("bouts", "Bouts"),
    ("mean_faces", "Mean faces"),
    ("truth_confusion", "Decoded against true states"),
    ("groups", "Groups"),
    ("group_tests", "Group tests"),
)
_PER_FRAME_TABLES = ("states.csv", "head_motion.csv")

#: labels of summary.json's ``qc`` block (tracking/frame_quality.quality_summary)
_QC_LABELS = {
    "n_keypoints": "keypoints",
    "points_tracked_fraction": "points tracked (fraction of frames x keypoints)",
    "likelihood_median": "tracking likelihood: median (3D: Anipose's score)",
    "likelihood_below_0_5_fraction": "tracking likelihood: fraction of points below 0.5",
    "reprojection_error_px_median": "reprojection error (px): median",
    "reprojection_error_px_p95": "reprojection error (px): 95th percentile",
}


def _read_json(path: Path) -> dict[str, Any]:
    try:
        content = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return content if isinstance(content, dict) else {}


def _read_csv(path: Path) -> pd.DataFrame | None:
    if not path.is_file():
        return None
    try:
        return pd.read_csv(path)
    except (OSError, ValueError):  # an empty or unreadable table is left out, not the whole report
        return None


def _frames_with_state(entry: dict[str, Any]) -> str | None:
    n_frames, with_state = entry.get("n_frames"), entry.get("n_frames_with_state")
    if not n_frames or with_state is None:
        return None
    return f"{with_state:,} of {n_frames:,} ({100 * with_state / n_frames:.1f} %)"


def _input_section(summary: dict[str, Any]) -> str:
    model = summary.get("model")
    link = None
    if isinstance(model, str) and model.startswith("../"):
        link = f'{h.text(model)} (shared by the sessions; <a href="../{REPORT_NAME}">report of all sessions</a>)'
    items = {
        "source": summary.get("source"),
        "project": summary.get("project"),
        "session": summary.get("session"),
        "sessions": summary.get("n_sessions"),
        "frames": summary.get("n_frames"),
        "segments": summary.get("n_segments"),
        "frame rate (fps)": summary.get("fps"),
        "states": summary.get("n_states"),
        "features": summary.get("n_features"),
        "log-likelihood": summary.get("log_likelihood"),
        "fitted here": summary.get("fitted"),
        "model": link or model,
        "sessions skipped (complete from an earlier run)": summary.get("skipped") or None,
    }
    return "<h2>Input</h2>" + h.key_values(items, raw=("model",) if link else ())


def _settings_section(summary: dict[str, Any]) -> str:
    parts = []
    if isinstance(summary.get("settings"), dict):
        parts += ["<h2>Settings</h2>", h.key_values(summary["settings"])]
    if summary.get("feature_names"):
        names = summary["feature_names"]
        parts.append(f"<details><summary>{len(names)} features</summary><p>{h.text(', '.join(names))}</p></details>")
    fit = dict(summary["fit"]) if isinstance(summary.get("fit"), dict) else {}
    convergence = summary.get("convergence")
    if isinstance(convergence, dict) and convergence.get("message"):
        fit["convergence"] = convergence["message"]
    if fit:
        parts += ["<h3>Fit</h3>", h.key_values(fit)]
    return "".join(parts)


def _qc_section(summary: dict[str, Any], folder: Path) -> str:
    qc: dict[str, Any] = {"frames with a state": _frames_with_state(summary)}
    stored = summary.get("qc")
    if isinstance(stored, dict):
        qc.update({_QC_LABELS.get(key, key): value for key, value in stored.items()})
    parts = []
    sessions = [s for s in summary.get("sessions") or [] if isinstance(s, dict)]
    if sessions:
        parts.append(_sessions_qc(sessions, folder))
    elif not isinstance(stored, dict):
        qc["tracking QC"] = "not recorded in this analysis' summary.json (written by an earlier version)"
    if not any(v is not None for v in qc.values()) and not parts:
        return ""
    return "<h2>Quality control</h2>" + h.key_values(qc) + "".join(parts)


def _sessions_qc(sessions: list[dict[str, Any]], folder: Path) -> str:
    """One row per session: frames, frames with a state, its tracking QC, a link to its report."""
    rows = []
    for entry in sessions:
        name = str(entry.get("folder") or entry.get("session"))
        stored = _read_json(folder / name / "summary.json").get("qc") or {}
        report = folder / name / REPORT_NAME
        rows.append(
            {
                "session": entry.get("session", name),
                "group": entry.get("group"),
                "frames": entry.get("n_frames"),
                "frames with a state": _frames_with_state(entry),
                "likelihood median": stored.get("likelihood_median"),
                "reprojection error median (px)": stored.get("reprojection_error_px_median"),
                "report": f'<a href="{h.text(name)}/{REPORT_NAME}">{h.text(name)}</a>' if report.is_file() else "",
            }
        )
    frame = pd.DataFrame(rows).dropna(axis=1, how="all")
    return h.table(frame, "Sessions", raw_columns=("report",))


def _selection_section(summary: dict[str, Any], folder: Path) -> tuple[str, set[str]]:
    """The model selection block and the figure names it showed."""
    selection = summary.get("model_selection")
    selection = selection if isinstance(selection, dict) else {}
    frame = _read_csv(folder / "model_selection.csv")
    figure = folder / "model_selection.png"
    if not selection and frame is None and not figure.is_file():
        return "", set()
    parts = ["<h2>Model selection</h2>"]
    if selection.get("reason"):
        parts.append(f"<p><b>{h.text(selection['reason'])}</b></p>")
    items = {"candidates": selection.get("candidates"), "chosen": selection.get("chosen"), "rule": selection.get("rule")}
    parts.append(h.key_values(items))
    if figure.is_file():
        parts.append(h.image(figure))
    if frame is not None:
        parts.append(h.table(frame, "Held-out scores per number of states"))
    return "".join(parts), {"model_selection"} if figure.is_file() else set()


def _stability_section(summary: dict[str, Any], folder: Path) -> str:
    stability = summary.get("stability")
    if not isinstance(stability, dict) or not stability:
        return ""
    from ..analysis_stability import stability_sentence

    stats = _read_csv(folder / "state_stats.csv")
    names = list(stats["name"].astype(str)) if stats is not None and "name" in stats.columns else None
    parts = ["<h2>Stability</h2>", "<p class=note>the same model fitted again from other seeds</p>"]
    try:
        sentence = stability_sentence(stability, names)
    except (KeyError, TypeError):  # a block of another version: its numbers are still shown below
        sentence = ""
    if sentence:
        css = " class=warn" if stability.get("unstable_states") else ""
        parts.append(f"<p{css}><b>{h.text(sentence)}</b></p>")
    shown = {k: v for k, v in stability.items() if k not in ("recurrence", "n_back")}
    if "unstable_states" in shown and not shown["unstable_states"]:
        shown["unstable_states"] = "none"
    parts.append(h.key_values(shown))
    recurrence, n_back = stability.get("recurrence"), stability.get("n_back")
    n_refits = int(stability.get("n_seeds", 1)) - 1
    if isinstance(recurrence, list) and recurrence:
        unstable = set(stability.get("unstable_states") or [])
        rows = {
            "state": list(range(len(recurrence))),
            "name": names if names and len(names) == len(recurrence) else [f"state {k}" for k in range(len(recurrence))],
            "recurrence": recurrence,
            "back in re-fits": [f"{n} of {n_refits}" for n in n_back]
            if isinstance(n_back, list) and len(n_back) == len(recurrence) else None,
            "unstable": [k in unstable for k in range(len(recurrence))],
        }
        parts.append(h.table(pd.DataFrame({k: v for k, v in rows.items() if v is not None}), "Per state"))
    return "".join(parts)


def _figures_section(folder: Path, shown: set[str]) -> str:
    pngs = {p.stem: p for p in sorted(folder.glob("*.png")) if p.stem not in shown}
    ordered = [n for n in _FIGURE_ORDER if n in pngs] + sorted(set(pngs) - set(_FIGURE_ORDER))
    if not ordered:
        return ""
    return "<h2>Figures</h2>" + "".join(h.image(pngs[name]) for name in ordered)


def _tables_section(folder: Path) -> str:
    blocks = []
    for name, heading in _TABLES:
        frame = _read_csv(folder / f"{name}.csv")
        if frame is not None:
            blocks.append(h.table(frame, f"{heading} ({name}.csv)"))
    per_frame = [n for n in _PER_FRAME_TABLES if (folder / n).is_file()]
    if per_frame:
        blocks.append(f"<p class=note>per-frame tables (not shown): {h.text(', '.join(per_frame))}</p>")
    return "<h2>Tables</h2>" + "".join(blocks) if blocks else ""


def render_report(analysis_dir: str | Path, title: str | None = None, shown_dir: str | Path | None = None) -> str:
    """The HTML of the report of an analysis folder (figures embedded; nothing fetched).

    Parameters
    ----------
    analysis_dir
        A folder ``facehmm analyze``, ``run`` or ``batch`` wrote (its ``summary.json``).
    title
        The page's title; default names the folder.
    shown_dir
        The folder named on the page, when ``analysis_dir`` is where it is
        being built (the hidden folder of a result set).

    Raises
    ------
    DataError
        The folder has no readable ``summary.json`` (not an analysis folder).
    """
    folder = Path(analysis_dir)
    summary_path = folder / "summary.json"
    if not summary_path.is_file():
        raise DataError(f"{folder}: not an analysis folder (summary.json is missing); run facehmm analyze first")
    summary = _read_json(summary_path)
    if not summary:
        raise DataError(f"{summary_path}: not a readable analysis summary (a JSON object was expected)")
    shown = Path(shown_dir) if shown_dir is not None else folder
    title = title or f"Face states: {shown.resolve().name}"
    from .. import __version__

    selection, selection_figures = _selection_section(summary, folder)
    notes = [n for n in summary.get("notes") or [] if n]
    parts = [
        f"<h1>{h.text(title)}</h1>",
        f"<p class=note>analysis folder {h.text(shown.resolve())}; report written by napari-facehmm {h.text(__version__)}</p>",
        _input_section(summary),
        _settings_section(summary),
        _qc_section(summary, folder),
        selection,
        _stability_section(summary, folder),
        "<h2>Notes</h2><ul>" + "".join(f"<li>{h.text(n)}</li>" for n in notes) + "</ul>" if notes else "",
        _figures_section(folder, selection_figures),
        _tables_section(folder),
    ]
    return h.page(title, "\n".join(p for p in parts if p))


def write_report(
    analysis_dir: str | Path,
    out_path: str | Path | None = None,
    title: str | None = None,
    shown_dir: str | Path | None = None,
) -> Path:
    """Render :func:`render_report` into ``out_path`` (default ``<analysis_dir>/report.html``), atomically."""
    from ..io._atomic import atomic_write_path

    out_path = Path(out_path) if out_path is not None else Path(analysis_dir) / REPORT_NAME
    text = render_report(analysis_dir, title, shown_dir)
    with atomic_write_path(out_path, backup=False) as temp:
        Path(temp).write_text(text, encoding="utf-8")
    return out_path
