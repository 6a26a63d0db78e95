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

from ..progress import run_with_progress
from ..tracking.dlc import settings as S
from ._options import add_settings, argument, documented_parser, whole_number


def add_parser(subparsers) -> None:
    parser = documented_parser(
        subparsers,
        "dlc",
        "DeepLabCut tracking: training dataset, training, evaluation, video analysis, refinement",
        __doc__,
    )
    steps = parser.add_subparsers(dest="dlc_step", metavar="STEP")

    # every option's type, range, default and help come from tracking.dlc.settings,
    # which the Tracking dock's forms and the jobs' own checks read too
    def project(step: argparse.ArgumentParser) -> None:
        step.add_argument("config", type=Path, help="the DeepLabCut project's config.yaml")

    def common(step: argparse.ArgumentParser) -> None:
        project(step)
        add_settings(step, S.SHUFFLE, S.TRAININGSETINDEX)

    networks = steps.add_parser("networks", help="list the networks DeepLabCut offers")
    networks.set_defaults(run=run_networks)

    create = steps.add_parser("create-dataset", help="create the training dataset (train/test split)")
    project(create)
    add_settings(create, S.SHUFFLE, S.NET, S.TRAIN_FRACTION)
    create.add_argument(
        "--keep-crop", action="store_true", help="keep DeepLabCut's 448 px training crop for small frames"
    )
    create.set_defaults(run=run_create_dataset)

    train = steps.add_parser("train", help="train a network (progress per epoch)")
    common(train)
    train.add_argument(S.EPOCHS.flag, **argument(S.EPOCHS, default=None, required=True))
    add_settings(train, S.BATCH_SIZE, S.SAVE_EPOCHS, S.INIT, S.MAX_SNAPSHOTS, S.DEVICE)
    train.set_defaults(run=run_train)

    evaluate = steps.add_parser("evaluate", help="train/test pixel errors of a snapshot")
    common(evaluate)
    add_settings(evaluate, S.SNAPSHOT)
    evaluate.set_defaults(run=run_evaluate)

    analyze = steps.add_parser("analyze", help="track videos with a trained snapshot")
    common(analyze)
    analyze.add_argument("videos", type=Path, nargs="+", help="videos to analyze")
    add_settings(analyze, S.SNAPSHOT, S.DEST, S.OVERWRITE)
    analyze.set_defaults(run=run_analyze)

    outliers = steps.add_parser("outliers", help="extract outlier frames of analyzed videos for refinement")
    common(outliers)
    outliers.add_argument("videos", type=Path, nargs="+", help="analyzed videos")
    add_settings(outliers, S.OUTLIER_ALGORITHM, S.OUTLIER_EXTRACTION, S.EPSILON, S.P_BOUND)
    outliers.add_argument(S.SNAPSHOT.flag, **argument(S.SNAPSHOT, help="snapshot whose analysis to use"))
    outliers.set_defaults(run=run_outliers)

    add_frames = steps.add_parser("add-frames", help="add chosen frames of a video to labeled-data")
    project(add_frames)
    add_frames.add_argument("video", type=Path, help="the video")
    add_frames.add_argument("frames", type=whole_number(0), nargs="*", help="frame numbers (0-based, >= 0)")
    add_frames.add_argument(
        "--from",
        dest="from_file",
        type=Path,
        default=None,
        help="take frames from a pose-3d CSV (reprojection error) or an analysis states.csv (low state probability)",
    )
    add_settings(add_frames, S.ERROR_PX, S.PROBABILITY, S.MAX_FRAMES)
    add_frames.add_argument(
        "--predictions", type=Path, default=None, help="DeepLabCut analysis .h5 of the video (machine labels)"
    )
    add_frames.set_defaults(run=run_add_frames)

    merge = steps.add_parser("merge", help="merge refined labels and start the next iteration")
    project(merge)
    merge.set_defaults(run=run_merge)

    parser.set_defaults(run=_help(parser))


def _help(parser: argparse.ArgumentParser):
    def run(args) -> int:
        parser.print_help()
        return 1

    return run


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
        net_type=args.net,
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
    try:
        snapshots = run_with_progress(job.progress(), "training")  # Ctrl+C stops the child like Cancel
    except KeyboardInterrupt:
        kept = job.snapshots()
        print(f"training stopped; {len(kept)} snapshot(s) kept in {job.train_folder}", file=sys.stderr)
        raise
    except Cancelled:
        return 130
    if job.history:
        epoch, loss, _ = job.history[-1]
        print(f"trained to epoch {epoch}, train loss {loss:.5f}")
    print(f"snapshots in {job.train_folder}: {', '.join(p.name for p in snapshots) or 'none'}")
    return 0


def _px(value: float) -> str:
    return "n/a" if value is None or math.isnan(value) else f"{value:.2f} px"


def run_evaluate(args) -> int:
    from ..tracking import dlc

    result = dlc.evaluate(args.config, **_model_choice(args))
    print(f"{result.scorer} (epoch {result.epochs})")
    print(f"train error: {_px(result.train_error_px)}   test error: {_px(result.test_error_px)}")
    print(f"with p-cutoff: train {_px(result.train_error_pcutoff_px)}   test {_px(result.test_error_pcutoff_px)}")
    for split, errors in result.per_keypoint.items():
        print(f"{split}: " + ", ".join(f"{k} {v:.2f}" for k, v in errors.items()))
    print(f"results: {result.results_csv}")
    return 0


def _model_choice(args) -> dict:
    """Which trained model a command uses: the options ``--shuffle``, ``--trainingsetindex``, ``--snapshot``."""
    return {"shuffle": args.shuffle, "trainingsetindex": args.trainingsetindex, "snapshot": args.snapshot}


def run_analyze(args) -> int:
    from ..tracking import dlc

    job = dlc.AnalysisJob(
        args.config,
        args.videos,
        **_model_choice(args),
        destfolder=args.dest,
        overwrite=args.overwrite,
    )
    outputs = run_with_progress(job.progress(), "analyze")  # Ctrl+C stops the child like Cancel
    for output in outputs:
        print(output)
    return 0


def run_outliers(args) -> int:
    from ..tracking import dlc

    added = dlc.extract_outlier_frames(
        args.config,
        args.videos,
        **_model_choice(args),
        algorithm=args.algorithm,
        extraction=args.extraction,
        epsilon_px=args.epsilon,
        p_bound=args.p_bound,
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
