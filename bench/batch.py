"""``facehmm batch`` on this machine: 1 against 2 Dask workers, distributed against one-process EM, cost per stage.

8 synthetic two-camera sessions of 60 s (``facehmm synth --no-video``, 30 fps,
1,800 frames each). Printed, all measured in this run:

1. the wall time of the whole batch (triangulation, features, EM, decoding,
   writing) on a LocalCluster of 1 and of 2 single-threaded process workers,
   each from scratch (``pose-3d`` removed, new ``--out``), ``--repeat`` times
   alternately, and ``speedup <1 worker / 2 workers>`` (goal >= 1.6 on 2
   idle cores). Each cluster is started and *warmed up* first: every worker
   runs the whole per-session path once on a 2-second session (imports,
   numba and jax compilation: about 3-4 s of CPU per worker process, paid
   once per worker whatever the data); that start-up is printed apart, with
   the speedup including it;
2. EM time per iteration, one-process ``FaceHMM`` against
   ``DistributedFaceHMM`` (2 workers) on the same features, the same number
   of iterations (no early stop), and their log-likelihood difference;
3. per stage, seconds of one core per hour of 30 fps video (one session
   timed in this process, one BLAS thread), from which the README projects 500 hours.

Usage: ``PYTHONPATH=src python bench/batch.py [--sessions 8] [--seconds 60] [--states 9] [--repeat 2]``.
The machine's load average is printed first: on a shared machine the wall
times include other people's work. Linux's autogroup scheduler gives every
*session* (terminal, job) one share of the CPU, so a LocalCluster's workers
together get one share however many there are; on a busy machine that
hides any parallel speed-up. The workers therefore start a session of
their own (``os.setsid``), as processes on separate cluster nodes would be
scheduled (``--same-session`` to measure without).
"""

from __future__ import annotations

import argparse
import os

# one thread for every numeric library here too, before numpy and scipy load theirs (threadpoolctl
# limits only the libraries already loaded): the one-process EM is compared with single-threaded
# workers, and on a busy machine a 2-thread BLAS on small matrices is hundreds of times slower
for _name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ[_name] = "1"
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


def _warm_worker(tiny: str, workers: list[str], dask_worker=None) -> None:
    """The per-session path once on this worker's 2-second session: imports, numba and jax compilation."""
    import tempfile as _tempfile

    from napari_facehmm.batch import discover_sessions
    from napari_facehmm.batch import session_tasks as tasks
    from napari_facehmm.features import FeatureSettings
    from napari_facehmm.hmm import FaceHMM

    spec = discover_sessions(tiny)[workers.index(dask_worker.address)]
    series = tasks.prepare_session(spec)
    matrix = tasks.build_session_features(spec.name, series, FeatureSettings())
    model = FaceHMM(n_states=2, n_restarts=1, n_iter=2).fit(matrix.values, matrix.lengths)
    with _tempfile.TemporaryDirectory() as out:
        tasks.decode_and_write(spec.name, series, matrix, model, out, 1, figures=False)


def _stage(message: str) -> str:
    return next((stage for stage in ("landmarks", "decoding") if message.startswith(stage)), "features + EM")


