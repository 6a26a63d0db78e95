"""DeepLabCut 3 (PyTorch engine) tracking: dataset, training, evaluation, analysis, refinement.

Every DeepLabCut step runs in a separate Python process
(:mod:`napari_facehmm.tracking._dlc_worker`) started in its own process
group: the viewer never imports deeplabcut or torch, a training never blocks
it, and Cancel stops the whole group. Long steps are jobs with an
``events()`` generator and a ``cancel()`` method; the module-level
functions :func:`train` and :func:`analyze_videos` are the same jobs as
plain generators.

Offline use (no model hub): DeepLabCut 3.0.2 fetches ImageNet weights unless
training starts from a snapshot. ``init="random"`` builds the network with
random weights and hands it to DeepLabCut as that snapshot; ``init="auto"``
(default) uses pretrained weights only if they are already in the local
model-hub cache. The worker always runs with ``HF_HUB_OFFLINE=1`` so a
missing file fails at once instead of after a minute of retries.

deeplabcut is an optional extra (``napari-facehmm[dlc]``). Every entry point
here checks for it first and raises
:class:`~napari_facehmm.errors.MissingDependencyError` when it is absent.
"""

from __future__ import annotations

import collections
import importlib.util
import json
import math
import os
import re
import signal
import subprocess
import sys
import threading
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np

from ..errors import Cancelled, DataError, FaceHMMError, FileFormatError, MissingDependencyError

__all__ = [
    "SUGGESTED_CPU_NETWORK",
    "DeepLabCutError",
    "DLCJob",
    "TrainingJob",
    "TrainingProgress",
    "AnalysisJob",
    "AnalysisProgress",
    "EvaluationResult",
    "deeplabcut_available",
    "require_deeplabcut",
    "available_networks",
    "create_training_dataset",
    "train",
    "evaluate",
    "analyze_videos",
    "extract_outlier_frames",
    "add_frames_to_labeled_data",
    "merge_datasets",
    "model_folder",
    "find_snapshots",
    "latest_snapshot",
    "reprojection_outlier_frames",
    "uncertain_state_frames",
    "refinement_frames",
]

#: A network small enough to train on a CPU (4.4 M parameters; 2 epochs of
#: 24 images at 128x128 in about 10 s here, against 85 s for ResNet-50).
SUGGESTED_CPU_NETWORK = "cspnext_s"

EVENT_PREFIX = "@@facehmm "

#: what to install before the ``dlc`` extra
TORCH_PIN = "pip install torch==2.14.1 torchvision==0.29.1"

#: DeepLabCut's per-epoch log line (runners/train.py).
EPOCH_LINE = re.compile(
    r"Epoch (?P<epoch>\d+)/(?P<n_epochs>\d+) \(lr=[^)]*\), train loss (?P<train_loss>[-+0-9.eEnaif]+)"
    r"(?:, valid loss (?P<valid_loss>[-+0-9.eEnaif]+))?"
)


class DeepLabCutError(FaceHMMError):
    """A DeepLabCut step failed; the message is DeepLabCut's own.

    Parameters
    ----------
    message
        DeepLabCut's exception text (or the last lines it printed).
    error_type
        The exception class name raised inside DeepLabCut, if known.
    step
        Which step failed ("train", "analyze", ...).
    """

    def __init__(self, message: str, error_type: str | None = None, step: str | None = None):
        self.error_type = error_type
        self.step = step
        prefix = f"DeepLabCut {step} failed" if step else "DeepLabCut failed"
        kind = f" ({error_type})" if error_type else ""
        super().__init__(f"{prefix}{kind}: {message}")


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
    from ..io.dlc import read_dlc_config

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


# ------------------------------------------------------------------ subprocess jobs
def _worker_environment() -> dict[str, str]:
    env = dict(os.environ)
    env["DLClight"] = "True"
    env["HF_HUB_OFFLINE"] = "1"
    env["TRANSFORMERS_OFFLINE"] = "1"
    env["PYTHONUNBUFFERED"] = "1"
    # DeepLabCut uses pyplot (outlier extraction, evaluation plots): never a
    # GUI backend in the worker, with or without a display.
    env["MPLBACKEND"] = "Agg"
    # Qt must not be touched by the worker (it inherits the viewer's display).
    env.pop("QT_QPA_PLATFORM_PLUGIN_PATH", None)
    return env


