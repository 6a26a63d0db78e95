"""What ``facehmm batch`` writes beside the session folders: model, ``sessions.csv``, ``summary.json``, ``failures.csv``.

Layout of ``--out`` (as ``facehmm analyze IN1 IN2 ... --out DIR``):
``model.json``/``model.npz``, ``<session>/`` (written by the workers, each
folder as a set, with its ``report.html``), ``sessions.csv``, ``summary.json``,
``report.html`` (the page of the whole, linking each session's) and, when
sessions failed, ``failures.csv`` (``session, stage, error``). A session folder with
a ``summary.json`` is complete (folders appear whole: hidden, then renamed).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd

from ..analysis import MODEL_STEM
from ..errors import DataError

__all__ = [
    "FAILURES_NAME", "check_out_dir", "complete_sessions", "remove_stale_session_folders", "save_model", "write_tables",
]

FAILURES_NAME = "failures.csv"
#: files of a batch result beside its session folders
BATCH_FILES = (f"{MODEL_STEM}.json", f"{MODEL_STEM}.npz", "summary.json", "sessions.csv", FAILURES_NAME, "report.html")


def check_out_dir(out_dir: Path) -> None:
    """Refuse a non-empty ``--out`` that holds no earlier batch result (before any work)."""
    if out_dir.is_file():
        raise DataError(f"--out {out_dir} is a file; give a folder")
    if out_dir.is_dir():
        visible = [p for p in out_dir.iterdir() if not p.name.startswith(".")]
        if visible and not any((out_dir / name).exists() for name in BATCH_FILES):
            raise DataError(f"--out {out_dir} holds other files and no earlier batch result; give a new or empty folder")


def complete_sessions(out_dir: Path, names: list[str]) -> list[str]:
    """Sessions whose folder in ``out_dir`` is complete (has its ``summary.json``)."""
    return [n for n in names if (out_dir / n / "summary.json").is_file() and (out_dir / n / "state_stats.csv").is_file()]


def remove_stale_session_folders(out_dir: Path, names: list[str]) -> None:
    """Remove the hidden folders of session writes whose worker is gone (killed, or the cluster stopped)."""
    from ..io._atomic import _remove_stale_result_folders

    if out_dir.is_dir():
        for name in names:
            _remove_stale_result_folders(out_dir / name)


def save_model(model, out_dir: Path) -> None:
    """``model.json`` and ``model.npz``, written beside and renamed into place."""
    out_dir.mkdir(parents=True, exist_ok=True)
    temp = Path(tempfile.mkdtemp(prefix=".model.tmp-", dir=out_dir))
    try:
        json_path, npz_path = model.save(temp / MODEL_STEM)
        os.replace(npz_path, out_dir / Path(npz_path).name)
        os.replace(json_path, out_dir / Path(json_path).name)
    finally:
        shutil.rmtree(temp, ignore_errors=True)


def _atomic_text(path: Path, text: str) -> None:
    temp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    temp.write_text(text, encoding="utf-8")
    os.replace(temp, path)


def write_selection(out_dir: Path, selection, figures: bool) -> dict[str, Path]:
    """``model_selection.csv`` (and ``.png``) of ``--states auto|A-B``, as ``facehmm analyze`` writes them."""
    files = {"model_selection_csv": out_dir / "model_selection.csv"}
    _atomic_text(files["model_selection_csv"], selection.table.to_csv(index=False))
    if figures:
        import matplotlib.pyplot as plt

        from ..stats.model_selection_figure import model_selection_figure

        figure = model_selection_figure(selection.table)
        temp = out_dir / f".model_selection.tmp-{os.getpid()}.png"
        try:
            figure.savefig(temp, dpi=110)
        finally:
            plt.close(figure)
        os.replace(temp, out_dir / "model_selection.png")
        files["model_selection_png"] = out_dir / "model_selection.png"
    return files


def write_tables(
    out_dir: Path,
    entries: list[dict[str, Any]],
    failures: list[dict[str, str]],
    summary: dict[str, Any],
) -> dict[str, Path]:
    """``sessions.csv`` (per session and state), ``summary.json``, ``failures.csv`` (removed when none), ``report.html``."""
    from ..export.report import write_report

    columns = ["state", "name", "n_frames", "fraction", "n_bouts", "bout_mean_s"]
    files = {}
    if entries:
        parts = []
        for entry in entries:
            part = entry["state_stats"][columns].copy()
            part.insert(0, "session", entry["session"])
            parts.append(part)
        _atomic_text(out_dir / "sessions.csv", pd.concat(parts, ignore_index=True).to_csv(index=False))
        files["sessions_csv"] = out_dir / "sessions.csv"
    sessions = [{k: v for k, v in e.items() if k != "state_stats"} for e in entries]
    summary = {**summary, "n_sessions": len(entries), "sessions": sessions,
               "log_likelihood": float(sum(e["log_likelihood"] for e in entries)),
               "failures": failures}
    _atomic_text(out_dir / "summary.json", json.dumps(summary, indent=2))
    files["summary"] = out_dir / "summary.json"
    failures_path = out_dir / FAILURES_NAME
    if failures:
        _atomic_text(failures_path, pd.DataFrame(failures, columns=["session", "stage", "error"]).to_csv(index=False))
        files["failures"] = failures_path
    elif failures_path.exists():
        failures_path.unlink()
    files["report"] = write_report(out_dir)
    return files


def read_session_entry(out_dir: Path, name: str) -> dict[str, Any]:
    """A complete session's entry (as the workers return it) from its folder."""
    summary = json.loads((out_dir / name / "summary.json").read_text(encoding="utf-8"))
    return {
        "state_stats": pd.read_csv(out_dir / name / "state_stats.csv"),
        "session": name,
        "folder": name,
        "source": summary.get("source"),
        "n_frames": summary.get("n_frames"),
        "n_frames_with_state": summary.get("n_frames_with_state"),
        "n_segments": summary.get("n_segments"),
        "log_likelihood": summary.get("log_likelihood"),
    }
