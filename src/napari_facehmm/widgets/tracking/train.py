"""The "Train" tab: network and training dataset, then training with a live loss curve and Cancel."""

from __future__ import annotations

import math
import threading

from magicgui.widgets import FileEdit, PushButton
from qtpy.QtWidgets import QHBoxLayout, QPushButton, QVBoxLayout, QWidget

from ...errors import Cancelled, FaceHMMError
from ...tracking import dlc
from ...tracking.dlc import settings as S
from .._worker import job_controls
from ..forms import field, form, qt, row

#: "Start from" (``--init``): the label shown, and the value (``file`` / ``snapshot``: the path below)
INIT_CHOICES = (
    ("auto: cached pretrained weights, else random", "auto"),
    ("random weights", "random"),
    ("pretrained: cached ImageNet weights", "pretrained"),
    ("a weights file...", "file"),
    ("an earlier snapshot...", "snapshot"),
)
#: the networks listed before "List all" asks DeepLabCut for its own list
NETWORKS_SHOWN = (S.SUGGESTED_CPU_NETWORK, "resnet_50", "hrnet_w18")
#: the train fraction shown until a project is opened (then the project's first
#: TrainingFraction, as ``facehmm dlc create-dataset`` uses): DeepLabCut's default
NO_PROJECT_TRAIN_FRACTION = 0.95


