"""The DeepLabCut steps' settings: names, defaults and accepted ranges, written once.

``facehmm dlc`` builds its options from these (:mod:`napari_facehmm.commands.dlc`),
the Tracking dock its forms (:mod:`napari_facehmm.widgets.tracking`), and the
jobs check their arguments with them (:meth:`~napari_facehmm.ranges.Setting.check`).
A :class:`~napari_facehmm.ranges.Setting`'s ``name`` is the CLI option
(``batch_size`` -> ``--batch-size``) and the form field's name.
"""

from __future__ import annotations

from pathlib import Path

from ...ranges import Setting
from ..frame_picking import ERROR_PX, MAX_FRAMES, PROBABILITY

#: A network small enough to train on a CPU (4.4 M parameters; 2 epochs of
#: 24 images at 128x128 in about 10 s here, against 85 s for ResNet-50).
SUGGESTED_CPU_NETWORK = "cspnext_s"

#: The starting weights named by a word; anything else is a weights file.
INIT_KEYWORDS = ("auto", "random", "pretrained")

# ------------------------------------------------------------------ every step of a project
#: DeepLabCut numbers shuffles from 1
SHUFFLE = Setting("shuffle", int, 1, minimum=1, maximum=9999, help="shuffle number")
#: TrainingFraction entries are numbered from 0
TRAININGSETINDEX = Setting(
    "trainingsetindex", int, 0, minimum=0, maximum=99, help="which TrainingFraction of config.yaml"
)

# ------------------------------------------------------------------ training dataset
NET = Setting("net", str, SUGGESTED_CPU_NETWORK, help=f"network ({SUGGESTED_CPU_NETWORK} is small enough for a CPU)")
#: None: the first TrainingFraction of config.yaml
TRAIN_FRACTION = Setting(
    "train_fraction", float, None, minimum=0.0, maximum=1.0, min_open=True, max_open=True,
    help="fraction of labeled frames to train on (the rest: test); default: config.yaml's first TrainingFraction",
)

# ------------------------------------------------------------------ training
EPOCHS = Setting("epochs", int, 50, minimum=1, maximum=100_000, help="epochs to train")
BATCH_SIZE = Setting("batch_size", int, 4, minimum=1, maximum=1024, help="images per step")
SAVE_EPOCHS = Setting(
    "save_epochs", int, 1, minimum=1, maximum=100_000, help="write a snapshot every N epochs (and at the end)"
)
INIT = Setting(
    "init", str, "auto",
    help="starting weights: auto (cached ImageNet weights, else random), random, pretrained, "
    "or a weights file / earlier snapshot",
)
#: None: DeepLabCut's own default (5)
MAX_SNAPSHOTS = Setting("max_snapshots", int, None, minimum=1, maximum=100_000, help="keep at most this many snapshots")
DEVICE = Setting("device", str, None, help="torch device (default: DeepLabCut's choice)")

# ------------------------------------------------------------------ evaluation and analysis
SNAPSHOT = Setting("snapshot", Path, None, help="snapshot file (default: the last)")
DEST = Setting("dest", Path, None, help="output folder (default: beside each video)")
OVERWRITE = Setting("overwrite", bool, False, help="re-analyze videos analyzed before")

# ------------------------------------------------------------------ outlier frames
OUTLIER_ALGORITHM = Setting(
    "algorithm", str, "jump", choices=("jump", "uncertain", "fitting"),
    help="outliers by: jump (a point moves more than epsilon), uncertain (likelihood below p-bound), "
    "fitting (far from a SARIMAX fit)",
)
OUTLIER_EXTRACTION = Setting(
    "extraction", str, "kmeans", choices=("kmeans", "uniform"), help="how frames are picked among the outliers"
)
EPSILON = Setting("epsilon", float, 20.0, minimum=0.0, maximum=10_000.0, min_open=True, unit="px",
                  help="jump threshold")
P_BOUND = Setting("p_bound", float, 0.01, minimum=0.0, maximum=1.0, help="likelihood bound for 'uncertain'")

__all__ = [
    "SUGGESTED_CPU_NETWORK", "INIT_KEYWORDS", "SHUFFLE", "TRAININGSETINDEX", "NET", "TRAIN_FRACTION", "EPOCHS",
    "BATCH_SIZE", "SAVE_EPOCHS", "INIT", "MAX_SNAPSHOTS", "DEVICE", "SNAPSHOT", "DEST", "OVERWRITE",
    "OUTLIER_ALGORITHM", "OUTLIER_EXTRACTION", "EPSILON", "P_BOUND", "ERROR_PX", "PROBABILITY", "MAX_FRAMES",
]
