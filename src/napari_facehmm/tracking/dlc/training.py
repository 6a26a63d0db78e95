"""Training: the networks DeepLabCut offers, the training dataset, and training with progress."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path
from collections.abc import Generator

from ...errors import DataError
from ...progress import Progress
from .project import (
    _complete_snapshots,
    _read_config,
    _set_aside_truncated_snapshots,
    latest_snapshot,
    model_folder,
    require_deeplabcut,
)
from .runner import DLCJob, _run_task
from .settings import (
    BATCH_SIZE,
    EPOCHS,
    INIT_KEYWORDS,
    MAX_SNAPSHOTS,
    SAVE_EPOCHS,
    SHUFFLE,
    SUGGESTED_CPU_NETWORK,
    TRAIN_FRACTION,
    TRAININGSETINDEX,
)


#: DeepLabCut's per-epoch log line (runners/train.py).
EPOCH_LINE = re.compile(
    r"Epoch (?P<epoch>\d+)/(?P<n_epochs>\d+) \(lr=[^)]*\), train loss (?P<train_loss>[-+0-9.eEnaif]+)"
    r"(?:, valid loss (?P<valid_loss>[-+0-9.eEnaif]+))?"
)


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
    shuffle = SHUFFLE.check(shuffle)
    if train_fraction is not None:
        train_fraction = TRAIN_FRACTION.check(train_fraction, "the training fraction")
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

    @property
    def progress(self) -> Progress:
        """``(epoch, n_epochs, message)``: the project's progress step."""
        return self.epoch, self.n_epochs, self.message


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
        epochs: int = EPOCHS.default,
        batch_size: int = BATCH_SIZE.default,
        save_epochs: int = SAVE_EPOCHS.default,
        init: str | Path = "auto",
        trainingsetindex: int = 0,
        max_snapshots_to_keep: int | None = None,
        device: str | None = None,
        grace_s: float = 5.0,
    ):
        require_deeplabcut("Training a DeepLabCut model")
        config_path = Path(config_path)
        shuffle = SHUFFLE.check(shuffle)
        trainingsetindex = TRAININGSETINDEX.check(trainingsetindex, "training set index")
        epochs = EPOCHS.check(epochs)
        batch_size = BATCH_SIZE.check(batch_size, "batch size")
        save_epochs = SAVE_EPOCHS.check(save_epochs, "snapshot interval (epochs)")
        if max_snapshots_to_keep is not None:
            max_snapshots_to_keep = MAX_SNAPSHOTS.check(max_snapshots_to_keep, "max snapshots")
        init = str(init)
        if init not in INIT_KEYWORDS and not Path(init).is_file():
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

    def events(self) -> Generator[TrainingProgress, None, list[Path]]:
        """Yield a :class:`TrainingProgress` at start and after every epoch; return the snapshots.

        :meth:`progress` gives the same steps as ``(epoch, n_epochs, message)``.

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
        return snapshots


def train(config_path: str | Path, *args, **options) -> Generator[TrainingProgress, None, list[Path]]:
    """Train a shuffle; a generator of :class:`TrainingProgress` returning the snapshots.

    The arguments are :class:`TrainingJob`'s (``shuffle``, ``epochs``,
    ``batch_size``, ``save_epochs``, ``init`` ...), checked before anything
    starts. Closing the generator (or dropping it) stops the training process.
    For a Cancel button, create a :class:`TrainingJob` and call its
    ``cancel()`` while iterating ``job.events()``.
    """
    return (yield from TrainingJob(config_path, *args, **options).events())

