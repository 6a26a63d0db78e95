"""Memory of the lazy video layer: an hour-long video against a one-minute one.

Opening a video through the plugin must not decode it up front, and memory
must stay flat however long the video is: only the frame table (a few bytes
per frame) and a small LRU cache of decoded frames are kept. This benchmark
encodes one minute of 640x480 video at 30 fps, builds an hour-long file from
it by copying its packets 60 times with shifted timestamps (no re-encoding),
and, in a fresh child process per file, opens it as napari's layer data
(:class:`~napari_facehmm.layerdata.VideoFrames`), steps through 300 frames and
jumps to 100 random ones. It prints the growth of the resident memory over
the process before opening (MB), for both files, and as its last line::

    video_memory_ratio <hour growth / minute growth>   (target <= 1.5: flat)

Run: ``python bench/video_memory.py`` (about a minute).
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

FPS = 30
WIDTH, HEIGHT = 640, 480
MINUTE_FRAMES = 60 * FPS
HOUR_REPEATS = 60


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def _minute_video(path: Path) -> None:
    from napari_facehmm.io.video import write_video

    rng = np.random.default_rng(0)
    base = rng.integers(0, 255, size=(HEIGHT, WIDTH, 3), dtype=np.uint8)
    frames = (np.roll(base, 4 * i, axis=1) for i in range(MINUTE_FRAMES))
    write_video(frames, path, fps=FPS, preset="ultrafast")


def _repeat_video(source: Path, target: Path, repeats: int) -> None:
    """``source`` played ``repeats`` times in a row: its packets copied with shifted timestamps."""
    import av

    with av.open(str(source)) as src, av.open(str(target), "w") as dst:
        in_stream = src.streams.video[0]
        out_stream = dst.add_stream_from_template(in_stream)
        packets = [p for p in src.demux(in_stream) if p.size]
        span = max(p.pts for p in packets) - min(p.pts for p in packets) + int(packets[1].duration or 1)
        for r in range(repeats):
            for packet in packets:
                packet.pts += span if r else 0
                packet.dts += span if r else 0
                packet.stream = out_stream
                dst.mux(packet)


def _measure(path: str) -> dict:
    """Run in the child: memory growth of opening and scrubbing ``path``."""
    import av  # noqa: F401  (the libraries are loaded before the baseline)

    from napari_facehmm.io.video import VideoReader
    from napari_facehmm.layerdata import VideoFrames

    before = _rss_mb()
    start = time.perf_counter()
    frames = VideoFrames(VideoReader(path))
    open_s = time.perf_counter() - start
    after_open = _rss_mb()
    n = frames.shape[0]
    for i in range(300):
        frames[i]
    rng = np.random.default_rng(1)
    for index in rng.integers(0, n, size=100):
        frames[int(index)]
    return dict(n_frames=n, open_s=open_s, open_mb=after_open - before, growth_mb=_rss_mb() - before)


def main() -> int:
    if len(sys.argv) == 3 and sys.argv[1] == "--child":
        print(json.dumps(_measure(sys.argv[2])))
        return 0
    with tempfile.TemporaryDirectory() as folder:
        minute = Path(folder) / "minute.mp4"
        hour = Path(folder) / "hour.mp4"
        start = time.perf_counter()
        _minute_video(minute)
        _repeat_video(minute, hour, HOUR_REPEATS)
        print(f"videos written in {time.perf_counter() - start:.0f} s "
              f"({minute.stat().st_size / 1e6:.0f} MB and {hour.stat().st_size / 1e6:.0f} MB)")
        results = {}
        for name, path in (("minute", minute), ("hour", hour)):
            out = subprocess.run(
                [sys.executable, __file__, "--child", str(path)], capture_output=True, text=True, check=True
            )
            results[name] = json.loads(out.stdout.strip().splitlines()[-1])
            r = results[name]
            print(f"{name}: {r['n_frames']} frames, opened in {r['open_s']:.2f} s (+{r['open_mb']:.1f} MB), "
                  f"+{r['growth_mb']:.1f} MB after 300 sequential and 100 random frames")
    assert results["hour"]["n_frames"] == HOUR_REPEATS * results["minute"]["n_frames"]
    print(f"video_memory_ratio {results['hour']['growth_mb'] / results['minute']['growth_mb']:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
