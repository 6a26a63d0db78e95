"""``report.html``: one self-contained page that holds a whole analysis (Qt-free, no network).

:func:`render_report` reads an analysis folder as ``facehmm analyze`` writes it
(``summary.json``, the tables, the figures) and renders one HTML page: the
input, the settings, the QC numbers (frames with a state; tracking likelihood
and, for 3D, reprojection error, read from the input file when it is still
there), every figure embedded as a ``data:`` URI, the tables, and the model
selection and stability results when the folder has them. A folder of several
sessions (``sessions.csv``) gets the sessions table with links to each
session's own report. :func:`write_report` writes it (atomically).
"""

from __future__ import annotations

import base64
import html
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import DataError

__all__ = ["REPORT_NAME", "render_report", "write_report"]

#: file name of the report inside an analysis folder
REPORT_NAME = "report.html"

#: figures in the order a reader wants them; any other PNG of the folder follows
_FIGURE_ORDER = ("ethogram", "mean_faces", "frequencies", "transitions", "kinematics", "model_selection")

#: tables shown in full (up to _MAX_ROWS rows), in this order; per-frame tables (states, head_motion) are not shown
_TABLES = (
    ("sessions", "Sessions"),
    ("state_stats", "States"),
    ("model_selection", "Model selection"),
    ("transitions", "Transitions"),
    ("bouts", "Bouts"),
    ("mean_faces", "Mean faces"),
    ("truth_confusion", "Decoded against true states"),
    ("groups", "Groups"),
    ("group_tests", "Group tests"),
)
_MAX_ROWS = 200

_STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:2em auto;max-width:1100px;color:#222;padding:0 1em}
h1{font-size:1.6em;margin-bottom:.2em}h2{border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:1.6em}
table{border-collapse:collapse;font-size:.85em;margin:.5em 0}td,th{border:1px solid #ddd;padding:.2em .5em;text-align:right}
th{background:#f3f3f3}td.k,th.k{text-align:left}figure{margin:1em 0}figure img{max-width:100%;border:1px solid #eee}
figcaption{font-size:.9em;color:#555}.note{color:#666;font-size:.9em}details{margin:.5em 0}
"""


def _esc(value: Any) -> str:
    return html.escape(str(value))


def _number(value: Any) -> str:
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, (int, np.integer)):
        return f"{int(value):,}"
    if isinstance(value, (float, np.floating)):
        return "" if not np.isfinite(value) else f"{value:.4g}"
    return _esc(value)


def _key_values(items: dict[str, Any]) -> str:
    rows = []
    for key, value in items.items():
        if isinstance(value, (list, tuple)):
            value = ", ".join(str(_number(v)) for v in value)
        elif isinstance(value, dict):
            value = json.dumps(value)
        else:
            value = _number(value)
        rows.append(f"<tr><th class=k>{_esc(key)}</th><td class=k>{value if isinstance(value, str) else _esc(value)}</td></tr>")
    return "<table>" + "".join(rows) + "</table>"


def _cell(value: Any, raw: bool) -> str:
    if raw:
        return str(value)
    return "" if pd.isna(value) else _number(value)


def _table(frame: pd.DataFrame, raw_columns: tuple[str, ...] = ()) -> str:
    """An HTML table of ``frame``'s first rows; cells of ``raw_columns`` are HTML already."""
    shown = frame.head(_MAX_ROWS)
    raw = [c in raw_columns for c in shown.columns]
    head = "".join(f"<th>{_esc(c)}</th>" for c in shown.columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{_cell(v, r)}</td>" for v, r in zip(row, raw)) + "</tr>"
        for row in shown.itertuples(index=False)
    )
    more = f"<p class=note>first {_MAX_ROWS} of {len(frame):,} rows; all in the CSV file</p>" if len(frame) > _MAX_ROWS else ""
    return f"<table><tr>{head}</tr>{body}</table>{more}"


def _image(path: Path) -> str:
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return f'<img alt="{_esc(path.stem)}" src="data:image/png;base64,{data}">'


def _source_qc(source: str | None, folder: Path) -> dict[str, Any]:
    """Tracking likelihood and (3D) reprojection error of the input file, if it can still be read."""
    if not source:
        return {}
    path = Path(source)
    candidates = [path] if path.is_absolute() else [Path.cwd() / path, folder / path, folder.parent / path]
    found = next((p for p in candidates if p.is_file()), None)
    if found is None:
        return {"tracking QC": f"input {source} not found: likelihood and reprojection error not shown"}
    from ..errors import FaceHMMError
    from ..io import read_landmarks

    try:
        series = read_landmarks(found)
    except (FaceHMMError, OSError, ValueError) as error:
        return {"tracking QC": f"input {found.name} could not be read: {error}"}
    qc: dict[str, Any] = {"keypoints": len(series.keypoints), "frames in input": series.n_frames}
    present = np.isfinite(series.positions).all(axis=2)
    qc["points tracked (%)"] = round(100 * float(present.mean()), 2) if present.size else float("nan")
    confidence = series.confidence[np.isfinite(series.confidence)]
    if confidence.size:
        label = "triangulation score" if series.n_dims == 3 else "tracking likelihood"
        qc[f"{label}: median"] = float(np.median(confidence))
        qc[f"{label}: fraction below 0.5"] = float((confidence < 0.5).mean())
    error = series.attrs.get("error")
    if error is not None:
        error = np.asarray(error, dtype=float)
        error = error[np.isfinite(error)]
        if error.size:
            qc["reprojection error (px): median"] = float(np.median(error))
            qc["reprojection error (px): 95th percentile"] = float(np.percentile(error, 95))
    return qc


def _stability(stability: dict[str, Any]) -> str:
    shown = {k: v for k, v in stability.items() if not isinstance(v, dict)}
    return _key_values(shown)


def render_report(analysis_dir: str | Path, title: str | None = None) -> str:
    """The HTML of the report of an analysis folder (figures embedded; nothing fetched).

    Raises
    ------
    DataError
        The folder has no ``summary.json`` (not an analysis folder).
    """
    folder = Path(analysis_dir)
    summary_path = folder / "summary.json"
    if not summary_path.is_file():
        raise DataError(f"{folder}: not an analysis folder (summary.json is missing); run facehmm analyze first")
    summary = json.loads(summary_path.read_text())
    title = title or f"napari-facehmm analysis: {folder.resolve().name}"
    parts = [f"<h1>{_esc(title)}</h1>", f"<p class=note>analysis folder {_esc(folder.resolve())}</p>"]

    parts.append("<h2>Input</h2>")
    inputs = {
        "source": summary.get("source"),
        "sessions": summary.get("n_sessions"),
        "frames": summary.get("n_frames"),
        "segments": summary.get("n_segments"),
        "fps": summary.get("fps"),
        "states": summary.get("n_states"),
        "features": summary.get("n_features"),
        "log-likelihood": summary.get("log_likelihood"),
        "fitted here": summary.get("fitted"),
    }
    parts.append(_key_values({k: v for k, v in inputs.items() if v is not None}))

    settings = summary.get("settings")
    if isinstance(settings, dict):
        parts += ["<h2>Settings</h2>", _key_values(settings)]
    if isinstance(summary.get("fit"), dict):
        parts += ["<h3>Fit</h3>", _key_values(summary["fit"])]

    qc: dict[str, Any] = {}
    if "n_frames" in summary and "n_frames_with_state" in summary and summary["n_frames"]:
        qc["frames with a state"] = f"{summary['n_frames_with_state']:,} of {summary['n_frames']:,} " + (
            f"({100 * summary['n_frames_with_state'] / summary['n_frames']:.1f} %)"
        )
    qc.update(_source_qc(summary.get("source"), folder))
    if qc:
        parts += ["<h2>Quality control</h2>", _key_values(qc)]

    stability = summary.get("stability")
    if isinstance(stability, dict):
        parts += ["<h2>Stability</h2>", "<p class=note>the same model re-fitted from other seeds</p>", _stability(stability)]
    notes = summary.get("notes")
    if notes:
        parts += ["<h2>Notes</h2>", "<ul>" + "".join(f"<li>{_esc(n)}</li>" for n in notes) + "</ul>"]

    pngs = {p.stem: p for p in sorted(folder.glob("*.png"))}
    ordered = [name for name in _FIGURE_ORDER if name in pngs] + sorted(set(pngs) - set(_FIGURE_ORDER))
    if ordered:
        parts.append("<h2>Figures</h2>")
        for name in ordered:
            parts.append(f"<figure>{_image(pngs[name])}<figcaption>{_esc(pngs[name].name)}</figcaption></figure>")

    tables = []
    for name, heading in _TABLES:
        path = folder / f"{name}.csv"
        if path.is_file():
            table = pd.read_csv(path)
            if name == "sessions" and "session" in table.columns:
                links = [
                    f'<a href="{_esc(s)}/{REPORT_NAME}">{_esc(s)}</a>' if (folder / str(s) / REPORT_NAME).is_file() else _esc(s)
                    for s in table["session"]
                ]
                table = table.assign(report=links)
                tables.append(f"<h3>{heading}</h3>" + _table(table, raw_columns=("report",)))
                continue
            block = f"<h3>{heading}</h3>{_table(table)}"
            tables.append(block if len(table) <= 40 else f"<details><summary>{heading} ({len(table):,} rows)</summary>{block}</details>")
    if tables:
        parts += ["<h2>Tables</h2>", *tables]
    per_frame = [n for n in ("states.csv", "head_motion.csv") if (folder / n).is_file()]
    if per_frame:
        parts.append(f"<p class=note>per-frame tables (not shown): {', '.join(per_frame)}</p>")

    body = "\n".join(parts)
    return (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{_esc(title)}</title>'
        f"<style>{_STYLE}</style></head><body>\n{body}\n</body></html>\n"
    )


def write_report(analysis_dir: str | Path, out_path: str | Path | None = None, title: str | None = None) -> Path:
    """Render :func:`render_report` into ``out_path`` (default ``<analysis_dir>/report.html``), atomically."""
    from ..io._atomic import atomic_write_path

    out_path = Path(out_path) if out_path is not None else Path(analysis_dir) / REPORT_NAME
    text = render_report(analysis_dir, title)
    with atomic_write_path(out_path, backup=False) as temp:
        Path(temp).write_text(text, encoding="utf-8")
    return out_path