class DLCJob:
    """One DeepLabCut step running in a child process (own process group).

    Parameters
    ----------
    task
        A task of :mod:`napari_facehmm.tracking._dlc_worker` ("train", ...).
    params
        Its keyword arguments (JSON-serialisable).
    grace_s
        Seconds between SIGTERM and SIGKILL on :meth:`cancel`.
    purpose
        What the step is for, in the missing-dependency message.

    Notes
    -----
    Iterate :meth:`messages` (or a subclass's ``events``) in one thread; call
    :meth:`cancel` from any thread. After the iteration ends, ``result``
    holds the worker's result and ``returncode`` its exit status; the child
    has been reaped (no zombie).
    """

    step = "job"

    def __init__(self, task: str, params: dict, grace_s: float = 5.0, purpose: str | None = None):
        require_deeplabcut(purpose or f"DeepLabCut ({task})")
        self.task = task
        self.params = params
        self.grace_s = float(grace_s)
        self.process: subprocess.Popen | None = None
        self.result: dict | None = None
        self.error: dict | None = None
        self.cancelled = False
        #: the last lines the child printed (DeepLabCut's log), for error messages
        self.output_tail: collections.deque[str] = collections.deque(maxlen=400)
        self._lock = threading.Lock()

    # -- process control
    def start(self) -> "DLCJob":
        """Start the child process (done by iterating, if not called)."""
        with self._lock:
            if self.process is not None:
                return self
            if self.cancelled:
                raise Cancelled(f"DeepLabCut {self.task} was cancelled before it started")
            command = [
                sys.executable,
                "-m",
                "napari_facehmm.tracking._dlc_worker",
                self.task,
                json.dumps(self.params, default=str),
            ]
            self.process = subprocess.Popen(
                command,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                text=True,
                bufsize=1,
                errors="replace",
                env=_worker_environment(),
                start_new_session=True,  # own process group: Cancel kills all of it
            )
        return self

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    @property
    def returncode(self) -> int | None:
        return self.process.returncode if self.process is not None else None

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def cancel(self) -> None:
        """Stop the child's process group: SIGTERM, then SIGKILL after ``grace_s``; reap it.

        Safe to call from another thread, more than once, or before start.
        """
        with self._lock:
            self.cancelled = True
            process = self.process
        if process is None or process.poll() is not None:
            if process is not None:
                process.wait()
            return
        try:
            os.killpg(process.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            process.wait(timeout=self.grace_s)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            process.wait()
        # Children left in the group (e.g. data loader workers) go too.
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass

    # -- output
    def messages(self) -> Iterator[dict]:
        """Yield the child's messages until it ends.

        Structured messages are dicts with an ``"event"`` key; every other
        printed line comes as ``{"event": "line", "text": ...}``.

        Raises
        ------
        Cancelled
            If :meth:`cancel` was called.
        DeepLabCutError
            If the step failed; the message is DeepLabCut's.
        """
        self.start()
        process = self.process
        assert process is not None and process.stdout is not None
        finished = False
        try:
            for raw_line in process.stdout:
                line = raw_line.rstrip("\n")
                if line.startswith(EVENT_PREFIX):
                    try:
                        message = json.loads(line[len(EVENT_PREFIX) :])
                    except json.JSONDecodeError:
                        message = {"event": "line", "text": line}
                else:
                    if line.strip():
                        self.output_tail.append(line)
                    message = {"event": "line", "text": line}
                if message.get("event") == "result":
                    self.result = message
                elif message.get("event") == "error":
                    self.error = message
                yield message
            process.wait()
            finished = True
        finally:
            if not finished:
                # The consumer stopped iterating (generator closed) or failed:
                # never leave the child running on its own.
                self.cancel()
            process.stdout.close()
        self._raise_for_outcome()

    def _raise_for_outcome(self) -> None:
        if self.cancelled:
            raise Cancelled(f"DeepLabCut {self.task} was cancelled")
        if self.error is not None:
            raise DeepLabCutError(self.error.get("message", ""), self.error.get("type"), step=self.task)
        if self.returncode != 0 or self.result is None:
            tail = "\n".join(list(self.output_tail)[-15:])
            raise DeepLabCutError(
                f"the worker process ended with status {self.returncode}; its last output:\n{tail}", step=self.task
            )

    def run(self) -> dict:
        """Run to the end (blocking) and return the result message."""
        for _ in self.messages():
            pass
        assert self.result is not None
        return self.result


def _run_task(task: str, params: dict, purpose: str) -> dict:
    return DLCJob(task, params, purpose=purpose).run()


# ------------------------------------------------------------------ networks & dataset
def available_networks() -> list[str]:
    """Network names DeepLabCut's PyTorch engine offers (``available_models()``).

    Runs DeepLabCut in a child process (about 8 s: the import).
    """
    return list(_run_task("models", {}, "Listing DeepLabCut networks")["models"])


def create_training_dataset(
    config_path: str | Path,
    net_type: str = SUGGESTED_CPU_NETWORK,
    shuffle: int = 1,
    train_fraction: float | None = None,
    fit_crop_to_images: bool = True,
) -> dict:
    """Create a shuffle's training dataset with ``deeplabcut.create_training_dataset``.

    Parameters
    ----------
    config_path
        The project's ``config.yaml``.
    net_type
        One of :func:`available_networks`; :data:`SUGGESTED_CPU_NETWORK` is
        small enough for a CPU.
    shuffle
        Shuffle number (a new split and model folder per number).
    train_fraction
        Fraction of labeled frames used for training (the rest is the test
        set). Added to ``TrainingFraction`` in ``config.yaml`` (atomically,
        backup kept) when not there yet; None uses the first listed.
    fit_crop_to_images
        Shrink DeepLabCut's 448x448 training crop to the frame size when the
        labeled frames are smaller (much faster on a CPU, same result).

    Returns
    -------
    dict
        ``train_folder``, ``net_type``, ``trainingsetindex``,
        ``train_fraction``, ``crop_size`` (None when unchanged).
    """
    require_deeplabcut("Creating a DeepLabCut training dataset")
    config_path = Path(config_path)
    _read_config(config_path)  # validate before DeepLabCut reads it
    if train_fraction is not None and not 0.0 < float(train_fraction) < 1.0:
        raise DataError(f"the training fraction must be between 0 and 1 (exclusive); got {train_fraction}")
    params = {
        "config": str(config_path),
        "shuffle": int(shuffle),
        "net_type": str(net_type),
        "train_fraction": None if train_fraction is None else float(train_fraction),
        "fit_crop_to_images": bool(fit_crop_to_images),
    }
    result = _run_task("create_dataset", params, "Creating a DeepLabCut training dataset")
    result.pop("event", None)
    result["train_folder"] = Path(result["train_folder"])
    return result


# ------------------------------------------------------------------ training
@dataclass
class TrainingProgress:
    """One progress event of a training.

    ``epoch`` of ``n_epochs`` done (0 before the first); ``train_loss`` and
    ``valid_loss`` are NaN when not reported for this epoch; ``message`` is
    human readable; ``snapshot`` is the newest complete snapshot, if any.
    """

    epoch: int
    n_epochs: int
    train_loss: float = math.nan
    valid_loss: float = math.nan
    message: str = ""
    snapshot: Path | None = None


def _float(text: str | None) -> float:
    try:
        return float(text) if text is not None else math.nan
    except ValueError:
        return math.nan


class TrainingJob(DLCJob):
    """``deeplabcut.train_network`` in a child process, with progress and Cancel.

    Parameters
    ----------
    config_path
        The project's ``config.yaml`` (its training dataset must exist).
    shuffle, trainingsetindex
        Which shuffle / TrainingFraction entry to train.
    epochs
        Epochs to train (DeepLabCut adds them to a snapshot's epochs when
        continuing from one).
    batch_size
        Images per step.
    save_epochs
        A snapshot is written every ``save_epochs`` epochs (and at the end).
    init
        ``"auto"`` (cached ImageNet weights, else random), ``"random"``,
        ``"pretrained"`` (cached ImageNet weights, fails offline if absent),
        or a path to a weights file: a DeepLabCut snapshot (continues from
        it) or a state dict of the model or its backbone. A fresh start
        (anything but a snapshot of this shuffle) first moves the shuffle's
        earlier snapshots to ``train/previous-<time>/``, so that "the last
        snapshot" is always one of this run.
    max_snapshots_to_keep
        DeepLabCut deletes older snapshots beyond this many (None: its default, 5).
    device
        Torch device; None lets DeepLabCut choose (CPU here).
    grace_s
        Seconds between SIGTERM and SIGKILL on Cancel.

    Examples
    --------
    >>> job = TrainingJob("project/config.yaml", epochs=20)   # doctest: +SKIP
    >>> for event in job.events():                            # doctest: +SKIP
    ...     print(event.epoch, event.n_epochs, event.train_loss)
    """

    step = "train"

    def __init__(
        self,
        config_path: str | Path,
        shuffle: int = 1,
        epochs: int = 10,
        batch_size: int = 4,
        save_epochs: int = 1,
        init: str | Path = "auto",
        trainingsetindex: int = 0,
        max_snapshots_to_keep: int | None = None,
        device: str | None = None,
        grace_s: float = 5.0,
    ):
        require_deeplabcut("Training a DeepLabCut model")
        config_path = Path(config_path)
        if int(epochs) < 1:
            raise DataError(f"epochs must be at least 1; got {epochs}")
        if int(batch_size) < 1:
            raise DataError(f"batch size must be at least 1; got {batch_size}")
        if int(save_epochs) < 1:
            raise DataError(f"snapshot interval must be at least 1 epoch; got {save_epochs}")
        init = str(init)
        if init not in ("auto", "random", "pretrained") and not Path(init).is_file():
            raise DataError(f"initial weights {init!r}: not 'auto', 'random', 'pretrained' or an existing file")
        self.config_path = config_path
        self.train_folder = model_folder(config_path, shuffle, trainingsetindex) / "train"
        self.epochs = int(epochs)
        #: (epoch, train_loss, valid_loss) of every epoch seen
        self.history: list[tuple[int, float, float]] = []
        self.init_description: str | None = None
        super().__init__(
            "train",
            {
                "config": str(config_path),
                "shuffle": int(shuffle),
                "trainingsetindex": int(trainingsetindex),
                "epochs": int(epochs),
                "batch_size": int(batch_size),
                "save_epochs": int(save_epochs),
                "init": init,
                "max_snapshots_to_keep": max_snapshots_to_keep,
                "device": device,
            },
            grace_s=grace_s,
            purpose="Training a DeepLabCut model",
        )

    def snapshots(self) -> list[Path]:
        """Complete snapshots in the train folder, fewest epochs first."""
        return _complete_snapshots(self.train_folder)

    def events(self) -> Iterator[TrainingProgress]:
        """Yield a :class:`TrainingProgress` at start and after every epoch.

        Raises
        ------
        Cancelled
            After :meth:`cancel`; snapshots already written stay usable
            (a snapshot cut short by the kill is renamed ``*.pt.partial``).
        DeepLabCutError
            DeepLabCut's own message when training fails.
        """
        n_epochs = self.epochs
        yield TrainingProgress(0, n_epochs, message="starting DeepLabCut")
        try:
            for message in self.messages():
                kind = message.get("event")
                if kind == "init":
                    self.init_description = message.get("how")
                    yield TrainingProgress(0, n_epochs, message=f"training from {message.get('how')}")
                elif kind == "note":
                    yield TrainingProgress(0, n_epochs, message=str(message.get("message", "")))
                elif kind == "line":
                    match = EPOCH_LINE.search(message["text"])
                    if match is None:
                        continue
                    epoch = int(match["epoch"])
                    n_epochs = int(match["n_epochs"])
                    train_loss = _float(match["train_loss"])
                    valid_loss = _float(match["valid_loss"])
                    self.history.append((epoch, train_loss, valid_loss))
                    yield TrainingProgress(
                        epoch,
                        n_epochs,
                        train_loss,
                        valid_loss,
                        message=match.group(0),
                        snapshot=latest_snapshot(self.snapshots()),
                    )
        finally:
            # however the child was stopped (Cancel, Ctrl+C, the caller closing
            # this generator), a snapshot cut short must not pass for the last one
            if self.cancelled:
                _set_aside_truncated_snapshots(self.train_folder)
        snapshots = self.snapshots()
        last_epoch = self.history[-1][0] if self.history else 0
        yield TrainingProgress(
            last_epoch,
            n_epochs,
            self.history[-1][1] if self.history else math.nan,
            self.history[-1][2] if self.history else math.nan,
            message=f"training done: {len(snapshots)} snapshot(s) in {self.train_folder}",
            snapshot=latest_snapshot(snapshots),
        )


def train(
    config_path: str | Path,
    shuffle: int = 1,
    epochs: int = 10,
    batch_size: int = 4,
    save_epochs: int = 1,
    init: str | Path = "auto",
    trainingsetindex: int = 0,
    max_snapshots_to_keep: int | None = None,
    device: str | None = None,
) -> Iterator[TrainingProgress]:
    """Train a shuffle; a generator of :class:`TrainingProgress` (see :class:`TrainingJob`).

    Closing the generator (or dropping it) stops the training process.
    For a Cancel button, create a :class:`TrainingJob` and call its
    ``cancel()`` while iterating ``job.events()``.
    """
    job = TrainingJob(
        config_path,
        shuffle=shuffle,
        epochs=epochs,
        batch_size=batch_size,
        save_epochs=save_epochs,
        init=init,
        trainingsetindex=trainingsetindex,
        max_snapshots_to_keep=max_snapshots_to_keep,
        device=device,
    )
    yield from job.events()


# ------------------------------------------------------------------ evaluation
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


# ------------------------------------------------------------------ analysis
@dataclass
class AnalysisProgress:
    """``done`` of ``total`` videos analyzed; ``output`` is the ``.h5`` just written.

    While a video is analyzed, ``frames_done`` of ``n_frames`` follow
    DeepLabCut's frame counter (None between videos).
    """

    done: int
    total: int
    message: str
    video: Path | None = None
    output: Path | None = None
    frames_done: int | None = None
    n_frames: int | None = None


#: tqdm's counter in DeepLabCut's output: " 40%|####      | 16/40 [00:00<00:00, 35.2it/s]"
FRAME_COUNTER = re.compile(r"\|\s*(?P<done>\d+)/(?P<total>\d+) \[")


class AnalysisJob(DLCJob):
    """``deeplabcut.analyze_videos`` over many videos in a child process.

    Parameters
    ----------
    config_path
        The project's ``config.yaml``.
    videos
        Video files to analyze, one after the other.
    shuffle, trainingsetindex
        Which trained shuffle.
    snapshot
        A ``snapshot-*.pt`` of the shuffle; None uses ``snapshotindex`` of
        the config (the last snapshot by default).
    destfolder
        Where outputs go; None: beside each video (DeepLabCut's default).
    overwrite
        Re-analyze videos that already have an output for this snapshot.
    """

    step = "analyze"

    def __init__(
        self,
        config_path: str | Path,
        videos: Sequence[str | Path],
        shuffle: int = 1,
        trainingsetindex: int = 0,
        snapshot: str | Path | None = None,
        destfolder: str | Path | None = None,
        overwrite: bool = False,
        batch_size: int | None = None,
        grace_s: float = 5.0,
    ):
        require_deeplabcut("Analyzing videos with DeepLabCut")
        config_path = Path(config_path)
        _read_config(config_path)
        videos = [Path(v) for v in videos]
        if not videos:
            raise DataError("no videos to analyze")
        missing = [str(v) for v in videos if not v.is_file()]
        if missing:
            raise DataError(f"video file(s) not found: {', '.join(missing)}")
        if snapshot is not None and not Path(snapshot).is_file():
            raise DataError(f"snapshot {snapshot} does not exist")
        self.videos = videos
        self.outputs: list[Path] = []
        super().__init__(
            "analyze",
            {
                "config": str(config_path),
                "videos": [str(v.resolve()) for v in videos],
                "shuffle": int(shuffle),
                "trainingsetindex": int(trainingsetindex),
                "snapshot": None if snapshot is None else str(snapshot),
                "destfolder": None if destfolder is None else str(destfolder),
                "overwrite": bool(overwrite),
                "batch_size": batch_size,
            },
            grace_s=grace_s,
            purpose="Analyzing videos with DeepLabCut",
        )

    def events(self) -> Iterator[AnalysisProgress]:
        """Yield an :class:`AnalysisProgress` when each video starts and ends."""
        total = len(self.videos)
        yield AnalysisProgress(0, total, "starting DeepLabCut")
        video: Path | None = None
        done = 0
        for message in self.messages():
            kind = message.get("event")
            if kind == "video_start":
                video = Path(message["video"])
                done = int(message["done"])
                yield AnalysisProgress(done, total, f"analyzing {video.name}", video=video)
            elif kind == "line" and video is not None:
                counter = FRAME_COUNTER.search(message["text"])
                if counter is not None:
                    frames_done, n_frames = int(counter["done"]), int(counter["total"])
                    yield AnalysisProgress(
                        done,
                        total,
                        f"{video.name}: frame {frames_done}/{n_frames}",
                        video=video,
                        frames_done=frames_done,
                        n_frames=n_frames,
                    )
            elif kind == "video_done":
                finished = Path(message["video"])
                output = Path(message["output"])
                self.outputs.append(output)
                video = None  # frame counters between videos belong to no video
                yield AnalysisProgress(
                    int(message["done"]), total, f"{finished.name} -> {output.name}", video=finished, output=output
                )


def analyze_videos(
    config_path: str | Path,
    videos: Sequence[str | Path],
    shuffle: int = 1,
    trainingsetindex: int = 0,
    snapshot: str | Path | None = None,
    destfolder: str | Path | None = None,
    overwrite: bool = False,
    batch_size: int | None = None,
) -> Iterator[AnalysisProgress]:
    """Analyze videos; a generator of :class:`AnalysisProgress` (see :class:`AnalysisJob`).

    Each video's DeepLabCut ``.h5`` (read it with
    :func:`napari_facehmm.io.dlc.read_dlc_analysis`) is in the ``output`` of
    the event that reports it done.
    """
    job = AnalysisJob(
        config_path,
        videos,
        shuffle=shuffle,
        trainingsetindex=trainingsetindex,
        snapshot=snapshot,
        destfolder=destfolder,
        overwrite=overwrite,
        batch_size=batch_size,
    )
    yield from job.events()


# ------------------------------------------------------------------ refinement
def extract_outlier_frames(
    config_path: str | Path,
    videos: Sequence[str | Path],
    shuffle: int = 1,
    trainingsetindex: int = 0,
    algorithm: str = "jump",
    extraction: str = "kmeans",
    epsilon_px: float = 20.0,
    p_bound: float = 0.01,
    snapshot: str | Path | None = None,
    destfolder: str | Path | None = None,
) -> dict[str, list[str]]:
    """DeepLabCut's ``extract_outlier_frames`` (``automatic=True``) on analyzed videos.

    Frames go to ``labeled-data/<video>/img<N>.png`` with the network's
    predictions in ``machinelabels-iter<i>.h5``, ready to be corrected.

    Parameters
    ----------
    algorithm
        DeepLabCut's ``outlieralgorithm``: "jump" (a point moves more than
        ``epsilon_px`` between frames), "uncertain" (likelihood below
        ``p_bound``) or "fitting" (deviates from a SARIMAX fit).
    extraction
        How ``numframes2pick`` frames are chosen among the outliers: "kmeans" or "uniform".
    snapshot
        The snapshot whose analysis to use (None: config's ``snapshotindex``).

    Returns
    -------
    dict
        Video name -> image files added to its labeled-data folder.
    """
    require_deeplabcut("Extracting outlier frames with DeepLabCut")
    config_path = Path(config_path)
    _read_config(config_path)
    if algorithm not in ("jump", "uncertain", "fitting"):
        raise DataError(f"outlier algorithm must be 'jump', 'uncertain' or 'fitting'; got {algorithm!r}")
    missing = [str(v) for v in videos if not Path(v).is_file()]
    if missing:
        raise DataError(f"video file(s) not found: {', '.join(missing)}")
    params = {
        "config": str(config_path),
        "videos": [str(Path(v).resolve()) for v in videos],
        "shuffle": int(shuffle),
        "trainingsetindex": int(trainingsetindex),
        "algorithm": algorithm,
        "extraction": extraction,
        "epsilon": float(epsilon_px),
        "p_bound": float(p_bound),
        "snapshot": None if snapshot is None else str(snapshot),
        "destfolder": None if destfolder is None else str(destfolder),
    }
    result = _run_task("outliers", params, "Extracting outlier frames with DeepLabCut")
    return {name: list(images) for name, images in result["added"].items()}


def merge_datasets(config_path: str | Path) -> int:
    """``deeplabcut.merge_datasets``: start the next refinement iteration.

    Returns the new ``iteration`` of ``config.yaml``. Create a training
    dataset and train again afterwards.

    Raises
    ------
    DeepLabCutError
        If some labeled-data folder has extracted frames but no labels.
    """
    require_deeplabcut("Merging DeepLabCut datasets")
    config_path = Path(config_path)
    _read_config(config_path)
    return int(_run_task("merge", {"config": str(config_path)}, "Merging DeepLabCut datasets")["iteration"])


def add_frames_to_labeled_data(
    config_path: str | Path,
    video: str | Path,
    frame_indices: Sequence[int],
    predictions=None,
) -> list[Path]:
    """Extract chosen frames of a video into the project as DeepLabCut does.

    For frames picked outside DeepLabCut (e.g. where the HMM or the 3D
    reprojection error disagree with the 2D tracking). Writes
    ``labeled-data/<video stem>/img<index>.png`` (index zero-padded to the
    digits of the frame count, as DeepLabCut names them), appends the
    predictions of those frames to ``machinelabels-iter<i>.h5`` (+
    ``machinelabels.csv``), and adds the video to ``video_sets`` of
    ``config.yaml`` (atomically, with a backup) so that the next training
    dataset includes the folder. Does not need deeplabcut.

    Parameters
    ----------
    config_path
        The project's ``config.yaml``.
    video
        The video the frames come from.
    frame_indices
        Frame numbers (0-based) in the video.
    predictions
        Optional :class:`~napari_facehmm.data.LandmarkSeries` (or a path to
        a DeepLabCut analysis ``.h5``) of that video: its positions at those
        frames become the machine labels to correct.

    Returns
    -------
    list of Path
        The image files written (existing images are kept, not rewritten).
    """
    import cv2
    import pandas as pd

    from ..io._atomic import atomic_write_path
    from ..io.video import VideoReader

    config = _read_config(config_path)
    video = Path(video)
    if not video.is_file():
        raise DataError(f"video {video} does not exist")
    frames = sorted({int(i) for i in frame_indices})
    if not frames:
        return []
    reader = VideoReader(video)
    try:
        n_frames = len(reader)
        bad = [i for i in frames if not 0 <= i < n_frames]
        if bad:
            raise DataError(f"frame indices {bad[:5]} are outside {video.name} (0..{n_frames - 1})")
        folder = config.labeled_data_dir / video.stem
        folder.mkdir(parents=True, exist_ok=True)
        width = int(np.ceil(np.log10(n_frames)))  # DeepLabCut's zero padding
        written = []
        for index in frames:
            image = folder / f"img{str(index).zfill(width)}.png"
            if image.exists():
                continue
            with atomic_write_path(image, backup=False) as temp:
                if not cv2.imwrite(str(temp), np.ascontiguousarray(reader[index][:, :, ::-1])):
                    raise DataError(f"could not write {image}")
            written.append(image)
    finally:
        reader.close()

    if predictions is not None:
        if not hasattr(predictions, "positions"):
            from ..io.dlc import read_dlc_analysis

            predictions = read_dlc_analysis(predictions)
        row_of = {int(f): r for r, f in enumerate(predictions.frame_indices)}
        keypoints = [k for k in config.bodyparts if k in predictions.keypoints]
        machine_file = folder / f"machinelabels-iter{config.raw.get('iteration', 0)}.h5"
        previous = pd.read_hdf(machine_file, "df_with_missing") if machine_file.is_file() else None
        scorer = config.scorer
        if previous is not None and previous.columns.get_level_values("scorer").nunique() == 1:
            # DeepLabCut's outlier extraction wrote this file under its network's
            # scorer: our rows join it under the same one, so it keeps one scorer
            scorer = previous.columns.get_level_values("scorer")[0]
        columns = pd.MultiIndex.from_product(
            [[scorer], keypoints, ["x", "y"]], names=["scorer", "bodyparts", "coords"]
        )
        values = np.full((len(frames), len(keypoints) * 2), np.nan)
        for r, index in enumerate(frames):
            if index in row_of:
                row = predictions.positions[row_of[index]]
                values[r] = np.concatenate([row[predictions.keypoint_index(k), :2] for k in keypoints])
        index = pd.MultiIndex.from_tuples(
            [("labeled-data", video.stem, f"img{str(i).zfill(width)}.png") for i in frames]
        )
        table = pd.DataFrame(values, index=index, columns=columns)
        if previous is not None:
            # DeepLabCut's columns (x, y, likelihood) first; our rows have no likelihood
            all_columns = previous.columns.append(table.columns.difference(previous.columns, sort=False))
            table = pd.concat([previous, table]).reindex(columns=all_columns)
            table = table[~table.index.duplicated(keep="first")]
        with atomic_write_path(machine_file, backup=True) as temp:
            table.to_hdf(temp, key="df_with_missing", mode="w")
        with atomic_write_path(folder / "machinelabels.csv", backup=True) as temp:
            table.to_csv(temp)

    _add_video_to_config(config, video)
    return written


def _add_video_to_config(config, video: Path) -> None:
    """Add ``video`` to ``video_sets`` (DeepLabCut only trains on listed videos' folders)."""
    from ..io._atomic import atomic_write_path

    listed_stems = {Path(v).stem for v in config.video_sets}
    if video.stem in listed_stems:
        return
    import cv2

    capture = cv2.VideoCapture(str(video))
    width = int(capture.get(cv2.CAP_PROP_FRAME_WIDTH))
    height = int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT))
    capture.release()
    entry = {"crop": f"0, {width}, 0, {height}"}
    try:  # keep the comments DeepLabCut writes in config.yaml when ruamel is there
        from ruamel.yaml import YAML

        yaml_rt = YAML()
        with open(config.path, encoding="utf-8") as stream:
            document = yaml_rt.load(stream)
        if document.get("video_sets") is None:
            document["video_sets"] = {}
        document["video_sets"][str(video.resolve())] = entry
        with atomic_write_path(config.path, backup=True) as temp:
            with open(temp, "w", encoding="utf-8") as stream:
                yaml_rt.dump(document, stream)
    except ImportError:
        import yaml

        raw = dict(config.raw)
        raw["video_sets"] = dict(raw.get("video_sets") or {})
        raw["video_sets"][str(video.resolve())] = entry
        with atomic_write_path(config.path, backup=True) as temp:
            temp.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")


