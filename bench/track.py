"""Speed of the built-in face tracker against decoding the same video alone.

Renders a 30 s, 30 fps, 640x480 synthetic face video (or takes the video given
as the first argument) and, in this process, alternates two jobs ``N_REPEATS``
times each:

- baseline: PyAV decoding alone, :class:`~napari_facehmm.io.video.VideoReader`
  read sequentially to RGB arrays (what any tracker must pay at least);
- ours: :func:`napari_facehmm.tracking.facemesh.track_video` run to the end
  (decoding on its background thread, MediaPipe's face mesh, 21 landmarks).

It prints the best frames per second of each, the tracker's share of decoding
speed and the tracker's speed over real time. The last line is::

    track_fps <tracker frames per second>   (aim >= 150)

Run: ``python bench/track.py [video]`` (about a minute with rendering).
Timings on a shared machine are noisy; compare the ratios.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("GLOG_minloglevel", "2")

SECONDS = 30.0
FPS = 30.0
SIZE = (640, 480)
N_REPEATS = 3


def render_video(folder: Path) -> Path:
    from napari_facehmm.synthetic import generate_session

    truth = generate_session(folder, n_cameras=1, seconds=SECONDS, fps=FPS, seed=0, size=SIZE, n_board_frames=1)
    return truth.video_paths[truth.camera_names[0]]


def decode_all(path: Path) -> int:
    from napari_facehmm.io.video import VideoReader

    with VideoReader(path, cache_size=1) as reader:
        for i in range(reader.n_frames):
            reader.get_frame(i, copy=False)
        return reader.n_frames


def track_all(path: Path) -> int:
    from napari_facehmm.progress import run_to_end
    from napari_facehmm.tracking.facemesh import track_video

    series = run_to_end(track_video(path))
    return series.n_frames


def measure_fps(job, path: Path, timings: list[float]) -> None:
    start = time.perf_counter()
    n_frames = job(path)
    timings.append(n_frames / (time.perf_counter() - start))


def main() -> None:
    from napari_facehmm.io.video import VideoReader

    with tempfile.TemporaryDirectory() as folder:
        if len(sys.argv) > 1:
            path = Path(sys.argv[1])
        else:
            print(f"rendering a {SECONDS:g} s {SIZE[0]}x{SIZE[1]} synthetic face video ...", flush=True)
            path = render_video(Path(folder))
        with VideoReader(path) as reader:
            n_frames, video_fps, size = reader.n_frames, reader.fps, (reader.width, reader.height)
        print(f"video: {path.name}, {n_frames} frames, {size[0]}x{size[1]}, {video_fps:g} fps")

        track_all(path)  # warm-up: MediaPipe's import and graph set-up
        decode_fps: list[float] = []
        track_fps: list[float] = []
        for _ in range(N_REPEATS):
            measure_fps(decode_all, path, decode_fps)
            measure_fps(track_all, path, track_fps)

    decode, track = max(decode_fps), max(track_fps)
    print(f"decode (VideoReader)  {decode:7.1f} fps   (runs: {', '.join(f'{v:.0f}' for v in decode_fps)})")
    print(f"track_video           {track:7.1f} fps   (runs: {', '.join(f'{v:.0f}' for v in track_fps)})")
    print(f"tracker/decode        {track / decode:7.2f}")
    print(f"tracker/real time     {track / video_fps:7.2f}   ({video_fps:g} fps video)")
    print(f"track_fps {track:.1f}   (aim >= 150)")


if __name__ == "__main__":
    main()
