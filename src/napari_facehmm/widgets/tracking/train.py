"""The "Train" tab: network and training dataset, then training with a live loss curve and Cancel."""

from __future__ import annotations

import math
import threading

from qtpy.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from ...errors import Cancelled, FaceHMMError
from ...tracking import dlc

INIT_CHOICES = (
    ("auto: cached pretrained weights, else random", "auto"),
    ("random weights", "random"),
    ("a weights file...", "file"),
    ("an earlier snapshot...", "snapshot"),
)


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
    """The Train tab: :meth:`create_dataset`, :meth:`start_training`, :meth:`cancel_training`.

    A mixin of :class:`~napari_facehmm.widgets.tracking.TrackingWidget`: its widgets
    are attributes of the dock, which provides ``status``, ``viewer``, the project
    (``_require_project``, ``shuffle_spin``) and ``_report``, ``_info``, ``_start_worker``.
    """

    def _build_train_tab(self) -> QWidget:
        tab = QWidget()
        layout = QVBoxLayout(tab)
        form = QFormLayout()
        network_row = QHBoxLayout()
        self.network_combo = QComboBox()
        self.network_combo.addItems([dlc.SUGGESTED_CPU_NETWORK, "resnet_50", "hrnet_w18"])
        self.network_combo.setToolTip(f"{dlc.SUGGESTED_CPU_NETWORK} is small enough to train on a CPU")
        list_networks = QPushButton("List all")
        list_networks.setToolTip("Ask DeepLabCut for every network it offers")
        list_networks.clicked.connect(self.list_networks)
        network_row.addWidget(self.network_combo, 1)
        network_row.addWidget(list_networks)
        form.addRow("Network", network_row)
        self.fraction_spin = QDoubleSpinBox()
        self.fraction_spin.setRange(0.05, 0.99)
        self.fraction_spin.setSingleStep(0.05)
        self.fraction_spin.setValue(0.8)
        form.addRow("Train fraction", self.fraction_spin)
        self.create_button = QPushButton("Create training dataset")
        self.create_button.clicked.connect(self.create_dataset)
        form.addRow(self.create_button)

        self.epochs_spin = QSpinBox()
        self.epochs_spin.setRange(1, 100000)
        self.epochs_spin.setValue(50)
        form.addRow("Epochs", self.epochs_spin)
        self.batch_spin = QSpinBox()
        self.batch_spin.setRange(1, 1024)
        self.batch_spin.setValue(4)
        form.addRow("Batch size", self.batch_spin)
        self.save_epochs_spin = QSpinBox()
        self.save_epochs_spin.setRange(1, 100000)
        self.save_epochs_spin.setValue(5)
        form.addRow("Snapshot every (epochs)", self.save_epochs_spin)
        self.init_combo = QComboBox()
        for label, _ in INIT_CHOICES:
            self.init_combo.addItem(label)
        self.init_combo.currentIndexChanged.connect(self._init_choice_changed)
        form.addRow("Start from", self.init_combo)
        self.init_path_edit = QLineEdit()
        self.init_path_edit.setPlaceholderText("weights file or snapshot-*.pt")
        self.init_path_edit.setEnabled(False)
        form.addRow("", self.init_path_edit)
        layout.addLayout(form)

        buttons = QHBoxLayout()
        self.train_button = QPushButton("Train")
        self.train_button.clicked.connect(self.start_training)
        self.cancel_train_button = QPushButton("Cancel")
        self.cancel_train_button.setEnabled(False)
        self.cancel_train_button.clicked.connect(self.cancel_training)
        buttons.addWidget(self.train_button)
        buttons.addWidget(self.cancel_train_button)
        layout.addLayout(buttons)
        self.train_progress = QProgressBar()
        self.train_progress.setFormat("epoch %v / %m")
        layout.addWidget(self.train_progress)
        self.loss_plot = LossPlot()
        layout.addWidget(self.loss_plot)
        return tab

    def _init_choice_changed(self, index: int) -> None:
        choice = INIT_CHOICES[index][1]
        self.init_path_edit.setEnabled(choice in ("file", "snapshot"))
        if choice == "snapshot" and not self.init_path_edit.text():
            latest = dlc.latest_snapshot(self._snapshots())
            if latest is not None:
                self.init_path_edit.setText(str(latest))
        elif choice == "file" and not self.init_path_edit.text() and self.isVisible():
            path, _ = QFileDialog.getOpenFileName(self, "Initial weights", "", "weights (*.pt *.pth *.bin)")
            if path:
                self.init_path_edit.setText(path)

    # ------------------------------------------------------------ dataset
    def list_networks(self) -> None:
        """Fill the network list with what DeepLabCut offers (in the background)."""
        try:
            dlc.require_deeplabcut("Listing DeepLabCut networks")
        except FaceHMMError as error:
            self._report(error)
            return

        def _fill(models: list) -> None:
            current = self.network_combo.currentText()
            self.network_combo.clear()
            self.network_combo.addItems(models)
            self.network_combo.setCurrentText(current if current in models else dlc.SUGGESTED_CPU_NETWORK)
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
        network = self.network_combo.currentText()
        shuffle = self.shuffle_spin.value()
        fraction = round(self.fraction_spin.value(), 4)
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
        choice = INIT_CHOICES[self.init_combo.currentIndex()][1]
        if choice in ("auto", "random"):
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
                epochs=self.epochs_spin.value(),
                batch_size=self.batch_spin.value(),
                save_epochs=self.save_epochs_spin.value(),
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
        self.train_progress.setMaximum(max(event.n_epochs, 1))
        self.train_progress.setValue(event.epoch)
        if event.epoch > 0 and self.training_job is not None:
            self.loss_plot.set_history(self.training_job.history)
        if event.message:
            self.status.setText(event.message)

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
