"""Child process that runs one DeepLabCut step.

``python -c "...; from napari_facehmm.tracking._dlc_worker import main; ..." TASK PARAMS_JSON``

The parent (:class:`napari_facehmm.tracking.dlc.runner.DLCJob`) starts it in
its own process group so that a long training never blocks the viewer and
Cancel can stop it (and every child it forks) at once. Structured messages
go to stdout as single lines ``@@facehmm {json}``; everything DeepLabCut
prints (its ``Epoch i/N ... train loss`` lines included) passes through
unchanged. The last structured line is either ``{"event": "result", ...}``
or ``{"event": "error", "type": ..., "message": ...}`` carrying DeepLabCut's
own exception text (:func:`~napari_facehmm.tracking.dlc.runner.serve`).

This module imports deeplabcut and torch, so the plugin never imports it in
the viewer process.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path
from typing import Callable

from napari_facehmm.tracking.dlc.runner import EVENT_PREFIX, emit, serve  # noqa: F401 (EVENT_PREFIX: its former home)


# ------------------------------------------------------------------ helpers
def _read_cfg(config: str) -> dict:
    from deeplabcut.utils import auxiliaryfunctions

    return auxiliaryfunctions.read_config(config)


def _model_folder(config: str, shuffle: int, trainingsetindex: int) -> Path:
    """``<project>/dlc-models-pytorch/iteration-N/<Task><date>-trainsetXXshuffleS``."""
    from deeplabcut.core.engine import Engine
    from deeplabcut.utils import auxiliaryfunctions

    cfg = _read_cfg(config)
    fraction = cfg["TrainingFraction"][trainingsetindex]
    relative = auxiliaryfunctions.get_model_folder(fraction, shuffle, cfg, engine=Engine.PYTORCH)
    return Path(cfg["project_path"]) / relative


def _snapshot_index(train_folder: Path, snapshot: str | None) -> int | None:
    """Index of ``snapshot`` (a path) in DeepLabCut's ordering of the folder's snapshots."""
    if snapshot is None:
        return None
    from deeplabcut.pose_estimation_pytorch.apis.utils import get_model_snapshots
    from deeplabcut.pose_estimation_pytorch.task import Task

    snapshots = get_model_snapshots("all", train_folder, Task.BOTTOM_UP)
    names = [s.path.name for s in snapshots]
    name = Path(snapshot).name
    if name not in names:
        raise FileNotFoundError(f"snapshot {name} is not in {train_folder} (it has: {', '.join(names) or 'none'})")
    return names.index(name)


def _image_size_max(project: Path) -> tuple[int, int]:
    """Largest (width, height) of the labeled images (reads PNG headers only)."""
    from PIL import Image

    width = height = 0
    for image in (project / "labeled-data").glob("*/*.png"):
        with Image.open(image) as opened:
            width = max(width, opened.size[0])
            height = max(height, opened.size[1])
    return width, height


# ------------------------------------------------------------------ tasks
def task_models() -> dict:
    from deeplabcut.pose_estimation_pytorch import available_models

    return {"models": list(available_models())}


def task_create_dataset(
    config: str,
    shuffle: int = 1,
    net_type: str = "resnet_50",
    train_fraction: float | None = None,
    fit_crop_to_images: bool = True,
) -> dict:
    import deeplabcut
    import yaml
    from deeplabcut.core.engine import Engine

    from napari_facehmm.io.dlc_config import update_dlc_config

    cfg = _read_cfg(config)
    fractions = [float(f) for f in cfg.get("TrainingFraction") or [0.95]]
    if train_fraction is not None and not any(math.isclose(train_fraction, f) for f in fractions):
        fractions.append(float(train_fraction))
        update_dlc_config(config, {"TrainingFraction": fractions})
    if train_fraction is None:
        trainingsetindex = 0
    else:
        trainingsetindex = next(i for i, f in enumerate(fractions) if math.isclose(train_fraction, f))

    # DeepLabCut builds one split per entry of TrainingFraction; keep the
    # splits of the other fractions identical by building them all.
    deeplabcut.create_training_dataset(
        config, Shuffles=[shuffle], net_type=net_type, userfeedback=False, engine=Engine.PYTORCH
    )
    train_folder = _model_folder(config, shuffle, trainingsetindex) / "train"
    pytorch_config = train_folder / "pytorch_config.yaml"
    crop = None
    if fit_crop_to_images and pytorch_config.is_file():
        # DeepLabCut pads every training image to a 448x448 crop; for small
        # frames (128x128 synthetic faces) that is 12x the pixels to push
        # through the network on a CPU. Crop to the frame size instead,
        # rounded up to the network stride.
        model_cfg = yaml.safe_load(pytorch_config.read_text())
        sampling = ((model_cfg.get("data") or {}).get("train") or {}).get("crop_sampling")
        width, height = _image_size_max(Path(cfg["project_path"]))
        if sampling and width and height:
            side_w = int(math.ceil(width / 32.0) * 32)
            side_h = int(math.ceil(height / 32.0) * 32)
            if side_w < sampling.get("width", 0) or side_h < sampling.get("height", 0):
                sampling["width"] = min(side_w, sampling.get("width", side_w))
                sampling["height"] = min(side_h, sampling.get("height", side_h))
                from napari_facehmm.io._atomic import atomic_write_path

                with atomic_write_path(pytorch_config, backup=True) as temp:
                    temp.write_text(yaml.safe_dump(model_cfg, sort_keys=False))
                crop = [sampling["width"], sampling["height"]]
    return {
        "train_folder": str(train_folder),
        "net_type": net_type,
        "trainingsetindex": trainingsetindex,
        "train_fraction": fractions[trainingsetindex],
        "crop_size": crop,
    }


def _matching_state_dict(source: dict, target: dict) -> tuple[dict, int]:
    """Copy tensors of ``source`` into ``target`` where name (up to a prefix) and shape agree."""
    merged = dict(target)
    n_matched = 0
    for prefix in ("", "backbone.model.", "backbone."):
        for name, tensor in source.items():
            key = prefix + name
            if key in target and tuple(target[key].shape) == tuple(tensor.shape):
                merged[key] = tensor
                n_matched += 1
        if n_matched:
            break
    return merged, n_matched


def _prepare_init(init: str, train_folder: Path) -> tuple[str | None, str | None, str]:
    """Weights to start from: (snapshot_path, detector_path, how) for train_network.

    ``init`` is ``"random"``, ``"pretrained"`` (ImageNet weights from the
    local model-hub cache, which offline is the only place they can come
    from), ``"auto"`` (pretrained when cached, else random) or a path to a
    weights file (a DeepLabCut snapshot, or a state dict of the whole model
    or of its backbone, e.g. timm weights).
    """
    import torch
    import yaml
    from deeplabcut.pose_estimation_pytorch.models import DETECTORS
    from deeplabcut.pose_estimation_pytorch.models.model import PoseModel

    model_cfg = yaml.safe_load((train_folder / "pytorch_config.yaml").read_text())
    top_down = str(model_cfg.get("method", "bu")).lower() in ("td", "top_down", "methodtype.top_down")

    def _random_detector() -> str | None:
        if not top_down or not model_cfg.get("detector"):
            return None
        detector = DETECTORS.build(model_cfg["detector"]["model"], pretrained=False)
        path = train_folder / "init-random-detector.pt"
        torch.save({"model": detector.state_dict()}, path)
        return str(path)

    if init == "pretrained":
        return None, None, "pretrained ImageNet backbone (local cache)"
    if init == "auto":
        try:
            PoseModel.build(model_cfg["model"], pretrained_backbone=True)
        except Exception as error:  # offline and not cached: timm/hub raise various types
            emit("note", message=f"no cached pretrained weights ({type(error).__name__}); starting from random weights")
            init = "random"
        else:
            return None, None, "pretrained ImageNet backbone (local cache)"
    if init == "random":
        model = PoseModel.build(model_cfg["model"], pretrained_backbone=False)
        path = train_folder / "init-random.pt"
        torch.save({"model": model.state_dict()}, path)
        return str(path), _random_detector(), "random weights"

    weights_path = Path(init)
    if not weights_path.is_file():
        raise FileNotFoundError(f"weights file {weights_path} does not exist")
    content = torch.load(weights_path, map_location="cpu", weights_only=False)
    if isinstance(content, dict) and isinstance(content.get("model"), dict):
        # A DeepLabCut snapshot (or model zoo file): DeepLabCut loads it
        # itself and continues its epoch count.
        return str(weights_path), _random_detector(), f"snapshot {weights_path.name}"
    if isinstance(content, dict) and isinstance(content.get("state_dict"), dict):
        content = content["state_dict"]
    if not isinstance(content, dict) or not all(hasattr(v, "shape") for v in content.values()):
        raise ValueError(f"{weights_path} holds no state dict of tensors (got {type(content).__name__})")
    model = PoseModel.build(model_cfg["model"], pretrained_backbone=False)
    target = model.state_dict()
    merged, n_matched = _matching_state_dict(content, target)
    if n_matched == 0:
        raise ValueError(
            f"none of the {len(content)} tensors in {weights_path} match the {model_cfg.get('net_type')} model "
            f"(names or shapes differ)"
        )
    model.load_state_dict(merged)
    path = train_folder / f"init-from-{weights_path.stem}.pt"
    torch.save({"model": model.state_dict()}, path)
    how = f"{weights_path.name} ({n_matched} of {len(target)} tensors)"
    return str(path), _random_detector(), how


def task_train(
    config: str,
    shuffle: int = 1,
    trainingsetindex: int = 0,
    epochs: int = 10,
    batch_size: int = 4,
    save_epochs: int = 1,
    init: str = "auto",
    max_snapshots_to_keep: int | None = None,
    device: str | None = None,
) -> dict:
    import deeplabcut

    train_folder = _model_folder(config, shuffle, trainingsetindex) / "train"
    earlier = sorted(train_folder.glob("snapshot-*.pt"))
    starts_fresh = init in ("auto", "random", "pretrained") or Path(init).parent.resolve() != train_folder.resolve()
    if earlier and starts_fresh:
        # A fresh run would overwrite snapshot-001... but leave the later ones
        # of an earlier, longer run, which "the last snapshot" would then pick.
        import time

        previous = train_folder / f"previous-{time.strftime('%Y%m%d-%H%M%S')}"
        previous.mkdir()
        for path in earlier + [p for p in (train_folder / "learning_stats.csv",) if p.is_file()]:
            path.rename(previous / path.name)
        emit("note", message=f"moved {len(earlier)} earlier snapshot(s) to {previous.name}/")
    if (train_folder / "pytorch_config.yaml").is_file():
        snapshot_path, detector_path, how = _prepare_init(init, train_folder)
    else:
        # No training dataset for this shuffle: let DeepLabCut report it in its own words.
        snapshot_path, detector_path, how = None, None, "nothing (no training dataset)"
    emit("init", how=how, snapshot_path=snapshot_path, train_folder=str(train_folder), epochs=epochs)
    deeplabcut.train_network(
        config,
        shuffle=shuffle,
        trainingsetindex=trainingsetindex,
        epochs=epochs,
        save_epochs=save_epochs,
        batch_size=batch_size,
        snapshot_path=snapshot_path,
        detector_path=detector_path,
        max_snapshots_to_keep=max_snapshots_to_keep,
        device=device,
    )
    snapshots = sorted(str(p) for p in train_folder.glob("snapshot-*.pt"))
    return {"train_folder": str(train_folder), "snapshots": snapshots, "init": how}


def task_evaluate(
    config: str, shuffle: int = 1, trainingsetindex: int = 0, snapshot: str | None = None
) -> dict:
    import deeplabcut
    import pandas as pd

    cfg = _read_cfg(config)
    kwargs = {}
    if snapshot is not None:
        kwargs["snapshots_to_evaluate"] = [Path(snapshot).stem]
    deeplabcut.evaluate_network(
        config,
        shuffles=[shuffle],
        trainingsetindex=trainingsetindex,
        per_keypoint_evaluation=True,
        **kwargs,
    )
    from deeplabcut.core.engine import Engine
    from deeplabcut.utils import auxiliaryfunctions

    fraction = cfg["TrainingFraction"][trainingsetindex]
    folder = Path(cfg["project_path"]) / auxiliaryfunctions.get_evaluation_folder(
        fraction, shuffle, cfg, engine=Engine.PYTORCH
    )
    rows = []
    for results_csv in sorted(folder.glob("*-results.csv")):
        if results_csv.name.endswith("-keypoint-results.csv"):
            continue
        table = pd.read_csv(results_csv)
        record = {str(k): (v.item() if hasattr(v, "item") else v) for k, v in table.iloc[0].items()}
        keypoint_csv = results_csv.with_name(results_csv.name.replace("-results.csv", "-keypoint-results.csv"))
        per_keypoint = {}
        if keypoint_csv.is_file():
            keypoint_table = pd.read_csv(keypoint_csv, index_col=0)
            # DeepLabCut labels the rows "Train error (px)" / "Test error (px)"
            per_keypoint = {
                str(split).split()[0].lower(): {str(k): float(v) for k, v in row.items()}
                for split, row in keypoint_table.iterrows()
            }
        rows.append(
            {
                "results_csv": str(results_csv),
                "scorer": results_csv.name[: -len("-results.csv")],
                "values": record,
                "per_keypoint": per_keypoint,
                "mtime": results_csv.stat().st_mtime,
            }
        )
    return {"evaluation_folder": str(folder), "results": rows}


def task_analyze(
    config: str,
    videos: list[str],
    shuffle: int = 1,
    trainingsetindex: int = 0,
    snapshot: str | None = None,
    destfolder: str | None = None,
    overwrite: bool = False,
    batch_size: int | None = None,
) -> dict:
    import deeplabcut

    train_folder = _model_folder(config, shuffle, trainingsetindex) / "train"
    index = _snapshot_index(train_folder, snapshot)
    outputs = []
    for done, video in enumerate(videos):
        emit("video_start", done=done, total=len(videos), video=video)
        kwargs = {} if index is None else {"snapshot_index": index}
        scorer = deeplabcut.analyze_videos(
            config,
            [video],
            shuffle=shuffle,
            trainingsetindex=trainingsetindex,
            destfolder=destfolder,
            overwrite=overwrite,
            batch_size=batch_size,
            save_as_csv=True,
            **kwargs,
        )
        folder = Path(destfolder) if destfolder else Path(video).parent
        output = folder / f"{Path(video).stem}{scorer}.h5"
        if not output.is_file():
            raise FileNotFoundError(f"DeepLabCut wrote no {output.name} for {video}")
        outputs.append(str(output))
        emit("video_done", done=done + 1, total=len(videos), video=video, output=str(output), scorer=scorer)
    return {"outputs": outputs}


def task_outliers(
    config: str,
    videos: list[str],
    shuffle: int = 1,
    trainingsetindex: int = 0,
    algorithm: str = "jump",
    extraction: str = "kmeans",
    epsilon: float = 20.0,
    p_bound: float = 0.01,
    snapshot: str | None = None,
    destfolder: str | None = None,
) -> dict:
    import deeplabcut

    cfg = _read_cfg(config)
    labeled = Path(cfg["project_path"]) / "labeled-data"
    before = {Path(v).stem: set(p.name for p in (labeled / Path(v).stem).glob("img*.png")) for v in videos}
    kwargs = {}
    if snapshot is not None:
        train_folder = _model_folder(config, shuffle, trainingsetindex) / "train"
        kwargs["snapshot_index"] = _snapshot_index(train_folder, snapshot)
    deeplabcut.extract_outlier_frames(
        config,
        videos,
        shuffle=shuffle,
        trainingsetindex=trainingsetindex,
        outlieralgorithm=algorithm,
        extractionalgorithm=extraction,
        epsilon=epsilon,
        p_bound=p_bound,
        automatic=True,
        destfolder=destfolder,
        **kwargs,
    )
    added = {}
    for video in videos:
        name = Path(video).stem
        now = set(p.name for p in (labeled / name).glob("img*.png"))
        added[name] = sorted(now - before[name])
    return {"labeled_data": str(labeled), "added": added}


def task_merge(config: str) -> dict:
    import deeplabcut

    cfg = _read_cfg(config)
    before = int(cfg.get("iteration", 0))
    labeled = Path(cfg["project_path"]) / "labeled-data"
    not_refined = [
        folder.name
        for folder in sorted(labeled.iterdir())
        if folder.is_dir()
        and "_labeled" not in folder.name
        and not folder.name.startswith(".")
        and not (folder / "MachineLabelsRefine.h5").is_file()
        and not (folder / f"CollectedData_{cfg['scorer']}.h5").is_file()
    ]
    deeplabcut.merge_datasets(config)
    after = int(_read_cfg(config).get("iteration", 0))
    if after == before:
        raise RuntimeError(
            "DeepLabCut did not merge: these labeled-data folders have no CollectedData "
            f"(label or refine them first, or remove them): {', '.join(not_refined)}"
        )
    return {"iteration": after}


TASKS: dict[str, Callable[..., dict]] = {
    "models": task_models,
    "create_dataset": task_create_dataset,
    "train": task_train,
    "evaluate": task_evaluate,
    "analyze": task_analyze,
    "outliers": task_outliers,
    "merge": task_merge,
}


def main(argv: list[str] | None = None) -> int:
    """Run ``TASK PARAMS_JSON`` (``sys.argv`` by default); the exit status."""
    return serve(TASKS, argv)


if __name__ == "__main__":
    sys.exit(main())
