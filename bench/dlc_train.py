"""Train DeepLabCut on the synthetic face session until the test error is under a target.

Not a CI test: on a 2-core CPU this takes tens of minutes to hours.

    python bench/dlc_train.py OUT_DIR [--seconds 20] [--frames 120] [--net cspnext_s]
                              [--target-px 3] [--chunk 10] [--max-epochs 300] [--batch-size 8]

Steps: render a one-camera synthetic session (320x240, the 21 face landmarks
drawn as distinct colored marks), label ``--frames`` frames spread over the
video with their true pixels (``points_2d_true``), make a DeepLabCut project,
create the training dataset (train fraction 0.8), then train in chunks of
``--chunk`` epochs (each chunk continues from the last snapshot), evaluating
after every chunk, until DeepLabCut's test RMSE is below ``--target-px`` or
``--max-epochs`` is reached. Prints per chunk: epochs, wall and CPU time of
the child processes, train/test error; finally the analysis of the whole
video against the truth (median pixel error).

CPU time is that of the DeepLabCut child processes (``RUSAGE_CHILDREN``), so
other users of a shared machine do not inflate it; wall time does include them.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

import numpy as np


def _cpu_children_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def make_project(out_dir: Path, seconds: float, n_frames_labeled: int, seed: int) -> tuple[Path, Path, np.ndarray]:
    import cv2
    import yaml

    from napari_facehmm import synthetic
    from napari_facehmm.io.dlc import LabelData, write_labels
    from napari_facehmm.io.video import VideoReader

    truth = synthetic.generate_session(out_dir / "session", n_cameras=1, seconds=seconds, seed=seed)
    camera = truth.camera_names[0]
    video = truth.video_paths[camera]
    points_2d = truth.points_2d_true[camera]  # (T, 21, 2)
    project = out_dir / "dlc-project"
    video_name = video.stem
    labeled = project / "labeled-data" / video_name
    labeled.mkdir(parents=True, exist_ok=True)
    with VideoReader(video) as reader:
        n_frames = len(reader)
        picks = np.linspace(0, n_frames - 1, n_frames_labeled).round().astype(int)
        width = int(np.ceil(np.log10(n_frames)))
        images = []
        for index in picks:
            name = f"img{str(index).zfill(width)}.png"
            cv2.imwrite(str(labeled / name), reader[int(index)][:, :, ::-1])
            images.append(f"labeled-data/{video_name}/{name}")
        size = (reader.width, reader.height)
    labels = LabelData("bench", truth.keypoints, images, points_2d[picks])
    write_labels(labels, labeled / "CollectedData_bench.h5")
    config = {
        "Task": "synthface",
        "scorer": "bench",
        "date": "Nov26",
        "multianimalproject": False,
        "identity": None,
        "project_path": str(project),
        "engine": "pytorch",
        "video_sets": {str(video): {"crop": f"0, {size[0]}, 0, {size[1]}"}},
        "bodyparts": list(truth.keypoints),
        "start": 0,
        "stop": 1,
        "numframes2pick": 20,
        "skeleton": [list(edge) for edge in truth.skeleton],
        "skeleton_color": "black",
        "pcutoff": 0.6,
        "dotsize": 3,
        "alphavalue": 0.7,
        "colormap": "rainbow",
        "TrainingFraction": [0.8],
        "iteration": 0,
        "default_net_type": "resnet_50",
        "default_augmenter": "default",
        "snapshotindex": -1,
        "detector_snapshotindex": -1,
        "batch_size": 8,
        "detector_batch_size": 1,
        "cropping": False,
        "x1": 0,
        "x2": size[0],
        "y1": 0,
        "y2": size[1],
        "corner2move2": [50, 50],
        "move2corner": True,
    }
    (project / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    return project / "config.yaml", video, points_2d


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--frames", type=int, default=120, help="labeled frames")
    parser.add_argument("--net", default="cspnext_s")
    parser.add_argument("--target-px", type=float, default=3.0)
    parser.add_argument("--chunk", type=int, default=10, help="epochs between evaluations")
    parser.add_argument("--max-epochs", type=int, default=300)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--init", default="random", help="random, auto, or a weights file")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    from napari_facehmm.io.dlc import read_dlc_analysis
    from napari_facehmm.tracking import dlc

    args.out_dir.mkdir(parents=True, exist_ok=True)
    config, video, truth_px = make_project(args.out_dir, args.seconds, args.frames, args.seed)
    print(f"project {config}; video {video.name}, {len(truth_px)} frames; {args.frames} labeled", flush=True)
    dataset = dlc.create_training_dataset(config, net_type=args.net, train_fraction=0.8)
    print(f"dataset: {dataset['net_type']}, crop {dataset['crop_size']}", flush=True)

    wall_start, cpu_start = time.monotonic(), _cpu_children_s()
    init = args.init
    epochs_done = 0
    result = None
    while epochs_done < args.max_epochs:
        chunk = min(args.chunk, args.max_epochs - epochs_done)
        # save_epochs = chunk: one snapshot per chunk; later chunks continue from it
        for _ in dlc.train(config, epochs=chunk, batch_size=args.batch_size, save_epochs=chunk, init=init):
            pass
        # the newest snapshot, not DeepLabCut's "best" (listed last) of an earlier epoch
        latest = dlc.latest_snapshot(dlc.find_snapshots(config))
        init = str(latest)
        epochs_done += chunk
        result = dlc.evaluate(config, snapshot=latest)
        print(
            f"epoch {result.epochs}: train {result.train_error_px:.2f} px, test {result.test_error_px:.2f} px; "
            f"wall {time.monotonic() - wall_start:.0f} s, CPU {_cpu_children_s() - cpu_start:.0f} s",
            flush=True,
        )
        if result.test_error_px < args.target_px:
            break
    reached = result is not None and result.test_error_px < args.target_px
    print(
        f"{'reached' if reached else 'did NOT reach'} test error < {args.target_px} px after {epochs_done} epochs; "
        f"CPU {_cpu_children_s() - cpu_start:.0f} s, wall {time.monotonic() - wall_start:.0f} s"
    )
    latest = dlc.latest_snapshot(dlc.find_snapshots(config))
    outputs = [p.output for p in dlc.analyze_videos(config, [video], snapshot=latest) if p.output is not None]
    series = read_dlc_analysis(outputs[0])
    error_px = np.linalg.norm(series.positions - truth_px, axis=2)
    print(f"whole video vs truth: median {np.nanmedian(error_px):.2f} px, 95th pct {np.nanpercentile(error_px, 95):.2f} px")
    return 0 if reached else 1


if __name__ == "__main__":
    sys.exit(main())
