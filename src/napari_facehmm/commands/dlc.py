"""``facehmm dlc``: DeepLabCut tracking steps from the command line.

::

    facehmm dlc networks
    facehmm dlc create-dataset CONFIG [--net cspnext_s] [--shuffle 1] [--train-fraction 0.8]
    facehmm dlc train CONFIG --epochs N --batch-size B [--init auto|random|pretrained|FILE]
    facehmm dlc evaluate CONFIG [--snapshot FILE]
    facehmm dlc analyze CONFIG VIDEO... [--snapshot FILE] [--dest DIR]
    facehmm dlc outliers CONFIG VIDEO... [--algorithm jump|uncertain|fitting]
    facehmm dlc add-frames CONFIG VIDEO [FRAME...] [--from pose3d.csv|states.csv] [--predictions H5]
    facehmm dlc merge CONFIG

Each step runs DeepLabCut in a child process; Ctrl-C stops it (and its
process group) and keeps the snapshots already written.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

from ._options import number, whole_number

#: DeepLabCut numbers shuffles from 1 and TrainingFraction entries from 0
SHUFFLE = whole_number(1)


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "dlc",
        help="DeepLabCut tracking: training dataset, training, evaluation, video analysis, refinement",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    steps = parser.add_subparsers(dest="dlc_step", metavar="STEP")

    def common(step: argparse.ArgumentParser) -> None:
        step.add_argument("config", type=Path, help="the DeepLabCut project's config.yaml")
        step.add_argument("--shuffle", type=SHUFFLE, default=1, help="shuffle number, >= 1 (default 1)")
        step.add_argument(
            "--trainingsetindex", type=whole_number(0), default=0,
            help="which TrainingFraction of config.yaml, >= 0 (default 0)",
        )

    networks = steps.add_parser("networks", help="list the networks DeepLabCut offers")
    networks.set_defaults(run=run_networks)

    create = steps.add_parser("create-dataset", help="create the training dataset (train/test split)")
    create.add_argument("config", type=Path, help="the DeepLabCut project's config.yaml")
    create.add_argument("--shuffle", type=SHUFFLE, default=1, help="shuffle number, >= 1 (default 1)")
    create.add_argument("--net", default=None, help="network (default: cspnext_s, small enough for a CPU)")
    create.add_argument(
        "--train-fraction", type=number(0, 1, min_open=True, max_open=True), default=None,
        help="fraction of labeled frames to train on, between 0 and 1 (rest: test)",
    )
    create.add_argument(
        "--keep-crop", action="store_true", help="keep DeepLabCut's 448 px training crop for small frames"
    )
    create.set_defaults(run=run_create_dataset)

    train = steps.add_parser("train", help="train a network (progress per epoch)")
    common(train)
    train.add_argument("--epochs", type=whole_number(1), required=True, help="epochs to train, >= 1")
    train.add_argument("--batch-size", type=whole_number(1), default=4, help="images per step, >= 1 (default 4)")
    train.add_argument(
        "--save-epochs", type=whole_number(1), default=1, help="snapshot every N epochs, >= 1 (default 1)"
    )
    train.add_argument(
        "--init",
        default="auto",
        help="starting weights: auto (cached ImageNet weights, else random), random, pretrained, "
        "or a weights file / earlier snapshot (default auto)",
    )
    train.add_argument(
        "--max-snapshots", type=whole_number(1), default=None, help="keep at most this many snapshots, >= 1"
    )
    train.add_argument("--device", default=None, help="torch device (default: DeepLabCut's choice)")
    train.set_defaults(run=run_train)

    evaluate = steps.add_parser("evaluate", help="train/test pixel errors of a snapshot")
    common(evaluate)
    evaluate.add_argument("--snapshot", type=Path, default=None, help="snapshot file (default: the last)")
    evaluate.set_defaults(run=run_evaluate)

    analyze = steps.add_parser("analyze", help="track videos with a trained snapshot")
    common(analyze)
    analyze.add_argument("videos", type=Path, nargs="+", help="videos to analyze")
    analyze.add_argument("--snapshot", type=Path, default=None, help="snapshot file (default: the last)")
    analyze.add_argument("--dest", type=Path, default=None, help="output folder (default: beside each video)")
    analyze.add_argument("--overwrite", action="store_true", help="re-analyze videos analyzed before")
    analyze.set_defaults(run=run_analyze)

    outliers = steps.add_parser("outliers", help="extract outlier frames of analyzed videos for refinement")
    common(outliers)
    outliers.add_argument("videos", type=Path, nargs="+", help="analyzed videos")
    outliers.add_argument("--algorithm", default="jump", choices=("jump", "uncertain", "fitting"))
    outliers.add_argument("--extraction", default="kmeans", choices=("kmeans", "uniform"))
    outliers.add_argument(
        "--epsilon", type=number(0, min_open=True), default=20.0, help="jump threshold, pixels, above 0 (default 20)"
    )
    outliers.add_argument(
        "--p-bound", type=number(0, 1), default=0.01, help="likelihood bound for 'uncertain', 0-1 (default 0.01)"
    )
    outliers.add_argument("--snapshot", type=Path, default=None, help="snapshot whose analysis to use")
    outliers.set_defaults(run=run_outliers)

    add_frames = steps.add_parser("add-frames", help="add chosen frames of a video to labeled-data")
    add_frames.add_argument("config", type=Path, help="the DeepLabCut project's config.yaml")
    add_frames.add_argument("video", type=Path, help="the video")
    add_frames.add_argument("frames", type=whole_number(0), nargs="*", help="frame numbers (0-based, >= 0)")
    add_frames.add_argument(
        "--from",
        dest="from_file",
        type=Path,
        default=None,
        help="take frames from a pose-3d CSV (reprojection error) or an analysis states.csv (low state probability)",
    )
    add_frames.add_argument(
        "--error-px", type=number(0, min_open=True), default=10.0,
        help="reprojection error threshold, pixels, above 0 (default 10)",
    )
    add_frames.add_argument(
        "--probability", type=number(0, 1), default=0.6, help="state probability threshold, 0-1 (default 0.6)"
    )
    add_frames.add_argument(
        "--max-frames", type=whole_number(1), default=None, help="at most this many frames (>= 1), evenly spread"
    )
    add_frames.add_argument(
        "--predictions", type=Path, default=None, help="DeepLabCut analysis .h5 of the video (machine labels)"
    )
    add_frames.set_defaults(run=run_add_frames)

    merge = steps.add_parser("merge", help="merge refined labels and start the next iteration")
    merge.add_argument("config", type=Path, help="the DeepLabCut project's config.yaml")
    merge.set_defaults(run=run_merge)

    parser.set_defaults(run=_help(parser))


def _help(parser: argparse.ArgumentParser):
    def run(args) -> int:
        parser.print_help()
        return 1

    return run


def _progress_bar(total: int, unit: str):
    from tqdm import tqdm

    return tqdm(total=total, unit=unit, file=sys.stderr, dynamic_ncols=True)


def run_networks(args) -> int:
    from ..tracking import dlc

    for name in dlc.available_networks():
        mark = "  (suggested on a CPU)" if name == dlc.SUGGESTED_CPU_NETWORK else ""
        print(f"{name}{mark}")
    return 0


def run_create_dataset(args) -> int:
    from ..tracking import dlc

    result = dlc.create_training_dataset(
        args.config,
        net_type=args.net or dlc.SUGGESTED_CPU_NETWORK,
        shuffle=args.shuffle,
        train_fraction=args.train_fraction,
        fit_crop_to_images=not args.keep_crop,
    )
    print(f"training dataset for shuffle {args.shuffle} ({result['net_type']}, train fraction "
          f"{result['train_fraction']}): {result['train_folder']}")
    if result.get("crop_size"):
        print(f"training crop fitted to the frames: {result['crop_size'][0]}x{result['crop_size'][1]} px")
    return 0


def run_train(args) -> int:
    from ..errors import Cancelled
    from ..tracking import dlc

    job = dlc.TrainingJob(
        args.config,
        shuffle=args.shuffle,
        epochs=args.epochs,
        batch_size=args.batch_size,
        save_epochs=args.save_epochs,
        init=args.init,
        trainingsetindex=args.trainingsetindex,
        max_snapshots_to_keep=args.max_snapshots,
        device=args.device,
    )
    bar = _progress_bar(args.epochs, "epoch")
    try:
        for event in job.events():
            if event.epoch > 0:
                bar.total = event.n_epochs
                bar.n = event.epoch
                bar.set_postfix_str(f"loss {event.train_loss:.5f}")
                bar.refresh()
            elif event.message:
                bar.write(event.message, file=sys.stderr)
    except KeyboardInterrupt:
        job.cancel()
        bar.close()
        kept = job.snapshots()
        print(f"training stopped; {len(kept)} snapshot(s) kept in {job.train_folder}", file=sys.stderr)
        raise
    except Cancelled:
        bar.close()
        return 130
    bar.close()
    snapshots = job.snapshots()
    if job.history:
        epoch, loss, _ = job.history[-1]
        print(f"trained to epoch {epoch}, train loss {loss:.5f}")
    print(f"snapshots in {job.train_folder}: {', '.join(p.name for p in snapshots) or 'none'}")
    return 0


def _px(value: float) -> str:
    return "n/a" if value is None or math.isnan(value) else f"{value:.2f} px"


def run_evaluate(args) -> int:
    from ..tracking import dlc

    result = dlc.evaluate(args.config, shuffle=args.shuffle, trainingsetindex=args.trainingsetindex,
                          snapshot=args.snapshot)
    print(f"{result.scorer} (epoch {result.epochs})")
    print(f"train error: {_px(result.train_error_px)}   test error: {_px(result.test_error_px)}")
    print(f"with p-cutoff: train {_px(result.train_error_pcutoff_px)}   test {_px(result.test_error_pcutoff_px)}")
    for split, errors in result.per_keypoint.items():
        print(f"{split}: " + ", ".join(f"{k} {v:.2f}" for k, v in errors.items()))
    print(f"results: {result.results_csv}")
    return 0


def run_analyze(args) -> int:
    from ..tracking import dlc

    job = dlc.AnalysisJob(
        args.config,
        args.videos,
        shuffle=args.shuffle,
        trainingsetindex=args.trainingsetindex,
        snapshot=args.snapshot,
        destfolder=args.dest,
        overwrite=args.overwrite,
    )
    bar = _progress_bar(len(args.videos), "video")
    try:
        for event in job.events():
            bar.n = event.done
            bar.set_postfix_str(event.message[-60:])
            bar.refresh()
    except KeyboardInterrupt:
        job.cancel()
        raise
    finally:
        bar.close()
    for output in job.outputs:
        print(output)
    return 0


def run_outliers(args) -> int:
    from ..tracking import dlc

    added = dlc.extract_outlier_frames(
        args.config,
        args.videos,
        shuffle=args.shuffle,
        trainingsetindex=args.trainingsetindex,
        algorithm=args.algorithm,
        extraction=args.extraction,
        epsilon_px=args.epsilon,
        p_bound=args.p_bound,
        snapshot=args.snapshot,
    )
    for video, images in added.items():
        print(f"{video}: {len(images)} frame(s) added to labeled-data/{video}")
    return 0


def run_add_frames(args) -> int:
    from ..tracking import dlc

    from ..errors import DataError

    frames = list(args.frames)
    if args.from_file is not None:
        frames += [
            int(f)
            for f in dlc.refinement_frames(
                args.from_file, args.error_px, args.probability, max_frames=args.max_frames
            )
        ]
    if not frames:
        raise DataError("no frames to add: give frame numbers or --from FILE")
    written = dlc.add_frames_to_labeled_data(args.config, args.video, frames, predictions=args.predictions)
    print(f"{len(written)} frame(s) written to labeled-data/{args.video.stem}")
    return 0


def run_merge(args) -> int:
    from ..tracking import dlc

    iteration = dlc.merge_datasets(args.config)
    print(f"merged; the project is now at iteration {iteration}: create a training dataset and train again")
    return 0