def whole_batch(project: Path, out: Path, n_workers: int, fit: dict, own_session: bool) -> dict:
    """Start and warm a cluster of ``n_workers``, then time the batch: seconds of start-up, batch and per stage."""
    from napari_facehmm.batch import run_batch
    from napari_facehmm.batch.cluster import dask_client

    for folder in project.glob("*/pose-3d"):
        shutil.rmtree(folder)
    started = time.perf_counter()
    with dask_client(n_workers) as client:
        client.wait_for_workers(n_workers)
        if own_session:
            client.run(os.setsid)
        workers = sorted(client.scheduler_info()["workers"])
        tiny = make_project(out.parent / f"warm-{out.name}", n_workers, 2)
        client.run(_warm_worker, str(tiny), workers)
        ready = time.perf_counter()
        worker_cpu = client.run(time.process_time)
        client_cpu = time.process_time()
        stages: dict[str, float] = {}
        last = ready
        job = run_batch(project, out, client, figures=False, **fit)
        try:
            while True:
                _, _, message = next(job)
                now = time.perf_counter()
                stage = _stage(message)
                stages[stage] = stages.get(stage, 0.0) + now - last
                last = now
        except StopIteration as stop:
            result = stop.value
        elapsed = time.perf_counter() - ready
        client_cpu = time.process_time() - client_cpu
        worker_cpu = [after - worker_cpu[worker] for worker, after in client.run(time.process_time).items()]
    return {"start": ready - started, "batch": elapsed, "stages": stages, "log_likelihood": result.log_likelihood,
            "client_cpu": client_cpu, "worker_cpu": worker_cpu}


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
        client.run(os.setsid)  # see the module docstring
        parts = [client.submit(lambda f: (f.values, f.lengths), f) for f in features]
        data = WorkerFeatures(client, parts, [len(f.values) for f in features], values.shape[1])
        data.groups()  # parts on the workers before timing
        started = time.perf_counter()
        estimator = DistributedFaceHMM(**settings)
        for _ in estimator.fit_progress(data):
            pass
        dist_s = (time.perf_counter() - started) / n_iter
    dist = estimator.as_face_hmm()
    print(f"EM on {values.shape[0]} frames x {values.shape[1]} features, {n_states} states, {n_iter} iterations")
    print(f"  one-process  {one_s * 1000:8.1f} ms/iteration")
    print(f"  distributed  {dist_s * 1000:8.1f} ms/iteration (2 workers, includes k-means start and scheduling)")
    print("  (with missing features each worker's E-step is dominated by its missing-value patterns, so the")
    print("   split over workers saves less than half: see the README)")
    print(f"  em_time_ratio {dist_s / one_s:.2f}  (distributed / one-process)")
    relative = abs(dist.log_likelihood_ - one.log_likelihood_) / abs(one.log_likelihood_)
    print(f"  log-likelihood one {one.log_likelihood_:.10g} distributed {dist.log_likelihood_:.10g} "
          f"relative difference {relative:.2e}")


