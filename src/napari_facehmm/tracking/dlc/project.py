"""Is deeplabcut installed, and where a DeepLabCut project keeps its models and snapshots.

Nothing here imports deeplabcut: :func:`deeplabcut_available` only looks
for it, and the paths follow DeepLabCut's own naming so that its folders are
found without it.
"""

from __future__ import annotations

import importlib.util
import os
import re
import zipfile
from pathlib import Path
from typing import Sequence

from ...errors import DataError, FileFormatError, MissingDependencyError

#: what to install before the ``dlc`` extra
TORCH_PIN = "pip install torch==2.14.1 torchvision==0.29.1"


# ------------------------------------------------------------------ availability
def deeplabcut_available() -> bool:
    """True when the deeplabcut package can be imported (without importing it)."""
    return importlib.util.find_spec("deeplabcut") is not None


def require_deeplabcut(purpose: str = "Training a DeepLabCut model") -> None:
    """Raise :class:`MissingDependencyError` when deeplabcut is not installed.

    The message names the extra: ``pip install "napari-facehmm[dlc]"``,
    after ``pip install torch==2.14.1 torchvision==0.29.1`` (README).
    """
    if not deeplabcut_available():
        error = MissingDependencyError("deeplabcut", "dlc", purpose)
        # deeplabcut's own torch requirement resolves to a wheel whose torchvision
        # fails on the CPU here: pin the pair first (README, NOTES)
        message = f"{error} (first: {TORCH_PIN})"
        error.args = (message,)
        error.msg = message  # ImportError's str() shows .msg
        raise error


# ------------------------------------------------------------------ project paths
def _read_config(config_path: str | Path):
    from ...io.dlc import read_dlc_config

    return read_dlc_config(config_path)


def _training_fraction(raw: dict, trainingsetindex: int, config_path: Path) -> float:
    fractions = raw.get("TrainingFraction")
    if not isinstance(fractions, list) or not fractions:
        raise FileFormatError(config_path, "TrainingFraction must be a list of fractions, e.g. [0.95]")
    if not 0 <= trainingsetindex < len(fractions):
        raise DataError(
            f"training set index {trainingsetindex} is out of range: {config_path} lists "
            f"{len(fractions)} TrainingFraction value(s) {fractions}"
        )
    return float(fractions[trainingsetindex])


def model_folder(config_path: str | Path, shuffle: int = 1, trainingsetindex: int = 0) -> Path:
    """The shuffle's model folder, as DeepLabCut names it.

    ``<project>/dlc-models-pytorch/iteration-<i>/<Task><date>-trainset<pct>shuffle<s>``;
    its ``train/`` holds ``pytorch_config.yaml``, ``snapshot-*.pt`` and
    ``learning_stats.csv``.
    """
    config = _read_config(config_path)
    fraction = _training_fraction(config.raw, trainingsetindex, config.path)
    iteration = config.raw.get("iteration", 0)
    # int(fraction * 100) as DeepLabCut does (0.95 -> 95), to find its folders.
    name = f"{config.task}{config.date}-trainset{int(fraction * 100)}shuffle{int(shuffle)}"
    return config.project_path / "dlc-models-pytorch" / f"iteration-{iteration}" / name


def find_snapshots(config_path: str | Path, shuffle: int = 1, trainingsetindex: int = 0) -> list[Path]:
    """Snapshots of a shuffle, fewest epochs first (``snapshot-best-*`` last).

    Snapshots whose file is truncated (a training killed while writing) are
    left out.
    """
    train_folder = model_folder(config_path, shuffle, trainingsetindex) / "train"
    return _complete_snapshots(train_folder)


def _snapshot_epoch(path: Path) -> tuple[int, int]:
    match = re.search(r"(\d+)$", path.stem)
    epoch = int(match.group(1)) if match else -1
    return (1 if "best" in path.stem else 0, epoch)


def latest_snapshot(snapshots: Sequence[Path]) -> Path | None:
    """The snapshot with the most epochs (a regular one before a "best" of the same epoch).

    :func:`find_snapshots` lists "best" snapshots last, as DeepLabCut's
    ``snapshotindex=-1`` picks them; to continue training, start from this one.
    """
    if not snapshots:
        return None
    return max(snapshots, key=lambda p: (_snapshot_epoch(p)[1], -_snapshot_epoch(p)[0]))


def _complete_snapshots(train_folder: Path) -> list[Path]:
    # pose snapshots only: top-down models also write snapshot-detector-*.pt
    snapshots = [
        p for p in train_folder.glob("snapshot-*.pt") if not p.name.startswith("snapshot-detector") and zipfile.is_zipfile(p)
    ]
    return sorted(snapshots, key=_snapshot_epoch)


def _set_aside_truncated_snapshots(train_folder: Path) -> list[Path]:
    """Rename snapshots that are not complete torch archives to ``*.pt.partial``.

    ``torch.save`` writes a zip archive whose directory comes last, so a
    file cut short by a kill fails :func:`zipfile.is_zipfile`. DeepLabCut
    would pick such a file as "the last snapshot" and fail to load it.
    """
    moved = []
    for path in train_folder.glob("snapshot-*.pt"):
        if not zipfile.is_zipfile(path):
            target = path.with_name(path.name + ".partial")
            os.replace(path, target)
            moved.append(target)
    return moved
