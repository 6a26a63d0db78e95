"""Accuracy of the built-in face tracker on a rendered session whose truth is known.

Renders a 640x480, 30 fps two-camera synthetic session (20 s by default; the
first argument sets the seconds), tracks each camera's video with
:func:`napari_facehmm.tracking.facemesh.track_video` and compares the 21
landmarks with their true projections (``SessionTruth.points_2d_true``).

Prints a Markdown table: each landmark's median error over the frames (px) on
each camera, then the median over the 21 landmarks and the fraction of frames
in which a face was found. The last line is::

    track_median_error_px <camA> <camB>   (target <= 8)

The truth is the centre of the rendered landmark; MediaPipe's mesh vertices
are its own definition of the same facial points (``face.FACEMESH_VERTICES``
maps them), so part of the error is a fixed offset between the two
definitions, not noise.

Run: ``python bench/track_accuracy.py [seconds]`` (about a minute for 20 s).
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("GLOG_minloglevel", "2")

import numpy as np

FPS = 30.0
SIZE = (640, 480)


def main() -> None:
    from napari_facehmm.face import FACE_KEYPOINTS
    from napari_facehmm.progress import run_to_end
    from napari_facehmm.synthetic import generate_session
    from napari_facehmm.tracking.facemesh import track_video

    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 20.0
    with tempfile.TemporaryDirectory() as folder:
        print(f"rendering a {seconds:g} s {SIZE[0]}x{SIZE[1]} two-camera session ...", flush=True)
        truth = generate_session(
            Path(folder), n_cameras=2, seconds=seconds, fps=FPS, seed=0, size=SIZE, n_board_frames=1
        )
        cameras = truth.camera_names
        per_landmark_px = {}
        found_fraction = {}
        for camera in cameras:
            series = run_to_end(track_video(truth.video_paths[camera]))
            error_px = np.linalg.norm(series.positions - truth.points_2d_true[camera], axis=-1)
            per_landmark_px[camera] = np.nanmedian(error_px, axis=0)
            found_fraction[camera] = np.isfinite(series.positions).all(axis=(1, 2)).mean()

    print()
    print(f"Median error (px) of each landmark over {truth.n_frames} frames, {SIZE[0]}x{SIZE[1]}:")
    print()
    print("| landmark | " + " | ".join(cameras) + " |")
    print("|---|" + "---:|" * len(cameras))
    for k, name in enumerate(FACE_KEYPOINTS):
        print(f"| {name} | " + " | ".join(f"{per_landmark_px[c][k]:.1f}" for c in cameras) + " |")
    medians = {c: float(np.median(per_landmark_px[c])) for c in cameras}
    print("| **median of the 21** | " + " | ".join(f"**{medians[c]:.1f}**" for c in cameras) + " |")
    print("| frames with a face | " + " | ".join(f"{found_fraction[c]:.1%}" for c in cameras) + " |")
    print()
    print("track_median_error_px " + " ".join(f"{medians[c]:.2f}" for c in cameras) + "   (target <= 8)")


if __name__ == "__main__":
    main()
