"""Live decoding against the frame interval, and against offline decoding of the same recording.

Fits a model offline on a real face video (``facehmm run``), then plays the
video at its own pace as if it were a camera through
:func:`napari_facehmm.live.run_live` (tracker, features, online decoding,
recording; no window), once with lag 0 and once with a fixed lag. For each it
prints, measured in the same run:

- processing time per frame, median and 95th percentile, and their ratio to
  the frame interval (below 1: the loop keeps up);
- latency from capture to the decided update, median and 95th percentile
  (goal: at most 100 ms; a window adds its drawing time, which the Live dock
  measures);
- frames dropped (goal under 5%);
- agreement of the live states with offline decoding of the recorded
  landmarks by the same model (goal at least 95% with the lag).

The last lines are ``live_lag<L> ...`` one per lag.
Run: ``python bench/live.py [video]`` (about a minute for the 20 s sample video).
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

os.environ.setdefault("GLOG_minloglevel", "2")

VIDEO = Path(__file__).resolve().parents[2] / "shared" / "data" / "pyfeat" / "WolfgangLanger_Pexels.mp4"
LAGS = (0, 5)


def main(video: Path) -> None:
    from napari_facehmm.analysis import decode, features_for_model, load_series
    from napari_facehmm.cli import main as facehmm
    from napari_facehmm.hmm import FaceHMM
    from napari_facehmm.live import VideoFileSource, run_live

    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        assert facehmm(["run", str(video), "--out", str(folder / "run"), "--restarts", "1", "--quiet"]) == 0
        model = FaceHMM.load(folder / "run" / "analysis" / "model.json")
        lines = []
        for lag in LAGS:
            record = folder / f"rec{lag}"
            loop = run_live(model, VideoFileSource(video), lag=lag, record=record)
            while True:
                try:
                    next(loop)
                except StopIteration as end:
                    stats = end.value
                    break
            s = stats.summary()
            interval_ms = 1000.0 / VideoFileSource(video).fps
            live = pd.read_csv(record / "states.csv")["state"].to_numpy(dtype=float)
            series = load_series(record / "pose-2d" / "live-camA.h5")
            offline, _, _ = decode(model, features_for_model(series, model))
            both = np.isfinite(live) & (offline >= 0)
            agreement = float(np.mean(live[both] == offline[both]))
            print(f"lag {lag}: {s['frames_shown']} frames shown, {s['dropped_percent']:.1f}% dropped; "
                  f"processing {s['processing_ms_median']:.1f} ms median, {s['processing_ms_p95']:.1f} ms p95 "
                  f"(frame interval {interval_ms:.1f} ms); latency {s['latency_ms_median']:.1f} ms median, "
                  f"{s['latency_ms_p95']:.1f} ms p95; agreement with offline decoding {agreement:.1%} "
                  f"of {int(both.sum())} frames")
            lines.append(
                f"live_lag{lag} processing_to_interval {s['processing_ms_p95'] / interval_ms:.2f} "
                f"latency_ms {s['latency_ms_median']:.1f} dropped_percent {s['dropped_percent']:.1f} "
                f"agreement {agreement:.3f}   (aim: < 1, <= 100, < 5, >= 0.95)"
            )
        print("\n".join(lines))


if __name__ == "__main__":
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else VIDEO
    if not path.is_file():
        sys.exit(f"no video at {path}: give one as the first argument")
    main(path)
