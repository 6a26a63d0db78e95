"""``facehmm batch`` on this machine: 1 against 2 Dask workers, distributed against one-process EM, cost per stage.

8 synthetic two-camera sessions of 60 s (``facehmm synth --no-video``, 30 fps,
1,800 frames each). Printed, all measured in this run:

1. the wall time of the whole batch (triangulation, features, EM, decoding,
   writing) on a LocalCluster of 1 and of 2 single-threaded process workers,
   each from scratch (``pose-3d`` removed, new ``--out``), and
   ``speedup <1 worker / 2 workers>`` (goal >= 1.6 on 2 idle cores);
2. EM time per iteration, one-process ``FaceHMM`` against
   ``DistributedFaceHMM`` (2 workers) on the same features, the same number
   of iterations (no early stop), and their log-likelihood difference;
3. per stage, seconds of one core per hour of 30 fps video (one session
   timed in this process, one BLAS thread), from which the README projects 500 hours.

Usage: ``PYTHONPATH=src python bench/batch.py [--sessions 8] [--seconds 60] [--states 9]``.
The machine's load average is printed first: on a shared machine the wall
times include other people's work.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np


def make_project(root: Path, n_sessions: int, seconds: float) -> Path:
    from napari_facehmm.cli import main

    project = root / "project"
    for number in range(1, n_sessions + 1):
        name = f"s{number}"
        status = main(["synth", "--out", str(project / name), "--seconds", str(seconds), "--no-video",
                       "--session", name, "--seed", str(number)])
        assert status == 0
    return project


def whole_batch(project: Path, out: Path, n_workers: int, fit: dict) -> tuple[float, float]:
    from napari_facehmm.batch import run_batch
    from napari_facehmm.batch.cluster import dask_client
    from napari_facehmm.progress import run_to_end

    for folder in project.glob("*/pose-3d"):
        shutil.rmtree(folder)
    with dask_client(n_workers) as client:
        client.wait_for_workers(n_workers)
        started = time.perf_counter()
        result = run_to_end(run_batch(project, out, client, figures=False, **fit))
        elapsed = time.perf_counter() - started
    return elapsed, result.log_likelihood


def em_per_iteration(project: Path, n_states: int, n_iter: int) -> None:
    from napari_facehmm.analysis import load_series
    from napari_facehmm.analysis_sessions import shared_features
    from napari_facehmm.batch import DistributedFaceHMM, WorkerFeatures
    from napari_facehmm.batch.cluster import dask_client
    from napari_facehmm.features import FeatureSettings
    from napari_facehmm.hmm import FaceHMM

    paths = sorted(project.glob("*/pose-3d/*.csv"))
    series = [load_series(p, fps=30.0) for p in paths]
    features = shared_features(series, [p.stem for p in paths], FeatureSettings(), n_states)
    values = np.concatenate([f.values for f in features])
    lengths = np.concatenate([f.lengths for f in features])
    settings = {"n_states": n_states, "n_restarts": 1, "n_iter": n_iter, "tol": -np.inf, "random_state": 0}
    started = time.perf_counter()
    one = FaceHMM(**settings).fit(values, lengths)
    one_s = (time.perf_counter() - started) / n_iter
    with dask_client(2) as client:
        client.wait_for_workers(2)
        parts = [client.submit(lambda f: (f.values, f.lengths), f) for f in features]
        data = WorkerFeatures(client, parts, [len(f.values) for f in features], values.shape[1])
        data.mean_covariance()  # parts on the workers before timing
        started = time.perf_counter()
        estimator = DistributedFaceHMM(**settings)
        for _ in estimator.fit_progress(data):
            pass
        dist_s = (time.perf_counter() - started) / n_iter
    dist = estimator.as_face_hmm()
    print(f"EM on {values.shape[0]} frames x {values.shape[1]} features, {n_states} states, {n_iter} iterations")
    print(f"  one-process  {one_s * 1000:8.1f} ms/iteration")
    print(f"  distributed  {dist_s * 1000:8.1f} ms/iteration (2 workers, includes k-means start and scheduling)")
    print(f"  em_time_ratio {dist_s / one_s:.2f}  (distributed / one-process)")
    relative = abs(dist.log_likelihood_ - one.log_likelihood_) / abs(one.log_likelihood_)
    print(f"  log-likelihood one {one.log_likelihood_:.10g} distributed {dist.log_likelihood_:.10g} "
          f"relative difference {relative:.2e}")


def stage_costs(project: Path, n_states: int) -> None:
    """Seconds per hour of 30 fps video for each stage of one session, in this process (one core)."""
    from napari_facehmm.analysis import load_series, summarize
    from napari_facehmm.analysis_outputs import write_outputs
    from napari_facehmm.features import FeatureSettings, build_features
    from napari_facehmm.hmm import FaceHMM
    from napari_facehmm.progress import run_to_end
    from napari_facehmm.tracking.anipose.project_jobs import triangulate_session

    session = sorted(p for p in project.iterdir() if p.is_dir())[0]
    files = {p.stem.rsplit("-", 1)[1]: p for p in sorted((session / "pose-2d").glob("*.h5"))}
    with tempfile.TemporaryDirectory() as work:
        output = Path(work) / "pose-3d.csv"
        started = time.perf_counter()
        run_to_end(triangulate_session(files, session / "calibration" / "calibration.toml", output,
                                       fps=30.0, reprojection_qc=False))
        triangulate_s = time.perf_counter() - started
        series = load_series(output, fps=30.0)
        started = time.perf_counter()
        features = build_features(series, FeatureSettings())
        features_s = time.perf_counter() - started
        model = FaceHMM(n_states=n_states, n_restarts=1, n_iter=10, tol=-np.inf, random_state=0)
        started = time.perf_counter()
        model.fit(features.values, features.lengths)
        iteration_s = (time.perf_counter() - started) / 10
        started = time.perf_counter()
        result = summarize(series, features, model, n_states)
        run_to_end(write_outputs(result, Path(work) / "out", figures=False))
        decode_s = time.perf_counter() - started
    hours = series.n_frames / 30.0 / 3600.0
    print(f"per stage, one core, per hour of 30 fps video (from one {series.n_frames}-frame session):")
    for stage, seconds in (("triangulation", triangulate_s), ("features", features_s),
                           ("EM iteration", iteration_s), ("decode + write", decode_s)):
        print(f"  {stage:15s} {seconds / hours:9.1f} s/hour")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--states", type=int, default=9)
    parser.add_argument("--iterations", type=int, default=30)
    args = parser.parse_args()
    from threadpoolctl import threadpool_limits

    # one BLAS thread here too, as in each worker: the one-process EM and the client's M-step
    # are compared with single-threaded workers (and a busy machine punishes oversubscription)
    threadpool_limits(1)
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    fit = {"n_states": args.states, "n_restarts": 1, "n_iter": args.iterations, "seed": 0}
    with tempfile.TemporaryDirectory() as root:
        root = Path(root)
        project = make_project(root, args.sessions, args.seconds)
        print(f"{args.sessions} sessions of {args.seconds:g} s; batch with {fit}")
        one_s, one_ll = whole_batch(project, root / "out1", 1, fit)
        two_s, two_ll = whole_batch(project, root / "out2", 2, fit)
        print(f"  1 worker  {one_s:7.1f} s")
        print(f"  2 workers {two_s:7.1f} s  (log-likelihoods {one_ll:.10g} / {two_ll:.10g})")
        print(f"speedup {one_s / two_s:.2f}  (goal >= 1.6)")
        em_per_iteration(project, args.states, args.iterations)
        stage_costs(project, args.states)
        print(f"load average {os.getloadavg()[0]:.1f} at the end")


if __name__ == "__main__":
    main()
