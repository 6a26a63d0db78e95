"""How long ``generate_session`` takes for a 60 s, 2-camera, 30 fps, 320x240 session.

Prints wall and CPU seconds per stage and the ratio session length / wall
time (how many times faster than real time). On a shared machine wall time
depends on load; CPU time is the steadier number.

    python bench/synth_session.py [--seconds 60] [--size 320x240]
"""

from __future__ import annotations

import argparse
import tempfile
import time


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--size", default="320x240")
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.split("x"))

    from napari_facehmm.synthetic import generate_session

    stages: dict[str, list[float]] = {}
    last = [time.perf_counter(), time.process_time()]

    def progress(done: int, total: int, message: str) -> None:
        now = [time.perf_counter(), time.process_time()]
        stage = message.split(" ")[0] if not message.startswith("ChArUco") else "ChArUco"
        entry = stages.setdefault(stage, [0.0, 0.0])
        entry[0] += now[0] - last[0]
        entry[1] += now[1] - last[1]
        last[:] = now

    with tempfile.TemporaryDirectory() as folder:
        for render_video in (False, True):
            stages.clear()
            wall, cpu = time.perf_counter(), time.process_time()
            last[:] = [wall, cpu]
            generate_session(folder, n_cameras=2, seconds=args.seconds, fps=30.0, seed=0,
                             size=(width, height), render_video=render_video, progress=progress)
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            label = "with videos" if render_video else "tracks+truth only"
            print(f"{label:>18}: wall {wall:6.1f} s, cpu {cpu:6.1f} s, "
                  f"session/wall = {args.seconds / wall:5.2f}x real time")
            for stage, (stage_wall, stage_cpu) in stages.items():
                print(f"{'':>20}{stage:<12} wall {stage_wall:6.1f} s, cpu {stage_cpu:6.1f} s")


if __name__ == "__main__":
    main()