def reprojection_outlier_frames(series_3d, threshold_px: float = 10.0) -> np.ndarray:
    """Frames whose 3D reconstruction disagrees with the 2D tracking.

    Parameters
    ----------
    series_3d
        A 3D :class:`~napari_facehmm.data.LandmarkSeries` from
        triangulation, with ``attrs["error"]`` ``(n_frames, n_keypoints)``
        reprojection errors in pixels.
    threshold_px
        A frame is an outlier when any keypoint's error exceeds this.

    Returns
    -------
    numpy.ndarray
        ``(n_outliers,)`` video frame indices (``series_3d.frame_indices``).
    """
    error = series_3d.attrs.get("error")
    if error is None:
        raise DataError("this 3D series has no reprojection errors (attrs['error']); triangulate it first")
    error = np.asarray(error, dtype=float)
    if error.shape != (series_3d.n_frames, series_3d.n_keypoints):
        raise DataError(f"reprojection errors must be (n_frames, n_keypoints); got {error.shape}")
    with np.errstate(invalid="ignore"):
        worst = np.nanmax(np.where(np.isfinite(error), error, -np.inf), axis=1)
    return series_3d.frame_indices[worst > threshold_px]


def uncertain_state_frames(
    state_probabilities: np.ndarray, frame_indices: np.ndarray | None = None, threshold: float = 0.6
) -> np.ndarray:
    """Frames where the HMM is unsure which expression state holds.

    Parameters
    ----------
    state_probabilities
        ``(n_frames, n_states)`` posterior probabilities (``predict_proba``).
    frame_indices
        ``(n_frames,)`` video frame of each row; default ``0..n_frames-1``.
    threshold
        A frame is uncertain when its most likely state has probability below this.

    Returns
    -------
    numpy.ndarray
        ``(n_uncertain,)`` video frame indices.
    """
    probabilities = np.asarray(state_probabilities, dtype=float)
    if probabilities.ndim != 2:
        raise DataError(f"state probabilities must be (n_frames, n_states); got shape {probabilities.shape}")
    if frame_indices is None:
        frame_indices = np.arange(probabilities.shape[0])
    frame_indices = np.asarray(frame_indices)
    if frame_indices.shape != (probabilities.shape[0],):
        raise DataError(f"frame_indices must have shape ({probabilities.shape[0]},); got {frame_indices.shape}")
    return frame_indices[probabilities.max(axis=1) < threshold]


