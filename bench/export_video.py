"""``facehmm export --to video`` speed at 640x480: frames per second and the ratio to real time.

A synthetic session (``facehmm synth``, 640x480, 30 fps, 1 and 2 cameras) with
known states written as an analysis folder; then, all measured in this run:

1. decoding alone (the baseline: :class:`VideoReader` over every frame of every camera);
2. drawing without encoding (``write_states_video(..., encode=False)``);
3. drawing and encoding (the export as users run it: libx264 ``veryfast``, crf 23).

Each prints frames per second and ``x real time`` = output frames per second / 30
(above 1: faster than real time). Usage: ``PYTHONPATH=src python bench/export_video.py [--seconds 10]``.
The load average is printed first: on a shared machine the times include other people's work.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd


def make_session(root: Path, cameras: int, seconds: float, fps: float) -> tuple[Path, Path, int]:
    from napari_facehmm.synthetic import generate_session

    folder = root / f"session{cameras}"
    generate_session(folder, n_cameras=cameras, seconds=seconds, fps=fps, seed=0, size=(640, 480), n_states=6, n_board_frames=4)
    n_frames = int(round(seconds * fps))
    truth = pd.read_csv(folder / "truth" / "states.csv")
    analysis = root / f"analysis{cameras}"
    analysis.mkdir()
    state_column = "state" if "state" in truth.columns else truth.columns[-1]
    pd.DataFrame({"frame": np.arange(n_frames), "state": truth[state_column].to_numpy()[:n_frames]}).to_csv(
        analysis / "states.csv", index=False
    )
    (analysis / "summary.json").write_text(json.dumps({"n_states": 6}))
    return folder, analysis, n_frames


def timed(job) -> float:
    from napari_facehmm.progress import run_to_end

    start = time.perf_counter()
    run_to_end(job)
    return time.perf_counter() - start


def decode_only(folder: Path) -> float:
    from napari_facehmm.io.video import VideoReader

    start = time.perf_counter()
    for path in sorted((folder / "videos-raw").glob("*.mp4")):
        with VideoReader(path) as reader:
            for i in range(len(reader)):
                reader.get_frame(i)
    return time.perf_counter() - start


def main() -> None:
    from napari_facehmm.export.video import write_states_video

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    fps = 30.0
    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for cameras in (1, 2):
            folder, analysis, n_frames = make_session(root, cameras, args.seconds, fps)
            rows = {
                "decode only (baseline)": decode_only(folder),
                "draw, no encoding": timed(write_states_video(folder, analysis, root / "x.mp4", encode=False)),
                "draw + H.264 encoding": timed(write_states_video(folder, analysis, root / f"out{cameras}.mp4")),
            }
            print(f"{cameras} camera(s) at 640x480, {n_frames} frames ({args.seconds:g} s at {fps:g} fps):")
            for name, seconds in rows.items():
                rate = n_frames / seconds
                print(f"  {name:24s} {seconds:6.2f} s  {rate:6.1f} frames/s  {rate / fps:5.2f} x real time")


if __name__ == "__main__":
    main()
