"""Benchmark and known answer: ``--states auto`` on a synthetic face session of a given length.

Simulates a face with ``--true-states`` expression states
(:func:`napari_facehmm.synthetic.face.simulate_face`, the same generator as
``facehmm synth``; its true 3D landmarks, no video), builds the features the
analysis uses (rigid alignment, expression + head: 65 features, of which the
selection keeps 59 linearly independent ones) and runs the selection exactly as
``facehmm analyze --states auto`` does
(:func:`napari_facehmm.analysis_selection.select_states`: every candidate with
restarts on the training blocks, held-out log-likelihood of every 5th time
block, the one-standard-error rule), printing progress every few seconds.

Usage::

    python bench/model_selection.py --minutes 60 --true-states 9      # an hour: K=2..12, 3 restarts
    python bench/model_selection.py --minutes 10 --true-states 4 --states 2-6
    python bench/model_selection.py --minutes 1 --cancel-after 5      # Cancel latency

The last lines printed are exactly::

    frames <int>
    seconds <float>  (CPU <float> s)   the whole selection, k-means included; wall clock and CPU time
    chosen <K> true <K>
    <the selection table>

BLAS runs on the threads it finds (as in an analysis); the machine's load
changes the time a lot: say how busy it was (``uptime``) beside the figure.
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def main(argv=None) -> int:
    from napari_facehmm.analysis_selection import select_states
    from napari_facehmm.errors import Cancelled
    from napari_facehmm.features import FeatureSettings, build_features
    from napari_facehmm.hmm.selection import parse_states
    from napari_facehmm.synthetic.face import simulate_face

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=60.0, help="session length (default 60: 108,000 frames)")
    parser.add_argument("--true-states", type=int, default=9)
    parser.add_argument("--states", default="auto", help="candidates: auto (2-12) or A-B")
    parser.add_argument("--restarts", type=int, default=3)
    parser.add_argument("--covariance", default="full")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cancel-after", type=float, default=None, help="ask to stop after this many seconds")
    args = parser.parse_args(argv)

    fps = 30.0
    n_frames = int(round(args.minutes * 60 * fps))
    started = time.perf_counter()
    simulation = simulate_face(n_frames, fps=fps, seed=args.seed, n_states=args.true_states)
    features = build_features(simulation.to_series(), FeatureSettings())
    print(f"simulated and built features {features.values.shape} in {time.perf_counter() - started:.1f} s")

    candidates = parse_states(args.states)
    candidates = (candidates,) if isinstance(candidates, int) else candidates
    stop_at = None if args.cancel_after is None else time.perf_counter() + args.cancel_after
    asked = {}

    def check_stop():
        if stop_at is not None and time.perf_counter() > stop_at:
            asked.setdefault("at", time.perf_counter())
            raise Cancelled("cancelled")

    started, cpu_started = time.perf_counter(), time.process_time()
    last_print = 0.0
    job = select_states(
        features.values, features.lengths, candidates, n_restarts=args.restarts, seed=args.seed,
        hmm_options={"covariance_type": args.covariance}, check_stop=check_stop,
    )
    try:
        while True:
            done, total, message = next(job)
            now = time.perf_counter() - started
            if now - last_print > 10:
                print(f"{now:7.1f} s  {done:3d}/{total}  {message}", flush=True)
                last_print = now
    except StopIteration as stop:
        selection = stop.value
    except Cancelled:
        print(f"cancelled {time.perf_counter() - stop_at:.2f} s after the request")
        return 0
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    print(selection.reason)
    print(f"frames {n_frames}")
    print(f"seconds {elapsed:.1f}  (CPU {cpu:.1f} s)")
    print(f"chosen {selection.n_states} true {args.true_states}")
    columns = ["n_states", "bic", "heldout_log_likelihood_per_frame", "heldout_gap_per_frame", "heldout_gap_se",
               "restart_ari_mean", "converged"]
    with np.printoptions(linewidth=160):
        print(selection.table[columns].round(3).to_string(index=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