def _spread(frames: np.ndarray, max_frames: int | None) -> np.ndarray:
    """At most ``max_frames`` of the sorted ``frames``, evenly spread over them."""
    frames = np.unique(np.asarray(frames, dtype=np.int64))
    if max_frames is None or len(frames) <= max_frames:
        return frames
    picks = np.linspace(0, len(frames) - 1, int(max_frames)).round().astype(int)
    return frames[np.unique(picks)]


def refinement_frames(
    path: str | Path,
    reprojection_threshold_px: float = 10.0,
    probability_threshold: float = 0.6,
    max_frames: int | None = None,
) -> np.ndarray:
    """Frames worth relabeling, from a 3D triangulation or an HMM states table.

    Parameters
    ----------
    path
        An Anipose pose-3d CSV (frames whose reprojection error exceeds
        ``reprojection_threshold_px`` on any keypoint) or the ``states.csv``
        an analysis writes (columns ``frame`` and ``state_probability``:
        frames whose most likely state is below ``probability_threshold``).
    max_frames
        Keep at most this many, evenly spread.

    Returns
    -------
    numpy.ndarray
        ``(n,)`` sorted video frame indices; pass them to
        :func:`add_frames_to_labeled_data`.
    """
    import pandas as pd

    path = Path(path)
    if not path.is_file():
        raise FileFormatError(path, "file does not exist")
    if path.suffix.lower() != ".csv":
        raise FileFormatError(path, "expected a pose-3d CSV or an analysis states.csv")
    header = pd.read_csv(path, nrows=0).columns
    if {"frame", "state_probability"} <= set(header):
        table = pd.read_csv(path)
        frames = pd.to_numeric(table["frame"], errors="coerce").to_numpy()
        probability = pd.to_numeric(table["state_probability"], errors="coerce").to_numpy()
        if np.isnan(frames).any():
            raise FileFormatError(path, "the frame column has empty or non-numeric values")
        # frames without a state (NaN probability) have no features: nothing to relabel for the HMM
        with np.errstate(invalid="ignore"):
            chosen = frames[probability < probability_threshold]
        return _spread(chosen.astype(np.int64), max_frames)
    if any(str(c).endswith("_error") for c in header):
        from ..io.anipose import read_pose3d

        series = read_pose3d(path)
        return _spread(reprojection_outlier_frames(series, reprojection_threshold_px), max_frames)
    raise FileFormatError(
        path, "neither an analysis states table (frame, state_probability) nor a pose-3d CSV (<keypoint>_error columns)"
    )
