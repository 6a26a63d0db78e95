"""Benchmark: EM iterations of FastGaussianHMM on features with missing values (NaN), before vs after a change.

Data: a random 9-state HMM with full covariances, D=66 features made of 22
"landmarks" of 3 features each; every landmark is lost (its 3 features NaN)
with probability ``--missing`` (default 5%) per frame, in runs of ``--run``
frames (default 1: independent frames, the most missing-patterns). Split into
``--sessions`` sequences. Fixed seed.

The same EM iterations (``init_params=""``, preset parameters, ``tol=-inf``)
run once with the code of a git revision (``--before``, default f770673: main
before the missing-value E-step was factorised once per pattern, hmm/missing_estep.py)
and once with this tree's ``src``, each in its own subprocess on one thread
(``PYTHONPATH`` chooses the code), alternately ``--repeats`` times; the best
time per iteration of each is compared. The machine may be shared: the load
average is printed, timings are noisy.

Usage::

    python bench/hmm_missing.py                  # T=14,400 (8 x 60 s at 30 fps), 3 iterations
    python bench/hmm_missing.py --frames 4000 --iterations 2 --repeats 1
    python bench/hmm_missing.py --run 30         # missing in runs of 30 frames: fewer patterns

Measured 2026-12-05 (2 shared cores, load average about 3: noisy), T=14,400,
3 iterations, against f770673: 2.22 -> 0.20 s/iter (x11) with independent
frames (1,318 patterns), 0.37 -> 0.10 s/iter (x3.6) with ``--run 30`` (159
patterns); without NaN 0.057 s/iter. Log-likelihoods agree to 2e-16.
With ``--run 150`` (46 patterns) a state collapses onto 16 frames (singular
covariance) in the third iteration: the before code stops with numpy's
LinAlgError (no jitter retry on the sub-covariance), this tree goes on with
hmmlearn's fallback for the full covariance, as for complete rows.

Last lines printed::

    before_s_per_iter <float>
    after_s_per_iter <float>
    speedup <before/after>
    loglik_rel_diff <float>
"""

from __future__ import annotations

import os

for _variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_variable] = "1"

import argparse  # noqa: E402
import json  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tarfile  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
FEATURES_PER_LANDMARK = 3


def make_data(args):
    """(X with NaN, lengths, initial parameters), the same for every child process."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from hmm_em import initial_parameters, make_data as make_complete

    X, _ = make_complete(args.frames, args.features, args.states, args.seed)
    rng = np.random.default_rng(args.seed + 7)
    n_landmarks = args.features // FEATURES_PER_LANDMARK
    n_runs = -(-args.frames // args.run)
    lost = np.repeat(rng.random((n_runs, n_landmarks)) < args.missing, args.run, axis=0)[: args.frames]
    X[np.repeat(lost, FEATURES_PER_LANDMARK, axis=1)] = np.nan
    params = initial_parameters(np.nan_to_num(X), args.states, args.seed)  # random frames as means
    params["means_"] = np.where(np.isnan(params["means_"]), 0.0, params["means_"])
    lengths = np.full(args.sessions, args.frames // args.sessions)
    lengths[-1] += args.frames - lengths.sum()
    return X, lengths, params


def child(args) -> None:
    """Fit in this process (the code on PYTHONPATH) and print one JSON line."""
    from threadpoolctl import threadpool_limits

    from napari_facehmm.hmm import FastGaussianHMM
    from napari_facehmm.hmm.missing import missing_patterns

    X, lengths, params = make_data(args)
    model = FastGaussianHMM(
        n_components=args.states, covariance_type="full", n_iter=args.iterations, tol=-np.inf,
        init_params="", params="stmc",
    )
    for name, value in params.items():
        setattr(model, name, value.copy())
    model._check()
    history = []
    with threadpool_limits(limits=1):  # EM as hmm/em.py runs it (hmmlearn's fit rejects NaN)
        start = time.perf_counter()
        for _ in range(args.iterations):
            stats, log_prob = model._do_estep(X, lengths)
            model._do_mstep(stats)
            history.append(float(log_prob))
        elapsed = time.perf_counter() - start
    print(json.dumps({
        "s_per_iter": elapsed / args.iterations,
        "history": history,
        "patterns": len(missing_patterns(X)),
        "incomplete": float(np.isnan(X).any(axis=1).mean()),
        "missing": float(np.isnan(X).mean()),
    }))


def run_child(source: Path, argv: list[str]) -> dict:
    environment = dict(os.environ, PYTHONPATH=str(source))
    done = subprocess.run([sys.executable, __file__, "--child", *argv], env=environment, capture_output=True, text=True)
    if done.returncode != 0:
        lines = done.stderr.strip().splitlines()
        raise SystemExit(f"the code in {source} failed: {lines[-1] if lines else done.returncode}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=14_400)
    parser.add_argument("--sessions", type=int, default=8)
    parser.add_argument("--features", type=int, default=66)
    parser.add_argument("--states", type=int, default=9)
    parser.add_argument("--iterations", type=int, default=3)
    parser.add_argument("--missing", type=float, default=0.05, help="probability a landmark is lost per frame")
    parser.add_argument("--run", type=int, default=1, help="frames per run of loss")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--before", default="f770673", help="git revision of the 'before' code")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args)
        return 0
    argv = [a for a in (argv if argv is not None else sys.argv[1:]) if not a.startswith("--before")]
    argv = [a for a, prev in zip(argv, [None, *argv]) if prev != "--before"]
    print(f"load average {os.getloadavg()[0]:.1f} (shared machine: timings are noisy)", flush=True)
    with tempfile.TemporaryDirectory() as folder:
        archive = Path(folder) / "before.tar"
        subprocess.run(["git", "-C", str(REPO), "archive", "-o", str(archive), args.before, "src"], check=True)
        with tarfile.open(archive) as tar:
            tar.extractall(folder, filter="data")
        sources = {"before": Path(folder) / "src", "after": REPO / "src"}
        results: dict[str, list[dict]] = {"before": [], "after": []}
        for _ in range(args.repeats):
            for name, source in sources.items():
                results[name].append(run_child(source, argv))
                print(f"{name}: {results[name][-1]['s_per_iter']:.3f} s/iter", flush=True)
    first = results["after"][0]
    print(
        f"T={args.frames} ({args.sessions} sequences) D={args.features} K={args.states}, "
        f"{args.iterations} EM iterations, 1 thread; {first['missing']:.1%} of values missing, "
        f"{first['incomplete']:.0%} of frames incomplete, {first['patterns']} missing-patterns"
    )
    before = min(r["s_per_iter"] for r in results["before"])
    after = min(r["s_per_iter"] for r in results["after"])
    a, b = np.array(results["before"][0]["history"]), np.array(first["history"])
    print(f"load average {os.getloadavg()[0]:.1f}")
    print(f"before_s_per_iter {before:.4f}")
    print(f"after_s_per_iter {after:.4f}")
    print(f"speedup {before / after:.2f}")
    print(f"loglik_rel_diff {np.max(np.abs(a - b) / np.abs(a)):.3e}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