def _timed(function):
    """``(result, wall seconds, CPU seconds of this process)``."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = function()
    return result, time.perf_counter() - wall, time.process_time() - cpu


def tracking_cost(root: Path, seconds: float) -> tuple[float, float, int]:
    """Built-in face tracker on a rendered 640x480 synthetic video: wall and CPU seconds, frames."""
    from napari_facehmm.cli import main as cli
    from napari_facehmm.progress import run_to_end
    from napari_facehmm.tracking.facemesh import track_to_files

    session = root / "video-session"
    assert cli(["synth", "--out", str(session), "--seconds", str(seconds), "--cameras", "1",
                "--size", "640x480", "--seed", "1"]) == 0
    video = next((session / "videos-raw").glob("*.mp4"))
    # the first call loads the models (once per worker): the second is timed
    run_to_end(track_to_files(video, paths={"landmarks": root / "first.h5"}))
    (series, _), wall, cpu = _timed(lambda: run_to_end(track_to_files(video, paths={"landmarks": root / "t.h5"})))
    return wall, cpu, series.n_frames


def stage_costs(project: Path, n_states: int, track_seconds: float) -> None:
    """Seconds of one core per hour of 30 fps video for each stage of one session, in this process."""
    from napari_facehmm.analysis import load_series, summarize
    from napari_facehmm.analysis_outputs import write_outputs
    from napari_facehmm.features import FeatureSettings, build_features
    from napari_facehmm.hmm import FaceHMM
    from napari_facehmm.progress import run_to_end
    from napari_facehmm.tracking.anipose.project_jobs import triangulate_session

    sessions = sorted(p for p in project.iterdir() if p.is_dir())
    rows = []
    with tempfile.TemporaryDirectory() as work:
        work = Path(work)
        if track_seconds > 0:
            wall, cpu, frames = tracking_cost(work, track_seconds)
            rows.append(("tracking (1 camera)", wall, cpu, frames))
        for index, session in enumerate(sessions[:2]):  # the first pays imports and compilation: the second counts
            files = {p.stem.rsplit("-", 1)[1]: p for p in sorted((session / "pose-2d").glob("*.h5"))}
            output = work / f"pose-3d-{index}.csv"
            _, triangulate_wall, triangulate_cpu = _timed(lambda: run_to_end(triangulate_session(
                files, session / "calibration" / "calibration.toml", output, fps=30.0, reprojection_qc=False)))
            series = load_series(output, fps=30.0)
            features, features_wall, features_cpu = _timed(lambda: build_features(series, FeatureSettings()))
        n_frames = series.n_frames
        rows.append(("triangulation (2 cameras)", triangulate_wall, triangulate_cpu, n_frames))
        rows.append(("features", features_wall, features_cpu, n_frames))
        model = FaceHMM(n_states=n_states, n_restarts=1, n_iter=10, tol=-np.inf, random_state=0)
        model.fit(features.values, features.lengths)  # warm
        _, wall, cpu = _timed(lambda: model.fit(features.values, features.lengths))
        rows.append(("EM iteration (incl. start / 10)", wall / 10, cpu / 10, n_frames))
        result, wall, cpu = _timed(lambda: summarize(series, features, model, n_states))
        _, write_wall, write_cpu = _timed(lambda: run_to_end(write_outputs(result, work / "out", figures=False)))
        rows.append(("decode + write", wall + write_wall, cpu + write_cpu, n_frames))
    print("per stage, per hour of 30 fps video, one core (one BLAS thread):")
    print(f"  {'stage':32s} {'wall s/hour':>12s} {'CPU s/hour':>12s}")
    for stage, wall, cpu, frames in rows:
        hours = frames / 30.0 / 3600.0
        print(f"  {stage:32s} {wall / hours:12.1f} {cpu / hours:12.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--states", type=int, default=9)
    parser.add_argument("--iterations", type=int, default=30)
    parser.add_argument("--repeat", type=int, default=2, help="runs of 1 then 2 workers")
    parser.add_argument("--track-seconds", type=float, default=5, help="video for the tracking cost (0: skip)")
    parser.add_argument("--same-session", action="store_true", help="workers stay in this session (autogroup)")
    args = parser.parse_args()
    from napari_facehmm.hmm import FaceHMM

    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    fit = {"n_states": args.states, "n_restarts": 1, "n_iter": args.iterations, "seed": 0}
    with tempfile.TemporaryDirectory() as root:
        root = Path(root)
        project = make_project(root, args.sessions, args.seconds)
        # the client's own first fit pays sklearn's imports: not in the first timed batch
        FaceHMM(n_states=2, n_restarts=1, n_iter=2).fit(np.random.default_rng(0).normal(size=(100, 3)))
        print(f"{args.sessions} sessions of {args.seconds:g} s; batch with {fit}; "
              f"workers in {'this session' if args.same_session else 'sessions of their own'}")
        speedups = []
        for repeat in range(args.repeat):
            runs = {n: whole_batch(project, root / f"out{repeat}-{n}", n, fit, not args.same_session) for n in (1, 2)}
            for n, run in runs.items():
                stages = ", ".join(f"{stage} {seconds:.1f}" for stage, seconds in run["stages"].items())
                print(f"  {n} worker(s): start + warm-up {run['start']:5.1f} s, batch {run['batch']:6.1f} s ({stages}); "
                      f"log-likelihood {run['log_likelihood']:.10g}")
                print(f"      CPU s: client {run['client_cpu']:.1f}, workers "
                      f"{' + '.join(f'{c:.1f}' for c in run['worker_cpu'])}")
            speedup = runs[1]["batch"] / runs[2]["batch"]
            whole = (runs[1]["start"] + runs[1]["batch"]) / (runs[2]["start"] + runs[2]["batch"])
            speedups.append(speedup)
            # on idle cores a batch takes about the client's CPU plus the busiest worker's (they mostly
            # alternate: M-step / E-step); an estimate, not a measurement
            idle = [runs[n]["client_cpu"] + max(runs[n]["worker_cpu"]) for n in (1, 2)]
            print(f"speedup {speedup:.2f}  (goal >= 1.6; with start-up and warm-up {whole:.2f}); "
                  f"load average {os.getloadavg()[0]:.1f}; from CPU times (client + busiest worker) "
                  f"{idle[0]:.1f} / {idle[1]:.1f} s = {idle[0] / idle[1]:.2f}")
        print(f"speedups {' '.join(f'{v:.2f}' for v in speedups)}")
        em_per_iteration(project, args.states, args.iterations)
        stage_costs(project, args.states, args.track_seconds)
        print(f"load average {os.getloadavg()[0]:.1f} at the end")


if __name__ == "__main__":
    main()
