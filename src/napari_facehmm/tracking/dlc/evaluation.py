"""Evaluation: the train and test pixel errors of a snapshot."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .project import _read_config, require_deeplabcut
from .runner import DeepLabCutError, _run_task


@dataclass
class EvaluationResult:
    """Pixel errors of one evaluated snapshot (DeepLabCut's ``*-results.csv``).

    ``train_error_px`` / ``test_error_px`` are the RMSE over all labeled
    points of the train / test images; the ``_pcutoff`` variants only count
    predictions above the likelihood cutoff. ``per_keypoint`` maps split
    ("train"/"test") to {bodypart: RMSE px}. ``values`` is the whole row.
    """

    scorer: str
    epochs: int | None
    train_error_px: float
    test_error_px: float
    train_error_pcutoff_px: float
    test_error_pcutoff_px: float
    results_csv: Path
    per_keypoint: dict[str, dict[str, float]] = field(default_factory=dict)
    values: dict[str, Any] = field(default_factory=dict)


def evaluate(
    config_path: str | Path, shuffle: int = 1, trainingsetindex: int = 0, snapshot: str | Path | None = None
) -> EvaluationResult:
    """Evaluate a snapshot with ``deeplabcut.evaluate_network``; read its results CSV.

    Parameters
    ----------
    snapshot
        A ``snapshot-*.pt`` of the shuffle; None evaluates the snapshot
        ``snapshotindex`` in ``config.yaml`` selects (the last, by default).

    Returns
    -------
    EvaluationResult
        Train and test pixel errors of that snapshot.
    """
    require_deeplabcut("Evaluating a DeepLabCut model")
    config_path = Path(config_path)
    _read_config(config_path)
    started = time.time()
    params = {
        "config": str(config_path),
        "shuffle": int(shuffle),
        "trainingsetindex": int(trainingsetindex),
        "snapshot": None if snapshot is None else str(snapshot),
    }
    result = _run_task("evaluate", params, "Evaluating a DeepLabCut model")
    rows = [r for r in result["results"] if r["mtime"] >= started - 1.0] or result["results"]
    if not rows:
        raise DeepLabCutError(f"no evaluation results were written in {result['evaluation_folder']}", step="evaluate")
    row = max(rows, key=lambda r: r["mtime"])
    values = row["values"]

    def _value(key: str) -> float:
        value = values.get(key)
        return float(value) if value is not None else math.nan

    epochs = values.get("Training epochs")
    return EvaluationResult(
        scorer=row["scorer"],
        epochs=int(epochs) if epochs is not None else None,
        train_error_px=_value("train rmse"),
        test_error_px=_value("test rmse"),
        train_error_pcutoff_px=_value("train rmse_pcutoff"),
        test_error_pcutoff_px=_value("test rmse_pcutoff"),
        results_csv=Path(row["results_csv"]),
        per_keypoint=row["per_keypoint"],
        values=values,
    )