class LossPlot(QWidget):
    """A small matplotlib plot of the training loss per epoch."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        from matplotlib.backends.backend_qtagg import FigureCanvasQTAgg
        from matplotlib.figure import Figure

        self.figure = Figure(figsize=(3.0, 1.8), tight_layout=True)
        self.canvas = FigureCanvasQTAgg(self.figure)
        self.axes = self.figure.add_subplot(111)
        (self.train_line,) = self.axes.plot([], [], "o-", markersize=3, label="train")
        (self.valid_line,) = self.axes.plot([], [], "s--", markersize=3, label="valid")
        from matplotlib.ticker import MaxNLocator

        self.axes.xaxis.set_major_locator(MaxNLocator(integer=True))
        self.axes.set_xlabel("epoch")
        self.axes.set_ylabel("loss")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.canvas)
        self.setMinimumHeight(150)

    def set_history(self, history: list[tuple[int, float, float]]) -> None:
        """Redraw from ``(epoch, train_loss, valid_loss)`` rows."""
        epochs = [h[0] for h in history]
        self.train_line.set_data(epochs, [h[1] for h in history])
        valid = [(h[0], h[2]) for h in history if not math.isnan(h[2])]
        self.valid_line.set_data([v[0] for v in valid], [v[1] for v in valid])
        finite = [h[1] for h in history if math.isfinite(h[1])] + [v[1] for v in valid]
        if finite and min(finite) > 0 and max(finite) / min(finite) > 100:
            self.axes.set_yscale("log")  # random starts can begin orders of magnitude higher
        self.axes.relim()
        self.axes.autoscale_view()
        self.canvas.draw_idle()


class TrainTabMixin:
    """The Train tab: :meth:`create_dataset`, :meth:`start_training`, :meth:`cancel_training`."""

    def _build_train_tab(self) -> QWidget:
        tab = QWidget()
        layout = QVBoxLayout(tab)
        # the training dataset (facehmm dlc create-dataset)
        self.network_field = network = field(
            S.NET, "Network", command="dlc create-dataset", choices=list(NETWORKS_SHOWN)
        )
        list_networks = PushButton(text="List all", tooltip="Ask DeepLabCut for every network it offers")
        list_networks.changed.connect(self.list_networks)
        network_row = row("Network", network, list_networks)
        fraction = field(
            S.TRAIN_FRACTION, "Train fraction", value=NO_PROJECT_TRAIN_FRACTION, command="dlc create-dataset",
            step=0.05,
        )
        create = PushButton(text="Create training dataset")
        create.changed.connect(self.create_dataset)
        # then training (facehmm dlc train)
        self.train_form = form(
            network_row,
            fraction,
            create,
            field(S.EPOCHS, "Epochs", command="dlc train"),
            field(S.BATCH_SIZE, "Batch size", command="dlc train"),
            field(S.SAVE_EPOCHS, "Snapshot every (epochs)", command="dlc train"),
            field(S.INIT, "Start from", command="dlc train", choices=[(label, v) for label, v in INIT_CHOICES]),
            FileEdit(name="init_file", label="Weights file", mode="r", filter="weights (*.pt *.pth *.bin)",
                     tooltip="Start from: a weights file, or an earlier snapshot-*.pt of this shuffle"),
        )
        init_file = self.train_form.init_file
        init_file.enabled = False
        self.train_form.init.changed.connect(self._init_choice_changed)
        layout.addWidget(self.train_form.native)
        # the names the rest of the dock (and its tests) use for the fields
        self.network_combo = qt(network)
        self.fraction_spin = qt(fraction)
        self.create_button = qt(create)
        self.epochs_spin = qt(self.train_form.epochs)
        self.batch_spin = qt(self.train_form.batch_size)
        self.save_epochs_spin = qt(self.train_form.save_epochs)
        self.init_combo = qt(self.train_form.init)
        self.init_path_edit = qt(init_file)
        self.init_path_edit.setPlaceholderText("weights file or snapshot-*.pt")

        buttons = QHBoxLayout()
        self.train_button = QPushButton("Train")
        self.train_button.clicked.connect(self.start_training)
        self.cancel_train_button, self.train_progress = job_controls(self.cancel_training, text_format="epoch %v / %m")
        buttons.addWidget(self.train_button)
        buttons.addWidget(self.cancel_train_button)
        layout.addLayout(buttons)
        layout.addWidget(self.train_progress)
        self.loss_plot = LossPlot()
        layout.addWidget(self.loss_plot)
        return tab

    def _init_choice_changed(self, choice: str) -> None:
        self.train_form.init_file.enabled = choice in ("file", "snapshot")
        if choice == "snapshot" and not self.init_path_edit.text():
            latest = dlc.latest_snapshot(self._snapshots())
            if latest is not None:
                self.init_path_edit.setText(str(latest))

    # ------------------------------------------------------------ dataset
    def list_networks(self) -> None:
        """Fill the network list with what DeepLabCut offers (in the background)."""
        try:
            dlc.require_deeplabcut("Listing DeepLabCut networks")
        except FaceHMMError as error:
            self._report(error)
            return

        def _fill(models: list) -> None:
            network = self.network_field
            current = network.value
            network.choices = models
            network.value = current if current in models else S.SUGGESTED_CPU_NETWORK
            self.status.setText(f"{len(models)} networks; {dlc.SUGGESTED_CPU_NETWORK} is suggested on a CPU")

        self.status.setText("Asking DeepLabCut for its networks...")
        self._start_worker(dlc.available_networks, on_return=_fill)

    def create_dataset(self) -> None:
        """Create the training dataset of the shuffle with the chosen network and fraction."""
        try:
            config = self._require_project()
            dlc.require_deeplabcut("Creating a DeepLabCut training dataset")
        except FaceHMMError as error:
            self._report(error)
            return
        network = self.network_field.value
        shuffle = self.shuffle_spin.value()
        fraction = round(self.train_form.train_fraction.value, 4)
        self.status.setText(f"Creating the training dataset ({network}, shuffle {shuffle})...")

        def _done(result: dict) -> None:
            crop = result.get("crop_size")
            extra = f"; training crop {crop[0]}x{crop[1]} px" if crop else ""
            self._info(f"Training dataset ready: {result['net_type']}, train fraction {result['train_fraction']}{extra}")

        self._start_worker(
            lambda: dlc.create_training_dataset(config, net_type=network, shuffle=shuffle, train_fraction=fraction),
            on_return=_done,
            busy=[self.create_button],
        )

    # ------------------------------------------------------------ training
    def _init_value(self) -> str:
        choice = self.train_form.init.value
        if choice in S.INIT_KEYWORDS:
            return choice
        path = self.init_path_edit.text().strip()
        if not path:
            raise FaceHMMError("Choose the weights file or snapshot to start from.")
        return path

    def start_training(self) -> dlc.TrainingJob | None:
        """Start training in a child process; the bar and the loss curve follow the epochs."""
        if self.training_job is not None and self.training_job.running():
            self._report(FaceHMMError("A training is already running."))
            return None
        try:
            config = self._require_project()
            job = dlc.TrainingJob(
                config,
                shuffle=self.shuffle_spin.value(),
                epochs=self.train_form.epochs.value,
                batch_size=self.train_form.batch_size.value,
                save_epochs=self.train_form.save_epochs.value,
                init=self._init_value(),
            )
        except FaceHMMError as error:
            self._report(error)
            return None
        self.training_job = job
        self.train_progress.setRange(0, job.epochs)
        self.train_progress.setValue(0)
        self.loss_plot.set_history([])
        self.status.setText("Starting DeepLabCut...")
        self._start_worker(
            job.events,
            on_yield=self._on_training_progress,
            on_error=self._on_training_error,
            on_finish=self.refresh_snapshots,
            busy=[self.train_button],
            cancel_button=self.cancel_train_button,
        )
        return job

    def _on_training_progress(self, event: dlc.TrainingProgress) -> None:
        done, total, message = event.progress
        self.train_progress.setMaximum(max(total, 1))
        self.train_progress.setValue(done)
        if done > 0 and self.training_job is not None:
            self.loss_plot.set_history(self.training_job.history)
        if message:
            self.status.setText(message)

    def _on_training_error(self, error: BaseException) -> None:
        if isinstance(error, Cancelled):
            kept = self.training_job.snapshots() if self.training_job else []
            self._info(f"Training cancelled; {len(kept)} snapshot(s) kept.")
        else:
            self._report(error)

    def cancel_training(self) -> None:
        """Stop the training process group (SIGTERM, then SIGKILL); snapshots written stay."""
        job = self.training_job
        if job is None:
            return
        self.cancel_train_button.setEnabled(False)
        self.status.setText("Cancelling the training...")
        # cancel() waits for the process (up to its grace period): not in the GUI thread
        threading.Thread(target=job.cancel, name="cancel-dlc-training", daemon=True).start()
